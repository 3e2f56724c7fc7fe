"""--event-time on Spark: the local engine cuts the batches on the driver, Spark computes them.

Spark's DStreams cut batches by arrival, so the inputs are read on the driver by a local StreamingContext
with the same --event-time (watermark, lateness, late records, the dead letter: the local engine's rules,
unchanged). Each batch it closes is handed to Spark as one RDD per input of a queue stream, and Spark's
``ManualClock`` is advanced to the batch's time, so Spark's batch times are the log's, as in queue mode.
Spark's clock cannot jump: every batch interval from the log's first to its last is a batch on Spark,
where the local engine crosses a long quiet gap at once.
"""
from __future__ import annotations

import queue
import threading

from ...context import StreamingContext
from ...errors import DstreamError
from ...expr import Namespace
from ...scheduler.jobs import RunOptions
from ...sources import event_time_of, input_stream

#: batches the cutter may be ahead of Spark (it waits beyond that, so a long log is never all in memory)
AHEAD = 16
_END = object()


class EventTimeCutter:
    """The local engine's event time over *names*' inputs, on a thread of the driver: ``next_batch()`` gives
    each batch it closes, ``(t, {name: records})``, in time order, then None at the end of the input."""

    def __init__(self, options: dict, inputs: dict[str, tuple[str, object]], names: list[str], batch_ms: int) -> None:
        self.names = names
        self.context = StreamingContext(
            f"{batch_ms}ms", event_time=event_time_of(options, Namespace(options["imports"])),
            dead_letter=options["dead_letter"], max_line_bytes=options["max_line_bytes"],
            max_backlog=options["max_backlog"], max_backlog_bytes=options["max_backlog_bytes"])
        self.batches: queue.Queue = queue.Queue(AHEAD)
        self.waiting: dict[int, dict[str, list]] = {}
        for name in names:
            kind, target = inputs[name]
            input_stream(self.context, name, kind, target, options).foreach_batch(self._collector(name))
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="event-time", daemon=True)

    def _collector(self, name: str):
        last = name == self.names[-1]  # a batch's outputs run in order: the last input's completes batch t

        def collect(t: int, batch: list) -> None:
            self.waiting.setdefault(t, {})[name] = list(batch)
            if last:
                self.batches.put((t, self.waiting.pop(t)))

        return collect

    def _run(self) -> None:
        try:
            self.context.run(RunOptions())
        except BaseException as exc:  # noqa: BLE001 - handed to the Spark side, which reports it
            self.failure = exc
        finally:
            self.batches.put(_END)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Stop reading; the batches already received are still closed and handed over."""
        self.context.stop(graceful=True)

    def next_batch(self, timeout: float) -> tuple[int, dict[str, list]] | None | bool:
        """The next batch; None at the end of input; False if none came within *timeout* seconds."""
        try:
            item = self.batches.get(timeout=timeout)
        except queue.Empty:
            return False
        if item is _END:
            self.batches.put(_END)  # asked again after the end: still the end
            if self.failure is not None:
                failure = self.failure
                raise failure if isinstance(failure, DstreamError) else DstreamError(f"--event-time: {failure}")
            return None
        return item


class QueueFeeder:
    """One Spark queue stream per input, fed a batch at a time from the driver.

    PySpark's ``queueStream`` copies its queue into Spark's, so the queue here is Spark's own (a Scala
    ``mutable.Queue``, not thread-safe): it is fed only while no batch is being generated, which the runner
    ensures by waiting for each batch that has jobs before it feeds the next."""

    def __init__(self, ssc) -> None:
        self.ssc = ssc
        self.queues: dict[str, object] = {}

    def stream(self, name: str):
        """A queue stream for input *name*, one RDD a batch (an empty one where none is queued)."""
        from pyspark.serializers import BatchedSerializer, CPickleSerializer
        from pyspark.streaming.dstream import DStream

        jvm = self.ssc.sparkContext._jvm
        any_ref = getattr(jvm.scala.reflect, "ClassTag$").__getattr__("MODULE$").AnyRef()
        queue_ = jvm.scala.collection.mutable.Queue(16)
        self.queues[name] = queue_
        stream = self.ssc._jssc.ssc().queueStream(queue_, True, None, any_ref)
        return DStream(jvm.org.apache.spark.streaming.api.java.JavaDStream(stream, any_ref), self.ssc,
                       BatchedSerializer(CPickleSerializer()))

    def feed(self, batches: dict[str, list]) -> None:
        """One RDD per input for the next batch time (an empty one where an input has none). Every RDD of
        ``parallelize`` is written in pickled batches, which the stream's BatchedSerializer reads whatever
        their size."""
        sc = self.ssc.sparkContext
        for name, queue_ in self.queues.items():
            records = batches.get(name, [])
            queue_.enqueue(sc.parallelize(records, max(1, min(len(records), sc.defaultParallelism)))._jrdd.rdd())
