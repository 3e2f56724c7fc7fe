"""StreamingContext: where a DStream graph is built and run (Spark's ``StreamingContext``).

>>> from dstream_cli import StreamingContext
>>> ssc = StreamingContext(1)
>>> seen = []
>>> ssc.queue_stream([["a b", "a"], []]).flat_map(str.split).count_by_value().foreach_batch(seen.append)
>>> ssc.run()
>>> seen
[[('a', 2), ('b', 1)], []]
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import os
import sys
import threading
from typing import Callable, Iterable

from .duration import parse_duration, require_multiple
from .errors import ExitStatus, UsageError
from .graph import DStreamGraph
from .inputs import QueueInputDStream, ReceiverInputDStream, queue_file_batches
from .listener import ReceiverInfo
from .partitions import Partitioning
from .receivers.base import Receiver, ReceiverSupervisor
from .receivers.blocks import DEFAULT_MAX_BACKLOG, DEFAULT_MAX_BACKLOG_BYTES, Block
from .receivers.lines import DEFAULT_MAX_LINE_BYTES
from .record_errors import RecordErrors
from .scheduler.jobs import JobScheduler, RunOptions
from .scheduler.rate import RateLimiter

#: Spark checkpoints a stateful stream every batch interval rounded up to at least this
MIN_CHECKPOINT_INTERVAL_MS = 10_000


def default_checkpoint_interval(batch_ms: int) -> int:
    return batch_ms * -(-MIN_CHECKPOINT_INTERVAL_MS // batch_ms)


class StreamingContext:
    """Build inputs and a chain of DStreams on it, then ``run()`` (or ``start()`` and ``await_termination()``).

    *batch_interval* is a duration: seconds as a number, or text such as ``"250ms"``.
    When every input is a queue (``queue_stream``), time is simulated and batches run back to back.
    With *event_time* (an ``eventtime.EventTime``) records go to the batches of their own times, and batches
    run as soon as the watermark passes them.
    *checkpoint* is a directory for state and progress; with it, *wal* logs what non-replayable inputs
    receive so a crash loses none of it. *max_backlog* and *max_backlog_bytes* cap the records and text an
    input holds between batches.
    Checkpoints that are all unreadable are refused (exit 1) unless *start_fresh*. They are written every
    *checkpoint_interval* (a duration, a multiple of the batch interval; by default, as Spark, the batch
    interval rounded up to at least 10 s) and after the last batch; a restart recomputes the batches since.
    *partitions* is how many partitions an input's batch has for ``glom`` and ``map_partitions`` (results
    of every other operator are the same for any number).
    A context whose inputs are all queues ends when they are empty, at once on a simulated clock; with
    *until_stopped* it runs on the system clock until ``stop()``, giving empty batches once the queues are
    empty, as Spark does (for tests ported from PySpark that start, sleep and stop).
    With *header*, a text input read as ``csv`` or ``tsv`` takes its first line as the names of its columns and
    gives each later line as a dict of them (a file of a watched directory repeats the header, and gives no row
    for it).
    """

    #: the context that was started and has not stopped yet (Spark's ``getActive``)
    _active: "StreamingContext | None" = None
    _active_lock = threading.Lock()

    def __init__(self, batch_interval=1, *, checkpoint: str | None = None, on_error: str = "fail",
                 dead_letter: str | None = None, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                 wal: bool = False, max_backlog: int | None = DEFAULT_MAX_BACKLOG, stdout=None,
                 stderr=None, start_fresh: bool = False,
                 max_backlog_bytes: int | None = DEFAULT_MAX_BACKLOG_BYTES, checkpoint_interval=None,
                 event_time=None, partitions: int = 1, until_stopped: bool = False, header: bool = False) -> None:
        self.batch_ms = parse_duration(batch_interval)
        self.checkpoint_interval_ms = default_checkpoint_interval(self.batch_ms)
        if checkpoint_interval is not None:
            self.checkpoint_interval_ms = parse_duration(checkpoint_interval)
            require_multiple("--checkpoint-interval", self.checkpoint_interval_ms, "--batch", self.batch_ms)
        self.zero_ms = 0
        self.partitions = Partitioning(partitions).count  # checked as every partition count is
        self.until_stopped = until_stopped
        self.remember_ms: int | None = None  # remember(): every output's history is kept at least this long
        self.streaming_listeners: list = []
        # --event-time: an eventtime.EventTime; every input's records then go to the batches of their own times
        self.event_time = event_time
        self.stream_id: str | None = None  # set when the run starts; kept in checkpoints
        self.graph = DStreamGraph()
        self.record_errors = RecordErrors(on_error, dead_letter)
        self.max_line_bytes = max_line_bytes
        self.header = header  # with fmt csv or tsv, the first line of each text input names its columns
        self.max_backlog = max_backlog
        self.max_backlog_bytes = max_backlog_bytes
        self._stdout, self._stderr = stdout, stderr
        self.checkpoint_dir = None
        self.checkpoints = None
        if wal and not checkpoint:
            raise UsageError("--wal needs --checkpoint DIR: the write-ahead log is kept there")
        self.wal = wal
        self._start_fresh = start_fresh
        self.rate_limiter = RateLimiter()
        self.clock = None
        self.state_streams: list = []
        self._label: str | None = None
        self._scheduler: JobScheduler | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._attention = threading.Event()  # the run ended, or a failure was reported: await_termination returns
        self._stop_asked = False
        if checkpoint:
            self.checkpoint(checkpoint)

    # --- where output goes: looked up at write time, so a swapped sys.stdout is honoured ---
    def stdout(self):
        return self._stdout or sys.stdout

    def stderr(self):
        return self._stderr or sys.stderr

    # --- naming what the builder creates, for messages and checkpoints ----------------------
    @contextlib.contextmanager
    def stage(self, label: str):
        """Nodes created inside are named *label* (the CLI passes "stage 3 (map 'x * 2')")."""
        previous, self._label = self._label, label
        try:
            yield
        finally:
            self._label = previous

    def naming_label(self, default: str) -> str:
        return self._label or default

    # --- set-up, as Spark's StreamingContext -----------------------------------------------
    def checkpoint(self, directory: str) -> None:
        """Keep state and progress in *directory* (before the context starts)."""
        if self._scheduler is not None:
            raise UsageError("checkpoint(): set the directory before the context starts")
        from .checkpoint import CheckpointStore

        if self.checkpoints is not None:
            self.checkpoints.close()
        self.checkpoint_dir = directory
        self.checkpoints = CheckpointStore(directory, self.stderr(), self._start_fresh)

    def ask_checkpoint_interval(self, interval_ms: int) -> None:
        """A stream asked to be checkpointed at least every *interval_ms* (``DStream.checkpoint``)."""
        require_multiple("checkpoint interval", interval_ms, "--batch", self.batch_ms)
        self.checkpoint_interval_ms = min(self.checkpoint_interval_ms, interval_ms)

    def remember(self, duration) -> None:
        """Keep every output's batches at least *duration*, for queries of past batches (Spark's ``remember``)."""
        self.remember_ms = parse_duration(duration)

    def add_streaming_listener(self, listener) -> None:
        """Call *listener*'s ``on_...`` methods on each event (``listener.StreamingListener``)."""
        self.streaming_listeners.append(listener)

    def transform(self, streams: list, func: Callable):
        """``func(batches)`` (or ``func(time_ms, batches)``) over several streams' batches of each time."""
        from .ops.transformed import TransformedManyDStream

        return TransformedManyDStream(list(streams), func, self.naming_label("transform"))

    def union(self, *streams):
        """One stream of every record of *streams* (the same slide), in the order given."""
        if not streams:
            raise UsageError("union(): give at least one stream")
        return functools.reduce(lambda left, right: left.union(right), streams)

    @classmethod
    def get_active(cls) -> "StreamingContext | None":
        """The context started and not yet stopped, if any."""
        return cls._active

    @classmethod
    def get_active_or_create(cls, setup: Callable[[], "StreamingContext"]) -> "StreamingContext":
        """The active context, or the one ``setup()`` builds."""
        return cls._active or setup()

    @classmethod
    def get_or_create(cls, checkpoint_dir: str, setup: Callable[[], "StreamingContext"]) -> "StreamingContext":
        """The context ``setup()`` builds, resuming from *checkpoint_dir* when it holds a checkpoint.

        Spark saves the graph itself (pickled functions and all) and calls *setup* only the first time;
        dstream saves the graph's state, so *setup* builds the same chain every time, and the checkpoint's
        state is restored into it when the run starts (a different chain is refused)."""
        context = setup()
        if not isinstance(context, StreamingContext):
            raise UsageError(f"get_or_create(): setup() gave {type(context).__name__}, not a StreamingContext")
        if context.checkpoint_dir != checkpoint_dir:
            context.checkpoint(checkpoint_dir)
        return context

    # --- inputs ------------------------------------------------------------------------------
    def queue_stream(self, batches: Iterable[list], one_at_a_time: bool = True, default=None,
                     name: str = "queue", partitions: int | None = None):
        """Spark's ``queueStream``: each list is one batch, in order (or, not *one_at_a_time*, all of them in
        the first); then *default* every batch if given, else empty batches. *partitions*: how ``glom`` and
        ``map_partitions`` slice each batch (default: the context's)."""
        batches = [list(batch) for batch in batches]
        if not one_at_a_time:
            batches = [[record for batch in batches for record in batch]]
        blocks = (Block(batch, [], None) for batch in batches)
        if default is not None:
            blocks = itertools.chain(blocks, (Block(list(default), [], None) for _ in itertools.count()))
        stream = QueueInputDStream(self, name, blocks, fmt=None, endless=default is not None)
        if partitions is not None:
            stream.partitioning = Partitioning(partitions)
        return stream.formatted()

    def queue_file_stream(self, stream, name: str = "queue", fmt: str = "text"):
        """Batches from a text stream in the ``--queue`` file layout (an empty line ends a batch)."""
        batches = queue_file_batches(stream, self.max_line_bytes, quoted=fmt == "csv")
        return QueueInputDStream(self, name, batches, fmt).formatted()

    def text_stream(self, stream, name: str = "stdin", fmt: str = "text"):
        """Lines of an open file or pipe (``sys.stdin``), read as they arrive, one record per line."""
        from .receivers.stream import LineStreamReceiver

        return self._receiver_input(name, LineStreamReceiver(stream, self.max_line_bytes), fmt)

    def text_file_stream_once(self, path: str, name: str | None = None, fmt: str = "text"):
        """Lines of one file (``file:PATH``), replayable: a checkpoint records how far it was read."""
        from .receivers.stream import FileReceiver

        return self._receiver_input(name or path, FileReceiver(path, self.max_line_bytes), fmt)

    def socket_text_stream(self, host: str, port: int, name: str = "socket", fmt: str = "text"):
        """Lines from a TCP server (Spark's ``socketTextStream``), reconnecting when it goes away."""
        from .receivers.socket import SocketReceiver

        receiver = SocketReceiver(host, port, self.max_line_bytes, self.stderr())
        return self._receiver_input(name, receiver, fmt)

    def listen_text_stream(self, host: str, port: int, name: str = "listen", fmt: str = "text",
                           max_connections: int = 64, ack: bool = False, client_timeout="5m"):
        """Lines from every producer that connects to HOST:PORT; *ack* (needs ``wal``) acknowledges durable lines;
        a producer that completes no line for *client_timeout* (a duration; None: never) is disconnected."""
        from .receivers.socket import ListenReceiver

        if ack and not self.wal:
            raise UsageError("--ack needs --wal: lines are acknowledged once they are in the write-ahead log")
        timeout_s = None if client_timeout is None else parse_duration(client_timeout) / 1000
        receiver = ListenReceiver(host, port, self.max_line_bytes, max_connections, ack, timeout_s)
        return self._receiver_input(name, receiver, fmt)

    def text_file_stream(self, directory: str, name: str | None = None, fmt: str = "text",
                         pattern: str | None = None, new_files_only: bool = True):
        """Each new file in *directory*, read once (Spark's ``textFileStream``)."""
        from .receivers.watch import DirectoryReceiver

        if "://" in directory:
            raise UsageError(f"input {name or directory}: {directory}: the local engine watches local directories; "
                             "a URL needs --engine spark")
        if not os.path.isdir(directory):
            raise UsageError(f"input {name or directory}: {directory} is not a directory (create it first)")
        receiver = DirectoryReceiver(directory, pattern, new_files_only, self.batch_ms, self.max_line_bytes,
                                     self.stderr())
        return self._receiver_input(name or directory, receiver, fmt)

    def binary_records_stream(self, directory: str, record_length: int, name: str | None = None):
        """Each new file in *directory* as records of *record_length* bytes (Spark's ``binaryRecordsStream``)."""
        from .receivers.watch import BinaryRecordsReceiver

        if not os.path.isdir(directory):
            raise UsageError(f"input {name or directory}: {directory} is not a directory (create it first)")
        receiver = BinaryRecordsReceiver(directory, record_length, stable_ms=self.batch_ms, stderr=self.stderr())
        return self._receiver_input(name or directory, receiver, None)

    def kafka_stream(self, uri: str, name: str = "kafka", fmt: str = "text"):
        """Spark's direct Kafka stream: ``kafka://HOST:PORT[,...]/TOPIC[,...]?group=G&start=earliest|latest``
        (``records=json`` gives key, value, topic, partition, offset and timestamp as a JSON line; other
        query keys go to the client). Needs ``pip install 'dstream-cli[kafka]'``."""
        from .kafka.direct import DirectKafkaInputDStream, parse_kafka_uri

        if self.header and fmt in ("csv", "tsv"):
            raise UsageError(f"--header takes the first line of a text input as its header; the messages of a Kafka "
                             f"input ({name}) have none")
        return DirectKafkaInputDStream(self, name, parse_kafka_uri(uri, name), fmt).formatted()

    def zmq_stream(self, uri: str, name: str = "zmq", fmt: str = "text"):
        """Messages from ZeroMQ, each one record: ``zmq://HOST:PORT?socket=sub|pull&topic=PREFIX&bind=1``
        (``receivers/zeromq.py`` says which frame and what is stripped). Needs ``pip install 'dstream-cli[zmq]'``."""
        from .receivers.zeromq import ZmqReceiver, parse_zmq_uri

        return self._receiver_input(name, ZmqReceiver(parse_zmq_uri(uri, name)), fmt)

    def receiver_stream(self, receiver: Receiver, name: str | None = None, fmt: str | None = None):
        """Records stored by a custom Receiver (Spark's ``receiverStream``)."""
        return self._receiver_input(name or type(receiver).__name__, receiver, fmt)

    def _receiver_input(self, name: str, receiver: Receiver, fmt: str | None):
        return ReceiverInputDStream(self, name, receiver, fmt).formatted()

    def write_ahead_log(self, input_name: str):
        """The log of a non-replayable input under ``wal=True``; None without it."""
        if not self.wal:
            return None
        from .wal import WriteAheadLog

        return WriteAheadLog(self.checkpoint_dir, input_name, self.stderr())

    def make_supervisor(self, receiver: Receiver, name: str, buffer) -> ReceiverSupervisor:
        scheduler = self._scheduler
        wake = scheduler.wake.set if scheduler is not None else None
        stream_id = next((index for index, stream in enumerate(self.graph.inputs) if stream.name == name), 0)

        def post(event: str, active: bool, error: str | None = None) -> None:
            if scheduler is not None:
                scheduler.listeners.post(event, ReceiverInfo(stream_id, name, active, error))

        return ReceiverSupervisor(receiver, name, buffer, self.clock.now_ms, self.rate_limiter, self.stderr(), wake,
                                  post)

    # --- state bookkeeping -------------------------------------------------------------------
    def note_state(self, stream) -> None:
        self.state_streams.append(stream)

    def keys_in_state(self) -> int:
        return sum(len(stream.state) for stream in self.state_streams)

    def warn_state_without_checkpoint(self) -> None:
        if self.state_streams and not self.checkpoints:
            print("dstream: note: update-state keeps its state in memory only; use --checkpoint DIR "
                  "for it to survive a restart", file=self.stderr(), flush=True)

    # --- running -----------------------------------------------------------------------------
    def run(self, options: RunOptions | None = None) -> ExitStatus:
        """Run in this thread until the input ends or a stop is asked for."""
        self._become_active()
        restore_signals = None
        try:
            self._scheduler = JobScheduler(self, options or RunOptions())
            if self._stop_asked:
                self._scheduler.request_stop()
            if options and options.max_rate:
                self.rate_limiter.set_rate(options.max_rate)
            if options and options.backpressure:
                self.rate_limiter.set_rate(options.max_rate or options.initial_rate)
            restore_signals = self._scheduler.install_signal_handlers()
            return self._scheduler.run()
        finally:
            if restore_signals is not None:
                restore_signals()
            self.close()
            with StreamingContext._active_lock:
                if StreamingContext._active is self:
                    StreamingContext._active = None
            self._finished()

    def _finished(self) -> None:
        self._done.set()
        self._attention.set()

    def report_error(self, error: BaseException) -> None:
        """A job failed and the run goes on (``RunOptions.report_failed_jobs``): ``await_termination`` raises
        *error* from now on, as Spark's does once a job has failed."""
        self._error = error
        self._attention.set()

    def _become_active(self) -> None:
        with StreamingContext._active_lock:
            if StreamingContext._active not in (None, self):
                raise UsageError("another StreamingContext is running in this process; stop it first")
            StreamingContext._active = self

    def close(self) -> None:
        """Release the checkpoint directory (done by ``run`` at its end; for a context that never ran)."""
        if self.checkpoints is not None:
            self.checkpoints.close()

    def start(self, options: RunOptions | None = None) -> None:
        """Start running on a background thread (Spark's non-blocking ``start``)."""
        self.graph.validate()
        if self._thread is not None:
            raise UsageError("this StreamingContext has already been started")

        def target():
            try:
                self.run(options)
            except BaseException as exc:  # noqa: BLE001 - handed to await_termination
                self._error = exc
                self._finished()

        self._become_active()  # at once, so that get_active() sees it as soon as start() returns
        self._thread = threading.Thread(target=target, name="dstream-scheduler", daemon=True)
        self._thread.start()

    def await_termination(self, timeout: float | None = None) -> bool:
        """Wait for the end; re-raise what stopped it (or a failed job reported). False if *timeout* passed first."""
        self._attention.wait(timeout)
        if self._error is not None:
            raise self._error
        return self._done.is_set()

    def wait_until_stopped(self) -> None:
        """Wait for the end, whatever failed on the way (a stop that has been asked for)."""
        self._done.wait()

    def stop(self, graceful: bool = True) -> None:
        """Ask the running context to stop; graceful finishes what was received first."""
        self._stop_asked = True  # seen by a run that has not made its scheduler yet
        if self._scheduler is not None:
            self._scheduler.request_stop()
        if not graceful and self._scheduler is not None:
            for stream in self._scheduler.inputs:
                stream.stop()
