"""The StageSpecs on pyspark.streaming: ChainBuilder's walk with each stage as its PySpark DStream method.

Expressions are compiled by the same code as the local engine and shipped to executors by PySpark's
serializer. Outputs other than ``print`` collect each batch on the driver and hand it to the local
engine's writers, so files, formats and commands are the same whichever engine ran the chain.
Everything a stage hands to Spark must pickle: a checkpoint stores it (Spark checkpoints code).
"""
from __future__ import annotations

import datetime
import os
import sys

from ...chain import ChainBuilder
from ...duration import require_same_slide
from ...errors import UsageError
from ...formats import batch_parser, render
from ...outputs import CommandRunner, Emitter, TextFilesWriter, write_with_retries

def seconds(duration_ms: int | None) -> float | None:
    """PySpark takes durations in seconds."""
    return None if duration_ms is None else duration_ms / 1000


def batch_time_ms(time: datetime.datetime) -> int:
    """PySpark hands a batch time as local ``datetime.fromtimestamp(ms / 1000)``; this is the inverse."""
    return round(time.timestamp() * 1000)


def _stdout():
    return sys.stdout


class ParseLines:
    """--format on one partition of text lines."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt

    def __call__(self, lines):
        return batch_parser(self.fmt)(list(lines))


class KeyBy:
    def __init__(self, key) -> None:
        self.key = key

    def __call__(self, x):
        return self.key(x), x


def transform_on_driver(function):
    """``transform`` sees the batch as a list and its time in ms, as on the local engine. (PySpark reads the
    function's ``__code__``, so this is a closure, not a callable object.)"""

    def transform(batch_time, rdd):
        return rdd.context.parallelize(list(function(rdd.collect(), batch_time_ms(batch_time))))

    return transform


class TimedStateUpdate:
    """updateStateByKey with ``--timeout``: the state carries the time since its key last got values, so a key
    idle for *timeout_ms* is removed without a call (Spark's updateStateByKey has no timeout of its own)."""

    def __init__(self, update, timeout_ms: int, batch_ms: int) -> None:
        self.update, self.timeout_ms, self.batch_ms = update, timeout_ms, batch_ms

    def __call__(self, values, held):
        state, idle_ms = held if held is not None else (None, 0)
        idle_ms = 0 if values else idle_ms + self.batch_ms
        if idle_ms >= self.timeout_ms:
            return None
        new = self.update(values, state)
        return None if new is None else (new, idle_ms)


def _unwrap_timed(held):
    return held[0]


def _lists(pair):
    return list(pair[0]), list(pair[1])


def _distinct(rdd):
    return rdd.distinct()


class RenderLine:
    """One element as its line in *fmt* (for Spark's own part files)."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt

    def __call__(self, x) -> str:
        return render([x], self.fmt)[:-1]


def on_driver(write, retries: int, label: str):
    """An output of the local engine run on the driver with each collected batch, retried as there."""

    def output(batch_time, rdd) -> None:
        batch, t = rdd.collect(), batch_time_ms(batch_time)
        try:
            write_with_retries(lambda: write(batch, t), label, retries, sys.stderr)
        except BrokenPipeError:
            os._exit(0)  # the reader went away: end quietly, as the local engine does (raised, Spark would retry)

    return output


class SparkChainBuilder(ChainBuilder):
    """Builds the chain on a ``pyspark.streaming.StreamingContext``; *outputs* collects each output's slide (ms),
    so the runner knows at which batch times Spark has jobs to wait for."""

    ENGINE = 1  # PySpark's method names in NAMES

    def __init__(self, context, inputs, main_input, namespace, *, batch_ms: int, output_retries: int, master: str,
                 job_id: str) -> None:
        super().__init__(context, inputs, main_input, namespace)
        self.batch_ms = batch_ms
        self.master = master
        self.job_id = job_id  # names this chain's rows in a database's bookkeeping, across restarts
        self.output_retries = output_retries
        self.output_slides_ms: list[int] = []
        self.output_labels: list[str] = []
        self.stateful: list = []  # streams Spark checkpoints (update-state, inverse windows)

    def _output(self, s, label: str, write, retryable: bool = True) -> None:
        """*write* on the driver; not *retryable* when it writes to our stdout, where a retry could print part of
        a batch twice (as on the local engine)."""
        self._note_output(s, label)
        if hasattr(write, "start"):
            write.start()  # as the local engine's outputs start before any input is read
        s.foreachRDD(on_driver(write, self.output_retries if retryable else 0, label))

    def _note_output(self, s, label: str) -> None:
        self.output_slides_ms.append(round(s._slideDuration * 1000))
        self.output_labels.append(label)  # Spark numbers its output operations in this order

    # --- stateless ---
    def _key_by(self, s, a, label):
        return s.map(KeyBy(self.fn(a["expr"], ("x",), label)))

    def _parse(self, s, a, label):
        return s.mapPartitions(ParseLines(a["format"]))

    def _reduce(self, s, a, label):
        return s.reduce(self.reducer(a["func"], label))

    def _count(self, s, a, label):
        return s.count()

    def _count_by_value(self, s, a, label):
        return s.countByValue()

    def _reduce_by_key(self, s, a, label):
        return s.reduceByKey(self.reducer(a["func"], label), a.get("partitions"))

    def _group_by_key(self, s, a, label):
        return s.groupByKey(a.get("partitions")).mapValues(list)

    def _distinct(self, s, a, label):
        return s.transform(_distinct)

    def _transform(self, s, a, label):
        return s.transform(transform_on_driver(self.fn(a["expr"], ("batch", "t"), label)))

    def _repartition(self, s, a, label):
        return s.repartition(a["num"])

    def _sql(self, s, a, label):
        from pyspark.sql import SparkSession

        from .sql import SqlOnDriver, query_tables

        tables = query_tables(SparkSession.builder.getOrCreate(), a["query"])
        others = [name for name in tables if name != "batch"]
        if "batch" not in tables and not others:
            raise UsageError("the query reads no table: name the batch as 'batch' (select ... from batch)")
        streams = [s, *(self.stream(name, label) for name in others)]
        for name, other in zip(others, streams[1:]):
            require_same_slide(f"{label}, table {name}", s._slideDuration * 1000, other._slideDuration * 1000)
        return s._ssc.transform(streams, SqlOnDriver(a["query"], ["batch", *others]))

    # --- several streams ---
    def other(self, current, name: str, label: str):
        other = self.stream(name, label)
        # PySpark's joins do not check slides (only union does): the local engine's rule, here too
        require_same_slide(label, round(current._slideDuration * 1000), round(other._slideDuration * 1000))
        return other

    def _stage(self, spec, current, label: str):
        combined = super()._stage(spec, current, label)
        return combined.mapValues(_lists) if spec.name == "cogroup" else combined  # Spark's iterables as lists

    # --- windows ---
    def _window(self, s, a, label):
        return s.window(seconds(a["length"]), seconds(a.get("slide")))

    def _count_by_window(self, s, a, label):
        return self._stateful(s.countByWindow(seconds(a["length"]), seconds(a["slide"])))

    def _reduce_by_window(self, s, a, label):
        inverse = self.reducer(a["inverse"], label) if a.get("inverse") else None
        windowed = s.reduceByWindow(self.reducer(a["func"], label), inverse, seconds(a["length"]), seconds(a["slide"]))
        return self._stateful(windowed) if inverse else windowed

    def _reduce_by_key_and_window(self, s, a, label):
        if a.get("filter") and not a.get("inverse"):
            raise UsageError("--filter needs --inverse (as in Spark, the filter applies to the incremental window)")
        inverse = self.reducer(a["inverse"], label) if a.get("inverse") else None
        keep = self.fn(a["filter"], ("x",), label) if a.get("filter") else None
        windowed = s.reduceByKeyAndWindow(self.reducer(a["func"], label), inverse, seconds(a["length"]),
                                          seconds(a.get("slide")), a.get("partitions"), keep)
        return self._stateful(windowed) if inverse else windowed

    def _count_by_value_and_window(self, s, a, label):
        return self._stateful(s.countByValueAndWindow(seconds(a["length"]), seconds(a["slide"])))

    # --- state ---
    def _update_state(self, s, a, label):
        from ...expr import state_updater

        update = state_updater(a["func"], label, self.namespace)
        if a.get("timeout"):
            return self._stateful(s.updateStateByKey(TimedStateUpdate(update, a["timeout"], self.batch_ms))) \
                .mapValues(_unwrap_timed)
        return self._stateful(s.updateStateByKey(update))

    def _stateful(self, s):
        self.stateful.append(s)
        return s

    # --- outputs ---
    def _print(self, s, a, label):
        self._note_output(s, label)
        s.pprint(a.get("num") or 10)
        return s

    def _emit(self, s, a, label):
        self._output(s, label, Emitter(_stdout, a.get("format") or "tsv", bool(a.get("header"))), retryable=False)
        return s

    def _save_as_text_files(self, s, a, label):
        fmt = a.get("format") or "text"
        if a.get("layout") == "spark":
            if a.get("header"):
                raise UsageError("save-as-text-files --layout spark --header: Spark's executors write the part files, "
                                 "with no header row; use --layout dstream")
            self._note_output(s, label)
            (s if fmt == "text" else s.map(RenderLine(fmt))).saveAsTextFiles(a["prefix"], a.get("suffix"))
        else:
            self._output(s, label, TextFilesWriter(a["prefix"], a.get("suffix"), fmt, header=bool(a.get("header"))))
        return s

    def _foreach_batch(self, s, a, label):
        timeout_s = a["timeout"] / 1000 if a.get("timeout") else None
        self._output(s, label, CommandRunner(a["command"], a.get("format") or "tsv", _stdout, timeout_s,
                                             bool(a.get("header"))))
        return s

    def _save_to_kafka(self, s, a, label):
        from ...kafka import client
        from .sinks import KafkaTarget, from_executors

        client()  # a missing client is one line now, not a failed task
        timeout_s = a["timeout"] / 1000 if a.get("timeout") else 30.0
        target = KafkaTarget(a["topic"], a["brokers"], a.get("format") or "text", timeout_s, label,
                             self.output_retries)
        self._note_output(s, label)
        s.foreachRDD(from_executors(target, whole=False))
        return s

    def _save_to_db(self, s, a, label):
        from ...databases.writer import DatabaseWriter
        from .sinks import DatabaseTarget, from_executors

        settings = {"url": a["url"], "table": a["table"], "mode": a.get("mode") or "append", "key": a.get("key"),
                    "columns": a.get("columns"), "create": bool(a.get("create"))}
        checked = DatabaseWriter(**settings)  # the options and the driver's presence, before Spark starts
        if checked.url.scheme == "sqlite" and not self.master.startswith("local"):
            raise UsageError(f"{label}: a SQLite file cannot be shared by executors on other hosts (--master "
                             f"{self.master}); write to postgresql:// or mysql://, or run with a local master")
        job = f"{self.job_id}/{len(self.output_slides_ms)}:{a['table']}"
        target = DatabaseTarget(settings, job, label, self.output_retries)
        self._note_output(s, label)
        s.foreachRDD(from_executors(target, whole=settings["mode"] != "append"))
        return s
