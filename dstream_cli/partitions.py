"""How a batch is split into partitions, for the operators that see them (``glom``, ``map_partitions``).

A batch is one list whatever its partitions, so every other operator gives the same result for any
number of them. A stream's partitions are either slices of the batch in order, as Spark's
``parallelize`` slices a list (``repartition``, the inputs), or the records whose key the partition
function sends there, as after Spark's shuffles (``reduce_by_key(f, N)``, ``partition_by``...).
"""
from __future__ import annotations

import zlib
from typing import Callable


def portable_hash(key) -> int:
    """A hash that is the same in every process (Python's ``hash`` of text is not, unless PYTHONHASHSEED is
    set, which PySpark's own ``portable_hash`` demands): ``None`` is 0, a tuple combines its items."""
    if key is None:
        return 0
    if isinstance(key, str):
        return zlib.crc32(key.encode("utf-8", "surrogatepass"))
    if isinstance(key, bytes):
        return zlib.crc32(key)
    if isinstance(key, tuple):
        combined = 0x345678
        for item in key:
            combined = ((1000003 * combined) ^ portable_hash(item)) & 0xFFFFFFFFFFFFFFFF
        return combined ^ len(key)
    return hash(key)


class Partitioning:
    """*count* partitions; *by_key* (a function of the key) places pairs, else the batch is cut in order."""

    __slots__ = ("by_key", "count")

    def __init__(self, count: int, by_key: Callable | None = None) -> None:
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"the number of partitions must be a positive whole number, not {count!r}")
        self.count = count
        self.by_key = by_key

    def split(self, batch) -> list[list]:
        """The batch's records, partition by partition (each in batch order)."""
        records = batch if isinstance(batch, list) else list(batch)
        count = self.count
        if self.by_key is None:
            size = len(records)
            return [records[i * size // count:(i + 1) * size // count] for i in range(count)]
        parts: list[list] = [[] for _ in range(count)]
        place = self.by_key
        for record in records:
            parts[place(record[0]) % count].append(record)
        return parts

    def __repr__(self) -> str:
        return f"Partitioning({self.count}{', by key' if self.by_key else ''})"
