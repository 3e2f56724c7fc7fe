"""``pyspark.rdd``: a batch as PySpark's ``RDD`` shows it to ``foreachRDD`` and ``transform`` functions, over a
list in this process, in partitions as ``partitions.Partitioning`` cuts them.

What a method returns is what PySpark's gives for the same data (a list, a number, a dict, a new RDD, a
``ResultIterable`` of a key's values). What needs a cluster or Hadoop raises NotImplementedError naming it.
"""
from __future__ import annotations

import bisect
import copy
import functools
import heapq
import itertools
import math
import operator
import os
import pickle
import random
import subprocess
from typing import Callable, Generic, Iterable, Iterator, TypeVar

from ..fsio import write_directory_atomically
from ..ops import batch as batch_ops
from ..partitions import Partitioning, portable_hash
from .resultiterable import ResultIterable
from .shipping import check_shippable
from .statcounter import StatCounter
from .storagelevel import StorageLevel
from .taskcontext import TaskContext

__all__ = ["RDD"]

T_co = TypeVar("T_co", covariant=True)
_ids = itertools.count()


def not_here(what: str, why: str = "it needs a Spark cluster") -> NotImplementedError:
    return NotImplementedError(f"{what} is not in dstream's PySpark drop-in: {why}; run the program on PySpark, "
                               "or the chain with dstream --engine spark")


class RDD(Generic[T_co]):
    """Records in *partitions* (each a list); ``context`` is the SparkContext it was made from."""

    def __init__(self, records: Iterable = (), partitions: int | Partitioning = 1, context=None) -> None:
        self._records = records if isinstance(records, list) else list(records)
        self.partitioning = partitions if isinstance(partitions, Partitioning) else Partitioning(partitions)
        self.ctx = context
        self._id = next(_ids)
        self._name: str | None = None
        self._checkpointed = self._local_checkpointed = False
        self._storage = StorageLevel.NONE

    def __getnewargs__(self):
        # As in PySpark: an RDD used inside another's function cannot be shipped, and says why.
        raise RuntimeError("[RDD_TRANSFORM_ONLY_VALID_ON_DRIVER] It appears that you are attempting to broadcast an "
                           "RDD or reference an RDD from an action or transformation. RDD transformations and actions "
                           "can only be invoked by the driver, not inside of other transformations; for example, "
                           "rdd1.map(lambda x: rdd2.values.count() * x) is invalid because the values transformation "
                           "and count action cannot be performed inside of the rdd1.map transformation. For more "
                           "information, see SPARK-5063.")

    @property
    def context(self):
        """The SparkContext this RDD was made from."""
        return self.ctx

    def _new(self, records: Iterable, partitions: int | Partitioning | None = None) -> "RDD":
        return RDD(records, self.partitioning.count if partitions is None else partitions, self.ctx)

    def _keyed(self, records: Iterable, num_partitions: int | None, partition_func: Callable = portable_hash) -> "RDD":
        """After a shuffle: placed by key, in *num_partitions* (default: as many as this one has)."""
        return RDD(records, Partitioning(num_partitions or self.partitioning.count, partition_func), self.ctx)

    def _parts(self) -> list[list]:
        return self.partitioning.split(self._records)

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
        check_shippable(f, self.ctx, "RDD.reduce")
        if not self._records:
            raise ValueError("Can not reduce() empty RDD")
        return functools.reduce(f, self._records)

    def fold(self, zeroValue, op: Callable):  # noqa: N803 - PySpark's names
        """Each partition folded from *zeroValue*, then the partitions' results, as Spark does."""
        check_shippable(op, self.ctx, "RDD.fold")
        results = [functools.reduce(op, part, copy.deepcopy(zeroValue)) for part in self._parts()]
        return functools.reduce(op, results, zeroValue)

    def aggregate(self, zeroValue, seqOp: Callable, combOp: Callable):  # noqa: N803
        check_shippable(seqOp, self.ctx, "RDD.aggregate")
        results = [functools.reduce(seqOp, part, copy.deepcopy(zeroValue)) for part in self._parts()]
        return functools.reduce(combOp, results, copy.deepcopy(zeroValue))

    def treeAggregate(self, zeroValue, seqOp: Callable, combOp: Callable, depth: int = 2):  # noqa: N802, N803
        return self.aggregate(zeroValue, seqOp, combOp)

    def treeReduce(self, f: Callable, depth: int = 2):  # noqa: N802
        return self.reduce(f)

    def stats(self) -> StatCounter:
        return StatCounter(self._records)

    def variance(self) -> float:
        return self.stats().variance()

    def stdev(self) -> float:
        return self.stats().stdev()

    def sampleVariance(self) -> float:  # noqa: N802
        return self.stats().sampleVariance()

    def sampleStdev(self) -> float:  # noqa: N802
        return self.stats().sampleStdev()

    def histogram(self, buckets) -> tuple[list, list[int]]:
        """Counts in *buckets* (edges, the last one closed) or in that many even buckets from min to max."""
        if isinstance(buckets, int):
            if buckets < 1:
                raise ValueError("number of buckets must be >= 1")
            if not self._records:
                raise ValueError("can not generate buckets from empty RDD")
            low, high = min(self._records), max(self._records)
            if low == high:
                buckets = [low, high]
            else:
                step = (high - low) / buckets
                buckets = [low + i * step for i in range(buckets)] + [high]
        edges = list(buckets)
        if len(edges) < 2 or edges != sorted(edges) or len(set(edges)) != len(edges):
            raise ValueError("buckets should be sorted and not contain duplicates, at least two of them")
        counts = [0] * (len(edges) - 1)
        for value in self._records:
            if value is None or (isinstance(value, float) and math.isnan(value)) or not edges[0] <= value <= edges[-1]:
                continue
            counts[min(bisect.bisect_right(edges, value) - 1, len(counts) - 1)] += 1
        return edges, counts

    def countApprox(self, timeout: int, confidence: float = 0.95) -> int:  # noqa: N802
        return self.count()

    def countApproxDistinct(self, relativeSD: float = 0.05) -> int:  # noqa: N802, N803
        return len(set(self._records))

    def sumApprox(self, timeout: int, confidence: float = 0.95) -> float:  # noqa: N802
        return float(self.sum())

    def meanApprox(self, timeout: int, confidence: float = 0.95) -> float:  # noqa: N802
        return float(self.mean())

    def reduceByKeyLocally(self, func: Callable) -> dict:  # noqa: N802
        return dict(batch_ops.reduce_by_key_step(func, "reduceByKeyLocally").fast(self._records, 0))

    def takeSample(self, withReplacement: bool, num: int, seed: int | None = None) -> list:  # noqa: N802, N803
        if num < 0:
            raise ValueError("Sample size cannot be negative.")
        rng = random.Random(seed)
        if withReplacement:
            return [rng.choice(self._records) for _ in range(num)] if self._records else []
        return rng.sample(self._records, min(num, len(self._records)))

    def toLocalIterator(self, prefetchPartitions: bool = False) -> Iterator:  # noqa: N802, N803
        return iter(list(self._records))

    def collectWithJobGroup(self, groupId: str, description: str, interruptOnCancel: bool = False) -> list:  # noqa: N802, N803
        return self.collect()

    def saveAsTextFile(self, path: str, compressionCodecClass: str | None = None) -> None:  # noqa: N802, N803
        """Spark's layout: a directory of ``part-NNNNN`` files, one per partition (``str`` of each element per
        line), and ``_SUCCESS``; written whole or not at all. Gzip is the one codec here."""
        suffix, compress = "", None
        if compressionCodecClass:
            if compressionCodecClass != "org.apache.hadoop.io.compress.GzipCodec":
                raise not_here(f"compressionCodecClass {compressionCodecClass}", "its codec is a Hadoop class")
            import gzip

            suffix, compress = ".gz", functools.partial(gzip.compress, mtime=0)
        files = {}
        for index, part in enumerate(self._parts()):
            data = "".join(f"{x}\n" for x in part).encode("utf-8", "surrogateescape")
            files[f"part-{index:05d}{suffix}"] = compress(data) if compress else data
        files["_SUCCESS"] = b""
        if os.path.exists(path):
            raise FileExistsError(f"Output directory {path} already exists")
        write_directory_atomically(path, files)

    def saveAsPickleFile(self, path: str, batchSize: int = 10) -> None:  # noqa: N802, N803
        """A directory that ``SparkContext.pickleFile`` here reads back (pickled batches of *batchSize*; not
        Hadoop's SequenceFile, which Spark writes)."""
        if os.path.exists(path):
            raise FileExistsError(f"Output directory {path} already exists")
        size = batchSize if batchSize > 0 else 1024
        files = {f"part-{index:05d}": pickle.dumps([part[i:i + size] for i in range(0, len(part), size)])
                 for index, part in enumerate(self._parts())}
        write_directory_atomically(path, {**files, "_SUCCESS": b""})

    def saveAsSequenceFile(self, path: str, compressionCodecClass: str | None = None) -> None:  # noqa: N802, N803
        raise not_here("saveAsSequenceFile", "Hadoop's file formats need Hadoop")

    def saveAsHadoopFile(self, path: str, outputFormatClass: str, keyClass: str | None = None,  # noqa: N802, N803
                         valueClass: str | None = None, keyConverter: str | None = None,  # noqa: N803
                         valueConverter: str | None = None, conf: dict | None = None,  # noqa: N803
                         compressionCodecClass: str | None = None) -> None:  # noqa: N803
        raise not_here("saveAsHadoopFile", "Hadoop's output formats need Hadoop")

    def saveAsNewAPIHadoopFile(self, path: str, outputFormatClass: str, keyClass: str | None = None,  # noqa: N802, N803
                               valueClass: str | None = None, keyConverter: str | None = None,  # noqa: N803
                               valueConverter: str | None = None, conf: dict | None = None) -> None:  # noqa: N803
        raise not_here("saveAsNewAPIHadoopFile", "Hadoop's output formats need Hadoop")

    def saveAsHadoopDataset(self, conf: dict, keyConverter: str | None = None,  # noqa: N802, N803
                            valueConverter: str | None = None) -> None:  # noqa: N803
        raise not_here("saveAsHadoopDataset", "Hadoop's output formats need Hadoop")

    def saveAsNewAPIHadoopDataset(self, conf: dict, keyConverter: str | None = None,  # noqa: N802, N803
                                  valueConverter: str | None = None) -> None:  # noqa: N803
        raise not_here("saveAsNewAPIHadoopDataset", "Hadoop's output formats need Hadoop")

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
        check_shippable(f, self.ctx, "RDD.foreach")
        for record in self._records:
            f(record)

    def foreachPartition(self, f: Callable) -> None:  # noqa: N802
        check_shippable(f, self.ctx, "RDD.foreachPartition")
        for index, part in enumerate(self._parts()):
            with TaskContext._running(index):
                f(iter(part))

    def getNumPartitions(self) -> int:  # noqa: N802
        return self.partitioning.count

    # --- transformations -------------------------------------------------------------------------
    def map(self, f: Callable, preservesPartitioning: bool = False) -> "RDD":  # noqa: N803
        check_shippable(f, self.ctx, "RDD.map")
        return self._new(map(f, self._records))

    def flatMap(self, f: Callable, preservesPartitioning: bool = False) -> "RDD":  # noqa: N802, N803
        check_shippable(f, self.ctx, "RDD.flatMap")
        return self._new(itertools.chain.from_iterable(map(f, self._records)))

    def filter(self, f: Callable) -> "RDD":
        check_shippable(f, self.ctx, "RDD.filter")
        return self._new(filter(f, self._records), self.partitioning)

    def mapValues(self, f: Callable) -> "RDD":  # noqa: N802
        check_shippable(f, self.ctx, "RDD.mapValues")
        return self._new(((k, f(v)) for k, v in self._records), self.partitioning)

    def flatMapValues(self, f: Callable) -> "RDD":  # noqa: N802
        check_shippable(f, self.ctx, "RDD.flatMapValues")
        return self._new(((k, x) for k, v in self._records for x in f(v)), self.partitioning)

    def keys(self) -> "RDD":
        return self.map(operator.itemgetter(0))

    def values(self) -> "RDD":
        return self.map(operator.itemgetter(1))

    def keyBy(self, f: Callable) -> "RDD":  # noqa: N802
        check_shippable(f, self.ctx, "RDD.keyBy")
        return self._new((f(x), x) for x in self._records)

    def glom(self) -> "RDD":
        return self._new(self.partitioning.split(self._records))

    def mapPartitions(self, f: Callable, preservesPartitioning: bool = False) -> "RDD":  # noqa: N802, N803
        check_shippable(f, self.ctx, "RDD.mapPartitions")
        return self._by_partition(lambda _, part: f(part), preservesPartitioning)

    def mapPartitionsWithIndex(self, f: Callable, preservesPartitioning: bool = False) -> "RDD":  # noqa: N802, N803
        check_shippable(f, self.ctx, "RDD.mapPartitionsWithIndex")
        return self._by_partition(f, preservesPartitioning)

    def mapPartitionsWithSplit(self, f: Callable, preservesPartitioning: bool = False) -> "RDD":  # noqa: N802, N803
        check_shippable(f, self.ctx, "RDD.mapPartitionsWithSplit")
        return self._by_partition(f, preservesPartitioning)

    def _by_partition(self, f: Callable, preserves_partitioning: bool) -> "RDD":
        """``f(index, iterator)`` over each partition, with that partition's TaskContext."""
        out = []
        for index, part in enumerate(self._parts()):
            with TaskContext._running(index):
                out.extend(f(index, iter(part)))
        return self._new(out, self.partitioning if preserves_partitioning else None)

    def pipe(self, command: str, env: dict | None = None, checkCode: bool = False) -> "RDD":  # noqa: N803
        """Each partition's elements (``str``, a line each) through ``sh -c command``; its output lines."""
        out = []
        for part in self._parts():
            data = "".join(f"{x}\n" for x in part).encode("utf-8", "surrogateescape")
            done = subprocess.run(["sh", "-c", command], input=data, capture_output=True, env=env, check=False)
            if checkCode and done.returncode:
                raise RuntimeError(f"Pipe function `{command}' exited with error code {done.returncode}")
            out.extend(done.stdout.decode("utf-8", "surrogateescape").splitlines())
        return self._new(out)

    def cartesian(self, other: "RDD") -> "RDD":
        return self._new([(a, b) for a in self._records for b in other._records],
                         self.partitioning.count * other.partitioning.count)

    def zip(self, other: "RDD") -> "RDD":
        if [len(p) for p in self._parts()] != [len(p) for p in other._parts()]:
            raise ValueError("Can only zip RDDs with same number of elements in each partition")
        return self._new(list(zip(self._records, other._records)))

    def zipWithUniqueId(self) -> "RDD":  # noqa: N802
        n = self.partitioning.count
        return self._new([(x, i * n + k) for k, part in enumerate(self._parts()) for i, x in enumerate(part)])

    def intersection(self, other: "RDD") -> "RDD":
        theirs = set(other._records)
        return self._new(dict.fromkeys(x for x in self._records if x in theirs))

    def subtract(self, other: "RDD", numPartitions: int | None = None) -> "RDD":  # noqa: N803
        theirs = set(other._records)
        return self._new([x for x in self._records if x not in theirs], numPartitions)

    def groupBy(self, f: Callable, numPartitions: int | None = None,  # noqa: N802, N803
                partitionFunc: Callable = portable_hash) -> "RDD":  # noqa: N803
        check_shippable(f, self.ctx, "RDD.groupBy")
        return self._new((f(x), x) for x in self._records).groupByKey(numPartitions, partitionFunc)

    def groupWith(self, other: "RDD", *others: "RDD") -> "RDD":  # noqa: N802
        rdds = (self, other, *others)
        grouped: dict = {}
        for index, rdd in enumerate(rdds):
            for key, value in rdd._records:
                grouped.setdefault(key, [[] for _ in rdds])[index].append(value)
        return self._keyed([(k, tuple(map(ResultIterable, v))) for k, v in grouped.items()], None)

    def sample(self, withReplacement: bool, fraction: float, seed: int | None = None) -> "RDD":  # noqa: N803
        """Bernoulli sampling, or with replacement Poisson counts of mean *fraction*, as Spark's samplers."""
        if fraction < 0:
            raise ValueError("Fraction must be nonnegative.")
        rng = random.Random(seed)
        if not withReplacement:
            return self._new([x for x in self._records if rng.random() < fraction], self.partitioning)
        return self._new([x for x in self._records for _ in range(_poisson(rng, fraction))], self.partitioning)

    def sampleByKey(self, withReplacement: bool, fractions: dict, seed: int | None = None) -> "RDD":  # noqa: N802, N803
        rng = random.Random(seed)
        if not withReplacement:
            return self._new([kv for kv in self._records if rng.random() < fractions[kv[0]]], self.partitioning)
        return self._new([kv for kv in self._records for _ in range(_poisson(rng, fractions[kv[0]]))],
                         self.partitioning)

    def randomSplit(self, weights, seed: int | None = None) -> list["RDD"]:  # noqa: N802
        total = float(sum(weights))
        bounds = list(itertools.accumulate(w / total for w in weights))
        rng = random.Random(seed)
        splits: list[list] = [[] for _ in weights]
        for x in self._records:
            splits[min(bisect.bisect_right(bounds, rng.random()), len(splits) - 1)].append(x)
        return [self._new(split) for split in splits]

    def repartitionAndSortWithinPartitions(self, numPartitions: int | None = None,  # noqa: N802, N803
                                           partitionFunc: Callable = portable_hash,  # noqa: N803
                                           ascending: bool = True, keyfunc: Callable = lambda x: x) -> "RDD":
        ordered = sorted(self._records, key=lambda kv: keyfunc(kv[0]), reverse=not ascending)
        return self._keyed(ordered, numPartitions, partitionFunc)

    def barrier(self):
        raise not_here("RDD.barrier", "barrier execution mode schedules tasks on a cluster")

    def withResources(self, profile) -> "RDD":  # noqa: N802
        raise not_here("RDD.withResources", "resource profiles ask a cluster manager for executors")

    def getResourceProfile(self):  # noqa: N802
        return None

    def toDF(self, schema=None, sampleRatio: float | None = None):  # noqa: N802, N803
        raise not_here("RDD.toDF", "DataFrames are Spark SQL's")

    def distinct(self, numPartitions: int | None = None) -> "RDD":  # noqa: N803
        return self._new(dict.fromkeys(self._records), numPartitions)

    def union(self, other: "RDD") -> "RDD":
        return self._new(self._records + other._records, self.partitioning.count + other.partitioning.count)

    def repartition(self, numPartitions: int) -> "RDD":  # noqa: N803
        return self._new(self._records, numPartitions)

    def coalesce(self, numPartitions: int, shuffle: bool = False) -> "RDD":  # noqa: N803
        return self._new(self._records, min(numPartitions, self.partitioning.count) if not shuffle else numPartitions)

    def partitionBy(self, numPartitions: int, partitionFunc: Callable = portable_hash) -> "RDD":  # noqa: N802, N803
        return RDD(self._records, Partitioning(numPartitions, partitionFunc), self.ctx)

    def sortBy(self, keyfunc: Callable, ascending: bool = True, numPartitions: int | None = None) -> "RDD":  # noqa: N802, N803
        check_shippable(keyfunc, self.ctx, "RDD.sortBy")
        return self._new(sorted(self._records, key=keyfunc, reverse=not ascending), numPartitions)

    def sortByKey(self, ascending: bool = True, numPartitions: int | None = None,  # noqa: N802, N803
                  keyfunc: Callable = lambda k: k) -> "RDD":
        return self.sortBy(lambda pair: keyfunc(pair[0]), ascending, numPartitions)

    def reduceByKey(self, func: Callable, numPartitions: int | None = None,  # noqa: N802, N803
                    partitionFunc: Callable = portable_hash) -> "RDD":  # noqa: N803
        check_shippable(func, self.ctx, "RDD.reduceByKey")
        return self._keyed(batch_ops.reduce_by_key_step(func, "reduceByKey").fast(self._records, 0), numPartitions,
                           partitionFunc)

    def groupByKey(self, numPartitions: int | None = None,  # noqa: N802, N803
                   partitionFunc: Callable = portable_hash) -> "RDD":  # noqa: N803
        grouped = batch_ops.group_by_key_step("groupByKey").fast(self._records, 0)
        return self._keyed([(k, ResultIterable(v)) for k, v in grouped], numPartitions, partitionFunc)

    def combineByKey(self, createCombiner: Callable, mergeValue: Callable, mergeCombiners: Callable,  # noqa: N802, N803
                     numPartitions: int | None = None, partitionFunc: Callable = portable_hash) -> "RDD":  # noqa: N803
        check_shippable(createCombiner, self.ctx, "RDD.combineByKey")
        combined = batch_ops.combine_by_key(self._parts(), createCombiner, mergeValue, mergeCombiners)
        return self._keyed(combined, numPartitions, partitionFunc)

    def aggregateByKey(self, zeroValue, seqFunc: Callable, combFunc: Callable,  # noqa: N802, N803
                       numPartitions: int | None = None, partitionFunc: Callable = portable_hash) -> "RDD":  # noqa: N803
        return self.combineByKey(lambda v: seqFunc(copy.deepcopy(zeroValue), v), seqFunc, combFunc, numPartitions,
                                 partitionFunc)

    def foldByKey(self, zeroValue, func: Callable, numPartitions: int | None = None,  # noqa: N802, N803
                  partitionFunc: Callable = portable_hash) -> "RDD":  # noqa: N803
        return self.combineByKey(lambda v: func(copy.deepcopy(zeroValue), v), func, func, numPartitions, partitionFunc)

    def join(self, other: "RDD", numPartitions: int | None = None) -> "RDD":  # noqa: N803
        return self._keyed(batch_ops.join(self._records, other._records), numPartitions)

    def leftOuterJoin(self, other: "RDD", numPartitions: int | None = None) -> "RDD":  # noqa: N802, N803
        return self._keyed(batch_ops.left_outer_join(self._records, other._records), numPartitions)

    def rightOuterJoin(self, other: "RDD", numPartitions: int | None = None) -> "RDD":  # noqa: N802, N803
        return self._keyed(batch_ops.right_outer_join(self._records, other._records), numPartitions)

    def fullOuterJoin(self, other: "RDD", numPartitions: int | None = None) -> "RDD":  # noqa: N802, N803
        return self._keyed(batch_ops.full_outer_join(self._records, other._records), numPartitions)

    def cogroup(self, other: "RDD", numPartitions: int | None = None) -> "RDD":  # noqa: N803
        grouped = batch_ops.cogroup(self._records, other._records)
        return self._keyed([(k, tuple(map(ResultIterable, v))) for k, v in grouped], numPartitions)

    def subtractByKey(self, other: "RDD", numPartitions: int | None = None) -> "RDD":  # noqa: N802, N803
        keys = {k for k, _ in other._records}
        return self._new(((k, v) for k, v in self._records if k not in keys), numPartitions)

    def zipWithIndex(self) -> "RDD":  # noqa: N802
        return self._new((x, i) for i, x in enumerate(self._records))

    # --- kept as Spark has them ------------------------------------------------------------------
    def cache(self) -> "RDD":
        return self.persist(StorageLevel.MEMORY_ONLY)

    def persist(self, storageLevel: StorageLevel = StorageLevel.MEMORY_ONLY) -> "RDD":  # noqa: N803
        self._storage = storageLevel
        return self

    def unpersist(self, blocking: bool = False) -> "RDD":
        self._storage = StorageLevel.NONE
        return self

    def getStorageLevel(self) -> StorageLevel:  # noqa: N802
        return self._storage

    def checkpoint(self) -> None:
        self._checkpointed = True  # the records are in memory already: nothing to cut

    def isCheckpointed(self) -> bool:  # noqa: N802
        return self._checkpointed

    def localCheckpoint(self) -> None:  # noqa: N802
        self._local_checkpointed = True

    def isLocallyCheckpointed(self) -> bool:  # noqa: N802
        return self._local_checkpointed

    def getCheckpointFile(self) -> str | None:  # noqa: N802
        return None

    def cleanShuffleDependencies(self, blocking: bool = False) -> None:  # noqa: N802
        pass

    def id(self) -> int:
        return self._id

    def name(self) -> str | None:
        return self._name

    def setName(self, name: str) -> "RDD":  # noqa: N802
        self._name = name
        return self

    def toDebugString(self) -> bytes:  # noqa: N802
        return f"({self.partitioning.count}) {self._name or 'RDD'} [{self._id}] in dstream's drop-in".encode()

    def __repr__(self) -> str:
        return f"RDD({len(self._records)} records in {self.partitioning.count} partitions)"


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's), how often an element is taken when sampling with replacement."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
