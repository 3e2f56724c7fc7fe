"""``pyspark.streaming.dstream``: PySpark's ``DStream`` over the library's, camelCase, with PySpark's signatures."""
from __future__ import annotations

import datetime
import os
from typing import TYPE_CHECKING, Callable, Generic, TypeVar

from ...ops.batch import with_time
from ..rdd import RDD
from ..resultiterable import ResultIterable
from ..shipping import check_shippable
from .recovery import recorded

if TYPE_CHECKING:
    from .context import StreamingContext

__all__ = ["DStream"]

T_co = TypeVar("T_co", covariant=True)


def _time(t_ms: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(t_ms / 1000.0)


def _records(result) -> list:
    """What a user's function gave for a batch (an RDD, a list, None) as the batch's records."""
    if result is None:
        return []
    return result.collect() if isinstance(result, RDD) else list(result)


class DStream(Generic[T_co]):
    """PySpark's DStream methods over a library stream."""

    def __init__(self, stream, ssc: StreamingContext) -> None:
        self._stream = stream
        self._ssc = ssc

    def _wrap(self, stream) -> "DStream":
        return DStream(stream, self._ssc)

    def _rdd(self, batch: list, stream=None) -> RDD:
        return RDD(batch, (stream or self._stream).partitioning, self._ssc.sparkContext)

    def _shuffle(self, partitions: int | None) -> int:
        """How many partitions a shuffle gives: as PySpark's DStreams, the context's default parallelism unless
        told (an RDD's shuffle keeps its own partitions instead)."""
        return self._ssc.sparkContext.defaultParallelism if partitions is None else partitions

    def context(self) -> StreamingContext:
        return self._ssc

    # --- per batch ----------------------------------------------------------------------------
    def map(self, f: Callable, preservesPartitioning: bool = False) -> "DStream":  # noqa: N803
        check_shippable(f, self._ssc.sparkContext, "DStream.map")
        return self._wrap(self._stream.map(f))

    def flatMap(self, f: Callable, preservesPartitioning: bool = False) -> "DStream":  # noqa: N802, N803
        check_shippable(f, self._ssc.sparkContext, "DStream.flatMap")
        return self._wrap(self._stream.flat_map(f))

    def filter(self, f: Callable) -> "DStream":
        check_shippable(f, self._ssc.sparkContext, "DStream.filter")
        return self._wrap(self._stream.filter(f))

    def mapValues(self, f: Callable) -> "DStream":  # noqa: N802
        check_shippable(f, self._ssc.sparkContext, "DStream.mapValues")
        return self._wrap(self._stream.map_values(f))

    def flatMapValues(self, f: Callable) -> "DStream":  # noqa: N802
        check_shippable(f, self._ssc.sparkContext, "DStream.flatMapValues")
        return self._wrap(self._stream.flat_map_values(f))

    def glom(self) -> "DStream":
        return self._wrap(self._stream.glom())

    def mapPartitions(self, f: Callable, preservesPartitioning: bool = False) -> "DStream":  # noqa: N802, N803
        check_shippable(f, self._ssc.sparkContext, "DStream.mapPartitions")
        return self._wrap(self._stream.map_partitions(f, preservesPartitioning))

    def mapPartitionsWithIndex(self, f: Callable, preservesPartitioning: bool = False) -> "DStream":  # noqa: N802, N803
        check_shippable(f, self._ssc.sparkContext, "DStream.mapPartitionsWithIndex")
        return self._wrap(self._stream.map_partitions_with_index(f, preservesPartitioning))

    def reduce(self, func: Callable) -> "DStream":
        check_shippable(func, self._ssc.sparkContext, "DStream.reduce")
        return self._wrap(self._stream.reduce(func))

    def count(self) -> "DStream":
        return self._wrap(self._stream.count())

    def countByValue(self) -> "DStream":  # noqa: N802
        return self._wrap(self._stream.count_by_value().partition_by(self._shuffle(None)))

    def reduceByKey(self, func: Callable, numPartitions: int | None = None) -> "DStream":  # noqa: N802, N803
        check_shippable(func, self._ssc.sparkContext, "DStream.reduceByKey")
        return self._wrap(self._stream.reduce_by_key(func, self._shuffle(numPartitions)))

    def groupByKey(self, numPartitions: int | None = None) -> "DStream":  # noqa: N802, N803
        return self._wrap(self._stream.group_by_key(self._shuffle(numPartitions)).map_values(ResultIterable))

    def combineByKey(self, createCombiner: Callable, mergeValue: Callable, mergeCombiners: Callable,  # noqa: N802, N803
                     numPartitions: int | None = None) -> "DStream":
        check_shippable(createCombiner, self._ssc.sparkContext, "DStream.combineByKey")
        return self._wrap(self._stream.combine_by_key(createCombiner, mergeValue, mergeCombiners,
                                                      self._shuffle(numPartitions)))

    def partitionBy(self, numPartitions: int, partitionFunc: Callable | None = None) -> "DStream":  # noqa: N802, N803
        if partitionFunc is None:
            return self._wrap(self._stream.partition_by(numPartitions))
        return self._wrap(self._stream.partition_by(numPartitions, partitionFunc))

    def repartition(self, numPartitions: int) -> "DStream":  # noqa: N803
        return self._wrap(self._stream.repartition(numPartitions))

    def transform(self, func: Callable) -> "DStream":
        """``func(rdd)`` or ``func(time, rdd)``, returning an RDD."""
        call = with_time(func, 2)

        def over_rdd(t: int, batch: list) -> list:
            return _records(call(_time(t), self._rdd(batch)))

        return self._wrap(self._stream.transform(over_rdd))

    def transformWith(self, func: Callable, other: "DStream", keepSerializer: bool = False) -> "DStream":  # noqa: N802, N803
        """``func(rdd, other_rdd)`` or ``func(time, rdd, other_rdd)``, returning an RDD."""
        call = with_time(func, 3)

        def over_rdds(t: int, left: list, right: list) -> list:
            return _records(call(_time(t), self._rdd(left), self._rdd(right, other._stream)))

        return self._wrap(self._stream.transform_with(over_rdds, other._stream))

    # --- several streams ----------------------------------------------------------------------
    def union(self, other: "DStream") -> "DStream":
        return self._wrap(self._stream.union(other._stream))

    def join(self, other: "DStream", numPartitions: int | None = None) -> "DStream":  # noqa: N803
        return self._wrap(self._stream.join(other._stream, self._shuffle(numPartitions)))

    def leftOuterJoin(self, other: "DStream", numPartitions: int | None = None) -> "DStream":  # noqa: N802, N803
        return self._wrap(self._stream.left_outer_join(other._stream, self._shuffle(numPartitions)))

    def rightOuterJoin(self, other: "DStream", numPartitions: int | None = None) -> "DStream":  # noqa: N802, N803
        return self._wrap(self._stream.right_outer_join(other._stream, self._shuffle(numPartitions)))

    def fullOuterJoin(self, other: "DStream", numPartitions: int | None = None) -> "DStream":  # noqa: N802, N803
        return self._wrap(self._stream.full_outer_join(other._stream, self._shuffle(numPartitions)))

    def cogroup(self, other: "DStream", numPartitions: int | None = None) -> "DStream":  # noqa: N803
        return self._wrap(self._stream.cogroup(other._stream, self._shuffle(numPartitions)).map_values(
            lambda lists: tuple(map(ResultIterable, lists))))

    def slice(self, begin: datetime.datetime | int, end: datetime.datetime | int) -> list[RDD]:
        """The RDDs of every batch time from *begin* to *end*, both included: datetimes, or Unix times in
        seconds, as PySpark takes them."""
        def ms(when) -> int:
            return int((when.timestamp() if isinstance(when, datetime.datetime) else when) * 1000)

        return [self._rdd(batch) for batch in self._stream.slice(ms(begin), ms(end))]

    # --- windows ------------------------------------------------------------------------------
    def window(self, windowDuration: float, slideDuration: float | None = None) -> "DStream":  # noqa: N803
        return self._wrap(self._stream.window(windowDuration, slideDuration))

    def reduceByWindow(self, reduceFunc: Callable, invReduceFunc: Callable | None,  # noqa: N802, N803
                       windowDuration: float, slideDuration: float) -> "DStream":  # noqa: N803
        check_shippable(reduceFunc, self._ssc.sparkContext, "DStream.reduceByWindow")
        return self._wrap(self._stream.reduce_by_window(reduceFunc, invReduceFunc, windowDuration, slideDuration))

    def countByWindow(self, windowDuration: float, slideDuration: float) -> "DStream":  # noqa: N802, N803
        return self._wrap(self._stream.count_by_window(windowDuration, slideDuration))

    def countByValueAndWindow(self, windowDuration: float, slideDuration: float,  # noqa: N802, N803
                              numPartitions: int | None = None) -> "DStream":  # noqa: N803
        return self._wrap(self._stream.count_by_value_and_window(windowDuration, slideDuration,
                                                                 self._shuffle(numPartitions)))

    def reduceByKeyAndWindow(self, func: Callable, invFunc: Callable | None, windowDuration: float,  # noqa: N802, N803
                             slideDuration: float | None = None, numPartitions: int | None = None,  # noqa: N803
                             filterFunc: Callable | None = None) -> "DStream":  # noqa: N803
        check_shippable(func, self._ssc.sparkContext, "DStream.reduceByKeyAndWindow")
        return self._wrap(self._stream.reduce_by_key_and_window(func, invFunc, windowDuration, slideDuration,
                                                                self._shuffle(numPartitions), filterFunc))

    def groupByKeyAndWindow(self, windowDuration: float, slideDuration: float,  # noqa: N802, N803
                            numPartitions: int | None = None) -> "DStream":  # noqa: N803
        return self._wrap(self._stream.group_by_key_and_window(windowDuration, slideDuration,
                                                               self._shuffle(numPartitions))
                          .map_values(ResultIterable))

    # --- state --------------------------------------------------------------------------------
    def updateStateByKey(self, updateFunc: Callable, numPartitions: int | None = None,  # noqa: N802, N803
                         initialRDD=None) -> "DStream":  # noqa: N803
        """``updateFunc(new_values, last_state)``; *initialRDD* (an RDD or a list) of (key, state) pairs."""
        check_shippable(updateFunc, self._ssc.sparkContext, "DStream.updateStateByKey")
        initial = None if initialRDD is None else _records(initialRDD)
        return self._wrap(self._stream.update_state_by_key(updateFunc, self._shuffle(numPartitions), initial=initial))

    # --- outputs ------------------------------------------------------------------------------
    def foreachRDD(self, func: Callable) -> None:  # noqa: N802
        """``func(rdd)`` or ``func(time, rdd)`` every batch. As in PySpark, which takes whatever the function
        returns for an RDD when it is true, a result such as ``rdd.count()`` of a non-empty batch fails its job."""
        call = with_time(func, 2)

        def each(t: int, batch: list) -> None:
            result = call(_time(t), self._rdd(batch))
            if result and not isinstance(result, RDD):
                raise AttributeError(f"'{type(result).__name__}' object has no attribute '_jrdd'")

        self._stream.foreach_batch(each)

    def pprint(self, num: int = 10) -> None:
        self._stream.pprint(num)

    def saveAsTextFiles(self, prefix: str, suffix: str | None = None) -> None:  # noqa: N802
        """Spark's layout: a directory ``prefix-TIME_IN_MS[.suffix]`` per batch, a ``part-NNNNN`` file per partition
        and ``_SUCCESS`` (``RDD.saveAsTextFile``). A batch whose directory is there already is not written again,
        as PySpark lets a recomputed batch be."""
        def save(t: int, batch: list) -> None:
            path = f"{prefix}-{t}" + (f".{suffix}" if suffix else "")
            if not os.path.exists(path):
                self._rdd(batch).saveAsTextFile(path)

        self._stream.foreach_batch(save)

    # --- kept as Spark has them ---------------------------------------------------------------
    def cache(self) -> "DStream":
        self._stream.cache()
        return self

    def persist(self, storageLevel=None) -> "DStream":  # noqa: N803
        self._stream.persist(storageLevel)
        return self

    def checkpoint(self, interval: float) -> "DStream":
        self._stream.checkpoint(interval)
        return self


#: the methods that build the graph: each call is a step of what getOrCreate builds again (recovery.py)
BUILDING_METHODS = (
    "map", "flatMap", "filter", "mapValues", "flatMapValues", "glom", "mapPartitions", "mapPartitionsWithIndex",
    "reduce", "count", "countByValue", "reduceByKey", "groupByKey", "combineByKey", "partitionBy", "repartition",
    "transform", "transformWith", "union", "join", "leftOuterJoin", "rightOuterJoin", "fullOuterJoin", "cogroup",
    "window", "reduceByWindow", "countByWindow", "countByValueAndWindow", "reduceByKeyAndWindow",
    "groupByKeyAndWindow", "updateStateByKey", "foreachRDD", "pprint", "saveAsTextFiles", "cache", "persist",
    "checkpoint",
)
for _name in BUILDING_METHODS:
    setattr(DStream, _name, recorded(getattr(DStream, _name)))
