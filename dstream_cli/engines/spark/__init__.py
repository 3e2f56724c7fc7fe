"""``--engine spark``: the same StageSpecs run as PySpark DStream methods (``pip install 'dstream-cli[spark]'``).

Only this package imports pyspark, and only when the engine is chosen, so the local engine never pays for it.
"""
from __future__ import annotations

from ...errors import ExitStatus, UsageError

#: options of the local engine that Spark has no counterpart for: refused when given, never ignored
LOCAL_ONLY_OPTIONS = {
    "workers": "--workers", "ack": "--ack", "glob_": "--glob", "watch_existing": "--watch-existing",
    "dead_letter": "--dead-letter", "start_fresh": "--start-fresh", "max_backlog": "--max-backlog",
    "max_backlog_bytes": "--max-backlog-bytes", "header": "--header",
}
#: ... except where --event-time reads the inputs on the driver with the local engine
EVENT_TIME_OPTIONS = ("dead_letter", "max_backlog", "max_backlog_bytes")


def refuse_local_only(options: dict, explicit: set[str]) -> None:
    allowed = EVENT_TIME_OPTIONS if options["event_time"] is not None else ()
    given = [flag for key, flag in LOCAL_ONLY_OPTIONS.items() if key in explicit and key not in allowed]
    if options["on_error"] == "skip":
        given.append("--on-error skip")
    if given:
        raise UsageError(f"{', '.join(given)}: no counterpart on --engine spark (Spark fails a job on a bad record, "
                         "manages its own receivers and cuts batches by arrival); leave it out or run with --engine local")


def run(specs, options: dict, explicit: set[str], inputs: dict[str, tuple[str, object]], main_input: str) -> ExitStatus:
    """Run *specs* on Spark. *inputs* maps each input's name to its (kind, target), as the CLI parsed them."""
    refuse_local_only(options, explicit)
    if options["checkpoint"] and options["event_time"] is not None:
        raise UsageError("--event-time on Spark hands its batches to Spark as queue streams, which Spark cannot "
                         "checkpoint: leave out --checkpoint, or resume replays with --engine local")
    if options["wal"] and not options["checkpoint"]:
        raise UsageError("--wal needs --checkpoint DIR: Spark keeps its receivers' write-ahead log there")
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise UsageError("--engine spark needs pyspark: pip install 'dstream-cli[spark]' (and Java 17 or newer)") from None
    from .runner import SparkRun

    return SparkRun(specs, options, inputs, main_input).run()
