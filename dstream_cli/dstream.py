"""The DStream: a sequence of batches, one per batch time, computed on demand by output operations.

Every node implements Spark's three members: ``slide_ms``, ``dependencies`` and ``compute(t)``.
This base class owns the rest: memoising a batch per time (``get_or_compute``), which times are
valid for the node's slide, how long batches are remembered and when they are forgotten. The
user-facing methods mirror PySpark's ``DStream`` in snake_case and only build nodes.
"""
from __future__ import annotations

import operator
from typing import Callable, Iterable

from .duration import parse_duration, require_multiple
from .partitions import Partitioning, portable_hash


class DStream:
    """A node of the DStream graph; subclasses implement ``compute(t) -> list | None``."""

    #: how much older history than its own remember duration a node asks of its parents
    parent_remember_extra_ms = 0
    #: batch t is computed from the parents' batches at t alone and memoised: once this node has t, it never asks a
    #: parent for t again, so a parent read only by such nodes lets its batch go then (``forget``)
    reads_parents_once = False
    #: its batches are cut by the records' own times (--event-time), not by arrival: the scheduler drives it
    cut_by_event_time = False

    def __init__(self, context, dependencies: Iterable["DStream"], slide_ms: int | None = None):
        self.context = context  # the StreamingContext (context.py), which builds on this module
        self.dependencies = list(dependencies)
        self.slide_ms = slide_ms if slide_ms is not None else self.dependencies[0].slide_ms
        self.label = context.naming_label(type(self).__name__)
        self.remember_ms = self.slide_ms
        self.generated: dict[int, list] = {}
        self.readers: list[DStream] = []  # the nodes built on this one, known once the graph is initialised
        self.released_once_read = False  # every reader reads_parents_once, and no remember() keeps history
        # how glom and map_partitions see a batch (partitions.py); no other operator depends on it
        self.partitioning = (self.dependencies[0].partitioning if self.dependencies
                             else Partitioning(context.partitions))

    # --- Spark's node contract ---------------------------------------------------------------
    def compute(self, t: int) -> list | None:
        raise NotImplementedError

    def is_time_valid(self, t: int) -> bool:
        zero = self.context.zero_ms
        return t > zero and (t - zero) % self.slide_ms == 0

    def get_or_compute(self, t: int) -> list | None:
        """The batch for time *t*, computed once; None where *t* is not one of this node's times."""
        batch = self.generated.get(t)
        if batch is None and self.is_time_valid(t):
            batch = self.compute(t)
            if batch is not None:
                self.generated[t] = batch
        return batch

    def slice(self, from_ms: int, to_ms: int) -> list[list]:
        """The batches of every valid time in [from_ms, to_ms], oldest first (Spark ``slice``)."""
        zero, slide = self.context.zero_ms, self.slide_ms
        first = from_ms + (-(from_ms - zero)) % slide
        batches = []
        for t in range(first, to_ms + 1, slide):
            batch = self.get_or_compute(t)
            if batch is not None:
                batches.append(batch)
        return batches

    def holds_data(self, t: int) -> bool:
        """Something kept here could still reach an output at *t* or later: empty input would not give empty
        batches."""
        horizon = t - self.remember_ms
        return any(len(batch) for u, batch in self.generated.items() if u > horizon)

    def last_time_reached(self, t: int) -> int:
        """The latest time at which this node's batch can hold something its inputs received by *t*: one window
        length past *t* for a window, *t* otherwise (a state keeps what it holds, but no batch after *t* brings
        it anything new)."""
        return max((parent.last_time_reached(t) for parent in self.dependencies), default=t)

    def fast_forward(self, t: int) -> None:
        """Continue at *t* as if every batch before it had been empty (--event-time crossing a quiet gap)."""
        self.generated.clear()

    def last_valid_before(self, t: int) -> int:
        """The latest of this node's times before *t*."""
        zero = self.context.zero_ms
        return zero + (t - 1 - zero) // self.slide_ms * self.slide_ms

    def remember(self, ms: int) -> None:
        """Keep batches for at least *ms*, and make every parent keep what this node will ask of it."""
        self.remember_ms = max(self.remember_ms, ms)
        for parent in self.dependencies:
            parent.remember(self.remember_ms + self.parent_remember_extra_ms)

    def forget(self, t: int) -> None:
        """Drop batches no later computation can ask for (Spark ``clearMetadata``), and those every reader has
        memoised already: the records of an input read by a windowed count are not held for the whole window."""
        horizon = t - self.remember_ms
        generated = self.generated
        # Batches are memoised in time order, so the oldest come first: stop at the first one kept.
        while generated:
            oldest = next(iter(generated))
            if oldest > horizon:
                break
            del generated[oldest]
        if self.released_once_read:
            for u in [u for u in generated if all(u in reader.generated for reader in self.readers)]:
                del generated[u]

    @property
    def input_names(self) -> tuple[str, ...]:
        """The inputs this stream's records come from, for messages."""
        names: dict[str, None] = {}
        for parent in self.dependencies:
            names.update(dict.fromkeys(parent.input_names))
        return tuple(names)

    # --- checkpointing: plain data in, plain data out ----------------------------------------
    def snapshot(self, t: int) -> dict:
        """Batches a later time may still ask for, after batch *t* is done."""
        horizon = t + self.context.batch_ms - self.remember_ms
        return {"generated": [[u, b if isinstance(b, list) else list(b)]  # a view (ops/views.py) as its pairs
                              for u, b in sorted(self.generated.items()) if u > horizon]}

    def restore(self, data: dict) -> None:
        self.generated = {u: b for u, b in data.get("generated", [])}

    def changes(self, t: int) -> dict | None:
        """What changed since the last checkpoint, when that is much smaller than ``snapshot(t)``; None
        to be saved whole. Nodes with big state (update-state) override it and ``restore_changes``."""
        return None

    def restore_changes(self, data: dict) -> None:
        raise NotImplementedError

    def checkpoint_saved(self) -> None:
        """A checkpoint of this node is complete: changes are counted from here."""

    # --- stateless transformations (fused into one TransformedDStream per run of stages) -------
    def _then(self, step, keeps_keys: bool = False) -> "DStream":
        """*step* after this stream; a step that may change keys (*keeps_keys* False) keeps the number of
        partitions but not where a key's pairs are (as a map after a shuffle in Spark)."""
        node = TransformedDStream.chain(self, step)
        node.partitioning = (self.partitioning if keeps_keys or self.partitioning.by_key is None
                             else Partitioning(self.partitioning.count))
        return node

    def _partitioned(self, node: "DStream", num_partitions: int | None, by_key: Callable | None = portable_hash):
        """*node* with *num_partitions* partitions placed by key (Spark's shuffle); as it was without a number."""
        if num_partitions is not None:
            node.partitioning = Partitioning(num_partitions, by_key)
        return node

    def map(self, f: Callable) -> "DStream":
        return self._then(batch_ops.map_step(f, self._label("map")))

    def flat_map(self, f: Callable) -> "DStream":
        return self._then(batch_ops.flat_map_step(f, self._label("flat_map")))

    def glom(self) -> "DStream":
        """Each partition of a batch as one list (Spark's ``glom``)."""
        split = self.partitioning.split
        return self._whole_batch(lambda batch: split(batch), "glom")  # a bound method would count self as a time

    def map_partitions(self, f: Callable, preserves_partitioning: bool = False) -> "DStream":
        """``f(iterator of a partition's records)`` per partition; its outputs, partition after partition."""
        return self.map_partitions_with_index(lambda _, records: f(records), preserves_partitioning,
                                              label="map_partitions")

    def map_partitions_with_index(self, f: Callable, preserves_partitioning: bool = False,
                                  label: str = "map_partitions_with_index") -> "DStream":
        """``f(partition index, iterator of its records)`` per partition."""
        split = self.partitioning.split

        def per_partition(batch):
            return [out for index, part in enumerate(split(batch)) for out in f(index, iter(part))]

        return self._whole_batch(per_partition, label, keeps_keys=preserves_partitioning)

    def _whole_batch(self, f: Callable, label: str, keeps_keys: bool = False) -> "DStream":
        node = TransformedDStream.chain(self, batch_ops.transform_step(f, self._label(label)), fuse=False)
        node.partitioning = self.partitioning if keeps_keys else Partitioning(self.partitioning.count)
        return node

    def filter(self, f: Callable) -> "DStream":
        return self._then(batch_ops.filter_step(f, self._label("filter")), keeps_keys=True)

    def map_values(self, f: Callable) -> "DStream":
        return self._then(batch_ops.map_values_step(f, self._label("map_values")), keeps_keys=True)

    def flat_map_values(self, f: Callable) -> "DStream":
        return self._then(batch_ops.flat_map_values_step(f, self._label("flat_map_values")), keeps_keys=True)

    def key_by(self, f: Callable) -> "DStream":
        return self._then(batch_ops.key_by_step(f, self._label("key_by")))

    def parse(self, fmt: str) -> "DStream":
        return self._then(batch_ops.parse_step(fmt, self._label(f"parse {fmt}")))

    def reduce(self, f: Callable) -> "DStream":
        return self._then(batch_ops.reduce_step(f, self._label("reduce")))

    def count(self) -> "DStream":
        return self._then(batch_ops.count_step(self._label("count")))

    def count_by_value(self) -> "DStream":
        return self._then(batch_ops.count_by_value_step(self._label("count_by_value")))

    def reduce_by_key(self, f: Callable, num_partitions: int | None = None) -> "DStream":
        return self._partitioned(self._then(batch_ops.reduce_by_key_step(f, self._label("reduce_by_key"))),
                                 num_partitions)

    def group_by_key(self, num_partitions: int | None = None) -> "DStream":
        return self._partitioned(self._then(batch_ops.group_by_key_step(self._label("group_by_key"))),
                                 num_partitions)

    def combine_by_key(self, create_combiner: Callable, merge_value: Callable, merge_combiners: Callable,
                       num_partitions: int | None = None) -> "DStream":
        """Spark's ``combineByKey``: each partition combines its values per key, then the partitions' combiners
        are merged, in partition order."""
        split = self.partitioning.split

        def combine(batch):
            return batch_ops.combine_by_key(split(batch), create_combiner, merge_value, merge_combiners)

        return self._partitioned(self._whole_batch(combine, "combine_by_key"), num_partitions)

    def partition_by(self, num_partitions: int, partition_func: Callable = portable_hash) -> "DStream":
        """The same pairs in *num_partitions* partitions, each key's where ``partition_func(key)`` sends it."""
        return self._partitioned(self._then(batch_ops.identity_step(self._label("partition_by"))),
                                 num_partitions, partition_func)

    def distinct(self) -> "DStream":
        return self._then(batch_ops.distinct_step(self._label("distinct")))

    def repartition(self, num_partitions: int) -> "DStream":
        """The batch in *num_partitions* slices, in order (one process runs them all; only glom and
        map_partitions see the difference)."""
        return self._partitioned(self._then(batch_ops.identity_step(self._label("repartition"))),
                                 num_partitions, by_key=None)

    def cache(self) -> "DStream":
        """Accepted as in Spark: every batch is already kept in memory as long as a later batch can ask for it."""
        return self

    def persist(self, storage_level=None) -> "DStream":
        """Accepted as in Spark, like ``cache``: there is one storage level, memory, in this process."""
        return self

    def checkpoint(self, interval) -> "DStream":
        """Checkpoint at least every *interval* (a multiple of this stream's slide). The context saves the
        whole graph at once, so the smallest interval asked for any stream applies to all of them."""
        interval_ms = parse_duration(interval)
        require_multiple("checkpoint interval", interval_ms, "the stream's slide", self.slide_ms)
        self.context.ask_checkpoint_interval(interval_ms)
        return self

    def transform(self, f: Callable) -> "DStream":
        """``f(batch)`` or, as PySpark's ``transform``, ``f(time_ms, batch)``; returns the new batch."""
        return self._whole_batch(f, "transform")

    def transform_with(self, f: Callable, other: "DStream", keep_serializable: bool = True) -> "DStream":
        """``f(batch, other_batch)`` or ``f(time_ms, batch, other_batch)`` per batch time (Spark's
        ``transformWith``)."""
        return TransformedWithDStream(self, other, batch_ops.with_time(f, 3), self._label("transform_with"),
                                      needs_pairs=False)

    # --- several streams ---------------------------------------------------------------------
    def sql(self, query: str, **tables: "DStream") -> "DStream":
        """The rows of a SQL *query* (DuckDB's dialect) over each batch, as dicts: the batch is the table ``batch``
        (dicts by key, tuples as columns _1, _2, ..., other records one column ``value``), and each of *tables*
        a table of its name at the same batch time. Needs ``pip install 'dstream-cli[sql]'``."""
        from .errors import UsageError
        from .ops.sql import sql_stream

        def resolve(name: str) -> "DStream":
            if name not in tables:
                known = ", ".join(["batch", *sorted(tables)])
                raise UsageError(f"the query reads a table {name!r} that was not given (tables: {known})")
            return tables[name]

        return sql_stream(self, query, resolve, self.context.naming_label("sql"))

    def union(self, other: "DStream") -> "DStream":
        return TransformedWithDStream(self, other, batch_ops.without_time(operator.add), self._label("union"),
                                      needs_pairs=False)

    def _by_key_with(self, other: "DStream", func: Callable, name: str) -> "DStream":
        """The pairs of both streams of each batch time, combined by key (the joins, cogroup)."""
        return TransformedWithDStream(self, other, batch_ops.without_time(func), self._label(name))

    def join(self, other: "DStream", num_partitions: int | None = None) -> "DStream":
        return self._by_key_with(other, batch_ops.join, "join")

    def left_outer_join(self, other: "DStream", num_partitions: int | None = None) -> "DStream":
        return self._by_key_with(other, batch_ops.left_outer_join, "left_outer_join")

    def right_outer_join(self, other: "DStream", num_partitions: int | None = None) -> "DStream":
        return self._by_key_with(other, batch_ops.right_outer_join, "right_outer_join")

    def full_outer_join(self, other: "DStream", num_partitions: int | None = None) -> "DStream":
        return self._by_key_with(other, batch_ops.full_outer_join, "full_outer_join")

    def cogroup(self, other: "DStream", num_partitions: int | None = None) -> "DStream":
        return self._by_key_with(other, batch_ops.cogroup, "cogroup")

    # --- windows -----------------------------------------------------------------------------
    def _window_params(self, window_duration, slide_duration) -> tuple[int, int]:
        """Window and slide in ms, each a multiple of this stream's slide (PySpark ``_validate_window_param``)."""
        window_ms = parse_duration(window_duration)
        slide_ms = self.slide_ms if slide_duration is None else parse_duration(slide_duration)
        batch_name = "--batch" if self.slide_ms == self.context.batch_ms else "the stream's slide"
        require_multiple("window", window_ms, batch_name, self.slide_ms)
        require_multiple("slide", slide_ms, batch_name, self.slide_ms)
        return window_ms, slide_ms

    def window(self, window_duration, slide_duration=None) -> "DStream":
        window_ms, slide_ms = self._window_params(window_duration, slide_duration)
        return WindowedDStream(self, window_ms, slide_ms)

    def reduce_by_key_and_window(self, func: Callable, inv_func: Callable | None, window_duration,
                                 slide_duration=None, num_partitions: int | None = None,
                                 filter_func: Callable | None = None) -> "DStream":
        window_ms, slide_ms = self._window_params(window_duration, slide_duration)
        reduced = self.reduce_by_key(func)
        if inv_func is None:
            if func is operator.add:  # kept incrementally while the values are whole numbers
                result = SummedWindowDStream(reduced, window_ms, slide_ms)
            else:
                result = WindowedDStream(reduced, window_ms, slide_ms).reduce_by_key(func)
            return result.filter(filter_func) if filter_func is not None else result
        return ReducedWindowedDStream(reduced, func, inv_func, window_ms, slide_ms, filter_func)

    def reduce_by_window(self, reduce_func: Callable, inv_reduce_func: Callable | None,
                         window_duration, slide_duration) -> "DStream":
        keyed = self.map(batch_ops.key_with_one)
        reduced = keyed.reduce_by_key_and_window(reduce_func, inv_reduce_func, window_duration, slide_duration)
        return reduced.map(operator.itemgetter(1))

    def count_by_window(self, window_duration, slide_duration) -> "DStream":
        return self.map(batch_ops.one).reduce_by_window(operator.add, operator.sub, window_duration, slide_duration)

    def group_by_key_and_window(self, window_duration, slide_duration, num_partitions: int | None = None):
        """Each key's values over the window, in batch order (Spark's ``groupByKeyAndWindow``)."""
        return self.window(window_duration, slide_duration).group_by_key(num_partitions)

    def count_by_value_and_window(self, window_duration, slide_duration,
                                  num_partitions: int | None = None) -> "DStream":
        counted = self.map(batch_ops.pair_with_one).reduce_by_key_and_window(
            operator.add, operator.sub, window_duration, slide_duration)
        return counted.filter(batch_ops.value_positive)

    # --- state -------------------------------------------------------------------------------
    def update_state_by_key(self, update_func: Callable, num_partitions: int | None = None,
                            initial=None, timeout=None) -> "DStream":
        """``update_func(new values, state or None)`` per key every batch; None removes the key. *initial*
        is (key, state) pairs to start from (Spark's ``initialRDD``)."""
        timeout_ms = parse_duration(timeout) if timeout is not None else None
        return self._partitioned(StateDStream(self, update_func, timeout_ms, initial or ()), num_partitions)

    # --- output operations -------------------------------------------------------------------
    def foreach_batch(self, func: Callable) -> None:
        """Call ``func(batch)`` or, as PySpark's ``foreachRDD``, ``func(time_ms, batch)`` every batch."""
        outputs.ForEachDStream(self, outputs.adapt_time_batch(func))

    def pprint(self, num: int = 10) -> None:
        outputs.ForEachDStream(self, outputs.PrettyPrinter(self.context.stdout, num), retryable=False)

    def emit(self, fmt: str = "tsv", header: bool = False) -> None:
        """Every element on stdout, one per line; *header* (csv, tsv) writes a header row first, named by the
        first record (a dict's keys, key and value for pairs)."""
        outputs.ForEachDStream(self, outputs.Emitter(self.context.stdout, fmt, header), retryable=False)

    def save_as_text_files(self, prefix: str, suffix: str | None = None, fmt: str = "text",
                           layout: str = "dstream", header: bool = False) -> None:
        """``PREFIX-TIME_IN_MS[.SUFFIX]`` per batch: a file, or with *layout* ``"spark"`` Spark's directory of
        ``part-NNNNN`` files and ``_SUCCESS``; *header* (csv, tsv) starts each file with a header row."""
        outputs.ForEachDStream(self, outputs.TextFilesWriter(prefix, suffix, fmt, layout, header))

    def save_to_kafka(self, topic: str, brokers: str, fmt: str = "text", timeout="30s") -> None:
        """Each element as a message of *topic* (a (key, value) pair keyed by its key), with the idempotent
        producer; a batch counts as done once the brokers acknowledged all of it within *timeout*."""
        from .kafka.writer import KafkaWriter

        outputs.ForEachDStream(self, KafkaWriter(topic, brokers, fmt, parse_duration(timeout) / 1000))

    def save_to_db(self, url: str, table: str, mode: str = "append", key=None, columns=None,
                   create: bool = False) -> None:
        """Each batch into *table* of ``sqlite:///PATH``, ``postgresql://USER@HOST:PORT/DB`` or
        ``mysql://USER@HOST:PORT/DB``, in one transaction per batch, exactly once with a checkpoint. *mode*
        ``append`` inserts, ``upsert`` updates the rows with the same *key* columns (default ``key``),
        ``replace`` makes the table the latest batch. Pairs fill columns ``key, value``; *columns* names tuple
        fields or picks dict fields; *create* makes a missing table with types taken from the first batch.
        PostgreSQL needs ``pip install 'dstream-cli[postgres]'``, MySQL ``pip install 'dstream-cli[mysql]'``."""
        from .databases.writer import DatabaseWriter

        outputs.ForEachDStream(self, DatabaseWriter(url, table, mode, key, columns, create))

    def run_command_per_batch(self, command: str, fmt: str = "tsv", timeout="5m", header: bool = False) -> None:
        """``sh -c command`` per non-empty batch; one still running after *timeout* (a duration) is killed;
        *header* (csv, tsv) starts each batch's input with a header row."""
        timeout_s = None if timeout is None else parse_duration(timeout) / 1000
        outputs.ForEachDStream(self, outputs.CommandRunner(command, fmt, self.context.stdout, timeout_s, header))

    def _label(self, default: str) -> str:
        return self.context.naming_label(default)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label} slide={self.slide_ms}ms>"


# Imported last: these modules subclass DStream.
from . import outputs  # noqa: E402
from .ops import batch as batch_ops  # noqa: E402
from .ops.state import StateDStream  # noqa: E402
from .ops.transformed import TransformedDStream, TransformedWithDStream  # noqa: E402
from .ops.window import ReducedWindowedDStream, SummedWindowDStream, WindowedDStream  # noqa: E402
