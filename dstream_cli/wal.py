"""The receiver write-ahead log (Spark's ``spark.streaming.receiver.writeAheadLog.enable``).

With ``--wal``, every block a non-replayable input receives is appended here before it is put in
the input's BlockBuffer, so a record counted as received survives a SIGKILL: on restart the
blocks after the last checkpoint's position are put back and their batches recomputed.

Format (documented for producers that resume after a crash): one directory per input,
``DIR/wal/<input name, %-quoted>/``, holding segments ``segment-<FIRST_SEQ>.jsonl`` with one JSON
object per line and per block::

    {"seq": 42, "at": 1764000000123, "records": ["line 1", "line 2"], "bad": [[raw, "reason"]]}

``seq`` counts blocks from 1 and never repeats; ``at`` is the arrival time in epoch milliseconds
(it decides the block's batch); records and bad raws use the checkpoint's value encoding (plain
strings for text lines, ``{"b": base64}`` for bytes that were not UTF-8); ``bad`` is left out when
empty. A line without its final newline is a write that a crash cut short and is ignored. The
newest segment is never deleted and always ends with the newest block, so the last record a
producer finds in it is the last one dstream took. Older segments are deleted once every
checkpoint still kept is past them. Files are owner-only; reading them never runs code.
"""
from __future__ import annotations

import glob
import os
import re
import sys
import urllib.parse
from typing import NamedTuple

import orjson

from .checkpoint import KEEP, decode, encode
from .errors import DstreamError
from .fsio import append_durably, complete_lines, fsync_directory
from .receivers.blocks import BadRaw

SEGMENT_BYTES = 64 << 20
_SEGMENT = re.compile(r"segment-(\d+)\.jsonl$")


class LoggedBlock(NamedTuple):
    seq: int
    arrival_ms: int
    records: list
    bad: list  # of BadRaw


def _encode_records(records: list) -> list:
    # Lines from text inputs are all str and go to orjson as they are; anything else is tagged.
    if set(map(type, records)) <= {str}:
        return records
    return encode(records, "a received record")


class WriteAheadLog:
    """One input's log; ``append`` is called under its BlockBuffer's lock, so seq order is batch order."""

    def __init__(self, checkpoint_dir: str, input_name: str, stderr=None,
                 segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = os.path.join(checkpoint_dir, "wal", urllib.parse.quote(input_name, safe=""))
        self.stderr = stderr or sys.stderr
        self.segment_bytes = segment_bytes
        os.makedirs(os.path.dirname(self.directory), mode=0o700, exist_ok=True)
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        self._fd: int | None = None
        self._size = 0
        self._dirty = False
        self._checkpointed = [0]  # seq positions of the checkpoints still kept, oldest first
        self.last_seq = 0
        self._segments = self._segment_paths()
        self._newest_blocks: list[LoggedBlock] = []  # read once at start, for recover()
        if self._segments:
            self._newest_blocks = self._read_segment(self._segments[-1], truncate=True)
            newest = self._newest_blocks
            self.last_seq = newest[-1].seq if newest else _first_seq(self._segments[-1]) - 1

    # --- reading -------------------------------------------------------------------------------
    def _segment_paths(self) -> list[str]:
        paths = [p for p in glob.glob(os.path.join(self.directory, "segment-*.jsonl")) if _SEGMENT.search(p)]
        return sorted(paths, key=_first_seq)

    def _read_segment(self, path: str, truncate: bool = False) -> list[LoggedBlock]:
        data, torn = complete_lines(path, truncate)
        if torn:
            print(f"dstream: warning: {path}: ignoring {torn} bytes of a block cut short by a crash",
                  file=self.stderr, flush=True)
        blocks = []
        for number, line in enumerate(data.splitlines(), 1):
            try:
                entry = orjson.loads(line)
                blocks.append(LoggedBlock(entry["seq"], entry["at"], decode(entry["records"]),
                                          [BadRaw(*decode(b)) for b in entry.get("bad", ())]))
            except (ValueError, KeyError, TypeError) as exc:
                raise WalCorrupt(f"write-ahead log {path} line {number} is unreadable ({exc}); "
                                 "move the file away to start without it") from exc
        return blocks

    def recover(self, seq: int) -> list[LoggedBlock]:
        """Every logged block after *seq*, the position of the checkpoint resumed from, oldest first."""
        self._checkpointed = [seq]
        found: list[LoggedBlock] = []
        for index, path in enumerate(self._segments):
            following = self._segments[index + 1] if index + 1 < len(self._segments) else None
            if following is not None and _first_seq(following) <= seq + 1:
                continue  # wholly before seq
            blocks = self._read_segment(path) if following is not None else self._newest_blocks
            found.extend(block for block in blocks if block.seq > seq)
        self._newest_blocks = []
        return found

    # --- writing -------------------------------------------------------------------------------
    def append(self, arrival_ms: int, records: list, bad: list) -> int:
        """Log one block (a write, not yet an fsync) and return its seq."""
        seq = self.last_seq + 1
        entry = {"seq": seq, "at": arrival_ms, "records": _encode_records(records)}
        if bad:
            entry["bad"] = [[encode(raw, "a bad record"), reason] for raw, reason in bad]
        line = orjson.dumps(entry) + b"\n"
        if self._fd is None or (self._size and self._size + len(line) > self.segment_bytes):
            self._open_segment(seq)
        append_durably(self._fd, line, self._size)  # a full disk leaves no part of a block behind
        self._size += len(line)
        self._dirty = True
        self.last_seq = seq
        return seq

    def _open_segment(self, seq: int) -> None:
        """Continue the newest segment after a restart; start a new one when it is full."""
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None
        elif self._segments:
            newest = self._segments[-1]
            size = os.path.getsize(newest)
            if size < self.segment_bytes:
                self._fd = os.open(newest, os.O_WRONLY | os.O_APPEND)
                self._size = size
                return
        path = os.path.join(self.directory, f"segment-{seq}.jsonl")
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        self._size = 0
        self._segments.append(path)
        fsync_directory(self.directory)

    def sync(self) -> None:
        if self._dirty and self._fd is not None:
            os.fsync(self._fd)
            self._dirty = False

    def checkpointed(self, seq: int, keep: int = KEEP) -> None:
        """A checkpoint covering blocks up to *seq* is complete: drop segments no kept checkpoint needs."""
        self._checkpointed = (self._checkpointed + [seq])[-keep:]
        needed_after = self._checkpointed[0]
        while len(self._segments) > 1 and _first_seq(self._segments[1]) - 1 <= needed_after:
            os.unlink(self._segments.pop(0))

    def close(self) -> None:
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None


class WalCorrupt(DstreamError):
    """A log line in the middle of a segment cannot be read (not a crash's torn tail)."""


def _first_seq(path: str) -> int:
    return int(_SEGMENT.search(path).group(1))
