"""Bytes to lines, in bulk: one decode and one split per chunk, never a Python call per line.

Shared by every line-oriented receiver (stdin, files, sockets). A line that is not UTF-8 or is
longer than the limit becomes a BadRaw instead of a record, and an over-long line is skipped
as it arrives, so a reader never holds more than the limit of one line in memory.
"""
from __future__ import annotations

import os
from typing import Callable, Iterator, NamedTuple

from .blocks import BadRaw
from .chunks import LineChunk

DEFAULT_MAX_LINE_BYTES = 1 << 20
CHUNK_BYTES = 1 << 20
_KEEP_OF_LONG_LINE = 200


class LineSplitter:
    """With *chunked*, a read whose lines are all good comes out as one LineChunk (its bytes) rather than a
    list of str: see chunks.py. With *quoted* (CSV), a newline inside double quotes does not end the line: a
    quoted field may hold newlines, and the record is every line up to where its quotes close."""

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, chunked: bool = False,
                 quoted: bool = False) -> None:
        self.max_line_bytes = max_line_bytes
        self.chunked = chunked and not quoted
        self.quoted = quoted
        self._pending = b""
        self._discarding = 0  # bytes of an over-long line skipped so far

    @property
    def pending_bytes(self) -> int:
        """Bytes received that are not yet part of a complete line."""
        return self._discarding or len(self._pending)

    def feed(self, chunk: bytes) -> tuple[list[str], list[BadRaw]]:
        """The complete lines in what has arrived so far; the incomplete tail waits for more."""
        bad: list[BadRaw] = []
        start = 0
        if self._discarding:
            newline = chunk.find(b"\n")
            if newline < 0:
                self._discarding += len(chunk)
                return [], bad
            bad.append(self._too_long(self._pending, self._discarding + newline))
            self._pending, self._discarding, start = b"", 0, newline + 1
        if self.quoted:  # a record may span lines: where it ends is searched in what was pending too
            whole = self._pending + chunk[start:]
            last = _last_record_end(whole)
            data, tail = (whole[:last], whole[last + 1:]) if last >= 0 else (None, whole)
        else:
            last = chunk.rfind(b"\n", start)
            if last < 0:
                data, tail = None, self._pending + chunk[start:]
            else:
                data = self._pending + chunk[start:last] if self._pending else chunk[start:last]
                tail = chunk[last + 1:]
        self._hold(tail)
        if data is None:
            return [], bad
        lines, more_bad = self._split(data)
        return lines, bad + more_bad

    def _hold(self, tail: bytes) -> None:
        """Keep *tail* for the next read; past the limit, only its head, and the rest is skipped as it comes."""
        self._pending = tail
        if len(tail) > self.max_line_bytes:
            self._discarding = len(tail)
            self._pending = tail[:_KEEP_OF_LONG_LINE]

    def finish(self) -> tuple[list[str], list[BadRaw]]:
        """At end of input, the last line even without a newline."""
        if self._discarding:
            bad = [self._too_long(self._pending, self._discarding)]
            self._pending, self._discarding = b"", 0
            return [], bad
        if not self._pending:
            return [], []
        data, self._pending = self._pending, b""
        return self._split(data)

    def _split(self, data: bytes) -> tuple[list[str], list[BadRaw]]:
        if self.quoted and b'"' in data:
            lines, bad = self._split_slowly(data)
            return _joined_where_quoted(lines), bad
        try:
            if not (self.chunked and data.isascii()):  # ASCII is UTF-8: a chunk of it is checked without a decode
                text = data.decode("utf-8")
        except UnicodeDecodeError:
            return self._split_slowly(data)
        if _has_line_longer(data, self.max_line_bytes):
            return self._split_slowly(data)
        if b"\r" not in data:
            return (LineChunk(data, data.count(b"\n") + 1) if self.chunked else text.split("\n")), []
        return [line[:-1] if line.endswith("\r") else line for line in data.decode("utf-8").split("\n")], []

    def _split_slowly(self, data: bytes) -> tuple[list[str], list[BadRaw]]:
        lines: list[str] = []
        bad: list[BadRaw] = []
        for raw in data.split(b"\n"):
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if len(raw) > self.max_line_bytes:
                bad.append(self._too_long(raw[:_KEEP_OF_LONG_LINE], len(raw)))
                continue
            try:
                lines.append(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                bad.append(BadRaw(raw, f"not valid UTF-8 ({exc.reason} at byte {exc.start})"))
        return lines, bad

    def _too_long(self, head: bytes, length: int) -> BadRaw:
        reason = f"line of {length} bytes is longer than --max-line-bytes {self.max_line_bytes}"
        return BadRaw(head[:_KEEP_OF_LONG_LINE], reason)


def _has_line_longer(data: bytes, limit: int) -> bool:
    """Whether a line of *data* is longer than *limit* bytes: the last newline within each *limit* + 1 bytes is
    looked for, so a chunk of short lines takes a search or two, not a split."""
    start = 0
    while len(data) - start > limit:
        newline = data.rfind(b"\n", start, start + limit + 1)
        if newline < 0:
            return True
        start = newline + 1
    return False


def _last_record_end(data: bytes) -> int:
    """The last newline of *data* outside double quotes, or -1. In CSV a quote inside a quoted field is doubled,
    so a newline is outside quotes exactly where the quotes before it are even in number."""
    end = data.rfind(b"\n")
    if end < 0:
        return end
    quotes = data.count(b'"', 0, end)
    while quotes % 2:
        previous = data.rfind(b"\n", 0, end)
        if previous < 0:
            return -1
        quotes -= data.count(b'"', previous, end)
        end = previous
    return end


def _joined_where_quoted(lines: list[str]) -> list[str]:
    """Lines rejoined by newline while a double quote is open (see _last_record_end)."""
    records: list[str] = []
    open_record = None
    for line in lines:
        if open_record is not None:
            open_record += "\n" + line
            if open_record.count('"') % 2 == 0:
                records.append(open_record)
                open_record = None
        elif line.count('"') % 2:
            open_record = line
        else:
            records.append(line)
    if open_record is not None:
        records.append(open_record)  # quotes never closed: the parser says so
    return records


def read_chunk(stream, size: int = CHUNK_BYTES) -> bytes:
    """Up to *size* bytes, as soon as any are there (``os.read`` on a pipe does not wait to fill)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        chunk = stream.read(size)
        return chunk.encode("utf-8", "surrogateescape") if isinstance(chunk, str) else chunk
    return os.read(fd, size)


class LinesRead(NamedTuple):
    """One chunk's complete lines, and where they lie: they start at *line_start*, where *taken* good lines
    had been taken already, and end at *end*; *last* at the end of the stream."""

    lines: list
    bad: list
    line_start: int
    taken: int
    end: int
    last: bool

    def position_after(self, stored: int) -> list[int]:
        """``[offset, good lines after it]`` once *stored* of these lines are stored."""
        return [self.end, 0] if stored == len(self.lines) else [self.line_start, self.taken + stored]


def read_positioned(stream, offset: int, skip: int, max_line_bytes: int,
                    stopped: Callable[[], bool], chunked: bool = False, quoted: bool = False) -> Iterator[LinesRead]:
    """The lines of *stream*, which stands at line offset *offset*, a chunk at a time; the first *skip* good
    lines were taken before a restart and are left out. Bad lines go with a push's last part, so those
    among skipped lines were never delivered: they come with the next chunk's lines."""
    splitter = LineSplitter(max_line_bytes, chunked, quoted)
    line_start, taken, to_skip = offset, skip, skip
    held_bad: list = []
    while not stopped():
        chunk = read_chunk(stream)
        offset += len(chunk)
        lines, bad = splitter.feed(chunk) if chunk else splitter.finish()
        end = offset - splitter.pending_bytes if chunk else offset
        if to_skip:
            dropped = min(to_skip, len(lines))
            lines, to_skip = lines[dropped:], to_skip - dropped
        held_bad += bad
        if to_skip and chunk:
            continue
        yield LinesRead(lines, held_bad, line_start, taken, end, not chunk)
        if not chunk:
            return
        held_bad = []
        if end != line_start:
            line_start, taken = end, 0


def as_line_position(position) -> list[int]:
    """``[offset, lines]``; a plain byte offset is how earlier versions checkpointed a file."""
    if position is None:
        return [0, 0]
    if type(position) is int and position >= 0:
        return [position, 0]
    if (isinstance(position, list) and len(position) == 2 and all(type(n) is int and n >= 0 for n in position)):
        return position
    raise ValueError(f"position {position!r} should be [byte offset, lines]")


def read_lines_between(path: str, start, end, max_line_bytes: int, quoted: bool = False) -> tuple[list, list]:
    """The good lines of *path* from line position *start* to *end* (None: to the end of the file), with
    the bad lines among them that were not delivered before *start* (see ``read_positioned``)."""
    (offset, skip) = as_line_position(start)
    end_offset, end_skip = as_line_position(end) if end is not None else (None, 0)
    with open(path, "rb") as handle:
        handle.seek(offset)
        whole = handle.read() if end_offset is None else handle.read(max(end_offset - offset, 0))
        lines, bad = _split_all(whole, max_line_bytes, quoted)
        lines = lines[skip:]
        if end_skip:
            more, _ = _split_all(handle.read(), max_line_bytes, quoted)
            lines += more[skip if end_offset == offset else 0:end_skip]
    return lines, bad


def _split_all(data: bytes, max_line_bytes: int, quoted: bool = False) -> tuple[list, list]:
    splitter = LineSplitter(max_line_bytes, quoted=quoted)
    lines, bad = splitter.feed(data)
    more, more_bad = splitter.finish()
    return lines + more, bad + more_bad
