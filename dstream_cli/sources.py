"""The inputs the command line names, each a (kind, target), made on a StreamingContext, and the reading of
--event-time: used by the local run and by the Spark engine, whose event time cuts batches on the driver."""
from __future__ import annotations

import sys

from .errors import UsageError
from .receivers.base import load_receiver


def input_stream(context, name: str, kind: str, target, options: dict):
    """The input *name* of *kind* (stdin, queue, file, tcp, listen, dir, receiver, kafka, zmq) on *context*, with the
    command line's *options* (``fmt`` and the receivers' settings)."""
    fmt = options["fmt"]
    if kind == "stdin":
        return context.text_stream(getattr(sys.stdin, "buffer", sys.stdin), name, fmt)
    if kind == "queue":
        stream = getattr(sys.stdin, "buffer", sys.stdin) if target == "-" else open(target, "rb")  # noqa: SIM115
        return context.queue_file_stream(stream, name, fmt)
    if kind == "file":
        return context.text_file_stream_once(target, name, fmt)
    if kind == "tcp":
        return context.socket_text_stream(*target, name=name, fmt=fmt)
    if kind == "listen":
        return context.listen_text_stream(*target, name=name, fmt=fmt, ack=options["ack"],
                                          max_connections=options["max_connections"],
                                          client_timeout=f"{options['client_timeout']}ms")
    if kind == "dir":
        return context.text_file_stream(target, name=name, fmt=fmt, pattern=options.get("glob_"),
                                        new_files_only=not options.get("watch_existing"))
    if kind == "receiver":
        return context.receiver_stream(load_receiver(target), name, fmt)
    if kind == "kafka":
        return context.kafka_stream(target, name, fmt)
    if kind == "zmq":
        return context.zmq_stream(target, name, fmt)
    raise UsageError(f"input {name}: unknown kind {kind}")


def event_time_of(options: dict, namespace):
    """--event-time and its options as an ``EventTime``, or None."""
    if options["event_time"] is None:
        return None
    from .eventtime import EventTime
    from .expr import compile_function

    return EventTime(compile_function(options["event_time"], ("x",), "--event-time", namespace),
                     unit=options["time_unit"], time_format=options["time_format"],
                     allowed_lateness_ms=options["allowed_lateness"] or 0, late=options["late"],
                     idle_timeout_ms=options["idle_timeout"])
