"""Lines kept as the bytes they arrived in: a big batch from stdin or a file costs its size, not a str per line.

A LineChunk is the complete lines of one read, checked once (valid UTF-8, no carriage return, no
line over the limit; any other read is split into lines as before). A batch made of such reads is
a LineBatch: a sequence of lines that decodes one chunk at a time as it is read, so the fused steps
take it chunk by chunk (``TransformedDStream.chunk_parts`` says in what form), and ``--workers``
hand the chunks' bytes to the workers as they are. What waits for a batch beyond a memory budget is
moved to a spill file (Spark's receivers spill blocks to disk the same way) and read back from the
page cache when the batch runs.
"""
from __future__ import annotations

import itertools
import os
import weakref

from ..sequences import ListLike


class SpillFile:
    """An unlinked temporary file, closed once no chunk refers to it any more."""

    def __init__(self) -> None:
        import tempfile  # only a big backlog spills: not a cost of every start

        fd, path = tempfile.mkstemp(prefix="dstream-spill-")
        os.unlink(path)
        self.fd = fd
        self.size = 0
        weakref.finalize(self, os.close, fd)

    def append(self, data: bytes) -> int:
        offset = self.size
        view = memoryview(data)
        while view:
            written = os.pwrite(self.fd, view, self.size)
            self.size += written
            view = view[written:]
        return offset

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self.fd, length, offset)


class LineChunk:
    """*count* lines, joined by newlines, in *raw* (UTF-8), or spilled to a file."""

    __slots__ = ("raw", "count", "spilled")

    def __init__(self, raw: bytes, count: int) -> None:
        self.raw: bytes | None = raw
        self.count = count
        self.spilled: tuple[SpillFile, int, int] | None = None

    def spill(self, to: SpillFile) -> None:
        if self.raw is not None:
            self.spilled = (to, to.append(self.raw), len(self.raw))
            self.raw = None

    def data(self) -> bytes:
        if self.raw is not None:
            return self.raw
        spill, offset, length = self.spilled
        return spill.read(offset, length)

    def lines(self) -> list[str]:
        return self.data().decode("utf-8").split("\n")

    @property
    def size(self) -> int:
        return len(self.raw) if self.raw is not None else self.spilled[2]

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        return iter(self.lines())

    def __getitem__(self, index):
        return self.lines()[index]


class LineBatch(ListLike):
    """The records of one batch made of pieces: LineChunks and lists of lines, in arrival order."""

    __slots__ = ("pieces", "_length")

    def __init__(self, pieces: list) -> None:
        self.pieces = pieces
        self._length = sum(map(len, pieces))

    def parts(self):
        """The lines a piece at a time (a chunk decoded only now)."""
        for piece in self.pieces:
            yield piece.lines() if isinstance(piece, LineChunk) else piece

    def __len__(self) -> int:
        return self._length

    def __iter__(self):
        return itertools.chain.from_iterable(self.parts())

