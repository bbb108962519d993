"""The text core: tokenising, BIO tags and file formats, on plain strings and lists, with no
Django, so imports, exports and training data share one tested implementation."""
