"""``pyspark.streaming`` on dstream: PySpark's ``StreamingContext`` and ``DStream``, camelCase, with PySpark's
signatures, over the library's (``dstream_cli.StreamingContext``).

As in PySpark: durations are seconds; ``foreachRDD`` and ``transform`` functions take an RDD (``rdd.RDD``)
and optionally the batch time first, as a ``datetime``; the context runs on the clock until ``stop()``,
giving empty batches once a queue is empty. See the README's "Coming from PySpark" for what differs.
"""
from __future__ import annotations

import datetime
import functools
from typing import Callable

from .. import context as local
from ..ops.batch import with_time
from ..scheduler.signals import install_stop_signals
from . import SparkContext
from .rdd import RDD

__all__ = ["DStream", "StreamingContext", "StreamingListener"]


def _time(t_ms: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(t_ms / 1000.0)


def _records(result) -> list:
    """What a user's function gave for a batch (an RDD, a list, None) as the batch's records."""
    if result is None:
        return []
    return result.collect() if isinstance(result, RDD) else list(result)


class StreamingContext:
    """``StreamingContext(sparkContext, batchDuration)``: *batchDuration* in seconds."""

    def __init__(self, sparkContext: SparkContext, batchDuration: float | None = None,  # noqa: N803
                 jssc=None) -> None:
        if batchDuration is None:
            raise ValueError("batchDuration is required (seconds)")
        self._sc = sparkContext
        self._context = local.StreamingContext(batchDuration, until_stopped=True)
        self._started = False

    # --- PySpark's class methods ------------------------------------------------------------
    @classmethod
    def getOrCreate(cls, checkpointPath: str, setupFunc: Callable[[], "StreamingContext"]):  # noqa: N802, N803
        """``setupFunc()`` builds the context each time; its state resumes from *checkpointPath* when that holds
        a checkpoint (Spark instead unpickles the graph it saved there and skips *setupFunc*)."""
        context = setupFunc()
        if context._context.checkpoint_dir != checkpointPath:
            context.checkpoint(checkpointPath)
        return context

    @classmethod
    def getActive(cls) -> "StreamingContext | None":  # noqa: N802
        active = local.StreamingContext.get_active()
        return getattr(active, "_dropin", None)

    @classmethod
    def getActiveOrCreate(cls, checkpointPath: str | None, setupFunc: Callable):  # noqa: N802, N803
        active = cls.getActive()
        if active is not None:
            return active
        return cls.getOrCreate(checkpointPath, setupFunc) if checkpointPath else setupFunc()

    # --- set-up -------------------------------------------------------------------------------
    @property
    def sparkContext(self) -> SparkContext:  # noqa: N802
        return self._sc

    def remember(self, duration: float) -> None:
        self._context.remember(duration)

    def checkpoint(self, directory: str) -> None:
        self._context.checkpoint(directory)

    def addStreamingListener(self, streamingListener) -> None:  # noqa: N802, N803
        self._context.add_streaming_listener(_CamelListener(streamingListener))

    # --- inputs -------------------------------------------------------------------------------
    def socketTextStream(self, hostname: str, port: int, storageLevel=None) -> "DStream":  # noqa: N802, N803
        return DStream(self._context.socket_text_stream(hostname, int(port)), self)

    def textFileStream(self, directory: str) -> "DStream":  # noqa: N802
        return DStream(self._context.text_file_stream(directory), self)

    def binaryRecordsStream(self, directory: str, recordLength: int) -> "DStream":  # noqa: N802, N803
        return DStream(self._context.binary_records_stream(directory, recordLength), self)

    def queueStream(self, rdds: list, oneAtATime: bool = True, default=None) -> "DStream":  # noqa: N802, N803
        """*rdds*: RDDs (``sparkContext.parallelize``) or lists; their partitions are the first RDD's."""
        batches = [_records(rdd) for rdd in rdds]
        partitions = next((rdd.getNumPartitions() for rdd in rdds if isinstance(rdd, RDD)),
                          self._sc.defaultParallelism)
        stream = self._context.queue_stream(batches, oneAtATime, None if default is None else _records(default),
                                            partitions=partitions)
        return DStream(stream, self)

    def transform(self, dstreams: list, transformFunc: Callable) -> "DStream":  # noqa: N803
        """``transformFunc(rdds)``: the streams' RDDs of each batch time, in a list."""
        streams = [stream._stream for stream in dstreams]
        counts = [stream.partitioning.count for stream in streams]

        def over_rdds(batches: list) -> list:
            return _records(transformFunc([RDD(b, n, self._sc) for b, n in zip(batches, counts, strict=True)]))

        return DStream(self._context.transform(streams, over_rdds), self)

    def union(self, *dstreams: "DStream") -> "DStream":
        if not dstreams:
            raise ValueError("should have at least one DStream to union")
        return DStream(self._context.union(*(stream._stream for stream in dstreams)), self)

    # --- running ------------------------------------------------------------------------------
    def start(self) -> None:
        self._context._dropin = self
        self._context.start()
        self._started = True

    def awaitTermination(self, timeout: float | None = None) -> None:  # noqa: N802
        """Wait for ``stop()``, the end of the run (a failure is raised here), or *timeout* seconds. On the main
        thread, SIGTERM, SIGHUP and Ctrl-C stop gracefully meanwhile: what was received is finished."""
        restore = install_stop_signals(functools.partial(self._context.stop, True))
        try:
            self._context.await_termination(timeout)
        finally:
            restore()

    def awaitTerminationOrTimeout(self, timeout: float) -> bool:  # noqa: N802
        """True if the context stopped within *timeout* seconds."""
        restore = install_stop_signals(functools.partial(self._context.stop, True))
        try:
            return self._context.await_termination(timeout)
        finally:
            restore()

    def stop(self, stopSparkContext: bool = True, stopGraceFully: bool = False) -> None:  # noqa: N803
        """Stop, and wait until it has (as Spark's ``stop`` does)."""
        self._context.stop(graceful=stopGraceFully)
        if self._started:
            self._context.await_termination()
        if stopSparkContext:
            self._sc.stop()


class DStream:
    """PySpark's DStream methods over a library stream."""

    def __init__(self, stream, ssc: StreamingContext) -> None:
        self._stream = stream
        self._ssc = ssc

    def _wrap(self, stream) -> "DStream":
        return DStream(stream, self._ssc)

    def _rdd(self, batch: list, stream=None) -> RDD:
        return RDD(batch, (stream or self._stream).partitioning, self._ssc.sparkContext)

    def context(self) -> StreamingContext:
        return self._ssc

    # --- per batch ----------------------------------------------------------------------------
    def map(self, f: Callable, preservesPartitioning: bool = False) -> "DStream":  # noqa: N803
        return self._wrap(self._stream.map(f))

    def flatMap(self, f: Callable, preservesPartitioning: bool = False) -> "DStream":  # noqa: N802, N803
        return self._wrap(self._stream.flat_map(f))

    def filter(self, f: Callable) -> "DStream":
        return self._wrap(self._stream.filter(f))

    def mapValues(self, f: Callable) -> "DStream":  # noqa: N802
        return self._wrap(self._stream.map_values(f))

    def flatMapValues(self, f: Callable) -> "DStream":  # noqa: N802
        return self._wrap(self._stream.flat_map_values(f))

    def glom(self) -> "DStream":
        return self._wrap(self._stream.glom())

    def mapPartitions(self, f: Callable, preservesPartitioning: bool = False) -> "DStream":  # noqa: N802, N803
        return self._wrap(self._stream.map_partitions(f, preservesPartitioning))

    def mapPartitionsWithIndex(self, f: Callable, preservesPartitioning: bool = False) -> "DStream":  # noqa: N802, N803
        return self._wrap(self._stream.map_partitions_with_index(f, preservesPartitioning))

    def reduce(self, func: Callable) -> "DStream":
        return self._wrap(self._stream.reduce(func))

    def count(self) -> "DStream":
        return self._wrap(self._stream.count())

    def countByValue(self) -> "DStream":  # noqa: N802
        return self._wrap(self._stream.count_by_value())

    def reduceByKey(self, func: Callable, numPartitions: int | None = None) -> "DStream":  # noqa: N802, N803
        return self._wrap(self._stream.reduce_by_key(func, numPartitions))

    def groupByKey(self, numPartitions: int | None = None) -> "DStream":  # noqa: N802, N803
        return self._wrap(self._stream.group_by_key(numPartitions))

    def combineByKey(self, createCombiner: Callable, mergeValue: Callable, mergeCombiners: Callable,  # noqa: N802, N803
                     numPartitions: int | None = None) -> "DStream":
        return self._wrap(self._stream.combine_by_key(createCombiner, mergeValue, mergeCombiners, numPartitions))

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

    def transformWith(self, func: Callable, other: "DStream", keepSerializable: bool = True) -> "DStream":  # noqa: N802, N803
        """``func(rdd, other_rdd)`` or ``func(time, rdd, other_rdd)``, returning an RDD."""
        call = with_time(func, 3)

        def over_rdds(t: int, left: list, right: list) -> list:
            return _records(call(_time(t), self._rdd(left), self._rdd(right, other._stream)))

        return self._wrap(self._stream.transform_with(over_rdds, other._stream))

    # --- several streams ----------------------------------------------------------------------
    def union(self, other: "DStream") -> "DStream":
        return self._wrap(self._stream.union(other._stream))

    def join(self, other: "DStream", numPartitions: int | None = None) -> "DStream":  # noqa: N803
        return self._wrap(self._stream.join(other._stream))

    def leftOuterJoin(self, other: "DStream", numPartitions: int | None = None) -> "DStream":  # noqa: N802, N803
        return self._wrap(self._stream.left_outer_join(other._stream))

    def rightOuterJoin(self, other: "DStream", numPartitions: int | None = None) -> "DStream":  # noqa: N802, N803
        return self._wrap(self._stream.right_outer_join(other._stream))

    def fullOuterJoin(self, other: "DStream", numPartitions: int | None = None) -> "DStream":  # noqa: N802, N803
        return self._wrap(self._stream.full_outer_join(other._stream))

    def cogroup(self, other: "DStream", numPartitions: int | None = None) -> "DStream":  # noqa: N803
        return self._wrap(self._stream.cogroup(other._stream))

    # --- windows ------------------------------------------------------------------------------
    def window(self, windowDuration: float, slideDuration: float | None = None) -> "DStream":  # noqa: N803
        return self._wrap(self._stream.window(windowDuration, slideDuration))

    def reduceByWindow(self, reduceFunc: Callable, invReduceFunc: Callable | None,  # noqa: N802, N803
                       windowDuration: float, slideDuration: float) -> "DStream":  # noqa: N803
        return self._wrap(self._stream.reduce_by_window(reduceFunc, invReduceFunc, windowDuration, slideDuration))

    def countByWindow(self, windowDuration: float, slideDuration: float) -> "DStream":  # noqa: N802, N803
        return self._wrap(self._stream.count_by_window(windowDuration, slideDuration))

    def countByValueAndWindow(self, windowDuration: float, slideDuration: float,  # noqa: N802, N803
                              numPartitions: int | None = None) -> "DStream":  # noqa: N803
        return self._wrap(self._stream.count_by_value_and_window(windowDuration, slideDuration, numPartitions))

    def reduceByKeyAndWindow(self, func: Callable, invFunc: Callable | None, windowDuration: float,  # noqa: N802, N803
                             slideDuration: float | None = None, numPartitions: int | None = None,  # noqa: N803
                             filterFunc: Callable | None = None) -> "DStream":  # noqa: N803
        return self._wrap(self._stream.reduce_by_key_and_window(func, invFunc, windowDuration, slideDuration,
                                                                numPartitions, filterFunc))

    def groupByKeyAndWindow(self, windowDuration: float, slideDuration: float,  # noqa: N802, N803
                            numPartitions: int | None = None) -> "DStream":  # noqa: N803
        return self._wrap(self._stream.group_by_key_and_window(windowDuration, slideDuration, numPartitions))

    # --- state --------------------------------------------------------------------------------
    def updateStateByKey(self, updateFunc: Callable, numPartitions: int | None = None,  # noqa: N802, N803
                         initialRDD=None) -> "DStream":  # noqa: N803
        """``updateFunc(new_values, last_state)``; *initialRDD* (an RDD or a list) of (key, state) pairs."""
        initial = None if initialRDD is None else _records(initialRDD)
        return self._wrap(self._stream.update_state_by_key(updateFunc, numPartitions, initial=initial))

    # --- outputs ------------------------------------------------------------------------------
    def foreachRDD(self, func: Callable) -> None:  # noqa: N802
        """``func(rdd)`` or ``func(time, rdd)`` every batch."""
        call = with_time(func, 2)
        self._stream.foreach_batch(lambda t, batch: call(_time(t), self._rdd(batch)))

    def pprint(self, num: int = 10) -> None:
        self._stream.pprint(num)

    def saveAsTextFiles(self, prefix: str, suffix: str | None = None) -> None:  # noqa: N802
        """Spark's layout: a directory ``prefix-TIME_IN_MS[.suffix]`` of ``part-NNNNN`` files per batch."""
        self._stream.save_as_text_files(prefix, suffix, layout="spark")

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


class StreamingListener:
    """PySpark's listener: override ``onBatchCompleted(batchCompleted)`` and the others; each event has the
    accessor PySpark's has (``batchCompleted.batchInfo()``, ``receiverStarted.receiverInfo()``...)."""

    def onStreamingStarted(self, streamingStarted) -> None:  # noqa: N802, N803
        pass

    def onReceiverStarted(self, receiverStarted) -> None:  # noqa: N802, N803
        pass

    def onReceiverError(self, receiverError) -> None:  # noqa: N802, N803
        pass

    def onReceiverStopped(self, receiverStopped) -> None:  # noqa: N802, N803
        pass

    def onBatchSubmitted(self, batchSubmitted) -> None:  # noqa: N802, N803
        pass

    def onBatchStarted(self, batchStarted) -> None:  # noqa: N802, N803
        pass

    def onBatchCompleted(self, batchCompleted) -> None:  # noqa: N802, N803
        pass

    def onOutputOperationStarted(self, outputOperationStarted) -> None:  # noqa: N802, N803
        pass

    def onOutputOperationCompleted(self, outputOperationCompleted) -> None:  # noqa: N802, N803
        pass


class _Time:
    def __init__(self, ms: int) -> None:
        self._ms = ms

    def milliseconds(self) -> int:
        return self._ms


class _BatchInfo:
    """Spark's ``BatchInfo`` accessors over the library's figures."""

    def __init__(self, info) -> None:
        self._info = info

    def batchTime(self) -> _Time:  # noqa: N802
        return _Time(self._info.batch_time)

    def numRecords(self) -> int:  # noqa: N802
        return self._info.records_in

    def processingDelay(self) -> int:  # noqa: N802
        return self._info.processing_ms

    def schedulingDelay(self) -> int:  # noqa: N802
        return self._info.scheduling_delay_ms

    def totalDelay(self) -> int:  # noqa: N802
        return self._info.total_delay_ms


class _OutputOperationInfo:
    def __init__(self, info) -> None:
        self._info = info

    def batchTime(self) -> _Time:  # noqa: N802
        return _Time(self._info.batch_time)

    def id(self) -> int:
        return self._info.id

    def name(self) -> str:
        return self._info.name

    def duration(self) -> int | None:
        return self._info.duration_ms

    def failureReason(self) -> str | None:  # noqa: N802
        return self._info.failure


class _ReceiverInfo:
    def __init__(self, info) -> None:
        self._info = info

    def streamId(self) -> int:  # noqa: N802
        return self._info.stream_id

    def name(self) -> str:
        return self._info.name

    def active(self) -> bool:
        return self._info.active

    def lastErrorMessage(self) -> str:  # noqa: N802
        return self._info.last_error or ""


class _Event:
    """One of Spark's listener events: its one accessor gives the info."""

    def __init__(self, accessor: str, info) -> None:
        setattr(self, accessor, lambda: info)


class _CamelListener:
    """A PySpark listener as the library's StreamingListener (``dstream_cli.listener``)."""

    def __init__(self, listener) -> None:
        self.listener = listener

    def _tell(self, method: str, accessor: str, info) -> None:
        getattr(self.listener, method)(_Event(accessor, info))

    def on_streaming_started(self, time_ms: int) -> None:
        self._tell("onStreamingStarted", "time", time_ms)

    def on_batch_submitted(self, info) -> None:
        self._tell("onBatchSubmitted", "batchInfo", _BatchInfo(info))

    def on_batch_started(self, info) -> None:
        self._tell("onBatchStarted", "batchInfo", _BatchInfo(info))

    def on_batch_completed(self, info) -> None:
        self._tell("onBatchCompleted", "batchInfo", _BatchInfo(info))

    def on_output_operation_started(self, info) -> None:
        self._tell("onOutputOperationStarted", "outputOperationInfo", _OutputOperationInfo(info))

    def on_output_operation_completed(self, info) -> None:
        self._tell("onOutputOperationCompleted", "outputOperationInfo", _OutputOperationInfo(info))

    def on_receiver_started(self, info) -> None:
        self._tell("onReceiverStarted", "receiverInfo", _ReceiverInfo(info))

    def on_receiver_error(self, info) -> None:
        self._tell("onReceiverError", "receiverInfo", _ReceiverInfo(info))

    def on_receiver_stopped(self, info) -> None:
        self._tell("onReceiverStopped", "receiverInfo", _ReceiverInfo(info))
