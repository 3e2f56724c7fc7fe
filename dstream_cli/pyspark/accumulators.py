"""``pyspark.accumulators``: ``Accumulator`` and ``AccumulatorParam``."""
from __future__ import annotations

import threading
from typing import Generic, TypeVar

__all__ = ["Accumulator", "AccumulatorParam"]

T = TypeVar("T")


class AccumulatorParam(Generic[T]):
    """How an accumulator's values add up: ``zero`` and ``addInPlace`` (default: ``+``)."""

    def zero(self, value: T) -> T:
        raise NotImplementedError

    def addInPlace(self, value1: T, value2: T) -> T:  # noqa: N802 - PySpark's names
        raise NotImplementedError


class _Adding(AccumulatorParam):
    def zero(self, value):
        return type(value)()

    def addInPlace(self, value1, value2):  # noqa: N802
        value1 += value2
        return value1


class Accumulator(Generic[T]):
    """``add`` and ``+=`` from any thread; ``value`` reads the total."""

    def __init__(self, aid: int, value: T, accum_param: AccumulatorParam[T]) -> None:
        self.aid = aid
        self.accum_param = accum_param
        self._value = value
        self._lock = threading.Lock()

    def add(self, term: T) -> None:
        with self._lock:
            self._value = self.accum_param.addInPlace(self._value, term)

    def __iadd__(self, term) -> "Accumulator":
        self.add(term)
        return self

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, value) -> None:
        self._value = value
