"""``pyspark.statcounter``: ``StatCounter``, what ``RDD.stats()`` gives (Welford's running figures)."""
from __future__ import annotations

import math
from typing import Iterable

__all__ = ["StatCounter"]


class StatCounter:
    def __init__(self, values: Iterable[float] | None = None) -> None:
        self.n = 0
        self.mu = 0.0
        self.m2 = 0.0
        self.maxValue = float("-inf")  # noqa: N815 - PySpark's names
        self.minValue = float("inf")  # noqa: N815
        for value in values or ():
            self.merge(value)

    def merge(self, value: float) -> "StatCounter":
        delta = value - self.mu
        self.n += 1
        self.mu += delta / self.n
        self.m2 += delta * (value - self.mu)
        self.maxValue = max(self.maxValue, value)
        self.minValue = min(self.minValue, value)
        return self

    def mergeStats(self, other: "StatCounter") -> "StatCounter":  # noqa: N802
        if other is self:
            return self.mergeStats(other.copy())
        if other.n:
            if not self.n:
                self.n, self.mu, self.m2 = other.n, other.mu, other.m2
            else:
                delta = other.mu - self.mu
                total = self.n + other.n
                self.mu += delta * other.n / total
                self.m2 += other.m2 + delta * delta * self.n * other.n / total
                self.n = total
            self.maxValue = max(self.maxValue, other.maxValue)
            self.minValue = min(self.minValue, other.minValue)
        return self

    def copy(self) -> "StatCounter":
        clone = StatCounter()
        clone.n, clone.mu, clone.m2, clone.maxValue, clone.minValue = self.n, self.mu, self.m2, self.maxValue, \
            self.minValue
        return clone

    def count(self) -> int:
        return self.n

    def mean(self) -> float:
        return self.mu

    def sum(self) -> float:
        return self.n * self.mu

    def min(self) -> float:
        return self.minValue

    def max(self) -> float:
        return self.maxValue

    def variance(self) -> float:
        return float("nan") if self.n == 0 else self.m2 / self.n

    def sampleVariance(self) -> float:  # noqa: N802
        return float("nan") if self.n <= 1 else self.m2 / (self.n - 1)

    def stdev(self) -> float:
        return math.sqrt(self.variance())

    def sampleStdev(self) -> float:  # noqa: N802
        return math.sqrt(self.sampleVariance())

    def asDict(self, sample: bool = False) -> dict:  # noqa: N802
        """PySpark's, quirk included: the sample's stdev and variance unless *sample*."""
        return {"count": self.count(), "mean": self.mean(), "sum": self.sum(), "min": self.min(), "max": self.max(),
                "stdev": self.stdev() if sample else self.sampleStdev(),
                "variance": self.variance() if sample else self.sampleVariance()}

    def __repr__(self) -> str:
        return (f"(count: {self.count()}, mean: {self.mean()}, stdev: {self.stdev()}, max: {self.max()}, "
                f"min: {self.min()})")
