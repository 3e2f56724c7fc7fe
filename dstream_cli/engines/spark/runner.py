"""Running the chain on Spark: the SparkContext, inputs, the clock, stopping, and Spark's batch figures.

Queue mode drives Spark's ``ManualClock`` from here one batch at a time, so batch times are the local
engine's and nothing sleeps; a batch is done when Spark's listener says so. Every other mode runs on
Spark's own clock until an input ends, the stop file appears, a signal or ``--batches``/``--run-for``
asks, and then stops gracefully: what was received is processed before the exit.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid

import orjson

from ...errors import DstreamError, ExitStatus, StageFailed, UsageError
from ...expr import Namespace
from ...formats import batch_parser
from ...fsio import write_atomically
from ...inputs import queue_file_batches
from ...kafka.direct import parse_kafka_uri
from ...listener import BatchInfo, OutputOperationInfo
from ...metrics import MetricsWriter
from ...scheduler.signals import install_stop_signals
from .builder import ParseLines, SparkChainBuilder, seconds
from .eventtime import EventTimeCutter, QueueFeeder
from .kafka import DECIDERS, KafkaRanges, kafka_batches
from .served import LineServer

MANUAL_CLOCK = "org.apache.spark.util.ManualClock"
SYSTEM_CLOCK = "org.apache.spark.util.SystemClock"
#: what dstream writes into a --checkpoint directory beside Spark's own files
CHAIN_FILE = "dstream-chain.json"
#: inputs read by a dstream receiver in the driver and served to Spark over TCP
SERVED_KINDS = ("stdin", "file", "listen", "receiver", "zmq")
#: how long the check of a standalone master waits for each of its addresses
MASTER_CONNECT_S = 10.0
#: how long a graceful stop waits for Spark to process what the served inputs sent it
SERVED_DRAIN_S = 60.0
#: errors only: a Unix tool does not print the JVM's start-up notices
QUIET_LOG4J = "file:" + os.path.join(os.path.dirname(os.path.abspath(__file__)), "log4j2-quiet.properties")

_PYTHON_ERROR = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Failed|Exit|Interrupt)): (.*)$")
_STAGE_FRAME = re.compile(r'File "<(stage \d+ \([^>]*\))>"')


def python_error(text: str) -> tuple[str | None, str]:
    """(stage label, "Error: message") of the first Python error in a Spark failure's text: the root cause
    raised in a worker, with the stage whose expression raised it (its pseudo-filename names it)."""
    stage = None
    for line in text.splitlines():
        frame = _STAGE_FRAME.search(line)
        if frame:
            stage = frame.group(1)
        match = _PYTHON_ERROR.match(line.strip())
        if match and not match.group(1).startswith(("py4j.", "java.", "org.", "scala.")):
            name = match.group(1)
            if name.startswith("dstream_cli."):
                return stage, match.group(2)
            return stage, f"{name.rsplit('.', 1)[-1]}: {match.group(2)}"
    lines = [line for line in text.splitlines() if line.strip()]
    return stage, lines[0] if lines else text


class _Naming:
    """What ChainBuilder asks of a context: a scope naming what it creates, and stderr for warnings."""

    def stage(self, label: str):
        return contextlib.nullcontext()

    def stderr(self):
        return sys.stderr


class BatchListener:
    """Spark's batch figures: the completed batch times, records per input, --metrics and the live view."""

    def __init__(self, batch_ms: int, metrics_path: str | None, progress: bool, queue_sizes: dict[int, int],
                 kafka: list, input_names: dict[int, str], output_labels: list[str], page=None) -> None:
        self.completed: set[int] = set()
        self.input_names = input_names  # Spark's input stream ids of the inputs it counts
        self.output_labels = output_labels  # by Spark's output operation id
        self.page = page  # --ui: the RunState the page shows
        self.last_received: int | None = None  # the last batch that had any record
        self.records_by_stream: dict[int, int] = {}
        self.queue_sizes = queue_sizes  # queue streams report no records to Spark: their sizes by batch time
        self.kafka = kafka  # nor do the Kafka inputs (their KafkaRanges), which also learn each batch's figures
        self.metrics = MetricsWriter(metrics_path) if metrics_path else None
        self.view = None
        if progress:
            from ...progress import ProgressView

            self.view = ProgressView(sys.stderr, batch_ms)

    def batch_completed(self, info) -> None:
        t = info.batchTime().milliseconds()
        inputs = info.streamIdToInputInfo()
        # one listener thread writes these; the run's loop only reads them
        for stream_id in inputs.keySet():
            self.records_by_stream[stream_id] = (self.records_by_stream.get(stream_id, 0)
                                                 + inputs.get(stream_id).numRecords())
        processing_ms, scheduling_delay_ms = max(info.processingDelay(), 0), max(info.schedulingDelay(), 0)
        for ranges in self.kafka:
            ranges.batch_completed(t, processing_ms, scheduling_delay_ms)
        records = info.numRecords() + self.queue_sizes.get(t, 0) + sum(r.records_at(t) for r in self.kafka)
        if records and (self.last_received is None or t > self.last_received):
            self.last_received = t
        self.completed.add(t)
        by_input = {self.input_names[i]: {"records": inputs.get(i).numRecords(), "backlog": None}
                    for i in inputs.keySet() if i in self.input_names}
        for ranges in self.kafka:
            by_input[ranges.name] = {"records": ranges.records_at(t), "backlog": None}
        figures = BatchInfo(
            inputs=by_input or None,
            batch_time=t, records_in=records, processing_ms=processing_ms, scheduling_delay_ms=scheduling_delay_ms,
            total_delay_ms=max(info.totalDelay(), 0), backlog=None, skipped=0, keys_in_state=None)
        if self.metrics:
            self.metrics.write(figures)
        if self.view:
            self.view.update(figures)
        if self.page:
            self.page.on_batch_completed(figures)

    def output_completed(self, info) -> None:
        """Spark's OutputOperationInfo (its Java form: times and failure are values or None), for the page."""
        if self.page is None or info.id() >= len(self.output_labels):
            return  # not the chain's: _report_every_batch's
        number, failure = info.id(), info.failureReason()
        self.page.on_output_operation_completed(OutputOperationInfo(
            batch_time=info.batchTime().milliseconds(), id=number,
            name=self.output_labels[number],
            start_ms=info.startTime() or 0, end_ms=info.endTime(),
            failure=failure.splitlines()[0] if failure else None))

    def close(self) -> None:
        if self.metrics:
            self.metrics.close()
        if self.view:
            self.view.close()


def last_time_reached(ssc, t: int, zero_ms: int) -> int:
    """The local engine's ``DStreamGraph.last_time_reached``, read from Spark's own graph: the last batch time at
    which an output can still see records received by *t* (each window on the way reaches one length further)."""
    from py4j.protocol import Py4JError

    def reached(node) -> int:
        parents = node.dependencies()
        latest = max((reached(parents.apply(i)) for i in range(parents.size())), default=t)
        try:
            window_ms = node.windowDuration().milliseconds()
        except Py4JError:  # not a window
            return latest
        slide_ms = node.slideDuration().milliseconds()
        return zero_ms + (latest + window_ms - 1 - zero_ms) // slide_ms * slide_ms

    outputs = ssc._jssc.ssc().graph().getOutputStreams()
    return max((reached(output) for output in outputs), default=t)


def _counted_only(rdd) -> None:
    """Nothing to do: computing the batch's RDD is what makes Spark count its records (see _report_every_batch)."""


def _spark_listener(listener: BatchListener):
    from pyspark.streaming.listener import StreamingListener

    class Forward(StreamingListener):
        def onBatchCompleted(self, batchCompleted):  # Spark's name
            listener.batch_completed(batchCompleted.batchInfo())

        def onOutputOperationCompleted(self, outputOperationCompleted):
            listener.output_completed(outputOperationCompleted.outputOperationInfo())

    return Forward()


def _require_reachable_master(master: str) -> None:
    """A standalone master nobody answers at is one line now: Spark itself retries for a minute, then fails the
    context with a message about a stopped SparkContext."""
    if not master.startswith("spark://"):
        return  # local, yarn, k8s...: Spark's own checks are prompt enough
    failures = []
    for address in master[len("spark://"):].split(","):
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=MASTER_CONNECT_S).close()
            return
        except (OSError, ValueError) as exc:
            failures.append(f"{address}: {getattr(exc, 'strerror', None) or exc}")
    raise DstreamError(f"--master {master}: no Spark master answers ({'; '.join(failures)})")


def _own_session_gateway(conf):
    """Spark's JVM in a session of its own: a signal to dstream's whole process group (``timeout``, ``kill --
    -PGID``, systemd's control-group stop) reaches dstream, which stops Spark gracefully, and not the JVM, which
    would die under the batches still running. The JVM still ends with dstream: it exits when its stdin closes."""
    from pyspark.java_gateway import launch_gateway

    return launch_gateway(conf, popen_kwargs={"start_new_session": True})


def _what_changed(saved, now: list) -> str:
    """What differs between two chain fingerprints (the chain's stages, then batch interval, format, inputs)."""
    if not isinstance(saved, list) or len(saved) < 3:
        return "another chain or batch interval"
    if saved[-1] != now[-1]:
        inputs = ", ".join(f"{name}={kind}:{target}" for name, kind, target in saved[-1])
        return f"a run with other inputs ({inputs})"
    if saved[-3] != now[-3]:
        return f"a run with another batch interval ({saved[-3]}ms)"
    if saved[-2] != now[-2]:
        return f"a run with another --format ({saved[-2]})"
    return "another chain"


class SparkRun:
    """One run of *specs* on Spark, with the CLI's *options*."""

    def __init__(self, specs, options: dict, inputs: dict[str, tuple[str, object]], main_input: str) -> None:
        self.specs = specs
        self.options = options
        self.inputs = inputs  # name -> (kind, target)
        self.main_input = main_input
        self.batch_ms = options["batch"]
        self.queue_mode = any(kind == "queue" for kind, _ in inputs.values())
        self.cutter: EventTimeCutter | None = None  # --event-time: the local engine cuts the batches on the driver
        self.feeder: QueueFeeder | None = None
        self.cut_deadline: float | None = None  # --run-for, for the event-time loop
        # Spark's ManualClock, advanced from here a batch at a time: for a queue, and for event time
        self.manual_clock = self.queue_mode or options["event_time"] is not None
        self.served: dict[str, LineServer] = {}
        self.kafka: dict[str, KafkaRanges] = {}
        self.queue_batches: dict[str, list[list]] = {}
        self.stream_ids: dict[str, int] = {}
        self.receiver_streams: list = []  # Spark's own receivers' streams, as created (before any parsing)
        self.output_slides_ms: list[int] = []
        self.output_labels: list[str] = []
        self.stop_requested = threading.Event()
        self.owns_context = False
        self.scratch_dir: str | None = None  # this run's own files: zipped code for executors, a checkpoint
        self.chain_file = None
        self.saved: dict = {}

    # --- the SparkContext ------------------------------------------------------------------
    def spark_context(self):
        import warnings

        from pyspark import SparkConf, SparkContext

        warnings.filterwarnings("ignore", message="DStream is deprecated", category=FutureWarning)
        # the sql stage's createDataFrame checks pandas when it is installed, and warns on a pandas PySpark has not
        # caught up with: nothing dstream does depends on it
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        # the executors' Python is this one (with dstream and orjson) unless the user says otherwise
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        sc = SparkContext._active_spark_context
        if sc is None:
            _require_reachable_master(self.options["master"])
            conf = SparkConf().setMaster(self.options["master"]).setAppName("dstream")
            conf.set("spark.ui.showConsoleProgress", "false")
            if not self.options["debug"]:  # Spark's start-up notices are not ours to print
                conf.set("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={QUIET_LOG4J}")
            for key, value in self.options["spark_conf"]:
                conf.set(key, value)
            sc = SparkContext(conf=conf, gateway=_own_session_gateway(conf))
            self.owns_context = True
            if self.options["debug"]:
                sc.setLogLevel("WARN")
            self._ship_code(sc)
        live = sc._jsc.sc().conf()  # read by each new StreamingContext and receiver
        for key, value in self._streaming_conf().items():
            live.set(key, value)
        return sc

    def _streaming_conf(self) -> dict[str, str]:
        options = self.options
        conf = {"spark.streaming.clock": MANUAL_CLOCK if self.manual_clock else SYSTEM_CLOCK}
        if options["max_rate"]:
            conf["spark.streaming.receiver.maxRate"] = str(int(options["max_rate"]))
        if options["backpressure"]:
            conf["spark.streaming.backpressure.enabled"] = "true"
            if options["initial_rate"]:
                conf["spark.streaming.backpressure.initialRate"] = str(int(options["initial_rate"]))
        if options["wal"]:
            conf["spark.streaming.receiver.writeAheadLog.enable"] = "true"
        return conf

    def _ship_code(self, sc) -> None:
        """--import modules that are files here (not installed) go to the executors; on a cluster, dstream too."""
        import importlib.util

        here = os.path.realpath(os.getcwd())
        for name in self.options["imports"]:
            spec = importlib.util.find_spec(name.split(".")[0])
            origin = spec.origin if spec else None
            if origin and os.path.realpath(origin).startswith(here + os.sep):
                sc.addPyFile(self._zip_package(os.path.dirname(origin)) if origin.endswith("__init__.py") else origin)
        if not self.options["master"].startswith("local"):
            sc.addPyFile(self._zip_package(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))

    def _zip_package(self, directory: str) -> str:
        base = os.path.join(self._scratch(), os.path.basename(directory))
        return shutil.make_archive(base, "zip", os.path.dirname(directory), os.path.basename(directory))

    def _scratch(self) -> str:
        if self.scratch_dir is None:
            self.scratch_dir = tempfile.mkdtemp(prefix="dstream-spark-")
        return self.scratch_dir

    # --- inputs ----------------------------------------------------------------------------
    def _input_factory(self, holder: dict, name: str, kind: str, target):
        fmt = self.options["fmt"]

        def create():
            ssc = holder["ssc"]
            if self.options["event_time"] is not None:
                self.feeder = self.feeder or QueueFeeder(ssc)
                return self.feeder.stream(name)  # records as the local input parsed them
            if kind == "queue":
                batches = self._read_queue(name, target)
                stream = ssc.queueStream(batches or [[]], oneAtATime=True)
                return stream  # parsed when read: records, not lines
            if kind == "tcp":
                stream = ssc.socketTextStream(*target)
                self.receiver_streams.append(stream)
            elif kind == "dir":
                stream = ssc.textFileStream(target)
            elif kind == "kafka":
                ranges = self.kafka[name]
                tick = ssc.textFileStream(ranges.tick_directory)
                stream = tick.transform(kafka_batches(ranges.directory, name, ranges.source))
            elif kind in SERVED_KINDS:
                host, port = self._serve(name, kind, target)
                stream = ssc.socketTextStream(host, port)
                self.receiver_streams.append(stream)
                self.stream_ids[name] = stream._jdstream.inputDStream().id()  # its records in Spark's figures
            else:
                raise UsageError(f"input {name}: {kind} inputs run on the local engine only; run with --engine local")
            return stream if fmt == "text" else stream.mapPartitions(ParseLines(fmt))

        return create

    def _kafka_inputs(self) -> None:
        """The driver's half of every Kafka input, before Spark builds or restores the graph that calls it."""
        checkpoint = self.options["checkpoint"]
        for name, (kind, target) in self.inputs.items():
            if kind != "kafka":
                continue
            if checkpoint and "://" in checkpoint:
                raise UsageError(f"input {name}: Kafka on Spark keeps its offset ranges in --checkpoint, which must "
                                 f"be a local directory here (not {checkpoint})")
            directory = os.path.abspath(os.path.join(checkpoint or self._scratch(), "dstream-kafka", name))
            windows = [spec.args.get("length") or 0 for spec in self.specs]
            kept = max(windows, default=0) + 10 * max(self.batch_ms, self.options["checkpoint_interval"] or 10_000)
            ranges = KafkaRanges(name, parse_kafka_uri(target, name), directory, batch_ms=self.batch_ms,
                                 max_rate=self.options["max_rate"], backpressure=self.options["backpressure"],
                                 initial_rate=self.options["initial_rate"], retain_ms=kept, stderr=sys.stderr)
            self.kafka[name] = DECIDERS[directory] = ranges

    def _read_queue(self, name: str, target) -> list[list]:
        stream = getattr(sys.stdin, "buffer", sys.stdin) if target == "-" else open(target, "rb")  # noqa: SIM115
        parse = batch_parser(self.options["fmt"])
        batches = []
        with stream if target != "-" else contextlib.nullcontext():
            for block in queue_file_batches(stream, self.options["max_line_bytes"]):
                if block.bad:
                    raw, reason = block.bad[0]
                    raise UsageError(f"input {name}, batch {len(batches) + 1}: {reason}: {raw[:80]!r}")
                batches.append(parse(list(block.records)))
        self.queue_batches[name] = batches
        return batches

    def _serve(self, name: str, kind: str, target) -> tuple[str, int]:
        from ...receivers.base import load_receiver
        from ...receivers.socket import ListenReceiver
        from ...receivers.stream import FileReceiver, LineStreamReceiver

        options = self.options
        limit = options["max_line_bytes"]
        if kind == "stdin":
            receiver = LineStreamReceiver(getattr(sys.stdin, "buffer", sys.stdin), limit)
        elif kind == "file":
            receiver = FileReceiver(target, limit)
        elif kind == "listen":
            receiver = ListenReceiver(*target, limit, options["max_connections"], False,
                                      options["client_timeout"] / 1000)
        elif kind == "zmq":
            from ...receivers.zeromq import ZmqReceiver, parse_zmq_uri

            receiver = ZmqReceiver(parse_zmq_uri(target, name))
        else:
            receiver = load_receiver(target)
        host, port = self.saved.get("served", {}).get(name, (self._driver_host(), 0))
        server = LineServer(name, receiver, host, port)
        self.served[name] = server
        return server.address

    def _driver_host(self) -> str:
        """Where executors reach the driver: loopback for a local master, else the address Spark's driver uses."""
        from pyspark import SparkContext

        if self.options["master"].startswith("local"):
            return "127.0.0.1"
        return SparkContext._active_spark_context.getConf().get("spark.driver.host", "127.0.0.1")

    # --- the graph -------------------------------------------------------------------------
    def create_context(self, sc):
        """A new StreamingContext with the chain built on it (Spark's ``getOrCreate`` setup function)."""
        from pyspark.streaming import StreamingContext

        ssc = StreamingContext(sc, seconds(self.batch_ms))
        holder = {"ssc": ssc}
        factories = {name: self._input_factory(holder, name, kind, target)
                     for name, (kind, target) in self.inputs.items()}
        builder = SparkChainBuilder(_Naming(), factories, self.main_input, Namespace(self.options["imports"]),
                                    batch_ms=self.batch_ms, output_retries=self.options["output_retries"],
                                    master=self.options["master"], job_id=self._job_id())
        builder.build(self.specs)
        used = list(builder.created_inputs)
        if self.queue_mode and not all(self.inputs[n][0] == "queue" for n in used):
            raise UsageError("if any input is queue:, all must be (inputs here: "
                             + ", ".join(f"{n} ({self.inputs[n][0]})" for n in used) + ")")
        self.output_slides_ms = builder.output_slides_ms
        self.output_labels = builder.output_labels
        if any(slide != self.batch_ms for slide in self.output_slides_ms):
            self._report_every_batch()
        if self.options["event_time"] is not None:
            self.cutter = EventTimeCutter(self.options, self.inputs, used, self.batch_ms)
        checkpoint = self.options["checkpoint"]
        if checkpoint or builder.stateful:
            ssc.checkpoint(checkpoint or os.path.join(self._scratch(), "checkpoint"))
        if self.options["checkpoint_interval"]:
            for stream in builder.stateful:
                stream.checkpoint(seconds(self.options["checkpoint_interval"]))
        self._save_chain()
        return ssc

    def _report_every_batch(self) -> None:
        """Spark reports a batch to its listeners only when the batch has a job, and counts a receiver's records in
        the batch that computes them: under a window sliding by more than a batch, the records of the batches
        between slides would never be counted, and a finite input's run would wait for them for ever. A job that
        only computes each receiver's batch (no Spark job: nothing is read) reports every batch, with its records,
        as the local engine does. It is Spark's last output operation, after the chain's."""
        for stream in self.receiver_streams:
            stream.foreachRDD(_counted_only)

    def _fingerprint(self) -> list:
        """The chain, batch interval, format and inputs, in the JSON form it is saved in."""
        inputs = sorted([name, kind, str(target)] for name, (kind, target) in self.inputs.items())
        chain = [[spec.name, dict(spec.args)] for spec in self.specs]
        return orjson.loads(orjson.dumps([*chain, self.batch_ms, self.options["fmt"], inputs], default=str))

    def _load_chain(self) -> None:
        """Spark's checkpoint holds the code of the chain that wrote it: refuse to resume another chain."""
        checkpoint = self.options["checkpoint"]
        if not checkpoint or "://" in checkpoint:
            return
        self.chain_file = os.path.join(checkpoint, CHAIN_FILE)
        if not os.path.exists(self.chain_file):
            return
        with open(self.chain_file, "rb") as handle:
            self.saved = orjson.loads(handle.read())
        saved, now = self.saved.get("fingerprint"), self._fingerprint()
        if saved != now:
            raise UsageError(f"--checkpoint {checkpoint} was written by {_what_changed(saved, now)}, and a Spark "
                             "checkpoint runs the code that wrote it; use a new directory for this chain")

    def _job_id(self) -> str:
        """The run's name in a database's bookkeeping: kept in the checkpoint, so a restart is the same job."""
        if "job" not in self.saved:
            self.saved["job"] = uuid.uuid4().hex
        return self.saved["job"]

    def _save_chain(self) -> None:
        if self.chain_file is None:
            return
        document = {"fingerprint": self._fingerprint(), "output_slides_ms": self.output_slides_ms,
                    "output_labels": self.output_labels,
                    "job": self._job_id(),
                    "served": {name: list(server.address) for name, server in self.served.items()},
                    "stream_ids": self.stream_ids}
        os.makedirs(os.path.dirname(self.chain_file), exist_ok=True)
        data = orjson.dumps(document)
        write_atomically(self.chain_file, data)
        self.saved = orjson.loads(data)

    def _restored(self) -> None:
        """A context from the checkpoint: its inputs are Spark's; the served ones are served again on their ports."""
        self.output_slides_ms = self.saved.get("output_slides_ms", [])
        self.output_labels = self.saved.get("output_labels", [])
        self.stream_ids = self.saved.get("stream_ids", {})
        for name in self.saved.get("served", {}):
            kind, target = self.inputs[name]
            self._serve(name, kind, target)

    # --- running ---------------------------------------------------------------------------
    def run(self) -> ExitStatus:
        if not self.options["ui"]:
            return self._run(None)
        from ...ui import serve_run_page

        ui = serve_run_page(self.options["ui"], "spark", self.batch_ms, self.options["checkpoint"])  # before Spark
        try:
            return self._run(ui.state)
        finally:
            ui.close()

    def _run(self, page) -> ExitStatus:
        """The run; *page* is --ui's RunState, fed from Spark's listener."""
        from py4j.protocol import Py4JJavaError
        from pyspark.streaming import StreamingContext

        sc = self.spark_context()
        ssc = None
        listener = None
        restore_signals = install_stop_signals(self.stop_requested.set)
        try:
            self._load_chain()
            self._kafka_inputs()
            checkpoint = self.options["checkpoint"]
            created = []
            if checkpoint and self.saved:
                if self.queue_mode:
                    raise UsageError(f"--checkpoint {checkpoint} holds a queue stream, which Spark cannot recover "
                                     "(its queueStream is not checkpointable); use a new directory")
                ssc = StreamingContext.getOrCreate(checkpoint, lambda: created.append(1) or self.create_context(sc))
                if not created:
                    self._restored()
            else:
                ssc = self.create_context(sc)
            start_ms = self.options["start_time"]
            queue_sizes = {}
            if self.queue_mode:
                if start_ms % self.batch_ms:
                    raise UsageError(f"--start-time {start_ms} is not a multiple of --batch {self.batch_ms}ms: "
                                     "Spark's batch times are multiples of the batch interval")
                for batches in self.queue_batches.values():
                    for i, batch in enumerate(batches):
                        t = start_ms + (i + 1) * self.batch_ms
                        queue_sizes[t] = queue_sizes.get(t, 0) + len(batch)
            listener = BatchListener(self.batch_ms, self.options["metrics"], self._progress(), queue_sizes,
                                     list(self.kafka.values()), {i: name for name, i in self.stream_ids.items()},
                                     self.output_labels, page)
            ssc.addStreamingListener(_spark_listener(listener))
            clock = ssc._jssc.ssc().scheduler().clock()
            first = None
            if self.cutter is not None:  # Spark's first batch is the log's: its time is known once it is cut
                run_for = self.options["run_for"]
                self.cut_deadline = None if run_for is None else time.monotonic() + run_for / 1000
                self.cutter.start()
                first = self._next_cut(None)
                start_ms = first[0] - self.batch_ms if first else start_ms
            if self.manual_clock:
                clock.setTime(start_ms)
            ssc.start()
            for server in self.served.values():
                server.start()
            if self.cutter is not None:
                self._step_event_time(ssc, clock, listener, start_ms, first)
            elif self.queue_mode:
                self._step_queue(ssc, clock, listener, start_ms)
            else:
                self._run_live(ssc, listener)
            # on the manual clock every batch asked for has run; on Spark's own, received data is processed first
            ssc.stop(stopSparkContext=self.owns_context, stopGraceFully=not self.manual_clock)
            ssc = None
            self._check_served()
            stop_file = self.options["stop_file"]
            if stop_file and os.path.exists(stop_file):
                os.unlink(stop_file)
            return ExitStatus.OK
        except Py4JJavaError as error:
            stage, message = python_error(str(error.java_exception) + "\n" + str(error))
            raise StageFailed(f"{self._stage_label(stage)}: {message}" if stage else f"Spark job failed: {message}") \
                from None
        finally:
            restore_signals()
            if ssc is not None:
                with contextlib.suppress(Exception):
                    ssc.stop(stopSparkContext=self.owns_context, stopGraceFully=False)
            for server in self.served.values():
                server.close()
            for ranges in self.kafka.values():
                ranges.close()
                DECIDERS.pop(ranges.directory, None)
            if listener is not None:
                listener.close()
            if self.scratch_dir:
                shutil.rmtree(self.scratch_dir, ignore_errors=True)

    def _stage_label(self, stage: str) -> str:
        """"stage 2 (map)" with its expression, as the local engine names a failing stage."""
        number = int(stage.split()[1])
        spec = self.specs[number - 1] if number <= len(self.specs) else None
        source = spec and (spec.args.get("expr") or spec.args.get("func") or spec.args.get("query"))
        return f"{stage[:-1]} {source!r})" if source else stage

    def _progress(self) -> bool:
        progress = self.options["progress"]
        return sys.stderr.isatty() if progress is None else progress

    def _wait(self, ssc, seconds_: float) -> None:
        """Sleep on the context: a failed job raises here."""
        if ssc.awaitTerminationOrTimeout(seconds_):
            raise StageFailed("the Spark streaming context stopped by itself")

    def _step_queue(self, ssc, clock, listener: BatchListener, start_ms: int) -> None:
        """Advance the manual clock a batch at a time; wait for the batches that have jobs to complete."""
        longest = max((len(b) for b in self.queue_batches.values()), default=0)
        total = self.options["batches"]
        if not total:  # to the end of the queues, and on through the last slide of a window that holds their records
            last = max((t for t, size in listener.queue_sizes.items() if size), default=None)
            through = start_ms if last is None else last_time_reached(ssc, last, start_ms)
            total = max(longest, (through - start_ms) // self.batch_ms)
        for i in range(total):
            if self._should_stop(None):
                break
            self._advance(ssc, clock, listener, start_ms + (i + 1) * self.batch_ms, start_ms)

    def _step_event_time(self, ssc, clock, listener: BatchListener, start_ms: int, item) -> None:
        """Hand Spark each batch the cutter closes, every batch interval in turn (an empty one where the log has
        none), advancing the manual clock as queue mode does; a stop lets the cutter close what it received."""
        t_next, done, last = start_ms + self.batch_ms, 0, None
        while item is not None:
            t, batches = item
            if any(batches.values()):
                last = t
            while t_next <= t:
                self.feeder.feed(batches if t_next == t else {})
                self._advance(ssc, clock, listener, t_next, start_ms)
                t_next += self.batch_ms
                done += 1
                if self.options["batches"] and done >= self.options["batches"]:
                    self.cutter.stop()
                    return
            item = self._next_cut(ssc)
        if last is not None and not self._should_stop(self.cut_deadline):
            # the log ended: on through the last slide of a window that holds its records
            for t in range(t_next, last_time_reached(ssc, last, start_ms) + 1, self.batch_ms):
                self.feeder.feed({})
                self._advance(ssc, clock, listener, t, start_ms)

    def _next_cut(self, ssc):
        """The cutter's next batch (None at its end), waiting for it; a stop request stops the cutter first."""
        stopping = False
        while True:
            if not stopping and self._should_stop(self.cut_deadline):
                stopping = True
                self.cutter.stop()
            item = self.cutter.next_batch(0.1)
            if item is not False:
                return item
            if ssc is not None:
                self._wait(ssc, 0.001)

    def _advance(self, ssc, clock, listener: BatchListener, t: int, start_ms: int) -> None:
        """Move Spark's manual clock to batch *t*; wait for its jobs, if it has any."""
        clock.advance(self.batch_ms)
        if any((t - start_ms) % slide == 0 for slide in self.output_slides_ms):
            while t not in listener.completed:
                self._check_served()
                self._wait(ssc, 0.01)

    def _run_live(self, ssc, listener: BatchListener) -> None:
        run_for = self.options["run_for"]
        deadline = None if run_for is None else time.monotonic() + run_for / 1000
        while not self._should_stop(deadline):
            if self.options["batches"] and len(listener.completed) >= self.options["batches"]:
                return
            if self.served and all(server.ended for server in self.served.values()) and self._served_all(listener):
                self._finish_windows(ssc, listener, deadline)  # every input ended and Spark processed all it was served
                return
            self._check_served()
            self._wait(ssc, 0.1)
        self._finish_served(ssc, listener)

    def _finish_windows(self, ssc, listener: BatchListener, deadline) -> None:
        """The inputs ended: wait (on Spark's clock, the system's) through the last slide of a window that holds
        their records, unless a stop comes first."""
        if listener.last_received is None:
            return
        zero_ms = ssc._jssc.ssc().graph().zeroTime().milliseconds()
        through = last_time_reached(ssc, listener.last_received, zero_ms)
        while max(listener.completed, default=0) < through and not self._should_stop(deadline):
            self._check_served()
            self._wait(ssc, 0.1)

    def _served_all(self, listener: BatchListener) -> bool:
        """Spark has processed every line the served inputs sent it."""
        return len(self.served) == len(self.stream_ids) and all(
            listener.records_by_stream.get(self.stream_ids[name], 0) >= server.handed
            for name, server in self.served.items())

    def _finish_served(self, ssc, listener: BatchListener) -> None:
        """A graceful stop: the served inputs stop reading, and what they read and sent is processed by Spark
        before its receivers stop (Spark's graceful stop covers only what its receivers hold already)."""
        for server in self.served.values():
            server.supervisor.stop()
        deadline = time.monotonic() + SERVED_DRAIN_S
        while self.served and not self._served_all(listener):
            if time.monotonic() > deadline:
                print(f"dstream: stopping with lines served to Spark that it has not processed after "
                      f"{SERVED_DRAIN_S:.0f}s", file=sys.stderr, flush=True)
                return
            self._check_served()
            self._wait(ssc, 0.1)

    def _check_served(self) -> None:
        for server in self.served.values():
            if server.failure:
                raise StageFailed(server.failure)

    def _should_stop(self, deadline) -> bool:
        stop_file = self.options["stop_file"]
        return (self.stop_requested.is_set() or (stop_file is not None and os.path.exists(stop_file))
                or (deadline is not None and time.monotonic() >= deadline))
