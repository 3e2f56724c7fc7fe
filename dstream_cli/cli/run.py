"""From parsed options and stage specs to a running StreamingContext: inputs, graph, run options."""
from __future__ import annotations

import functools
import sys

from ..chain import ChainBuilder, StageSpec
from ..context import StreamingContext
from ..errors import ExitStatus, UsageError
from ..expr import Namespace
from ..scheduler.jobs import RunOptions
from ..sources import event_time_of, input_stream


def _main_input(options: dict) -> tuple[str, str, object]:
    """(name, kind, target) of the main input; stdin when no main-input option is given."""
    chosen = [(kind, options[key]) for key, kind in
              (("queue", "queue"), ("socket_", "tcp"), ("listen", "listen"), ("watch", "dir"), ("receiver", "receiver"))
              if options.get(key) is not None]
    if len(chosen) > 1:
        raise UsageError(f"choose one main input, not {' and '.join('--' + kind for kind, _ in chosen)}")
    if not chosen:
        return "stdin", "stdin", None
    kind, target = chosen[0]
    names = {"queue": "stdin" if target == "-" else str(target), "tcp": "socket", "listen": "listen",
             "dir": str(target), "receiver": str(target)}
    return names[kind], kind, target


def _inputs(options: dict) -> tuple[str, dict[str, tuple[str, object]]]:
    """The main input's name, and every input's (kind, target) by name."""
    main_name, main_kind, main_target = _main_input(options)
    inputs = {main_name: (main_kind, main_target)}
    for name, kind, target in options["inputs"]:
        if name in inputs:
            raise UsageError(f"-i {name}: the name {name!r} is used twice")
        inputs[name] = (kind, target)
    return main_name, inputs


def run(specs: list[StageSpec], options: dict, explicit: frozenset[str] = frozenset()) -> ExitStatus:
    """Run the chain; *explicit* names the options the user gave (the rest are defaults)."""
    if options["dead_letter"] and options["on_error"] != "skip" and options["event_time"] is None:
        raise UsageError("--dead-letter needs --on-error skip (or --event-time, for late records)")
    if options["ack"] and not options["wal"]:
        raise UsageError("--ack needs --wal: lines are acknowledged once they are in the write-ahead log")
    if options["ui"]:
        from ..ui import parse_ui_address

        parse_ui_address(options["ui"])  # a usage error before anything starts
    if options["header"] and options["fmt"] not in ("csv", "tsv"):
        raise UsageError(f"--header names the columns of --format csv or tsv input, not --format {options['fmt']}")
    main_name, inputs = _inputs(options)
    if options["engine"] == "spark":
        from ..engines import spark

        return spark.run(specs, options, explicit, inputs, main_name)
    namespace = Namespace(options["imports"])
    context = StreamingContext(
        f"{options['batch']}ms", checkpoint=options["checkpoint"], on_error=options["on_error"],
        dead_letter=options["dead_letter"], max_line_bytes=options["max_line_bytes"], wal=options["wal"],
        max_backlog=options["max_backlog"], start_fresh=options["start_fresh"],
        max_backlog_bytes=options["max_backlog_bytes"],
        checkpoint_interval=None if options["checkpoint_interval"] is None else f"{options['checkpoint_interval']}ms",
        event_time=event_time_of(options, namespace), header=options["header"],
    )
    workers = None
    ui = None
    try:
        factories = {name: functools.partial(input_stream, context, name, kind, target, options)
                     for name, (kind, target) in inputs.items()}
        kinds = {name: kind for name, (kind, _) in inputs.items()}
        ChainBuilder(context, factories, main_name, namespace).build(specs)
        if options["workers"] > 1:
            from ..workers import WorkerPool

            recipe = {"specs": [(spec.name, spec.args) for spec in specs], "inputs": list(factories),
                      # with --header, records reach the workers parsed
                      "main_input": main_name, "fmt": "text" if options["header"] else options["fmt"],
                      "imports": list(options["imports"]),
                      "batch_ms": options["batch"]}
            workers = WorkerPool(options["workers"], recipe, sys.stderr)
            workers.attach(context.graph, {name for name, kind in kinds.items() if kind != "receiver"})
        used = [stream.name for stream in context.graph.used_inputs()]
        if any(kinds[n] == "queue" for n in used) and not all(kinds[n] == "queue" for n in used):
            raise UsageError(f"if any input is queue:, all must be (inputs here: "
                             f"{', '.join(f'{n} ({kinds[n]})' for n in used)})")
        progress = options["progress"]
        if progress is None:
            progress = sys.stderr.isatty()
        if options["ui"]:
            from ..ui import serve_run_page

            ui = serve_run_page(options["ui"], "local", options["batch"], options["checkpoint"])
            context.add_streaming_listener(ui.state)
        run_options = RunOptions(
            batches=options["batches"], run_for_ms=options["run_for"], stop_file=options["stop_file"],
            metrics_path=options["metrics"], progress=progress, max_rate=options["max_rate"],
            backpressure=options["backpressure"], initial_rate=options["initial_rate"],
            output_retries=options["output_retries"], start_time_ms=options["start_time"],
        )
        return context.run(run_options)
    finally:
        context.close()
        if workers is not None:
            workers.close()
        if ui is not None:
            ui.close()
