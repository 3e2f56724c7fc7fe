"""The chained click group: global options, then stages; the result callback builds and runs the graph."""
from __future__ import annotations

import os
import sys

import click

from .. import __version__
from ..errors import DstreamError
from ..formats import INPUT_FORMATS
from ..receivers.blocks import DEFAULT_MAX_BACKLOG, DEFAULT_MAX_BACKLOG_BYTES
from ..receivers.lines import DEFAULT_MAX_LINE_BYTES
from .params import Duration, HostPort, InputURI, KeyValue, Rate, WatchedDirectory
from .stages import STAGES

DURATION = Duration()


def _start_time(value: str) -> int:
    """--start-time: epoch milliseconds, or an ISO date and time (local time unless it says otherwise)."""
    import datetime

    if value.lstrip("-").isdigit():
        ms = int(value)
    else:
        try:
            ms = int(datetime.datetime.fromisoformat(value).timestamp() * 1000)
        except ValueError:
            raise click.BadParameter(
                f"{value!r} is neither milliseconds nor an ISO date (2026-11-24T09:00:00)") from None
    try:
        datetime.datetime.fromtimestamp(ms / 1000 + 86400 * 366)  # batch times follow it: leave them room
    except (OverflowError, OSError, ValueError):
        raise click.BadParameter(f"{value!r} is out of range: batch times must be dates between the years 1 and 9999"
                                 " (example: 2026-11-24T09:00:00)") from None
    return ms


@click.group(
    name="dstream", chain=True, invoke_without_command=True, no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Each stage has its own --help, e.g. 'dstream reduce-by-key-and-window --help'. See man dstream.",
)
@click.version_option(__version__, prog_name="dstream", message="%(prog)s %(version)s")
@click.option("-b", "--batch", type=DURATION, default="1s", show_default=True, help="Batch interval.")
@click.option("--socket", "socket_", type=HostPort(), metavar="HOST:PORT",
              help="Main input: lines from a TCP server (reconnects).")
@click.option("--listen", type=HostPort("127.0.0.1"), metavar="[HOST:]PORT",
              help="Main input: lines from every TCP client that connects.")
@click.option("--max-connections", type=click.IntRange(min=1), default=64, show_default=True,
              help="With --listen: producers connected at once; more wait.")
@click.option("--client-timeout", type=DURATION, default="5m", show_default=True, metavar="DURATION",
              help="With --listen: close a connection that completes no line for this long (idle or trickling).")
@click.option("--watch", type=WatchedDirectory(), metavar="DIR",
              help="Main input: new files in DIR (with --engine spark also an hdfs://, s3a:// or file:// URL).")
@click.option("--glob", "glob_", metavar="PATTERN", help="With --watch: only file names matching PATTERN.")
@click.option("--watch-existing", is_flag=True, help="With --watch: also read the files already there.")
@click.option("--queue", type=click.Path(exists=True, dir_okay=False, allow_dash=True), metavar="FILE",
              help="Main input, deterministic: batches separated by empty lines; simulated clock.")
@click.option("--receiver", metavar="MODULE:CLASS", help="Main input: a custom Receiver class.")
@click.option("-i", "--input", "inputs", type=InputURI(), multiple=True, metavar="NAME=URI",
              help="A named input (stdin, tcp://, listen://, dir:, file:, queue:, receiver:, kafka://, zmq://); "
                   "repeatable.")
@click.option("--format", "fmt", type=click.Choice(INPUT_FORMATS), default="text", show_default=True,
              help="How input lines become records.")
@click.option("--header", is_flag=True,
              help="With --format csv or tsv: the first line of each input names the columns, and each later line "
                   "is a dict of them (a file of a --watch directory starts with the same header).")
@click.option("--start-time", default="0", metavar="MS|ISO", callback=lambda ctx, param, value: _start_time(value),
              help="Queue mode: the stream's zero time; batch i is at (i+1) * --batch after it.")
@click.option("--checkpoint", type=click.Path(file_okay=False), metavar="DIR",
              help="Save state, windows and progress there; resume from it on start.")
@click.option("--checkpoint-interval", type=DURATION, metavar="DURATION",
              help="With --checkpoint: how often to save (a multiple of --batch; default: --batch rounded up to "
                   "at least 10s, as Spark); a restart recomputes the batches since the last save.")
@click.option("--start-fresh", is_flag=True,
              help="With --checkpoint: start from nothing when no checkpoint there can be read (they are left in "
                   "place); without it such a directory is refused.")
@click.option("--wal", is_flag=True,
              help="With --checkpoint: log what stdin, sockets and receivers deliver before processing it, "
                   "so a crash loses none of it.")
@click.option("--ack", is_flag=True, help="With --listen and --wal: write 'ack N' back once N lines are logged.")
@click.option("--stop-file", type=click.Path(dir_okay=False), metavar="PATH", help="Stop gracefully when PATH appears.")
@click.option("--max-rate", type=Rate(), metavar="N",
              help="At most N records per second per input.")
@click.option("--backpressure", is_flag=True, help="Adapt the receiving rate to the processing rate (PID).")
@click.option("--initial-rate", type=Rate(), metavar="N",
              help="With --backpressure: the rate before the first estimate.")
@click.option("--batches", type=click.IntRange(min=1), metavar="N", help="Stop after N batches.")
@click.option("--run-for", type=DURATION, metavar="DURATION", help="Stop gracefully after DURATION.")
@click.option("--progress/--no-progress", default=None,
              help="Live batch statistics on stderr (default: if a terminal).")
@click.option("--metrics", type=click.Path(dir_okay=False), metavar="FILE", help="One JSON line per batch.")
@click.option("--ui", metavar="[HOST:]PORT",
              help="Serve the run's page (rates, delays, batches, inputs, outputs; live) at http://HOST:PORT/, "
                   "Prometheus metrics at /metrics and /healthz, while the run lives; HOST defaults to 127.0.0.1, "
                   "port 0 lets the system choose (the address is said on stderr).")
@click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail", show_default=True,
              help="What a bad record does: stop with exit 1, or be counted and skipped.")
@click.option("--dead-letter", type=click.Path(dir_okay=False), metavar="FILE",
              help="With --on-error skip: append each skipped record here as JSON.")
@click.option("--max-line-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_LINE_BYTES, show_default=True,
              help="A longer input line is a bad record.")
@click.option("--max-backlog", type=click.IntRange(min=1), default=DEFAULT_MAX_BACKLOG, show_default=True, metavar="N",
              help="Records an input may hold waiting for a batch; beyond that it stops reading.")
@click.option("--max-backlog-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_BACKLOG_BYTES, show_default=True,
              metavar="N", help="Bytes of text an input may hold waiting for a batch (by --event-time, 4 MiB at "
                   "most); beyond that it stops reading.")
@click.option("--output-retries", type=click.IntRange(min=0), default=3, show_default=True,
              help="Retries of an output that fails (a file, a command, a lost database connection), with a "
                   "backoff from 0.1s doubling up to 30s.")
@click.option("--import", "imports", multiple=True, metavar="MODULE", help="Make MODULE available to expressions.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
              help="Run the map side of big batches (up to the first reduction, combined per part) in N processes; "
                   "results are the same as with one.")
@click.option("--event-time", metavar="EXPR",
              help="Cut batches by each record's own time: EXPR of x (the parsed record) gives epoch seconds "
                   "(--time-unit ms: milliseconds), a datetime, or an ISO 8601 text.")
@click.option("--time-unit", type=click.Choice(["s", "ms"]), default="s", show_default=True,
              help="With --event-time: the unit of a numeric time.")
@click.option("--time-format", metavar="STRFTIME",
              help="With --event-time: the strptime format of a text time (e.g. '%d/%b/%Y:%H:%M:%S %z').")
@click.option("--allowed-lateness", type=DURATION, metavar="DURATION",
              help="With --event-time: how far behind the newest time a record may come and still count "
                   "(default: not at all).")
@click.option("--late", type=click.Choice(["dead-letter", "drop", "fail"]),
              help="With --event-time: what a record for a batch already computed does (default: to --dead-letter "
                   "if given, else counted and reported on stderr).")
@click.option("--idle-timeout", type=DURATION, metavar="DURATION",
              help="With --event-time: compute the open batches after this long with no new record (live input).")
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True,
              help="Where the chain runs: in this process (local), or on Apache Spark (needs dstream-cli[spark]).")
@click.option("--master", default="local[*]", show_default=True, metavar="URL",
              help="With --engine spark: the Spark master (local[N], spark://HOST:PORT, yarn, k8s://...).")
@click.option("--spark-conf", type=KeyValue(), multiple=True, metavar="KEY=VALUE",
              help="With --engine spark: a Spark configuration property; repeatable.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def app(**options):
    """Spark Streaming's DStream model as one command: cut input into batches, run a chain of stages on each.

    \b
    Example:
      nc -lk 9999 | dstream --batch 2s flat-map 'x.split()' map '(x, 1)' \\
          reduce-by-key-and-window sum 30s 10s --inverse 'a - b' print
    """
    # As for `python -m`: a module in the current directory can be named by --receiver, --import and
    # module:function (a console script's sys.path starts with its bin directory instead).
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, "")
    # Integers are data here: a record of 10**5000 is printed and emitted whole, not refused by str().
    sys.set_int_max_str_digits(0)


for _command in STAGES:
    app.add_command(_command)


@app.result_callback()
def run_chain(specs, **options):
    from click.core import ParameterSource

    from .run import run

    context = click.get_current_context()
    given = frozenset(name for name in options
                      if context.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT))
    if options["engine"] == "local":
        for name, flag in (("master", "--master"), ("spark_conf", "--spark-conf")):
            if name in given:
                raise click.UsageError(f"{flag} needs --engine spark")
    if options["event_time"] is None:
        for name in ("time_unit", "time_format", "allowed_lateness", "late", "idle_timeout"):
            if name in given:
                raise click.UsageError(f"--{name.replace('_', '-')} needs --event-time")
    status = run(list(specs), options, given)
    click.get_current_context().exit(int(status))


class ReportedError(click.ClickException):
    """A library error shown as one line, with the exit status it stands for."""

    def __init__(self, error: DstreamError) -> None:
        super().__init__(str(error))
        self.exit_code = int(error.exit_status)

    def show(self, file=None) -> None:
        click.echo(f"dstream: {self.message}", file=file or sys.stderr)


def invoke_with_funnel(invoke):
    def wrapper(ctx: click.Context):
        try:
            return invoke(ctx)
        except DstreamError as error:
            if ctx.params.get("debug"):
                raise
            raise ReportedError(error) from None
        except BrokenPipeError:
            from ..fsio import silence_stdout

            silence_stdout()
            ctx.exit(0)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:  # noqa: BLE001 - a bug or an environment fault: one line, unless --debug
            if ctx.params.get("debug"):
                raise
            message = f"{type(error).__name__}: {error} (run with --debug for the traceback)"
            raise ReportedError(DstreamError(message)) from None

    return wrapper


app.invoke = invoke_with_funnel(app.invoke)
