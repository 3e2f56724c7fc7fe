"""The BlockBuffer: what a receiver stored, stamped with its arrival time, cut into batches by time.

Spark allocates the blocks received up to batch time t to batch t even when processing is late;
stamping each block on arrival gives the same answer without a timer thread.
"""
from __future__ import annotations

import collections
import threading
from typing import NamedTuple


class BadRaw(NamedTuple):
    """Input that never became a record: the raw text or bytes and why."""

    raw: object
    reason: str


class Block(NamedTuple):
    records: list
    bad: list  # of BadRaw
    position: object  # where a replayable source stands after these records, else None


class BlockBuffer:
    def __init__(self) -> None:
        self._blocks: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._count = 0
        self.position = None

    def store(self, arrival_ms: int, records: list, bad: list | None = None, position=None) -> None:
        with self._lock:
            self._blocks.append((arrival_ms, records, bad or [], position))
            self._count += len(records)

    def cut(self, until_ms: int | None) -> Block:
        """Everything stored up to *until_ms* (everything, if None), oldest first."""
        records: list = []
        bad: list = []
        with self._lock:
            while self._blocks and (until_ms is None or self._blocks[0][0] <= until_ms):
                _, block_records, block_bad, position = self._blocks.popleft()
                records.extend(block_records)
                bad.extend(block_bad)
                if position is not None:
                    self.position = position
            self._count -= len(records)
            return Block(records, bad, self.position)

    def backlog(self) -> int:
        """Records stored and not yet cut into a batch."""
        return self._count

    def __bool__(self) -> bool:
        return bool(self._blocks)
