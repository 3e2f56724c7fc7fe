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
        # read afresh every batch, on the kept connection: an earlier attempt of this task, in another process,
        # may have committed it
        self._guarded(self._read_committed if self.connected else self._connect)
        return self.committed is not None and t <= self.committed

    def _report(self, misfits: list, t: int) -> None:
        if misfits:  # the Spark engine has no --on-error skip: the first one fails the batch, named
            record, reason = misfits[0]
            raise DstreamError(f"{self.label}: {reason}: {shorten(record)}")

    def close(self) -> None:
        self.database.close()
        self.connected = False


class ExecutorTarget:
    """What an executor needs to write one partition of a batch (picklable): its writer, made once per executor
    process and kept, then ``writer(batch, t)`` retried as on the local engine."""

    def __init__(self, label: str, retries: int) -> None:
        self.label, self.retries = label, retries

    def write(self, t: int, records) -> None:
        key, make = self.writer()
        writer = _WRITERS.get(key)
        if writer is None:
            writer = _WRITERS[key] = make()
        batch = list(records)
        write_with_retries(lambda: writer(batch, t), self.label, self.retries, sys.stderr)

    def writer(self):
        """(the writer's key in this process, how to make it)"""
        raise NotImplementedError


class DatabaseTarget(ExecutorTarget):
    """A database output: one writer, and one bookkeeping row, per partition."""

    def __init__(self, settings: dict, job: str, label: str, retries: int) -> None:
        super().__init__(label, retries)
        self.settings, self.job = settings, job

    def writer(self):
        from pyspark import TaskContext

        partition = TaskContext.get().partitionId()
        return (self.job, partition), lambda: PartitionDatabaseWriter(self.settings, f"{self.job}/p{partition}",
                                                                      self.label)


class KafkaTarget(ExecutorTarget):
    """``save-to-kafka``: the local engine's idempotent producer, one per executor process."""

    def __init__(self, topic: str, brokers: str, fmt: str, timeout_s: float, label: str, retries: int) -> None:
        super().__init__(label, retries)
        self.args = (topic, brokers, fmt, timeout_s)

    def writer(self):
        from ...kafka.writer import KafkaWriter

        return self.args, lambda: KafkaWriter(*self.args)


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
