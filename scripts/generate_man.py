#!/usr/bin/env python3
"""Write man/dstream.1 from the click definitions, so every option and stage is documented.

    python scripts/generate_man.py          # rewrite man/dstream.1
    python scripts/generate_man.py --check  # exit 1 if it is out of date (tests run this)
"""
from __future__ import annotations

import os
import sys

import click

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dstream_cli import __version__  # noqa: E402
from dstream_cli.cli.app import app  # noqa: E402
from dstream_cli.cli.stages import STAGES  # noqa: E402

MAN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "man", "dstream.1")

SECTIONS = {
    "stateless": ["map", "flat-map", "filter", "map-values", "flat-map-values", "key-by", "parse", "reduce", "count",
                  "count-by-value", "reduce-by-key", "group-by-key", "distinct", "transform", "sql", "repartition"],
    "several streams": ["as", "from", "union", "join", "left-outer-join", "right-outer-join", "full-outer-join",
                        "cogroup"],
    "windows": ["window", "count-by-window", "reduce-by-window", "reduce-by-key-and-window",
                "count-by-value-and-window"],
    "state": ["update-state"],
    "outputs": ["print", "emit", "save-as-text-files", "save-to-kafka", "save-to-db", "foreach-batch"],
}


def esc(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line.startswith((".", "'")) else line for line in text.split("\n"))


def option_lines(command: click.Command) -> list[str]:
    ctx = click.Context(command)
    out = []
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option) or "--help" in param.opts:
            continue
        record = param.get_help_record(ctx)
        if record:
            out += [".TP", f"\\fB{esc(record[0])}\\fR", esc(record[1])]
    return out


def usage(command: click.Command) -> str:
    ctx = click.Context(command, info_name=command.name)
    return " ".join(command.collect_usage_pieces(ctx))


def render() -> str:
    by_name = {c.name: c for c in STAGES}
    lines = [
        f'.TH DSTREAM 1 "" "dstream {__version__}" "User Commands"',
        ".SH NAME", "dstream \\- Spark Streaming's DStream model as one Unix command",
        ".SH SYNOPSIS", "\\fBdstream\\fR [\\fIGLOBAL OPTIONS\\fR] \\fISTAGE\\fR [\\fIARGS\\fR] [\\fISTAGE\\fR [\\fIARGS\\fR] ...]",
        ".SH DESCRIPTION",
        esc("dstream cuts its input into micro-batches on a fixed batch interval and pushes each batch through a"
            " chain of stages, as Spark Streaming does with a DStream. Stateless stages apply to each batch,"
            " window stages to the batches of a window, update-state carries a state per key across batches,"
            " and output stages write each batch's result. A chain without an output stage ends with emit."),
        ".PP", esc("Durations: 250ms, 2s, 1.5s, 5m, 1h; a bare number means seconds. Window LENGTH and SLIDE must be"
                   " multiples of --batch (SLIDE defaults to it)."),
        ".PP", esc("When every input is finite and has ended (stdin, file:, --queue), the run goes on at once, without"
                   " waiting for the clock, through the last slide of any window that still holds records, then"
                   " ends: 'seq 1 5 | dstream window 30s 10s count emit' prints its three windows. A stop (stop file,"
                   " SIGTERM, --run-for) and --batches end where they are; update-state is not carried on."),
        ".SH GLOBAL OPTIONS", *option_lines(app),
        ".SH EXPRESSIONS",
        esc("An expression is Python source. One that starts with lambda is used as it is; otherwise it is the body"
            " of a function whose parameters depend on the stage: x for map, flat-map, filter, key-by and --filter;"
            " v for map-values and flat-map-values; a, b for reduce, reduce-by-key, the window reductions and"
            " --inverse; batch, t for transform; values, state for update-state. sum, min and max name binary"
            " reducers; for update-state, sum, count and last. module:function names an importable function."
            " Expressions see re, math, json, datetime, collections, itertools and --import'ed modules. A body of"
            " statements must use return."),
        ".PP", esc("An expression that starts with - would be taken for an option: write it after --, as in"
                   " dstream map -- '-x'."),
    ]
    for section, names in SECTIONS.items():
        lines += [".SH " + esc(f"STAGES: {section.upper()}")]
        for name in names:
            command = by_name[name]
            arguments = " ".join(piece for piece in usage(command).split() if piece != "[OPTIONS]")
            lines += [".TP", f"\\fB{esc(name)}\\fR " + esc(arguments),
                      esc(command.help.split("\n\n")[0])]
            example = command.help.split("Example:")[1].strip()
            lines += [".RS", ".PP", "Example: \\fB" + esc(example) + "\\fR"]
            options = option_lines(command)
            if options:
                lines += options
            lines += [".RE"]
    lines += [
        ".SH OUTPUT", esc("print writes PySpark's pprint: a line of 43 dashes, 'Time: ' and the batch time in local"
                          " time (microseconds when not a whole second), another line of dashes, the first NUM"
                          " elements as print() shows them, '...' when there were more, and an empty line."),
        ".SH KAFKA", esc("-i NAME=kafka://HOST:PORT[,HOST:PORT]/TOPIC[,TOPIC]?group=G&start=earliest|latest reads"
                         " Kafka as Spark's direct stream: each batch is a range of offsets per partition, saved with"
                         " the checkpoint, so a restart reads unfinished ranges again (exactly once with --checkpoint);"
                         " each message is one record; records=json gives key, value, topic, partition, offset and"
                         " timestamp as a JSON line; a saved offset outside what the brokers hold is one line, and"
                         " reset=earliest|latest|fail (default fail, exit 1) decides; other query keys go to the"
                         " client. --max-rate is per partition. save-to-kafka TOPIC"
                         " --brokers HOST:PORT writes with the idempotent producer (at least once). Needs"
                         " pip install 'dstream-cli[kafka]'."),
        ".SH ZEROMQ", esc("-i NAME=zmq://HOST:PORT?socket=sub|pull[&topic=PREFIX][&bind=1] receives ZeroMQ messages on a"
                          " SUB socket (subscribed to PREFIX, default everything) or a PULL socket, connected to"
                          " HOST:PORT or, with bind=1, bound there. Each message is one record: its last frame as"
                          " text; a one-frame message starting with the topic has the topic and one space after it"
                          " taken off; a frame that is not UTF-8 is a bad record. ZeroMQ keeps nothing for a peer"
                          " that was away: with --wal what was received survives a SIGKILL. Held back by --max-rate or"
                          " --backpressure, a PUSH peer blocks and a PUB peer drops what its subscribers cannot take."
                          " With --engine spark it is read on the driver. Needs pip install 'dstream-cli[zmq]'."),
        ".SH DATABASES", esc("save-to-db URL TABLE writes each batch in one transaction to SQLite (sqlite:///RELATIVE.db,"
                             " sqlite:////ABSOLUTE.db; WAL mode; a path only), PostgreSQL (postgresql://USER@HOST:PORT/DB, through"
                             " COPY; pip install 'dstream-cli[postgres]'; a password comes from the URL, PGPASSWORD,"
                             " PGSERVICE or ~/.pgpass and is never printed) or MySQL and MariaDB"
                             " (mysql://USER@HOST:PORT/DB or mariadb://, ?unix_socket=PATH for a socket, through LOAD DATA"
                             " LOCAL INFILE, or multi-row INSERTs where the server has local_infile off; pip install"
                             " 'dstream-cli[mysql]'; a password comes from the URL, MYSQL_PWD or ~/.my.cnf; the table"
                             " must be InnoDB). Pairs fill columns key and value;"
                             " --columns names the fields of tuples or picks those of dicts; --create makes a missing"
                             " table with types from the first batch (STRICT in SQLite). --mode append inserts,"
                             " upsert updates the rows with the same --key (INSERT ... ON CONFLICT; in MySQL ON DUPLICATE"
                             " KEY UPDATE, after checking that a unique index on the key exists), replace makes the"
                             " table exactly the latest batch. The same transaction sets this output's row in"
                             " dstream_batches to the batch time, and a recomputed batch the table already holds is"
                             " skipped: exactly once with --checkpoint. A lost connection is retried per"
                             " --output-retries; a record that does not fit follows --on-error."),
        ".SH SQL", esc("sql QUERY runs a SQL query (DuckDB's dialect; pip install 'dstream-cli[sql]') over each batch,"
                       " or the window after a window stage, as the table batch, and its rows (dicts) are the next"
                       " records. Dict records are columns by key (CSV rows with --header by the header's names, as"
                       " text), tuples are columns _1, _2, ..., other records one column value. Every input and as"
                       " stream the query names is a table of that name at the same batch time. A table keeps its"
                       " columns and types from batch to batch: new keys add columns, an empty batch is an empty"
                       " table, whole numbers widen to DOUBLE when a fraction comes, a float NaN or infinity is itself (not null), anything fits a text column,"
                       " and a value that fits none of that is a bad record naming its column (--on-error decides)."
                       " Types are inferred as DuckDB's read_json does, from up to 20,480 records of a batch. The"
                       " query must be one SELECT that parses, reading tables that exist: else exit 2 before any"
                       " input is read, with DuckDB's message and position. JSON lines from an input go to DuckDB"
                       " unparsed. On --engine spark the same text runs as Spark SQL over each batch's DataFrame."),
        ".SH EVENT TIME", esc("--event-time EXPR puts each record in the batch whose interval holds its own time"
                              " (epoch seconds, milliseconds with --time-unit ms, a datetime, ISO 8601 text, or text"
                              " read with --time-format STRFTIME), so batch times, windows, state and file names"
                              " follow the data. A batch is computed once the watermark (the newest time seen minus"
                              " --allowed-lateness, the smallest over the inputs) has passed its end. A late record"
                              " goes to --dead-letter, or as --late drop|fail says, else is counted and reported."
                              " Finite input runs back to back; --idle-timeout closes the open batches of a quiet live"
                              " input. A gap of over 1,000 batches in which nothing can change (windows slid past their"
                              " data, a state an empty batch leaves as it is) is crossed at once; a stop never waits"
                              " on a gap. Times of the years 1 to 9999 are batches; others are bad records. Inside a"
                              " batch, records are in event-time order. --checkpoint saves the watermark and the open batches. On --engine spark the driver cuts the"
                              " batches this way and Spark computes them on its manual clock (no --checkpoint there)."),
        ".SH SPARK", esc("--engine spark runs the same chain on Apache Spark (pip install 'dstream-cli[spark]'; Java 17):"
                         " every stage is its PySpark DStream method and expressions are compiled as on the local"
                         " engine. --master defaults to local[*]; spark://, yarn and k8s:// URLs go to Spark as they"
                         " are; --spark-conf KEY=VALUE sets any property. --socket is socketTextStream and --watch"
                         " textFileStream (hdfs:// and s3a:// work); stdin, file:, --listen and --receiver are read"
                         " in this process and served to a socketTextStream on a port of the driver's address"
                         " (spark.driver.host), which executors must reach. --queue runs on Spark's ManualClock, a"
                         " batch at a time, with the local engine's batch times. print is Spark's pprint; emit,"
                         " foreach-batch and save-as-text-files collect each batch on the driver and write it as the"
                         " local engine does; save-as-text-files --layout spark writes PREFIX-TIME_IN_MS/part-NNNNN"
                         " from the executors. --checkpoint is Spark's checkpoint directory, resumed with"
                         " StreamingContext.getOrCreate; it holds the code of the chain that wrote it, so another"
                         " chain is refused, naming what changed (exit 2). --max-rate, --backpressure, --initial-rate"
                         " and --wal set Spark's receiver rate, backpressure and write-ahead log. Kafka input is a"
                         " direct stream: the driver decides each batch's offset ranges (--max-rate per partition,"
                         " the PID rate under --backpressure) and keeps them in --checkpoint, the executors read"
                         " them. save-to-db and save-to-kafka write from the executors, one connection or producer"
                         " per executor process; a database's bookkeeping is per (job, output, partition), so a"
                         " retried task or a recomputed batch writes nothing twice; SQLite needs a local master."
                         " Spark's JVM runs in its own session: a signal to dstream's whole process group stops the"
                         " run gracefully. An unreachable spark:// master is one line, exit 1. Options with no Spark"
                         " counterpart (--workers, --on-error skip, --glob, --header) exit 2 naming them."
                         " Executors use this Python (PYSPARK_PYTHON); --import modules that are files in the current"
                         " directory are shipped to them."),
        ".SH THE RUN'S PAGE", esc("--ui [HOST:]PORT serves, while the run lives, the run's page at http://HOST:PORT/ (as"
                                  " Spark's Streaming tab: input rate, scheduling delay, processing time and total"
                                  " delay as timelines and histograms, recent batches, inputs, outputs, checkpoint"
                                  " age, watermark and late records; self-contained, updated without a reload),"
                                  " /healthz, and /metrics in Prometheus' text format (dstream_batches_total,"
                                  " dstream_records_total{input}, dstream_processing_seconds and the delay"
                                  " histograms, dstream_backlog_records{input}, dstream_late_records_total,"
                                  " dstream_output_failures_total{output}, dstream_checkpoint_age_seconds, ...)."
                                  " HOST defaults to 127.0.0.1; GET and HEAD only; a port in use is exit 1."),
        ".SH FILES", esc("With --checkpoint DIR, DIR/checkpoint-TIME.json holds the state at TIME, written every"
                         " --checkpoint-interval and after the last batch; update-state is saved as the keys changed"
                         " since the previous checkpoint, every tenth whole; the newest two are kept with the files"
                         " they build on (format in README.md)."),
        ".SH SHELL COMPLETION",
        esc("Stages, options and their choices complete with Tab once the shell is told (click's completion):"),
        ".TP", "bash (~/.bashrc)", esc('eval "$(_DSTREAM_COMPLETE=bash_source dstream)"'),
        ".TP", "zsh (~/.zshrc)", esc('eval "$(_DSTREAM_COMPLETE=zsh_source dstream)"'),
        ".TP", "fish (~/.config/fish/completions/dstream.fish)", esc("_DSTREAM_COMPLETE=fish_source dstream | source"),
        ".SH EXIT STATUS",
        ".TP", "0", "Success, including a reader of stdout that went away (dstream ... | head).",
        ".TP", "1", esc("A runtime failure: a bad record under --on-error fail, an output that kept failing."),
        ".TP", "2", esc("A usage error: bad option, bad expression, window not a multiple of the batch interval,"
                        " checkpoint of another chain."),
        ".TP", "130", "Interrupted twice (a first SIGINT or SIGTERM stops gracefully).",
        ".SH EXAMPLES",
        ".nf", esc("nc -lk 9999 | dstream --batch 2s flat-map 'x.split()' map '(x, 1)' \\\n"
                   "    reduce-by-key-and-window sum 30s 10s --inverse 'a - b' print"),
        esc("printf 'a b\\n\\nb c\\n' | dstream --queue - flat-map 'x.split()' count-by-value emit"),
        esc("zcat access.log.gz | dstream --event-time \"x.partition('[')[2].partition(']')[0]\" \\\n"
            "    --time-format '%d/%b/%Y:%H:%M:%S %z' --batch 1m --allowed-lateness 30s \\\n"
            "    map '(x.split()[8], 1)' reduce-by-key-and-window sum 5m 1m --inverse 'a - b' \\\n"
            "    save-as-text-files out/status"),
        ".fi",
        ".SH SEE ALSO", "The Spark Streaming Programming Guide; README.md of dstream.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        with open(MAN, encoding="utf-8") as handle:
            sys.exit(0 if handle.read() == text else 1)
    os.makedirs(os.path.dirname(MAN), exist_ok=True)
    with open(MAN, "w", encoding="utf-8") as handle:
        handle.write(text)
