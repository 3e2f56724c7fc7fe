"""Stateless nodes: a run of stateless stages fused into one node, and the two-stream combinations."""
from __future__ import annotations

from typing import Callable

from ..dstream import DStream
from ..errors import UsageError
from .batch import Step, count_pairs_step


class TransformedDStream(DStream):
    """Consecutive stateless steps over one parent, run as one batch function (PySpark folds them too)."""

    def __init__(self, parent: DStream, steps: list[Step], fusable: bool = True) -> None:
        super().__init__(parent.context, [parent])
        self.steps = steps
        self.fusable = fusable
        self.label = steps[-1].label

    @classmethod
    def chain(cls, parent: DStream, step: Step, fuse: bool = True) -> "TransformedDStream":
        if fuse and isinstance(parent, TransformedDStream) and parent.fusable:
            steps = parent.steps
            if step.shape == ("sum",) and steps[-1].shape[:1] == ("pair",):
                return cls(parent.dependencies[0], [*steps[:-1], count_pairs_step(steps[-1], step)])
            return cls(parent.dependencies[0], [*steps, step])
        return cls(parent, [step], fusable=fuse)

    def compute(self, t: int) -> list | None:
        batch = self.dependencies[0].get_or_compute(t)
        if batch is None:
            return None
        reject = None
        for step in self.steps:
            try:
                batch = step.fast(batch, t)
            except Exception:  # noqa: BLE001 - redo record by record to name or skip the bad ones
                reject = reject or self.context.record_errors.rejecter(t, ",".join(self.input_names))
                batch = step.slow(batch, t, reject)
        return batch


class TransformedWithDStream(DStream):
    """``func(left_batch, right_batch)`` per batch time: union, the joins, cogroup."""

    def __init__(self, left: DStream, right: DStream, func: Callable[[list, list], list], label: str) -> None:
        if left.slide_ms != right.slide_ms:
            raise UsageError(
                f"{label}: the two streams have different slides ({left.slide_ms} ms and {right.slide_ms} ms);"
                " window both the same way"
            )
        super().__init__(left.context, [left, right])
        self.func = func
        self.label = label

    def compute(self, t: int) -> list | None:
        left, right = (parent.get_or_compute(t) for parent in self.dependencies)
        if left is None and right is None:
            return None
        left, right = left or [], right or []
        try:
            return self.func(left, right)
        except Exception:  # noqa: BLE001 - a record that is not a (key, value) pair
            reject = self.context.record_errors.rejecter(t, ",".join(self.input_names))
            return self.func(_pairs_only(left, self.label, reject), _pairs_only(right, self.label, reject))


def _pairs_only(batch: list, label: str, reject) -> list:
    pairs = []
    for record in batch:
        try:
            key, value = record
            hash(key)
            pairs.append((key, value))
        except Exception as exc:  # noqa: BLE001
            reject(label, record, TypeError(f"expected a (key, value) pair with a hashable key: {exc}"))
    return pairs
