"""One declaration per stage of the contract; each returns a StageSpec, nothing else."""
from __future__ import annotations

import click

from ..chain import StageSpec
from ..formats import INPUT_FORMATS, OUTPUT_FORMATS
from .params import Duration, StageCommand

Arg, Opt = click.Argument, click.Option
DURATION = Duration()


def _stage(name: str, summary: str, example: str, *params: click.Parameter) -> StageCommand:
    def callback(**args):
        return StageSpec(name, args)

    help_text = f"{summary}\n\n\b\nExample:\n  {example}"
    return StageCommand(name, callback=callback, params=list(params), help=help_text, short_help=summary)


def _expr() -> click.Argument:
    return Arg(["expr"])


def _func() -> click.Argument:
    return Arg(["func"])


def _name() -> click.Argument:
    return Arg(["name"])


def _partitions() -> click.Option:
    return Opt(["--partitions"], type=click.IntRange(min=1),
               help="Accepted as in Spark; one process runs one partition, so results do not change.")


def _window_args(slide_required: bool = False) -> list[click.Parameter]:
    return [Arg(["length"], type=DURATION), Arg(["slide"], type=DURATION, required=slide_required)]


def _header(written: str) -> click.Option:
    return Opt(["--header"], is_flag=True,
               help=f"With --format csv or tsv, a header row {written}, named by the first record (a dict's keys, "
                    "key and value for pairs).")


def _out_format(default: str) -> click.Option:
    return Opt(["--format"], type=click.Choice(OUTPUT_FORMATS), default=default, show_default=True,
               help="How each element is written: tsv (a tuple's fields joined by tabs; tab, newline, CR and "
                    "backslash inside a field as \\t \\n \\r \\\\), json, csv (quoted), repr, or text (str(x), "
                    "as Spark: not escaped).")


STAGES = [
    # stateless
    _stage("map", "Apply EXPR (x) to every element.", "dstream map 'x.upper()'", _expr()),
    _stage("flat-map", "Apply EXPR (x) and flatten the iterables it returns.", "dstream flat-map 'x.split()'", _expr()),
    _stage("filter", "Keep the elements for which EXPR (x) is true.", "dstream filter 'len(x) > 3'", _expr()),
    _stage("map-values", "Apply EXPR (v) to the value of every (key, value) pair.",
           "dstream --format tsv map-values 'int(v)'", _expr()),
    _stage("flat-map-values", "Apply EXPR (v) to each value and pair the key with every result.",
           "dstream key-by 'x[0]' flat-map-values 'v.split()'", _expr()),
    _stage("key-by", "Make (EXPR, x) pairs.", "dstream key-by 'len(x)' group-by-key", _expr()),
    _stage("parse", "Parse every element as json, csv or tsv.", "dstream parse json map 'x[\"user\"]'",
           Arg(["format"], type=click.Choice(INPUT_FORMATS[1:]))),
    _stage("reduce", "Combine the elements of each batch with FUNC (a, b) into one.", "dstream map 'int(x)' reduce sum",
           _func()),
    _stage("count", "The number of elements of each batch (0 for an empty batch).", "dstream count"),
    _stage("count-by-value", "(element, count) for every distinct element of each batch.",
           "dstream flat-map 'x.split()' count-by-value"),
    _stage("reduce-by-key", "Combine the values of each key with FUNC (a, b).",
           "dstream map '(x, 1)' reduce-by-key sum", _func(), _partitions()),
    _stage("group-by-key", "(key, [values]) for every key of each batch.", "dstream key-by 'x[0]' group-by-key"),
    _stage("distinct", "Each distinct element of a batch once.", "dstream distinct"),
    _stage("transform", "Replace each batch by EXPR (batch: a list, t: batch time in ms).",
           "dstream transform 'sorted(batch)[:3]'", _expr()),
    _stage("sql", "Replace each batch by the rows of QUERY over it, as the table batch (needs dstream-cli[sql]).",
           "dstream --format json sql 'select user, sum(bytes) as bytes from batch group by user'",
           Arg(["query"])),
    _stage("repartition", "Spread each batch over N partitions (a no-op on one machine).",
           "dstream repartition 4", Arg(["num"], type=click.IntRange(min=1))),
    # several streams
    _stage("as", "Name the current stream.", "dstream map 'x.lower()' as words count from words emit", _name()),
    _stage("from", "Continue from a named stream or input.", "dstream -i b=queue:b.txt from b print", _name()),
    _stage("union", "Append the batch of stream NAME to each batch.", "dstream -i b=file:b.txt union b", _name()),
    _stage("join", "(k, (v, w)) for the pairs of both streams with the same key.",
           "dstream --format tsv -i names=file:names.tsv join names", _name(), _partitions()),
    _stage("left-outer-join", "As join, with (k, (v, None)) for keys missing on the right.",
           "dstream --format tsv -i r=file:r.tsv left-outer-join r", _name(), _partitions()),
    _stage("right-outer-join", "As join, with (k, (None, w)) for keys missing on the left.",
           "dstream --format tsv -i r=file:r.tsv right-outer-join r", _name(), _partitions()),
    _stage("full-outer-join", "As join, with None on whichever side a key is missing.",
           "dstream --format tsv -i r=file:r.tsv full-outer-join r", _name(), _partitions()),
    _stage("cogroup", "(k, ([values here], [values in NAME])) for every key of either stream.",
           "dstream --format tsv -i r=file:r.tsv cogroup r", _name(), _partitions()),
    # windows
    _stage("window", "Every element of the batches in the last LENGTH, each SLIDE (default --batch).",
           "dstream --batch 1s window 30s 10s count", *_window_args()),
    _stage("count-by-window", "The number of elements in the last LENGTH, each SLIDE.",
           "dstream count-by-window 1m 10s", *_window_args()),
    _stage("reduce-by-window", "Reduce the elements in the last LENGTH with FUNC, each SLIDE.",
           "dstream map 'int(x)' reduce-by-window sum 1m 10s --inverse 'a - b'", _func(), *_window_args(),
           Opt(["--inverse"], metavar="FUNC", help="Inverse of FUNC: makes a long window incremental.")),
    _stage("reduce-by-key-and-window", "Reduce each key's values in the last LENGTH with FUNC, each SLIDE.",
           "dstream map '(x, 1)' reduce-by-key-and-window sum 30s 10s --inverse 'a - b'", _func(), *_window_args(),
           Opt(["--inverse"], metavar="FUNC", help="Inverse of FUNC: makes a long window incremental."),
           Opt(["--filter"], metavar="EXPR",
               help="Keep (key, value) pairs for which EXPR (x) is true; needs --inverse."),
           _partitions()),
    _stage("count-by-value-and-window", "(element, count) over the last LENGTH, each SLIDE.",
           "dstream count-by-value-and-window 1m 10s", *_window_args()),
    # state
    _stage("update-state", "Carry a state per key across batches with FUNC (values, state); None removes the key.",
           "dstream map '(x, 1)' update-state sum", _func(),
           Opt(["--timeout"], type=DURATION, help="Remove a key that got no values for this long.")),
    # outputs
    _stage("print", "Print the first NUM elements of every batch under a time header (Spark pprint).",
           "dstream count print", Arg(["num"], type=click.IntRange(min=1), required=False)),
    _stage("emit", "Write every element to stdout, one per line.", "dstream count-by-value emit --format json",
           _out_format("tsv"), _header("before the first row")),
    _stage("save-as-text-files", "Write each batch to the file PREFIX-TIME_IN_MS[.SUFFIX].",
           "dstream count save-as-text-files out/counts --suffix txt", Arg(["prefix"]),
           Opt(["--suffix"], help="Appended to the file name after a dot."), _out_format("text"),
           Opt(["--layout"], type=click.Choice(["dstream", "spark"]), default="dstream", show_default=True,
               help="dstream: one file per batch; spark: Spark's PREFIX-TIME_IN_MS/part-NNNNN directories "
                    "(written by the executors with --engine spark)."), _header("at the top of each file")),
    _stage("save-to-kafka", "Send each element to the Kafka TOPIC, (key, value) pairs keyed; a batch is done when "
           "every message is acknowledged.",
           "dstream map '(x, 1)' save-to-kafka counts --brokers 127.0.0.1:9092", Arg(["topic"]),
           Opt(["--brokers"], required=True, metavar="HOST:PORT[,...]", help="The Kafka bootstrap servers."),
           _out_format("text"),
           Opt(["--timeout"], type=DURATION, default="30s", show_default=True,
               help="A batch not acknowledged by the brokers within this long fails (and is retried).")),
    _stage("save-to-db", "Write each batch to TABLE of a SQLite, PostgreSQL or MySQL/MariaDB database, in one "
           "transaction, exactly once with --checkpoint.",
           "dstream map '(x, 1)' reduce-by-key sum save-to-db sqlite:///counts.db counts --create",
           Arg(["url"]), Arg(["table"]),
           Opt(["--mode"], type=click.Choice(["append", "upsert", "replace"]), default="append", show_default=True,
               help="append inserts the rows; upsert updates the rows with the same --key; replace makes the "
                    "table hold exactly the latest batch."),
           Opt(["--key"], metavar="COLS", help="The columns that identify a row, for --mode upsert (default: key)."),
           Opt(["--columns"], metavar="COLS",
               help="Names of the fields of tuple records, or the fields of dict records to write "
                    "(default: key,value for pairs, a dict's own fields, else value)."),
           Opt(["--create"], is_flag=True, help="Create a missing table, with column types taken from the first "
                                                "batch (and --key as its primary key).")),
    _stage("foreach-batch", "Run 'sh -c COMMAND' per non-empty batch, its elements on stdin.",
           "dstream foreach-batch 'wc -l >> counts.log'", Arg(["command"]), _out_format("tsv"),
           _header("at the top of each batch's input"),
           Opt(["--timeout"], type=DURATION, default="5m", show_default=True,
               help="Kill the command (and what it started) if still running after this long; the batch fails.")),
]
