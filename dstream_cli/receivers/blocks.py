"""The BlockBuffer: what a receiver stored, stamped with its arrival time, cut into batches by time.

Spark allocates the blocks received up to batch time t to batch t even when processing is late;
stamping each block on arrival gives the same answer without a timer thread.
"""
from __future__ import annotations

import collections
import itertools
import threading
from typing import NamedTuple

from .chunks import LineBatch, LineChunk, SpillFile

#: records one input may hold waiting for a batch before its receiver stops reading
DEFAULT_MAX_BACKLOG = 4_000_000
#: and bytes of text: 20,000 lines of 100 KB are few records but 2 GB
DEFAULT_MAX_BACKLOG_BYTES = 256 << 20
#: what a record that is not text counts for in the byte bound
_OTHER_RECORD_BYTES = 64
#: bytes of LineChunks kept in memory while waiting for a batch; more go to a spill file
SPILL_AFTER_BYTES = 8 << 20


def approximate_bytes(records: list) -> int:
    """Characters of text records (C-level passes); a fixed guess for anything else."""
    if isinstance(records, LineChunk):
        return records.size
    if set(map(type, records)) <= {str, bytes}:
        return sum(map(len, records))
    return _OTHER_RECORD_BYTES * len(records)


class BadRaw(NamedTuple):
    """Input that never became a record: the raw text or bytes and why."""

    raw: object
    reason: str


class Block(NamedTuple):
    records: list
    bad: list  # of BadRaw
    position: object  # where a replayable source stands after these records, else None


class BlockBuffer:
    """With a write-ahead *log*, each block is logged before it is stored, and its log seq is its position."""

    def __init__(self, log=None, max_records: int | None = None, max_bytes: int | None = None) -> None:
        self._blocks: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._count = 0
        self._bytes = 0
        self._in_memory = 0  # bytes of LineChunks not spilled
        self._spill: SpillFile | None = None
        self._cut_until = -1
        self.position = None
        self.log = log

    def store(self, arrival_ms: int, records: list, bad: list | None = None, position=None) -> None:
        bad = bad or []
        with self._lock:
            # never stamp a block into a batch that was already cut: a recomputed batch must see the same blocks
            arrival_ms = max(arrival_ms, self._cut_until + 1)
            if self.log is not None:
                position = self.log.append(arrival_ms, records, bad)
            size = approximate_bytes(records)
            if isinstance(records, LineChunk):
                self._in_memory += size
                if self._in_memory > SPILL_AFTER_BYTES:
                    records.spill(self._spill or self._new_spill())
                    self._in_memory -= size
            self._blocks.append((arrival_ms, records, bad, position, size))
            self._count += len(records)
            self._bytes += size

    def _new_spill(self) -> SpillFile:
        self._spill = SpillFile()
        return self._spill

    def sync(self) -> None:
        """Make every block stored so far durable in the log (for acknowledgements)."""
        if self.log is not None:
            with self._lock:
                self.log.sync()

    def wait_for_room(self, stopped: threading.Event) -> None:
        """Hold a receiver back while *max_records* or *max_bytes* are waiting for a batch, so that it stops
        reading and the producer is slowed by flow control instead of growing this buffer without bound."""
        if self.max_records is None and self.max_bytes is None:
            return
        with self._room:
            while self._full() and not stopped.is_set():
                self._room.wait(0.2)

    def _full(self) -> bool:
        return ((self.max_records is not None and self._count >= self.max_records)
                or (self.max_bytes is not None and self._bytes >= self.max_bytes))

    def put_back(self, blocks) -> int | None:
        """Blocks recovered from the log, with their arrival times; return the latest arrival."""
        latest = None
        with self._lock:
            for block in blocks:
                size = approximate_bytes(block.records)
                self._blocks.append((block.arrival_ms, block.records, block.bad, block.seq, size))
                self._count += len(block.records)
                self._bytes += size
                latest = block.arrival_ms
        return latest

    def cut(self, until_ms: int | None) -> Block:
        """Everything stored up to *until_ms* (everything, if None), oldest first; logged to disk first."""
        pieces: list = []
        bad: list = []
        with self._lock:
            if self.log is not None:
                self.log.sync()
            if until_ms is not None:
                self._cut_until = max(self._cut_until, until_ms)
            while self._blocks and (until_ms is None or self._blocks[0][0] <= until_ms):
                _, block_records, block_bad, position, size = self._blocks.popleft()
                self._bytes -= size
                if isinstance(block_records, LineChunk) and block_records.raw is not None:
                    self._in_memory -= size
                pieces.append(block_records)
                bad.extend(block_bad)
                if position is not None:
                    self.position = position
            self._spill = None  # later blocks spill to a file of their own; this one lives with its batch
            if any(isinstance(piece, LineChunk) for piece in pieces):
                records = LineBatch(pieces)
            else:
                records = list(itertools.chain.from_iterable(pieces))
            self._count -= len(records)
            self._room.notify_all()
            return Block(records, bad, self.position)

    def backlog(self) -> int:
        """Records stored and not yet cut into a batch."""
        return self._count

    def __bool__(self) -> bool:
        return bool(self._blocks)
