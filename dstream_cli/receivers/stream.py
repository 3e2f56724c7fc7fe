"""Lines from a byte stream: stdin, or a file (``file:PATH``) whose position survives a restart."""
from __future__ import annotations

import os
import stat
import threading

from ..errors import UsageError
from .base import Receiver
from .lines import DEFAULT_MAX_LINE_BYTES, as_line_position, read_lines_between, read_positioned


class LineStreamReceiver(Receiver):
    """Reads *stream* in large chunks on its own thread and stores its lines; ends at end of input."""

    finite = True

    def __init__(self, stream, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, close: bool = False) -> None:
        self.stream = stream
        self.max_line_bytes = max_line_bytes
        self.close = close
        self.offset = 0
        self.start_skip = 0  # good lines after the start offset that were taken before a restart
        self.chunked = False  # hand over reads as LineChunks (chunks.py): set when nothing logs records one by one

    def on_start(self) -> None:
        threading.Thread(target=self._read_all, name="dstream-reader", daemon=True).start()

    def on_stop(self) -> None:
        if self.close and self.stream is not None:
            self.stream.close()

    def size(self) -> int | None:
        try:
            status = os.fstat(self.stream.fileno())
        except (AttributeError, OSError, ValueError):
            return None
        return status.st_size if stat.S_ISREG(status.st_mode) else None  # stdin from a file: < FILE

    def _read_all(self) -> None:
        """Read to the end, storing each chunk's complete lines. A part of a chunk stored alone (the rate
        limit) is positioned ``[offset of the chunk's first line, good lines taken from there]``, the whole
        chunk ``[offset after its last line, 0]``; so a restart resumes exactly, even inside a chunk."""
        supervisor = self._require_supervisor()
        for read in read_positioned(self.stream, self.offset, self.start_skip, self.max_line_bytes, self.is_stopped,
                                    self.chunked, self.quoted_newlines):
            supervisor.push(read.lines, read.bad, read.position_after)
            if read.last:
                self.stop("end of input")


class FileReceiver(LineStreamReceiver):
    """``file:PATH``: replayable, so a checkpoint records the position reached and a restart seeks there."""

    def __init__(self, path: str, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        if not os.path.isfile(path):  # a usage error before anything runs, as --queue FILE's is
            raise UsageError(f"file:{path}: " + ("is not a file" if os.path.exists(path) else "no such file"))
        super().__init__(None, max_line_bytes, close=True)
        self.path = path
        self.start_offset = 0

    def seek(self, position) -> None:
        self.start_offset, self.start_skip = as_line_position(position)

    def size(self) -> int | None:
        try:
            return os.path.getsize(self.path)
        except OSError:
            return None

    def on_start(self) -> None:
        self.stream = open(self.path, "rb")  # noqa: SIM115 - closed by on_stop
        self.stream.seek(self.start_offset)
        self.offset = self.start_offset
        super().on_start()

    def check_position(self, position) -> None:
        as_line_position(position)

    def read_between(self, start, end) -> tuple[list, list]:
        """The records (and bad lines) between two positions this receiver gave, as they were stored."""
        return read_lines_between(self.path, start, end, self.max_line_bytes, self.quoted_newlines)
