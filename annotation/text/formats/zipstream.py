"""ZIP archives written as a stream: each chunk goes out as soon as the archive writes it."""

import io


class ZipSink(io.RawIOBase):
    """Collects what the archive writes, for a generator to hand on."""

    def __init__(self):
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data
