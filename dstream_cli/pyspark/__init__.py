"""Run a ``pyspark.streaming`` program on dstream by changing its imports::

    from dstream_cli.pyspark import SparkContext               # was: from pyspark import SparkContext
    from dstream_cli.pyspark.streaming import StreamingContext  # was: from pyspark.streaming import ...

``SparkContext`` here is a stand-in for what such programs use it for: making the StreamingContext,
``parallelize`` for ``queueStream``, ``textFile``, ``broadcast`` and ``accumulator``. Everything runs in
this process; there is no cluster and no JVM.
"""
from __future__ import annotations

import re
import threading

from .rdd import RDD

__all__ = ["RDD", "Accumulator", "Broadcast", "SparkConf", "SparkContext", "StorageLevel"]


class SparkConf:
    """Settings are kept and read back; none of them changes how dstream runs."""

    def __init__(self, loadDefaults: bool = True) -> None:  # noqa: N803 - PySpark's names
        self._settings: dict[str, str] = {}

    def set(self, key: str, value) -> "SparkConf":
        self._settings[key] = str(value)
        return self

    def setAppName(self, value: str) -> "SparkConf":  # noqa: N802
        return self.set("spark.app.name", value)

    def setMaster(self, value: str) -> "SparkConf":  # noqa: N802
        return self.set("spark.master", value)

    def get(self, key: str, defaultValue: str | None = None) -> str | None:  # noqa: N803
        return self._settings.get(key, defaultValue)

    def getAll(self) -> list[tuple[str, str]]:  # noqa: N802
        return list(self._settings.items())


class StorageLevel:
    """Accepted where PySpark takes a storage level; batches are in memory in this process either way."""

    MEMORY_ONLY = MEMORY_AND_DISK = MEMORY_ONLY_2 = MEMORY_AND_DISK_2 = DISK_ONLY = OFF_HEAP = None


class Broadcast:
    def __init__(self, value) -> None:
        self.value = value

    def unpersist(self, blocking: bool = False) -> None:
        pass

    def destroy(self, blocking: bool = False) -> None:
        pass


class Accumulator:
    """``add`` and ``+=`` from any thread; ``value`` reads the total."""

    def __init__(self, value) -> None:
        self._value = value
        self._lock = threading.Lock()

    def add(self, term) -> None:
        with self._lock:
            self._value += term

    def __iadd__(self, term) -> "Accumulator":
        self.add(term)
        return self

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, value) -> None:
        self._value = value


class SparkContext:
    """The stand-in. ``defaultParallelism`` is N of a ``local[N]`` master (the number of processors for
    ``local[*]``), else 1: the partitions ``parallelize`` makes when not told."""

    _active: "SparkContext | None" = None

    def __init__(self, master: str | None = None, appName: str | None = None, sparkHome=None,  # noqa: N803
                 pyFiles=None, environment=None, batchSize: int = 0, serializer=None, conf: SparkConf | None = None,  # noqa: N803
                 gateway=None, jsc=None, profiler_cls=None) -> None:
        self._conf = conf or SparkConf()
        self.master = master or self._conf.get("spark.master") or "local[*]"
        self.appName = appName or self._conf.get("spark.app.name") or "dstream"
        SparkContext._active = self

    @classmethod
    def getOrCreate(cls, conf: SparkConf | None = None) -> "SparkContext":  # noqa: N802
        return cls._active or cls(conf=conf)

    @property
    def defaultParallelism(self) -> int:  # noqa: N802
        match = re.fullmatch(r"local\[(\d+|\*)(?:,\d+)?\]", self.master)
        if not match:
            return 1
        if match.group(1) == "*":
            import os

            return os.cpu_count() or 1
        return int(match.group(1))

    def getConf(self) -> SparkConf:  # noqa: N802
        return self._conf

    def parallelize(self, c, numSlices: int | None = None) -> RDD:  # noqa: N803
        return RDD(list(c), numSlices or self.defaultParallelism, self)

    def emptyRDD(self) -> RDD:  # noqa: N802
        return RDD([], 1, self)

    def textFile(self, name: str, minPartitions: int | None = None, use_unicode: bool = True) -> RDD:  # noqa: N802, N803
        with open(name, encoding="utf-8") as handle:
            return RDD(handle.read().splitlines(), minPartitions or min(self.defaultParallelism, 2), self)

    def broadcast(self, value) -> Broadcast:
        return Broadcast(value)

    def accumulator(self, value, accum_param=None) -> Accumulator:
        return Accumulator(value)

    def setLogLevel(self, logLevel: str) -> None:  # noqa: N802, N803
        pass

    def stop(self) -> None:
        if SparkContext._active is self:
            SparkContext._active = None
