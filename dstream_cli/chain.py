"""Build a DStream graph from a list of StageSpecs: the data the CLI produces, usable without click.

One name table maps each stage to the library method (and PySpark's name for --engine spark);
one ChainBuilder walks the specs, compiling expressions under the stage's label, resolving
stream names (``as``/``from``) and inputs, and appending ``emit`` when nothing outputs.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable

from . import expr
from .errors import UsageError

if TYPE_CHECKING:
    from .dstream import DStream


@dataclasses.dataclass
class StageSpec:
    name: str
    args: dict = dataclasses.field(default_factory=dict)


OUTPUT_STAGES = ("print", "emit", "save-as-text-files", "save-to-kafka", "save-to-db", "foreach-batch")

#: CLI stage -> (library method, PySpark method)
NAMES: dict[str, tuple[str, str]] = {
    "map": ("map", "map"), "flat-map": ("flat_map", "flatMap"), "filter": ("filter", "filter"),
    "map-values": ("map_values", "mapValues"), "flat-map-values": ("flat_map_values", "flatMapValues"),
    "key-by": ("key_by", "map"), "parse": ("parse", "map"), "reduce": ("reduce", "reduce"),
    "count": ("count", "count"), "count-by-value": ("count_by_value", "countByValue"),
    "reduce-by-key": ("reduce_by_key", "reduceByKey"), "group-by-key": ("group_by_key", "groupByKey"),
    "distinct": ("distinct", "transform"), "transform": ("transform", "transform"), "sql": ("sql", "transform"),
    "repartition": ("repartition", "repartition"), "union": ("union", "union"), "join": ("join", "join"),
    "left-outer-join": ("left_outer_join", "leftOuterJoin"),
    "right-outer-join": ("right_outer_join", "rightOuterJoin"),
    "full-outer-join": ("full_outer_join", "fullOuterJoin"), "cogroup": ("cogroup", "cogroup"),
    "window": ("window", "window"), "count-by-window": ("count_by_window", "countByWindow"),
    "reduce-by-window": ("reduce_by_window", "reduceByWindow"),
    "reduce-by-key-and-window": ("reduce_by_key_and_window", "reduceByKeyAndWindow"),
    "count-by-value-and-window": ("count_by_value_and_window", "countByValueAndWindow"),
    "update-state": ("update_state_by_key", "updateStateByKey"),
    "print": ("pprint", "pprint"), "emit": ("emit", "foreachRDD"),
    "save-as-text-files": ("save_as_text_files", "saveAsTextFiles"),
    "save-to-kafka": ("save_to_kafka", "foreachRDD"), "save-to-db": ("save_to_db", "foreachRDD"),
    "foreach-batch": ("run_command_per_batch", "foreachRDD"),
}


def _ms(duration_ms: int | None) -> str | None:
    return None if duration_ms is None else f"{duration_ms}ms"


_ONE_ARG = ("x",)
_VALUE_ARG = ("v",)

#: stages that are their engine's method (NAMES) applied to one expression, compiled with these parameters
EXPRESSION_STAGES = {"map": _ONE_ARG, "flat-map": _ONE_ARG, "filter": _ONE_ARG, "map-values": _VALUE_ARG,
                     "flat-map-values": _VALUE_ARG}
#: stages that are their engine's method (NAMES) applied to the stream or input they name
TWO_STREAM_STAGES = ("union", "join", "left-outer-join", "right-outer-join", "full-outer-join", "cogroup")


class ChainBuilder:
    """Turns specs into nodes of *context*; *inputs* maps input names to functions creating them."""

    #: the column of NAMES that holds this engine's method names
    ENGINE = 0

    def __init__(self, context, inputs: dict[str, Callable[[], DStream]], main_input: str,
                 namespace: expr.Namespace) -> None:
        self.context = context
        self.input_factories = inputs
        self.main_input = main_input
        self.namespace = namespace
        self.streams: dict[str, DStream] = {}
        self.created_inputs: dict[str, DStream] = {}

    def stream(self, name: str, label: str) -> DStream:
        if name in self.streams:
            return self.streams[name]
        if name not in self.created_inputs:
            if name not in self.input_factories:
                known = sorted({*self.streams, *self.input_factories}) or ["(none)"]
                raise UsageError(f"{label}: no stream or input named {name!r} (known: {', '.join(known)})")
            self.created_inputs[name] = self.input_factories[name]()
        return self.created_inputs[name]

    def build(self, specs: list[StageSpec]) -> None:
        if not any(spec.name in OUTPUT_STAGES for spec in specs):
            specs = [*specs, StageSpec("emit", {"format": "tsv"})]
        current: DStream | None = None
        last_output = 0
        for index, spec in enumerate(specs, 1):
            short = f"stage {index} ({spec.name})"
            source = spec.args.get("expr") or spec.args.get("func") or spec.args.get("query")
            label = f"{short[:-1]} {source!r})" if source else short
            if current is None and spec.name != "from":
                current = self.stream(self.main_input, short)
            with self.context.stage(label):
                try:
                    current = self._stage(spec, current, short)
                except UsageError as error:
                    message = str(error)
                    raise UsageError(message if message.startswith("stage ") else f"{short}: {message}") from None
            if spec.name in OUTPUT_STAGES:
                last_output = index
        if last_output < len(specs) and specs[-1].name not in ("as",):
            names = ", ".join(s.name for s in specs[last_output:])
            print(f"dstream: warning: stages after the last output ({names}) have no output and are not computed",
                  file=self.context.stderr())

    def _stage(self, spec: StageSpec, current, label: str):
        if spec.name in EXPRESSION_STAGES:
            method = getattr(current, NAMES[spec.name][self.ENGINE])
            return method(self.fn(spec.args["expr"], EXPRESSION_STAGES[spec.name], label))
        if spec.name in TWO_STREAM_STAGES:
            return getattr(current, NAMES[spec.name][self.ENGINE])(self.other(current, spec.args["name"], label))
        return getattr(self, "_" + spec.name.replace("-", "_"))(current, spec.args, label)

    def other(self, current, name: str, label: str):
        """The stream named by a stage that combines two (the local nodes check that their slides match)."""
        return self.stream(name, label)

    # --- compilation helpers ---
    def fn(self, source: str, params: tuple[str, ...], label: str) -> Callable:
        return expr.compile_function(source, params, label, self.namespace)

    def reducer(self, source: str, label: str) -> Callable:
        return expr.binary_reducer(source, label, self.namespace)

    # --- one method per remaining stage: (current stream, args, label) -> stream ---
    def _key_by(self, s, a, label):
        return s.key_by(self.fn(a["expr"], _ONE_ARG, label))

    def _parse(self, s, a, label):
        return s.parse(a["format"])

    def _reduce(self, s, a, label):
        return s.reduce(self.reducer(a["func"], label))

    def _count(self, s, a, label):
        return s.count()

    def _count_by_value(self, s, a, label):
        return s.count_by_value()

    def _reduce_by_key(self, s, a, label):
        return s.reduce_by_key(self.reducer(a["func"], label), a.get("partitions"))

    def _group_by_key(self, s, a, label):
        return s.group_by_key()

    def _distinct(self, s, a, label):
        return s.distinct()

    def _transform(self, s, a, label):
        f = self.fn(a["expr"], ("batch", "t"), label)
        return s.transform(lambda t, batch: f(batch, t))

    def _sql(self, s, a, label):
        from .ops.sql import sql_stream

        return sql_stream(s, a["query"], lambda name: self.stream(name, label), self.context.naming_label("sql"))

    def _repartition(self, s, a, label):
        return s.repartition(a["num"])

    def _as(self, s, a, label):
        self.streams[a["name"]] = s
        return s

    def _from(self, s, a, label):
        return self.stream(a["name"], label)


    def _window(self, s, a, label):
        return s.window(_ms(a["length"]), _ms(a.get("slide")))

    def _count_by_window(self, s, a, label):
        return s.count_by_window(_ms(a["length"]), _ms(a["slide"]))

    def _reduce_by_window(self, s, a, label):
        inverse = self.reducer(a["inverse"], label) if a.get("inverse") else None
        return s.reduce_by_window(self.reducer(a["func"], label), inverse, _ms(a["length"]), _ms(a["slide"]))

    def _reduce_by_key_and_window(self, s, a, label):
        if a.get("filter") and not a.get("inverse"):
            raise UsageError("--filter needs --inverse (as in Spark, the filter applies to the incremental window)")
        inverse = self.reducer(a["inverse"], label) if a.get("inverse") else None
        keep = self.fn(a["filter"], _ONE_ARG, label) if a.get("filter") else None
        slide = _ms(a.get("slide"))
        return s.reduce_by_key_and_window(self.reducer(a["func"], label), inverse, _ms(a["length"]), slide,
                                          a.get("partitions"), keep)

    def _count_by_value_and_window(self, s, a, label):
        return s.count_by_value_and_window(_ms(a["length"]), _ms(a["slide"]))

    def _update_state(self, s, a, label):
        timeout = _ms(a.get("timeout"))
        return s.update_state_by_key(expr.state_updater(a["func"], label, self.namespace), timeout=timeout)

    def _print(self, s, a, label):
        s.pprint(a.get("num") or 10)
        return s

    def _emit(self, s, a, label):
        s.emit(a.get("format") or "tsv", header=bool(a.get("header")))
        return s

    def _save_as_text_files(self, s, a, label):
        s.save_as_text_files(a["prefix"], a.get("suffix"), a.get("format") or "text", a.get("layout") or "dstream",
                             header=bool(a.get("header")))
        return s

    def _save_to_kafka(self, s, a, label):
        s.save_to_kafka(a["topic"], a["brokers"], a.get("format") or "text", _ms(a.get("timeout")) or "30s")
        return s

    def _save_to_db(self, s, a, label):
        s.save_to_db(a["url"], a["table"], a.get("mode") or "append", a.get("key"), a.get("columns"),
                     bool(a.get("create")))
        return s

    def _foreach_batch(self, s, a, label):
        timeout = {"timeout": _ms(a["timeout"])} if a.get("timeout") else {}
        s.run_command_per_batch(a["command"], a.get("format") or "tsv", header=bool(a.get("header")), **timeout)
        return s
