"""What the page and /metrics show: the recent batches and running totals of one run, fed as a listener."""
from __future__ import annotations

import collections
import glob
import os
import threading
import time

from ..listener import BatchInfo, OutputOperationInfo, ReceiverInfo, StreamingListener

#: batches the page's timelines and histograms cover (Spark's Streaming tab keeps 1000)
HISTORY = 300
#: seconds: the delay histograms' buckets, from a fast batch to a badly overloaded one
DELAY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class RunState(StreamingListener):
    """The figures of one run, for the page (``snapshot``) and Prometheus (``registry``). Listener events come
    from the batch loop's thread (or Spark's listener thread), reads from the server's: one lock."""

    def __init__(self, engine: str, batch_ms: int, checkpoint_dir: str | None = None) -> None:
        self.engine = engine
        self.batch_ms = batch_ms
        self.checkpoint_dir = checkpoint_dir
        self.started_ms = int(time.time() * 1000)
        self.batches: collections.deque = collections.deque(maxlen=HISTORY)
        self.inputs: dict[str, dict] = {}
        self.outputs: dict[int, dict] = {}
        self.receivers: dict[str, dict] = {}
        self.late_total = 0
        self.batches_total = 0
        self.watermark_ms: int | None = None
        self._skipped = 0
        self._gauges: dict = {}
        self._lock = threading.Lock()
        self.registry, self._metrics = _prometheus(self)

    # --- listener events ---
    def on_batch_completed(self, info: BatchInfo) -> None:
        seconds = self.batch_ms / 1000
        with self._lock:
            self.batches_total += 1
            self.late_total += info.late
            if info.watermark_ms is not None:
                self.watermark_ms = info.watermark_ms
            self.batches.append({
                "time": info.batch_time, "records": info.records_in, "rate": info.records_in / seconds,
                "processing_ms": info.processing_ms, "scheduling_ms": info.scheduling_delay_ms,
                "total_ms": info.total_delay_ms, "backlog": info.backlog, "late": info.late})
            for name, figures in (info.inputs or {}).items():
                seen = self.inputs.setdefault(name, {"name": name, "records_total": 0})
                seen["records_total"] += figures["records"]
                seen.update(rate=figures["records"] / seconds, backlog=figures.get("backlog"))
        metrics = self._metrics
        metrics["batches"].inc()
        metrics["processing"].observe(info.processing_ms / 1000)
        metrics["scheduling"].observe(info.scheduling_delay_ms / 1000)
        metrics["total_delay"].observe(info.total_delay_ms / 1000)
        metrics["late"].inc(info.late)
        metrics["last_batch"].set(info.batch_time / 1000)
        for name, figures in (info.inputs or {}).items():
            metrics["records"].labels(input=name).inc(figures["records"])
            if figures.get("backlog") is not None:
                metrics["backlog"].labels(input=name).set(figures["backlog"])
        if not info.inputs:
            metrics["records"].labels(input="all").inc(info.records_in)
        # a figure the engine or the chain does not have is left out of /metrics, rather than shown as 0
        if info.keys_in_state is not None:
            self._gauge("dstream_state_keys", "Keys held by update-state.").set(info.keys_in_state)
        if info.rate_limit is not None:
            self._gauge("dstream_rate_limit_records_per_second",
                        "The receiving rate limit (--max-rate, --backpressure).").set(info.rate_limit)
        if info.watermark_ms is not None:
            self._gauge("dstream_watermark_timestamp_seconds",
                        "--event-time: the lowest input watermark.").set(info.watermark_ms / 1000)
        if info.skipped > self._skipped:  # BatchInfo.skipped counts since the start of the run
            metrics["skipped"].inc(info.skipped - self._skipped)
            self._skipped = info.skipped

    def on_output_operation_completed(self, info: OutputOperationInfo) -> None:
        with self._lock:
            output = self.outputs.setdefault(info.id, {"name": info.name, "writes": 0, "failures": 0,
                                                       "last_write_ms": None, "last_batch": None, "last_error": None})
            if info.failure is None:
                output.update(writes=output["writes"] + 1, last_write_ms=info.end_ms, last_batch=info.batch_time)
            else:
                output.update(failures=output["failures"] + 1, last_error=info.failure)
        if info.failure is None:
            self._metrics["output_last_write"].labels(output=info.name).set((info.end_ms or 0) / 1000)
        else:
            self._metrics["output_failures"].labels(output=info.name).inc()

    def on_receiver_error(self, info: ReceiverInfo) -> None:
        with self._lock:
            self.receivers[info.name] = {"name": info.name, "active": info.active, "last_error": info.last_error}

    on_receiver_started = on_receiver_stopped = on_receiver_error

    def _gauge(self, name: str, documentation: str):
        """The gauge *name*, registered when it first has a value."""
        if name not in self._gauges:
            from prometheus_client import Gauge

            self._gauges[name] = Gauge(name, documentation, registry=self.registry)
        return self._gauges[name]

    # --- reads ---
    def checkpoint_age_s(self) -> float | None:
        """Seconds since the newest checkpoint was written (None: no checkpoint directory, or none yet)."""
        if not self.checkpoint_dir:
            return None
        times = [os.path.getmtime(path) for path in glob.glob(os.path.join(self.checkpoint_dir, "checkpoint-*"))
                 if not path.endswith(".tmp")]
        return max(time.time() - max(times), 0.0) if times else None

    def snapshot(self) -> dict:
        """Everything the page draws, as JSON-ready values."""
        with self._lock:
            return {
                "engine": self.engine, "batch_ms": self.batch_ms, "started_ms": self.started_ms,
                "now_ms": int(time.time() * 1000), "batches_total": self.batches_total,
                "batches": list(self.batches), "inputs": [dict(i) for i in self.inputs.values()],
                "outputs": [dict(o) for _, o in sorted(self.outputs.items())],
                "receivers": [dict(r) for r in self.receivers.values()],
                "late_total": self.late_total, "watermark_ms": self.watermark_ms,
                "checkpoint_age_s": self.checkpoint_age_s(),
            }


def _prometheus(state: RunState):
    """A registry of the run's metrics, named as Prometheus' naming guide asks (base units, _total counters)."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
    from prometheus_client.process_collector import ProcessCollector

    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    metrics: dict = {
        "batches": Counter("dstream_batches", "Batches completed.", registry=registry),
        "records": Counter("dstream_records", "Records received, by input.", ["input"], registry=registry),
        "processing": Histogram("dstream_processing_seconds", "Time to process a batch.", buckets=DELAY_BUCKETS,
                                registry=registry),
        "scheduling": Histogram("dstream_scheduling_delay_seconds", "Time a batch waited before its processing "
                                "began.", buckets=DELAY_BUCKETS, registry=registry),
        "total_delay": Histogram("dstream_total_delay_seconds", "Scheduling delay plus processing time.",
                                 buckets=DELAY_BUCKETS, registry=registry),
        "backlog": Gauge("dstream_backlog_records", "Records received and waiting for a batch, by input.", ["input"],
                         registry=registry),
        "late": Counter("dstream_late_records", "--event-time: records that came after their batch was computed.",
                        registry=registry),
        "skipped": Counter("dstream_skipped_records", "Bad records skipped (--on-error skip).", registry=registry),
        "last_batch": Gauge("dstream_last_batch_timestamp_seconds", "Time of the latest completed batch.",
                            registry=registry),
        "output_last_write": Gauge("dstream_output_last_write_timestamp_seconds", "When an output last wrote a batch.",
                                   ["output"], registry=registry),
        "output_failures": Counter("dstream_output_failures", "Batches an output failed to write.", ["output"],
                                   registry=registry),
    }
    Gauge("dstream_batch_interval_seconds", "The batch interval.", registry=registry).set(state.batch_ms / 1000)
    if state.checkpoint_dir:
        age = Gauge("dstream_checkpoint_age_seconds", "Seconds since the newest checkpoint was written.",
                    registry=registry)
        age.set_function(lambda: state.checkpoint_age_s() or 0.0)
    return registry, metrics
