"""Uploaded bytes to text: strictly UTF-8, so offsets mean what the source meant."""

import codecs

from annotation.text.formats.errors import FormatError


def decode_upload(data: bytes, filename: str = "") -> str:
    """Decode UTF-8 (a leading byte order mark is dropped); refuse anything else."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FormatError("not UTF-8 text: the file is UTF-16; save it as UTF-8", line=1, filename=filename)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise FormatError(
            f"not UTF-8 text: invalid byte 0x{data[error.start]:02x} at line {line}",
            line=line,
            filename=filename,
        ) from None
    nul = text.find("\0")
    if nul != -1:
        raise FormatError(
            "contains a NUL byte (is it a binary file?)",
            line=text.count("\n", 0, nul) + 1,
            filename=filename,
        )
    return text
