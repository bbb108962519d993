"""Import and export of annotated documents. Pure Python: no Django here.

Readers take decoded text lines and yield validated `ImportedDocument`s, raising
`FormatError` with the line of the first problem; writers take `ExportDocument`s
and yield text chunks, so exports stream.
"""
