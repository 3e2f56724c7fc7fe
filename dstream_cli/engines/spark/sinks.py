"""``save-to-db`` and ``save-to-kafka`` on Spark: written from the executors, as Spark Streaming's guide teaches
(``foreachRDD`` then ``foreachPartition``): one connection or producer per executor process, kept from batch to
batch, never one per record and nothing through the driver.

The rows are made and written by the local engine's writers (``databases``, ``kafka.writer``); only where they
run changes. A database output keeps its bookkeeping row per (job, output, partition): the partition's batch
time is written in the same transaction as its rows, so a task Spark retries after losing an executor, or a
batch a restarted driver recomputes, finds its partition written and writes nothing twice. That holds because
a recomputed batch has the same partitions: the same Kafka ranges or input blocks, and the shuffles' partition
count fixed when the graph was built (Spark keeps it in the checkpoint).
"""
from __future__ import annotations

import functools
import sys

from ...databases.writer import DatabaseWriter
from ...errors import DstreamError, shorten
from ...outputs import write_with_retries


class PartitionDatabaseWriter(DatabaseWriter):
    """The local engine's writer for one partition of each batch, on an executor."""

    def __init__(self, settings: dict, job: str, label: str) -> None:
        super().__init__(**settings)
        self.job = job
        self.label = label

    def _already_written(self, t: int) -> bool:
        # read afresh every batch: an earlier attempt of this task, in another process, may have committed it
        self._guarded(self._connect)
        return self.committed is not None and t <= self.committed

    def _report(self, misfits: list, t: int) -> None:
        if misfits:  # the Spark engine has no --on-error skip: the first one fails the batch, named
            record, reason = misfits[0]
            raise DstreamError(f"{self.label}: {reason}: {shorten(record)}")

    def close(self) -> None:
        self.database.close()
        self.connected = False


class DatabaseTarget:
    """What an executor needs to write a partition: picklable, and the key of its writer in each process."""

    def __init__(self, settings: dict, job: str, label: str, retries: int) -> None:
        self.settings, self.job, self.label, self.retries = settings, job, label, retries

    def write(self, t: int, records) -> None:
        from pyspark import TaskContext

        partition = TaskContext.get().partitionId()
        key = (self.job, partition)
        writer = _WRITERS.get(key)
        if writer is None:
            writer = _WRITERS[key] = PartitionDatabaseWriter(self.settings, f"{self.job}/p{partition}", self.label)
        batch = list(records)
        write_with_retries(lambda: writer(batch, t), self.label, self.retries, sys.stderr)


class KafkaTarget:
    """``save-to-kafka`` from an executor: the local engine's idempotent producer, one per executor process."""

    def __init__(self, topic: str, brokers: str, fmt: str, timeout_s: float, label: str, retries: int) -> None:
        self.args = (topic, brokers, fmt, timeout_s)
        self.label, self.retries = label, retries

    def write(self, t: int, records) -> None:
        from ...kafka.writer import KafkaWriter

        writer = _WRITERS.get(self.args)
        if writer is None:
            writer = _WRITERS[self.args] = KafkaWriter(*self.args)
        batch = list(records)
        write_with_retries(lambda: writer(batch, t), self.label, self.retries, sys.stderr)


#: the writers of this executor process (PySpark reuses its Python workers from task to task)
_WRITERS: dict = {}


def from_executors(target, whole: bool):
    """The foreachRDD function of an output written by *target* from the executors; *whole* writes each batch
    from one task (upsert's last row for a key and replace's whole table are a batch's, not a partition's).
    (PySpark reads the function's ``__code__``, so this is a closure, not a callable object.)"""
    from .builder import batch_time_ms

    def output(batch_time, rdd) -> None:
        t = batch_time_ms(batch_time)
        (rdd.coalesce(1) if whole else rdd).foreachPartition(functools.partial(target.write, t))

    return output
