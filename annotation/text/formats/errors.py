class FormatError(ValueError):
    """A problem in an uploaded file, located precisely enough for a person to fix it."""

    def __init__(self, message, *, line=None, filename=None):
        self.message = message
        self.line = line
        self.filename = filename
        super().__init__(str(self))

    def __str__(self):
        where = []
        if self.filename:
            where.append(self.filename)
        if self.line is not None:
            where.append(f"line {self.line}")
        return f"{', '.join(where)}: {self.message}" if where else self.message
