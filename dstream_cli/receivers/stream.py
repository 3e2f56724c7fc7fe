"""Lines from a byte stream: stdin, or a file (``file:PATH``) whose position survives a restart."""
from __future__ import annotations

import threading

from .base import Receiver
from .lines import DEFAULT_MAX_LINE_BYTES, LineSplitter, read_chunk


class LineStreamReceiver(Receiver):
    """Reads *stream* in large chunks on its own thread and stores its lines; ends at end of input."""

    finite = True

    def __init__(self, stream, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, close: bool = False) -> None:
        self.stream = stream
        self.max_line_bytes = max_line_bytes
        self.close = close
        self.offset = 0

    def on_start(self) -> None:
        threading.Thread(target=self._read_all, name="dstream-reader", daemon=True).start()

    def on_stop(self) -> None:
        if self.close:
            self.stream.close()

    def _read_all(self) -> None:
        splitter = LineSplitter(self.max_line_bytes)
        supervisor = self._require_supervisor()
        while not self.is_stopped():
            chunk = read_chunk(self.stream)
            if not chunk:
                break
            self.offset += len(chunk)
            lines, bad = splitter.feed(chunk)
            supervisor.push(lines, bad, self.offset - splitter.pending_bytes)
        else:
            return
        lines, bad = splitter.finish()
        supervisor.push(lines, bad, self.offset)
        self.stop("end of input")


class FileReceiver(LineStreamReceiver):
    """``file:PATH``: replayable, so a checkpoint records the byte offset reached and a restart seeks there."""

    def __init__(self, path: str, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        super().__init__(None, max_line_bytes, close=True)
        self.path = path
        self.start_offset = 0

    def seek(self, offset: int) -> None:
        self.start_offset = offset

    def on_start(self) -> None:
        self.stream = open(self.path, "rb")  # noqa: SIM115 - closed by on_stop
        self.stream.seek(self.start_offset)
        self.offset = self.start_offset
        super().on_start()
