"""A batch as PySpark's ``RDD`` shows it to ``foreachRDD`` and ``transform`` functions: the common methods,
over a list in this process, in partitions as ``partitions.Partitioning`` cuts them.

What a method returns is what PySpark's gives for the same data (a list, a number, a dict, a new RDD);
``groupByKey`` and ``cogroup`` give lists where PySpark gives its ResultIterable (iterable the same way).
"""
from __future__ import annotations

import functools
import heapq
import itertools
import operator
from typing import Callable, Iterable

from ..ops import batch as batch_ops
from ..partitions import Partitioning, portable_hash


class RDD:
    """Records in *partitions* (each a list); ``context`` is the SparkContext it was made from."""

    def __init__(self, records: Iterable = (), partitions: int | Partitioning = 1, context=None) -> None:
        self._records = records if isinstance(records, list) else list(records)
        self.partitioning = partitions if isinstance(partitions, Partitioning) else Partitioning(partitions)
        self.context = context

    def _new(self, records: Iterable, partitions: int | Partitioning | None = None) -> "RDD":
        return RDD(records, self.partitioning.count if partitions is None else partitions, self.context)

    def _keyed(self, records: Iterable, num_partitions: int | None) -> "RDD":
        """After a shuffle: placed by key, in *num_partitions* (default: as many as this one has)."""
        return RDD(records, Partitioning(num_partitions or self.partitioning.count, portable_hash), self.context)

    # --- actions ---------------------------------------------------------------------------------
    def collect(self) -> list:
        return list(self._records)

    def take(self, num: int) -> list:
        return self._records[:num]

    def first(self):
        if not self._records:
            raise ValueError("RDD is empty")
        return self._records[0]

    def count(self) -> int:
        return len(self._records)

    def isEmpty(self) -> bool:  # noqa: N802 - PySpark's names
        return not self._records

    def reduce(self, f: Callable):
        if not self._records:
            raise ValueError("Can not reduce() empty RDD")
        return functools.reduce(f, self._records)

    def fold(self, zero_value, op: Callable):
        return functools.reduce(op, self._records, zero_value)

    def sum(self):
        return sum(self._records)

    def max(self, key: Callable | None = None):
        return max(self._records, key=key)

    def min(self, key: Callable | None = None):
        return min(self._records, key=key)

    def mean(self) -> float:
        return sum(self._records) / len(self._records) if self._records else float("nan")

    def top(self, num: int, key: Callable | None = None) -> list:
        return heapq.nlargest(num, self._records, key=key)

    def takeOrdered(self, num: int, key: Callable | None = None) -> list:  # noqa: N802
        return heapq.nsmallest(num, self._records, key=key)

    def countByValue(self) -> dict:  # noqa: N802
        return dict(batch_ops.count_by_value_step("countByValue").fast(self._records, 0))

    def countByKey(self) -> dict:  # noqa: N802
        return self.map(operator.itemgetter(0)).countByValue()

    def collectAsMap(self) -> dict:  # noqa: N802
        return dict(self._records)

    def lookup(self, key) -> list:
        return [v for k, v in self._records if k == key]

    def foreach(self, f: Callable) -> None:
        for record in self._records:
            f(record)

    def foreachPartition(self, f: Callable) -> None:  # noqa: N802
        for part in self.partitioning.split(self._records):
            f(iter(part))

    def getNumPartitions(self) -> int:  # noqa: N802
        return self.partitioning.count

    # --- transformations -------------------------------------------------------------------------
    def map(self, f: Callable, preservesPartitioning: bool = False) -> "RDD":  # noqa: N803
        return self._new(map(f, self._records))

    def flatMap(self, f: Callable, preservesPartitioning: bool = False) -> "RDD":  # noqa: N802, N803
        return self._new(itertools.chain.from_iterable(map(f, self._records)))

    def filter(self, f: Callable) -> "RDD":
        return self._new(filter(f, self._records), self.partitioning)

    def mapValues(self, f: Callable) -> "RDD":  # noqa: N802
        return self._new(((k, f(v)) for k, v in self._records), self.partitioning)

    def flatMapValues(self, f: Callable) -> "RDD":  # noqa: N802
        return self._new(((k, x) for k, v in self._records for x in f(v)), self.partitioning)

    def keys(self) -> "RDD":
        return self.map(operator.itemgetter(0))

    def values(self) -> "RDD":
        return self.map(operator.itemgetter(1))

    def keyBy(self, f: Callable) -> "RDD":  # noqa: N802
        return self.map(lambda x: (f(x), x))

    def glom(self) -> "RDD":
        return self._new(self.partitioning.split(self._records))

    def mapPartitions(self, f: Callable, preservesPartitioning: bool = False) -> "RDD":  # noqa: N802, N803
        return self.mapPartitionsWithIndex(lambda _, part: f(part), preservesPartitioning)

    def mapPartitionsWithIndex(self, f: Callable, preservesPartitioning: bool = False) -> "RDD":  # noqa: N802, N803
        parts = self.partitioning.split(self._records)
        out = [x for index, part in enumerate(parts) for x in f(index, iter(part))]
        return self._new(out, self.partitioning if preservesPartitioning else None)

    def distinct(self, numPartitions: int | None = None) -> "RDD":  # noqa: N803
        return self._new(dict.fromkeys(self._records), numPartitions)

    def union(self, other: "RDD") -> "RDD":
        return self._new(self._records + other._records, self.partitioning.count + other.partitioning.count)

    def repartition(self, numPartitions: int) -> "RDD":  # noqa: N803
        return self._new(self._records, numPartitions)

    def coalesce(self, numPartitions: int, shuffle: bool = False) -> "RDD":  # noqa: N803
        return self._new(self._records, min(numPartitions, self.partitioning.count) if not shuffle else numPartitions)

    def partitionBy(self, numPartitions: int, partitionFunc: Callable = portable_hash) -> "RDD":  # noqa: N802, N803
        return RDD(self._records, Partitioning(numPartitions, partitionFunc), self.context)

    def sortBy(self, keyfunc: Callable, ascending: bool = True, numPartitions: int | None = None) -> "RDD":  # noqa: N802, N803
        return self._new(sorted(self._records, key=keyfunc, reverse=not ascending), numPartitions)

    def sortByKey(self, ascending: bool = True, numPartitions: int | None = None,  # noqa: N802, N803
                  keyfunc: Callable = lambda k: k) -> "RDD":
        return self.sortBy(lambda pair: keyfunc(pair[0]), ascending, numPartitions)

    def reduceByKey(self, func: Callable, numPartitions: int | None = None) -> "RDD":  # noqa: N802, N803
        return self._keyed(batch_ops.reduce_by_key_step(func, "reduceByKey").fast(self._records, 0), numPartitions)

    def groupByKey(self, numPartitions: int | None = None) -> "RDD":  # noqa: N802, N803
        return self._keyed(batch_ops.group_by_key_step("groupByKey").fast(self._records, 0), numPartitions)

    def combineByKey(self, createCombiner: Callable, mergeValue: Callable, mergeCombiners: Callable,  # noqa: N802, N803
                     numPartitions: int | None = None) -> "RDD":
        parts = self.partitioning.split(self._records)
        return self._keyed(batch_ops.combine_by_key(parts, createCombiner, mergeValue, mergeCombiners), numPartitions)

    def aggregateByKey(self, zeroValue, seqFunc: Callable, combFunc: Callable,  # noqa: N802, N803
                       numPartitions: int | None = None) -> "RDD":
        import copy

        return self.combineByKey(lambda v: seqFunc(copy.deepcopy(zeroValue), v), seqFunc, combFunc, numPartitions)

    def join(self, other: "RDD", numPartitions: int | None = None) -> "RDD":  # noqa: N803
        return self._keyed(batch_ops.join(self._records, other._records), numPartitions)

    def leftOuterJoin(self, other: "RDD", numPartitions: int | None = None) -> "RDD":  # noqa: N802, N803
        return self._keyed(batch_ops.left_outer_join(self._records, other._records), numPartitions)

    def rightOuterJoin(self, other: "RDD", numPartitions: int | None = None) -> "RDD":  # noqa: N802, N803
        return self._keyed(batch_ops.right_outer_join(self._records, other._records), numPartitions)

    def fullOuterJoin(self, other: "RDD", numPartitions: int | None = None) -> "RDD":  # noqa: N802, N803
        return self._keyed(batch_ops.full_outer_join(self._records, other._records), numPartitions)

    def cogroup(self, other: "RDD", numPartitions: int | None = None) -> "RDD":  # noqa: N803
        return self._keyed(batch_ops.cogroup(self._records, other._records), numPartitions)

    def subtractByKey(self, other: "RDD", numPartitions: int | None = None) -> "RDD":  # noqa: N802, N803
        keys = {k for k, _ in other._records}
        return self._new(((k, v) for k, v in self._records if k not in keys), numPartitions)

    def zipWithIndex(self) -> "RDD":  # noqa: N802
        return self._new((x, i) for i, x in enumerate(self._records))

    # --- kept as Spark has them ------------------------------------------------------------------
    def cache(self) -> "RDD":
        return self

    def persist(self, storageLevel=None) -> "RDD":  # noqa: N803
        return self

    def unpersist(self, blocking: bool = False) -> "RDD":
        return self

    def __repr__(self) -> str:
        return f"RDD({len(self._records)} records in {self.partitioning.count} partitions)"
