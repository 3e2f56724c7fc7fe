"""The batch loop: allocate inputs, run the outputs' jobs, checkpoint, forget, measure; and stopping.

One batch at a time, in time order. A checkpoint is written every checkpoint interval and after the
last batch; a restart recomputes the batches after the newest one. On the system clock a late batch
is simply started late and its scheduling delay recorded (nothing is skipped, and records are
assigned to batches by arrival time, not by when the loop gets to them). A graceful stop (stop
file, SIGTERM, first SIGINT, --run-for) stops the receivers, processes everything they stored,
writes the last checkpoint and returns; a second SIGINT exits 130 at once.
"""
from __future__ import annotations

import dataclasses
import os
import threading
import time
import uuid

from ..errors import ExitStatus
from ..labels import batch_time_text
from ..listener import BatchInfo, ListenerBus, OutputOperationInfo
from ..metrics import MetricsWriter
from ..fsio import silence_stdout
from ..outputs import kill_running_commands, write_with_retries
from .clock import ManualClock, SystemClock
from .rate import PIDRateEstimator
from .signals import install_stop_signals

#: --event-time: a gap in which nothing is kept anywhere is crossed at once when longer than this many batches
#: (shorter ones give their empty batches, as on the arrival clock)
QUIET_GAP_BATCHES = 1000


@dataclasses.dataclass
class RunOptions:
    batches: int | None = None
    run_for_ms: int | None = None
    stop_file: str | None = None
    metrics_path: str | None = None
    progress: bool = False
    max_rate: float | None = None
    backpressure: bool = False
    initial_rate: float | None = None
    output_retries: int = 3
    start_time_ms: int = 0
    # a job that fails is reported to await_termination and the run goes on, as in Spark (the PySpark drop-in);
    # otherwise the run ends with it (the command line, exit 1)
    report_failed_jobs: bool = False


class JobScheduler:
    def __init__(self, context, options: RunOptions) -> None:
        self.context = context
        self.options = options
        self.graph = context.graph
        self.wake = threading.Event()
        self.stop_requested = threading.Event()
        self.inputs: list = []
        self.nodes: list = []  # every node an output reaches, parents first: set when the run starts
        self.event_nodes: list = []  # --event-time: the nodes that cut each input's records by their times
        self.clock = None
        # --metrics and the live view are listeners, beside the context's (add_streaming_listener)
        metrics = [MetricsWriter(options.metrics_path)] if options.metrics_path else []
        self.listeners = ListenerBus([*metrics, *context.streaming_listeners], context.stderr())
        self.estimator: PIDRateEstimator | None = None
        self.resumed = False
        self.logs_allocations = False
        self.pending: list = []  # allocations logged but not checkpointed before a crash, redone first
        self.last_batch: int | None = None
        self.last_received: int | None = None  # the last batch that any record was allocated to
        self.last_checkpoint: int | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def request_stop(self) -> None:
        self.stop_requested.set()
        self.wake.set()

    def run(self) -> ExitStatus:
        context, graph = self.context, self.graph
        graph.validate()
        self.inputs = graph.used_inputs()
        from ..inputs import QueueInputDStream

        self.nodes = graph.nodes()  # once: the graph does not change while it runs
        event_nodes = self.event_nodes = [node for node in self.nodes if node.cut_by_event_time]
        # event time: batch times come from the records, so arrival is stamped on the real clock
        simulated = (not event_nodes and not context.until_stopped
                     and all(isinstance(i, QueueInputDStream) for i in self.inputs))
        self.clock = ManualClock(self.options.start_time_ms) if simulated else SystemClock()
        context.clock = self.clock
        batch = context.batch_ms
        graph.initialize(context.remember_ms)
        document = context.checkpoints.load_into(graph, batch) if context.checkpoints else None
        by_arrival = not simulated and not event_nodes
        pending = context.checkpoints.pending_allocations() if context.checkpoints and by_arrival else []
        # which stream this is: the same across restarts from a checkpoint, a new one otherwise
        saved = (document or {}).get("stream")
        context.stream_id = saved if isinstance(saved, str) and saved else uuid.uuid4().hex
        if document is not None:
            context.zero_ms = document["zero_ms"]
            self.last_received = document.get("last_received")
            context.record_errors.resume_after(document["time"])
        elif event_nodes:
            from ..eventtime import zero_before_every_time

            periods = [node.slide_ms for node in self.nodes] + [context.checkpoint_interval_ms or batch]
            context.zero_ms = zero_before_every_time(batch, periods)
        elif simulated:
            context.zero_ms = self.options.start_time_ms
        elif pending:
            # killed before its first checkpoint: keep that run's times, so its batches are redone as they were
            context.zero_ms = pending[0].zero_ms
        else:
            context.zero_ms = self.clock.next_aligned(batch) - batch
        t = context.zero_ms + batch if document is None else document["time"] + batch
        self.resumed = document is not None
        # On the simulated clock a recomputed batch is the same by construction; live, it needs the log,
        # which is only worth writing when every input can give its records again.
        # (By event time a batch's records are saved with the checkpoint until it runs: nothing to log.)
        self.logs_allocations = (context.checkpoints is not None and by_arrival
                                 and all(stream.can_replay for stream in self.inputs))
        self.pending = [entry for entry in pending if entry.time >= t] if self.logs_allocations else []
        if context.checkpoints and document is None and not pending:
            # A resume point before the first batch: a crash before the first interval's checkpoint then
            # restarts this stream (same zero time, same batch times) rather than a new one.
            self._checkpoint(context.zero_ms)
        context.warn_state_without_checkpoint()
        if self.options.backpressure:
            self.estimator = PIDRateEstimator(batch)
        if self.options.progress:
            from ..progress import ProgressView

            self.listeners.add(ProgressView(context.stderr(), batch, event_time=context.event_time is not None))
        try:
            for output in graph.outputs:
                output.start()
            if by_arrival:
                t = self._recover(t)
                t = max(t, self.clock.next_aligned(batch))
            elif event_nodes:
                for stream in self.inputs:  # what the write-ahead log holds beyond the checkpoint: taken in again
                    stream.recover()
            self.listeners.post("on_streaming_started", context.zero_ms)
            for stream in self.inputs:
                stream.start()
            for stream in self.inputs:
                stream.check()  # an input that cannot work at all (a port in use) ends the run now
            deadline = None if self.options.run_for_ms is None else time.monotonic() + self.options.run_for_ms / 1000
            try:
                if event_nodes:
                    self._loop_event_time(event_nodes, deadline, t if document is not None else None)
                else:
                    self._loop(t, simulated, deadline)
            except BrokenPipeError:
                silence_stdout()  # the reader went away: the run ends there, quietly (its batch is not checkpointed)
                return ExitStatus.OK
            if context.checkpoints and self.last_batch not in (None, self.last_checkpoint):
                self._checkpoint(self.last_batch)  # a graceful end leaves nothing to recompute
        finally:
            for stream in self.inputs:
                stream.stop()
            for stream in self.inputs:
                stream.close()
            for output in graph.outputs:
                output.close()
            self.listeners.close()
            context.record_errors.close()
        if self.options.stop_file and os.path.exists(self.options.stop_file):
            os.unlink(self.options.stop_file)
        return ExitStatus.OK

    def _recover(self, t: int) -> int:
        """Before any new input is read, recompute the batches that were allocated or received but not
        checkpointed (Spark regenerates the batches of the down time the same way); return the next batch
        time. Logged allocations come first, each with its own time and exactly its records; what the
        write-ahead log holds beyond them is cut into batches by arrival time."""
        batch = self.context.batch_ms
        for allocation in self.pending:
            records = {stream: stream.replay(allocation.time, position)
                       for stream, position in zip(self.inputs, allocation.positions)}
            self.run_batch(allocation.time, allocated=records)
            t = allocation.time + batch
        arrivals = [a for a in (stream.recover() for stream in self.inputs) if a is not None]
        if not arrivals:
            return t
        last = -(-max(arrivals) // batch) * batch  # the batch the newest logged block belongs to
        while True:
            self.run_batch(t)
            if t >= last:
                return t + batch
            t += batch

    def _should_stop(self, deadline) -> bool:
        if self.options.stop_file and os.path.exists(self.options.stop_file):
            self.stop_requested.set()
        if deadline is not None and time.monotonic() >= deadline:
            self.stop_requested.set()
        return self.stop_requested.is_set()

    def _all_finished(self) -> bool:
        return all(getattr(stream, "finished", True) for stream in self.inputs)

    def _batches_done(self, t: int, simulated: bool, run_here: int) -> bool:
        """``--batches N`` is reached. On the simulated clock N counts from the stream's zero time, so a
        resumed run ends where an uninterrupted one would (and a finished one runs nothing more); on the
        system clock, whose times jump across a restart, N counts the batches of this run."""
        limit = self.options.batches
        if limit is None:
            return False
        done = (t - self.context.zero_ms) // self.context.batch_ms - 1 if simulated else run_here
        return done >= limit

    def _loop(self, t: int, simulated: bool, deadline) -> None:
        batch = self.context.batch_ms
        stopping = False
        run_here = 0
        draining_through = None
        if self.resumed and self.options.batches is None and all(stream.ended for stream in self.inputs):
            # a finished job run again: nothing has arrived since its last batch, but it may have been stopped
            # before its windows' last slide
            draining_through = self._last_slide(t - batch)
            if t > draining_through:
                return
        while not self._batches_done(t, simulated, run_here):
            if not simulated and draining_through is None:
                self._wait_for(t, deadline)
            if self._should_stop(deadline) and not stopping:
                stopping = True
                for stream in self.inputs:
                    stream.stop()
            self.run_batch(t)
            run_here += 1
            if stopping and (simulated or not any(stream.backlog() for stream in self.inputs)):
                return
            if draining_through is None and self.options.batches is None and all(s.ended for s in self.inputs):
                draining_through = self._last_slide(t)
            if draining_through is not None and t >= draining_through:
                return
            t += batch

    def _last_slide(self, t: int) -> int:
        """The inputs ended by batch *t*, but a window may still hold their records: its later slides are what
        awk's END block would print, so the loop runs them, one after the other without waiting, through this
        time (*t* itself when no window holds any)."""
        return t if self.last_received is None else max(t, self.graph.last_time_reached(self.last_received))

    def _loop_event_time(self, nodes: list, deadline, t: int | None) -> None:
        """--event-time: take in what arrived, run every batch the watermark has passed, and cross a gap in which
        nothing is left in any window or state at once. At the end of input (or a stop, once what was received
        is taken in) every open interval is computed; with --idle-timeout, also after that long with nothing new.
        *t* is the next batch to run (None: not known until records come)."""
        idle_timeout = self.context.event_time.idle_timeout_ms
        stopping = False
        quiet_since = time.monotonic()
        run_here = 0
        while True:
            stopping = stopping or self._stop_inputs_if_asked(deadline)
            for stream in self.inputs:
                stream.check()
            now = self.clock.now_ms()
            taken = sum(node.ingest(now) for node in nodes)
            if taken:
                quiet_since = time.monotonic()
            unread = any(node.unread for node in nodes)
            finished = not unread and (all(stream.ended for stream in self.inputs) if not stopping
                                       else not any(stream.backlog() for stream in self.inputs))
            idle = idle_timeout is not None and (time.monotonic() - quiet_since) * 1000 >= idle_timeout
            limit = self._event_limit(nodes, close_all=finished or idle)
            while limit is not None:
                stopping = stopping or self._stop_inputs_if_asked(deadline)  # within a batch, whatever they do
                following = self._next_event_batch(t, nodes, limit, stopping)
                if following is None:
                    break
                t = following
                self._run_event_batch(t, nodes)
                run_here += 1
                if self._batches_done(t, False, run_here):
                    return
                t += self.context.batch_ms
            if finished and not any(node.pending for node in nodes):
                if not stopping and t is not None and self.options.batches is None:
                    self._run_last_slides(t, nodes, deadline)
                return
            if not taken and not unread:
                self.wake.wait(0.005)
                self.wake.clear()

    def _run_last_slides(self, t: int, nodes: list, deadline) -> None:
        """By event time too, a finished log's windows give their slides that still hold its records."""
        batch = self.context.batch_ms
        for u in range(t, self._last_slide(t - batch) + 1, batch):
            if self._stop_inputs_if_asked(deadline):
                return
            self._run_event_batch(u, nodes)

    def _run_event_batch(self, t: int, nodes: list) -> None:
        """Batch *t* by event time: each input's records of its interval, and the late ones counted."""
        self.run_batch(t, allocated={node.source: node.allocate(t) for node in nodes},
                       late=sum(node.batch_done(t) for node in nodes))

    def _stop_inputs_if_asked(self, deadline) -> bool:
        """A stop was asked for: the inputs stop receiving; True."""
        if not self._should_stop(deadline):
            return False
        for stream in self.inputs:
            stream.stop()
        return True

    @staticmethod
    def _event_limit(nodes: list, close_all: bool) -> int | None:
        """The latest batch that may run now: every open one when *close_all*, else the latest the watermark of
        every input still reading has passed (None: none yet)."""
        if close_all:
            return max((max(node.pending) for node in nodes if node.pending), default=None)
        passed = [node.closable() for node in nodes if not node.exhausted]
        return None if not passed or None in passed else min(passed)

    def _next_event_batch(self, t: int | None, nodes: list, limit: int, stopping: bool = False) -> int | None:
        """The batch to run next by event time, or None to wait for the watermark: *t*, unless nothing is kept in
        any window or state and the next records are more than QUIET_GAP_BATCHES away (or none was run yet),
        then their batch, once the watermark has passed it. Decided by the records alone, not by how they
        were read: a record for a batch before the one jumped to is late either way. *stopping*: what was
        received is computed, and the empty batches between are not, so that a stop never waits on a gap."""
        batch = self.context.batch_ms
        pending = min((p for p in (node.next_pending() for node in nodes) if p is not None), default=None)
        if t is not None and not stopping and (
                (pending is not None and pending - t <= QUIET_GAP_BATCHES * batch)
                or any(node.holds_data(t) for node in self.nodes)):
            return t if t <= limit else None
        if t is not None and stopping and pending is not None and pending - t <= batch:
            return t if t <= limit else None
        if pending is None or pending > limit:
            return None
        for node in self.nodes:
            node.fast_forward(pending)
        return pending

    def _wait_for(self, t: int, deadline) -> None:
        """Sleep until batch time *t*, waking for a stop request, the stop file, or the end of all input."""
        while True:
            if self.clock.wait_until(t, self.wake, poll_s=0.2):
                return
            self.wake.clear()
            if self._should_stop(deadline):
                return
            if self.options.batches is None and self._all_finished():
                return

    # --- one batch --------------------------------------------------------------------------
    def run_batch(self, t: int, allocated: dict | None = None, late: int = 0) -> BatchInfo:
        """Run batch *t*: allocate what arrived up to *t* (unless it was *allocated* already, on a replay or by
        event time: the records of each input), log the allocation, run the output jobs, checkpoint, forget,
        measure. *late* counts the records --event-time found too late since the previous batch."""
        for stream in self.inputs:
            stream.check()
        context = self.context
        started = self.clock.now_ms()
        scheduling_ms = 0 if self.clock.simulated else max(started - t, 0)
        submitted = started - scheduling_ms  # as Spark's: the batch is submitted at its time, and waits from there
        began = time.monotonic()
        by_input = allocated
        if by_input is None:
            by_input = {stream: stream.allocate(t) for stream in self.inputs}
            if self.logs_allocations:
                context.checkpoints.log_allocation(t, context.zero_ms, [stream.position() for stream in self.inputs])
        records = sum(by_input.values())
        if records:
            self.last_received = t
        told = self.listeners.wants_details
        if told:
            self._post_batch("on_batch_submitted", t, records, submitted, None)
            self._post_batch("on_batch_started", t, records, submitted, started)
        for index, output in enumerate(self.graph.outputs):
            try:
                self._run_job(t, index, output, told)
            except BrokenPipeError:
                raise
            except Exception as exc:  # noqa: BLE001 - whatever a user's function raised
                if not self.options.report_failed_jobs:
                    raise
                self.context.report_error(exc)  # as Spark: the job failed, its batch is done, the run goes on
        self.last_batch = t
        if context.checkpoints and (t - context.zero_ms) % context.checkpoint_interval_ms == 0:
            self._checkpoint(t)
        for stream in self.inputs:
            stream.batch_completed(t)
        for node in self.nodes:
            if node.generated:
                node.forget(t)
        processing_ms = int((time.monotonic() - began) * 1000)
        inputs = self._by_name(by_input)
        info = BatchInfo(
            batch_time=t, records_in=records, processing_ms=processing_ms, scheduling_delay_ms=scheduling_ms,
            total_delay_ms=scheduling_ms + processing_ms,
            backlog=sum(figures["backlog"] for figures in inputs.values()),
            skipped=context.record_errors.skipped, keys_in_state=context.keys_in_state(),
            rate_limit=context.rate_limiter.rate, late=late,
            inputs=inputs, submission_ms=submitted, processing_start_ms=started,
            processing_end_ms=started + processing_ms,
        )
        watermarks = [node.watermark for node in self.event_nodes]
        if watermarks and None not in watermarks:
            info.watermark_ms = min(watermarks)
        sized = [figures for figures in (stream.bytes_read() for stream in self.inputs) if figures is not None]
        if sized:
            info.read_bytes, info.total_bytes = sum(done for done, _ in sized), sum(size for _, size in sized)
        if late and context.event_time.late is None and not context.record_errors.dead_letter:
            print(f"dstream: --event-time: {late} late record{'s' * (late != 1)} before {batch_time_text(t)} "
                  "not counted in any batch (--allowed-lateness, --late, --dead-letter)",
                  file=context.stderr(), flush=True)
        if self.estimator is not None:
            rate = self.estimator.compute(t + processing_ms, records, max(processing_ms, 1), scheduling_ms)
            if rate is not None:
                context.rate_limiter.set_rate(rate)
                info.rate_limit = rate
        self.listeners.post("on_batch_completed", info)
        return info

    def _by_name(self, records: dict) -> dict:
        """Each input's records this batch and its backlog, by name (a library's inputs may share one)."""
        figures: dict = {}
        for stream in self.inputs:
            seen = figures.setdefault(stream.name, {"records": 0, "backlog": 0})
            seen["records"] += records.get(stream, 0)
            seen["backlog"] += stream.backlog()
        return figures

    def _run_job(self, t: int, index: int, output, told: bool) -> None:
        """Output *index*'s job of batch *t*, told to the listeners that want it (*told*)."""
        job = output.generate_job(t)
        if job is None:
            return
        if not told:
            self._run_output(job, output)
            return
        operation = OutputOperationInfo(t, index, output.label, self.clock.now_ms())
        self.listeners.post("on_output_operation_started", operation)
        try:
            self._run_output(job, output)
        except BaseException as exc:
            operation.failure = str(exc)
            raise
        finally:
            operation.end_ms = self.clock.now_ms()
            self.listeners.post("on_output_operation_completed", operation)

    def _post_batch(self, event: str, t: int, records: int, submitted: int, started: int | None) -> None:
        """A batch's event before its figures are known: those are 0 or None until on_batch_completed."""
        self.listeners.post(event, BatchInfo(batch_time=t, records_in=records, processing_ms=0,
                                             scheduling_delay_ms=0 if started is None else started - submitted,
                                             total_delay_ms=0, backlog=None, skipped=0, keys_in_state=None,
                                             submission_ms=submitted, processing_start_ms=started))

    def _checkpoint(self, t: int) -> None:
        context = self.context
        context.checkpoints.write(self.graph, t, context.batch_ms, context.zero_ms, context.stream_id,
                                  self.last_received)
        self.last_checkpoint = t
        for stream in self.inputs:
            stream.checkpoint_written()

    def _run_output(self, job, output) -> None:
        write_with_retries(job, output.label, self.options.output_retries if output.retryable else 0,
                           self.context.stderr())

    # --- signals ----------------------------------------------------------------------------
    def install_signal_handlers(self):
        # a foreach-batch command would outlive a second SIGINT's exit otherwise
        return install_stop_signals(self.request_stop, before_exit=kill_running_commands)
