"""``pyspark.taskcontext``: ``TaskContext``. On the driver ``get()`` is None, as in PySpark; inside a function
that ``foreachPartition`` or ``mapPartitions`` runs, it describes that partition's task."""
from __future__ import annotations

import contextlib
import itertools
import threading
from decimal import Decimal

__all__ = ["TaskContext"]

_local = threading.local()
_attempts = itertools.count()


class TaskContext:
    def __init__(self, partition: int = 0) -> None:
        self._partition = partition
        self._attempt = next(_attempts)
        self._properties: dict[str, str] = {}

    @classmethod
    def get(cls) -> "TaskContext | None":
        return getattr(_local, "task", None)

    @classmethod
    @contextlib.contextmanager
    def _running(cls, partition: int):
        """The task of *partition* while a partition function runs (tasks nest as a ``foreachPartition``
        inside a ``transform`` would not, but they are restored in order)."""
        outer = getattr(_local, "task", None)
        _local.task = cls(partition)
        try:
            yield _local.task
        finally:
            _local.task = outer

    @classmethod
    def from_json(cls, json: dict) -> "TaskContext":
        return cls(int(json.get("partitionId", 0)))

    def partitionId(self) -> int:  # noqa: N802 - PySpark's names
        return self._partition

    def stageId(self) -> int:  # noqa: N802
        return 0

    def attemptNumber(self) -> int:  # noqa: N802
        return 0

    def taskAttemptId(self) -> int:  # noqa: N802
        return self._attempt

    def getLocalProperty(self, key: str) -> str | None:  # noqa: N802
        return self._properties.get(key)

    def cpus(self) -> int:
        return 1

    def cpuAmount(self) -> Decimal:  # noqa: N802
        return Decimal(1)

    def resources(self) -> dict:
        return {}
