"""``pyspark.resultiterable``: ``ResultIterable``, the values of one key after ``groupByKey`` and ``cogroup``."""
from __future__ import annotations

from typing import Generic, Iterable, Iterator, TypeVar

__all__ = ["ResultIterable"]

T = TypeVar("T")


class ResultIterable(Generic[T]):
    """A key's values: iterable again and again, with a length (``list(it)`` for a list)."""

    def __init__(self, data: Iterable[T]) -> None:
        self.data = data if isinstance(data, list) else list(data)
        self.index = None
        self.maxindex = len(self.data)

    def __iter__(self) -> Iterator[T]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)
