"""The direct Kafka stream on Spark: each batch's offset ranges decided on the driver, read on the executors.

PySpark has no Kafka DStream, so this is Spark's ``DirectKafkaInputDStream`` made of what PySpark offers: a
stream that ticks every batch without a receiver (``textFileStream`` of an empty directory, which Spark can
checkpoint) transformed by a function that Spark calls on the driver for each batch time. It decides one
offset range per partition (from where the previous batch ended, capped by ``--max-rate`` and under
``--backpressure`` by the PID rate, per partition as on the local engine), writes them to the range log under
the checkpoint directory, and returns an RDD with one partition per range, which the executors read from the
brokers. A restarted driver that recomputes batch t finds t's ranges in the log and reads exactly the same
records: no receiver, no WAL.
"""
from __future__ import annotations

import os
import threading
import time
from typing import NamedTuple

import orjson

from ...errors import DstreamError
from ...fsio import write_atomically
from ...kafka import QUIET, client
from ...kafka.direct import (KafkaSource, message_record, not_utf8, partition_bounds, partition_key, reset_offset,
                             split_key, topic_partitions)
from ...scheduler.rate import PIDRateEstimator

#: how long an executor waits for a range's records before it says they cannot be read
READ_TIMEOUT_S = 60.0
#: how long the driver waits for the brokers' answer about a partition
METADATA_TIMEOUT_S = 10.0


class OffsetRange(NamedTuple):
    """Records ``start`` to ``end - 1`` of one partition: what one Spark partition of a batch reads."""

    topic: str
    partition: int
    start: int
    end: int


class RangeLog:
    """Every batch's ranges, one file per batch time, kept until the batch is done and no window still asks."""

    def __init__(self, directory: str, retain_ms: int) -> None:
        self.directory = directory
        self.retain_ms = retain_ms
        os.makedirs(directory, exist_ok=True)
        self.batches: dict[int, list[OffsetRange]] = {}
        for name in os.listdir(directory):
            if name.endswith(".json"):
                with open(os.path.join(directory, name), "rb") as handle:
                    self.batches[int(name[:-5])] = [OffsetRange(*r) for r in orjson.loads(handle.read())]

    def ends_before(self, t: int) -> dict[str, int] | None:
        """Where the newest batch before *t* ended, per partition; None before the first batch."""
        earlier = [time_ for time_ in self.batches if time_ < t]
        if not earlier:
            return None
        return {partition_key(r.topic, r.partition): r.end for r in self.batches[max(earlier)]}

    def record(self, t: int, ranges: list[OffsetRange]) -> None:
        write_atomically(os.path.join(self.directory, f"{t}.json"), orjson.dumps([list(r) for r in ranges]))
        self.batches[t] = ranges

    def completed(self, t: int) -> None:
        """Batch *t* is done (and every batch before it: Spark runs them in order): forget those a window ending
        at it no longer needs. Never by the newest decided batch: after a long stop Spark decides every batch
        of the time it was down before it recomputes the pending ones, which must find their ranges."""
        for old in [time_ for time_ in self.batches if time_ < t - self.retain_ms]:
            del self.batches[old]
            os.unlink(os.path.join(self.directory, f"{old}.json"))


class KafkaRanges:
    """The driver's half of one Kafka input: decides and records each batch's ranges, feeds the PID estimator
    from Spark's batch figures, and commits each completed batch's offsets to the group for lag tools."""

    def __init__(self, name: str, source: KafkaSource, directory: str, *, batch_ms: int, max_rate: float | None,
                 backpressure: bool, initial_rate: float | None, retain_ms: int, stderr) -> None:
        self.name = name
        self.source = source
        self.directory = directory
        self.log = RangeLog(os.path.join(directory, "ranges"), retain_ms)
        self.batch_ms = batch_ms
        self.max_rate = max_rate
        self.estimator = PIDRateEstimator(batch_ms) if backpressure else None
        self.rate = initial_rate if backpressure else None  # records/s a partition, from the estimator
        self.stderr = stderr
        self.kafka = client()
        self.consumer = None
        self.lock = threading.Lock()
        self.outage = False
        self.missing: set[str] = set()  # topics said not to exist (yet)

    @property
    def tick_directory(self) -> str:
        """An empty directory whose textFileStream is the clock this input's batches hang on."""
        path = os.path.join(self.directory, "tick")
        os.makedirs(path, exist_ok=True)
        return path

    def _consumer(self):
        if self.consumer is None:
            self.consumer = self.kafka.Consumer({
                "bootstrap.servers": self.source.brokers, "group.id": self.source.group, "enable.auto.commit": False,
                "fetch.wait.max.ms": 10, **QUIET, **self.source.config})  # a fetch for partition_bounds' ends
        return self.consumer

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None

    # --- deciding a batch --------------------------------------------------------------------------------
    def ranges(self, t: int) -> list[OffsetRange]:
        """Batch *t*'s ranges: the recorded ones if the batch was decided before (a recomputation), else new."""
        with self.lock:
            if t in self.log.batches:
                return self.log.batches[t]
            ranges = self._decide(t)
            self.log.record(t, ranges)
            return ranges

    def _decide(self, t: int) -> list[OffsetRange]:
        positions = self.log.ends_before(t)
        first = positions is None
        positions = dict(positions or {})
        try:
            partitions = self._partitions()
            bounds = partition_bounds(self.kafka, self._consumer(), partitions, METADATA_TIMEOUT_S)
            if first:
                positions.update(self._starts([key for key in partitions if key not in positions], bounds))
        except self.kafka.KafkaException as exc:
            self._say_outage(exc)  # an empty batch now; the next batch starts where this one would have
            return [OffsetRange(*split_key(key), end, end) for key, end in sorted(positions.items())]
        self.outage = False  # the brokers answered
        for key in partitions:
            positions.setdefault(key, bounds[key][0])  # a partition added later: from its beginning
        cap = self._cap()
        ranges = []
        for key in sorted(positions, key=split_key):
            high = bounds.get(key, (positions[key], positions[key]))[1]
            start = reset_offset(self.source, self.name, key, positions[key], bounds.get(key, (0, high)), self._say)
            end = high if cap is None else min(high, start + cap)
            ranges.append(OffsetRange(*split_key(key), start, end))
        return ranges

    def _partitions(self) -> list[str]:
        metadata = self._consumer().list_topics(timeout=METADATA_TIMEOUT_S)
        return [partition_key(*found)
                for found in topic_partitions(metadata, self.source.topics, self.name, self.missing, self._say)]

    def _starts(self, keys: list[str], bounds: dict) -> dict[str, int]:
        """The first batch: the group's committed offsets, else ``start`` (earliest or latest)."""
        if not keys:
            return {}
        committed = self._consumer().committed([self.kafka.TopicPartition(*split_key(k)) for k in keys],
                                               timeout=METADATA_TIMEOUT_S)
        starts = {}
        for key, found in zip(keys, committed):
            low, high = bounds[key]
            starts[key] = found.offset if found.offset >= 0 else (high if self.source.start == "latest" else low)
        return starts

    def _cap(self) -> int | None:
        """Records each partition may give this batch: --max-rate, or under --backpressure the PID estimator's
        rate (never above --max-rate), a second per partition, as on the local engine; None: no cap."""
        rates = [rate for rate in (self.max_rate, self.rate) if rate]
        return max(1, int(min(rates) * self.batch_ms / 1000)) if rates else None

    def _say(self, line: str) -> None:
        print(line, file=self.stderr, flush=True)

    def _say_outage(self, detail) -> None:
        if not self.outage:
            self.outage = True
            print(f"dstream: input {self.name}: brokers {self.source.brokers} unreachable ({detail}); retrying",
                  file=self.stderr, flush=True)

    # --- after a batch -----------------------------------------------------------------------------------
    def records_at(self, t: int) -> int:
        return sum(r.end - r.start for r in self.log.batches.get(t, ()))

    def batch_completed(self, t: int, processing_ms: int, scheduling_delay_ms: int) -> None:
        ranges = self.log.batches.get(t)
        with self.lock:
            self.log.completed(t)
        if not ranges:
            return
        if self.estimator is not None:
            rate = self.estimator.compute(t, self.records_at(t), processing_ms, scheduling_delay_ms)
            if rate is not None:
                self.rate = rate
        offsets = [self.kafka.TopicPartition(r.topic, r.partition, r.end) for r in ranges if r.end > 0]
        try:
            self._consumer().commit(offsets=offsets, asynchronous=True)
        except self.kafka.KafkaException:
            pass  # the brokers are away: a later batch commits (the range log, not the group, says where to resume)


#: the driver's deciders by directory: the batch function Spark keeps (and restores from its checkpoint) holds
#: only the directory, and finds its decider here
DECIDERS: dict[str, KafkaRanges] = {}


def kafka_batches(directory: str, name: str, source: KafkaSource):
    """Spark's transform function for the input: batch t's RDD, one partition per range. (PySpark reads the
    function's ``__code__``, so this is a closure, not a callable object; it pickles into Spark's checkpoint.)"""
    reader = RangeReader(name, source)

    def batch(time_, rdd):
        ranges = ranges_of(directory, time_)
        return rdd.context.parallelize(ranges, max(len(ranges), 1)).mapPartitions(reader)

    return batch


def ranges_of(directory: str, time_) -> list[OffsetRange]:
    """Batch *time_*'s ranges from the driver's decider. A function of the module, so the batch function that
    calls it pickles it by name, not the deciders with it."""
    from .builder import batch_time_ms

    return DECIDERS[directory].ranges(batch_time_ms(time_))


class RangeReader:
    """The executors' half: the records of a partition's ranges, in offset order, read with one consumer kept
    per executor process."""

    def __init__(self, name: str, source: KafkaSource) -> None:
        self.name = name
        self.source = source

    def __call__(self, ranges):
        lines: list[str] = []
        for offset_range in ranges:
            if offset_range.end > offset_range.start:
                self._read(OffsetRange(*offset_range), lines)
        return lines

    def _read(self, wanted: OffsetRange, lines: list[str]) -> None:
        kafka = client()
        consumer = _executor_consumer(self.source)
        consumer.assign([kafka.TopicPartition(wanted.topic, wanted.partition, wanted.start)])
        as_json = self.source.records == "json"
        position = wanted.start
        deadline = time.monotonic() + READ_TIMEOUT_S
        while position < wanted.end:
            if time.monotonic() > deadline:
                raise DstreamError(f"input {self.name}: cannot read {wanted.topic}:{wanted.partition} offsets "
                                   f"{position} to {wanted.end - 1} (deleted by retention, or brokers down)")
            for message in consumer.consume(num_messages=min(wanted.end - position, 10_000), timeout=1.0):
                if message.error() is not None or message.topic() != wanted.topic \
                        or message.partition() != wanted.partition:
                    continue
                offset = message.offset()
                if offset < position or offset >= wanted.end:
                    continue
                try:
                    lines.append(message_record(message, as_json))
                except UnicodeDecodeError:
                    raise DstreamError(f"input {self.name}: {not_utf8(message)} (the Spark engine has no --on-error "
                                       "skip)") from None
                position = offset + 1
        consumer.unassign()


_CONSUMERS: dict = {}


def _executor_consumer(source: KafkaSource):
    """One consumer per executor process and input, kept from batch to batch (PySpark reuses its workers)."""
    key = (source.brokers, source.group, tuple(sorted(source.config.items())))
    consumer = _CONSUMERS.get(key)
    if consumer is None:
        consumer = _CONSUMERS[key] = client().Consumer({
            "bootstrap.servers": source.brokers, "group.id": source.group, "enable.auto.commit": False,
            "enable.auto.offset.store": False, **QUIET, **source.config})
    return consumer
