"""``pyspark.streaming.context``: PySpark's ``StreamingContext`` over the library's."""
from __future__ import annotations

import functools
import os
from typing import Callable

from ... import context as local
from ...scheduler.jobs import RunOptions
from ...scheduler.signals import install_stop_signals
from ..conf import SparkConf
from ..context import SparkContext
from ..rdd import RDD
from .dstream import DStream, _records
from .listener import _CamelListener
from .recovery import Recipe, rebuild, recorded, save_graph, saved_graph

__all__ = ["StreamingContext"]


class StreamingContext:
    """``StreamingContext(sparkContext, batchDuration)``: *batchDuration* in seconds."""

    def __init__(self, sparkContext: SparkContext, batchDuration: float | None = None,  # noqa: N803
                 jssc=None) -> None:
        if batchDuration is None:
            raise ValueError("batchDuration is required (seconds)")
        self._sc = sparkContext
        self._batch_s = batchDuration
        self._context = local.StreamingContext(batchDuration, until_stopped=True)
        self._started = False
        self._recipe = Recipe(self)  # what built the graph: getOrCreate builds it again from a checkpoint

    # --- PySpark's class methods ------------------------------------------------------------
    @classmethod
    def getOrCreate(cls, checkpointPath: str, setupFunc: Callable[[], "StreamingContext"]):  # noqa: N802, N803
        """As Spark: when *checkpointPath* holds a checkpoint, the graph saved there is built again (its
        functions unpickled) and its state resumes; *setupFunc* is not called. Otherwise ``setupFunc()``."""
        saved = saved_graph(checkpointPath) if os.path.isdir(checkpointPath) else None
        if saved is None:
            context = setupFunc()
            if context._context.checkpoint_dir != checkpointPath:
                context.checkpoint(checkpointPath)
            return context
        sc = SparkContext._active or SparkContext(saved["master"], saved["app_name"],
                                                  conf=SparkConf().setAll(saved["conf"]))
        context = cls(sc, saved["batch_s"])
        rebuild(context, saved["steps"])
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

    @recorded
    def remember(self, duration: float) -> None:
        self._context.remember(duration)

    def checkpoint(self, directory: str) -> None:
        self._context.checkpoint(directory)

    def addStreamingListener(self, streamingListener) -> None:  # noqa: N802, N803
        self._context.add_streaming_listener(_CamelListener(streamingListener, self._context.graph))

    # --- inputs -------------------------------------------------------------------------------
    @recorded
    def socketTextStream(self, hostname: str, port: int, storageLevel=None) -> "DStream":  # noqa: N802, N803
        return DStream(self._context.socket_text_stream(hostname, int(port)), self)

    @recorded
    def textFileStream(self, directory: str) -> "DStream":  # noqa: N802
        return DStream(self._context.text_file_stream(directory), self)

    @recorded
    def binaryRecordsStream(self, directory: str, recordLength: int) -> "DStream":  # noqa: N802, N803
        return DStream(self._context.binary_records_stream(directory, recordLength), self)

    @recorded
    def queueStream(self, rdds: list, oneAtATime: bool = True, default=None) -> "DStream":  # noqa: N802, N803
        """*rdds*: RDDs (``sparkContext.parallelize``) or lists; their partitions are the first RDD's."""
        batches = [_records(rdd) for rdd in rdds]
        partitions = next((rdd.getNumPartitions() for rdd in rdds if isinstance(rdd, RDD)),
                          self._sc.defaultParallelism)
        stream = self._context.queue_stream(batches, oneAtATime, None if default is None else _records(default),
                                            partitions=partitions)
        return DStream(stream, self)

    @recorded
    def transform(self, dstreams: list, transformFunc: Callable) -> "DStream":  # noqa: N803
        """``transformFunc(rdds)``: the streams' RDDs of each batch time, in a list."""
        streams = [stream._stream for stream in dstreams]
        counts = [stream.partitioning.count for stream in streams]

        def over_rdds(batches: list) -> list:
            return _records(transformFunc([RDD(b, n, self._sc) for b, n in zip(batches, counts, strict=True)]))

        return DStream(self._context.transform(streams, over_rdds), self)

    @recorded
    def union(self, *dstreams: "DStream") -> "DStream":
        if not dstreams:
            raise ValueError("should have at least one DStream to union")
        return DStream(self._context.union(*(stream._stream for stream in dstreams)), self)

    # --- running ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._context.checkpoint_dir:
            save_graph(self, self._context.checkpoint_dir)
        self._context._dropin = self
        self._context.start(RunOptions(report_failed_jobs=True))  # a failed job is reported, as in Spark
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
            self._context.wait_until_stopped()  # Spark's stop does not raise what a job raised
        else:
            self._context.close()  # no run will end to release its checkpoint directory
        if stopSparkContext:
            self._sc.stop()
