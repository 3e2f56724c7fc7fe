"""Output operations: the ForEachDStream node and what it does with each batch (pprint, emit, files, commands)."""
from __future__ import annotations

import functools
import os
import re
import signal
import time
from typing import Callable

from .dstream import DStream
from .errors import OutputFailed, StageFailed, UsageError
from .formats import header_columns, render, render_with_header
from .labels import batch_time_text
from .fsio import remove_tree_or_file, write_atomically, write_directory_atomically


#: the backoff between tries of an output doubles up to this, so many --output-retries ride out a long outage
MAX_RETRY_DELAY_S = 30.0


def write_with_retries(write: Callable[[], None], label: str, retries: int, stderr) -> None:
    """Run *write*; after a failure (an OutputFailed or OSError) try again up to *retries* times, with a backoff
    from 0.1 s doubling up to MAX_RETRY_DELAY_S, saying each retry on *stderr*. A closed pipe is not retried."""
    delay = 0.1
    for attempt in range(1, retries + 2):
        try:
            write()
            return
        except BrokenPipeError:
            raise
        except (OutputFailed, OSError) as exc:
            if attempt > retries:
                raise OutputFailed(f"{label}: {exc} (after {attempt} attempts)") from exc
            print(f"dstream: {label}: {exc}; retrying in {delay:.1f}s", file=stderr, flush=True)
            time.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_DELAY_S)


class ForEachDStream(DStream):
    """An output: asks its parent for every batch time and hands the batch to ``func(batch, t)``.

    A *retryable* output (a file, a command) is tried again after a failure; one that writes to our
    stdout is not, since a retry could print part of a batch twice. A *func* holding a connection may
    have ``attach(node)`` (called here), ``start()`` (before any input is read) and ``close()``.
    """

    def __init__(self, parent: DStream, func: Callable[[list, int], None], retryable: bool = True) -> None:
        super().__init__(parent.context, [parent])
        self.func = func
        self.retryable = retryable
        self.context.graph.add_output(self)
        if hasattr(func, "attach"):
            func.attach(self)

    @functools.cached_property
    def _sole_reader(self) -> bool:
        """Nothing but this output reads the parent's batches, and none is kept for later (a window): the
        parent may then give them in slices (``parts``) instead of whole."""
        parent = self.dependencies[0]
        return hasattr(parent, "parts") and parent.readers == [self] and parent.remember_ms <= parent.slide_ms

    def start(self) -> None:
        if hasattr(self.func, "start"):
            self.func.start()

    def close(self) -> None:
        if hasattr(self.func, "close"):
            self.func.close()

    def compute(self, t: int) -> list | None:
        return self.dependencies[0].get_or_compute(t)

    def generate_job(self, t: int) -> Callable[[], None] | None:
        parent = self.dependencies[0]
        if hasattr(self.func, "write_parts") and self._sole_reader and parent.is_time_valid(t):
            # the batch computed slice by slice while it is written, whole only if the writer asks
            return lambda: self.func.write_parts(t, lambda: parent.parts(t), lambda: parent.get_or_compute(t))
        batch = parent.get_or_compute(t)
        if batch is None:
            return None
        return lambda: self.func(batch, t)


def adapt_time_batch(func: Callable) -> Callable[[list, int], None]:
    """Accept ``f(batch)`` or PySpark's ``f(time, batch)``; the time is in milliseconds. The batch is a list
    *func* may keep."""
    from .ops.batch import as_list, with_time

    call = with_time(func, 2)
    return lambda batch, t: call(t, as_list(batch))


class PrettyPrinter:
    """PySpark's ``pprint``: header, the first *num* elements as ``print()`` shows them, ``...``, empty line."""

    def __init__(self, stdout, num: int = 10) -> None:
        self.stdout = stdout
        self.num = num

    def __call__(self, batch: list, t: int) -> None:
        shown = batch[: self.num]
        text = (
            "-------------------------------------------\n"
            f"Time: {batch_time_text(t)}\n"
            "-------------------------------------------\n"
            + "".join(f"{record}\n" for record in shown)
            + ("...\n" if len(batch) > self.num else "")
            + "\n"
        )
        self.stdout().write(text)
        self.stdout().flush()


def require_header_format(fmt: str, header: bool) -> None:
    if header and fmt not in ("csv", "tsv"):
        raise UsageError(f"--header writes a header row for --format csv or tsv, not {fmt}")


def render_file(batch: list, fmt: str, header: bool) -> str:
    """A whole file of *batch*: with *header*, a header row first, named by the first record."""
    if not header or not batch:
        return render(batch, fmt)
    return _under_header(batch, fmt, None)[0]


def _under_header(batch: list, fmt: str, columns: list | None) -> tuple[str, list]:
    """The rows of *batch* by *columns*, and the columns: when *columns* is None, the first record's, after a
    header row of them."""
    try:
        named = columns or header_columns(batch[0])
        return render_with_header(batch, fmt, named, header=columns is None), named
    except ValueError as exc:
        raise StageFailed(f"--header: {exc}") from None


class Emitter:
    """Every element on stdout, one per line, flushed once per batch; with *header* (csv, tsv), a header row
    before the first, named by the first record: stdout is one file."""

    def __init__(self, stdout, fmt: str = "tsv", header: bool = False) -> None:
        require_header_format(fmt, header)
        self.stdout = stdout
        self.fmt = fmt
        self.header = header
        self.columns: list | None = None  # once the header row is written

    def __call__(self, batch: list, t: int) -> None:
        if not batch:
            return
        if self.header:
            text, self.columns = _under_header(batch, self.fmt, self.columns)
        else:
            text = render(batch, self.fmt)
        out = self.stdout()
        out.write(text)
        out.flush()


class TextFilesWriter:
    """``PREFIX-TIME_IN_MS[.SUFFIX]`` per batch (Spark ``saveAsTextFiles``), written whole or not at all: a file,
    or with *layout* ``"spark"`` a directory holding ``part-00000`` and ``_SUCCESS`` as Spark writes it."""

    def __init__(self, prefix: str, suffix: str | None = None, fmt: str = "text", layout: str = "dstream",
                 header: bool = False) -> None:
        require_header_format(fmt, header)
        self.header = header
        self.prefix = prefix
        self.suffix = suffix
        self.fmt = fmt
        self.layout = layout

    def path_for(self, t: int) -> str:
        return f"{self.prefix}-{t}" + (f".{self.suffix}" if self.suffix else "")

    def start(self) -> None:
        """Remove what a run killed mid-write left of its batches' files: the temporary files (or directories)
        that would have been renamed into place. Another prefix's, or any other file, is left alone."""
        directory = os.path.dirname(os.path.abspath(self.path_for(0)))
        if not os.path.isdir(directory):
            return
        name = os.path.basename(self.prefix)
        suffix = re.escape(f".{self.suffix}") if self.suffix else ""
        left = re.compile(rf"\.{re.escape(name)}-\d+{suffix}\.[^.]+\.tmp$")
        for entry in os.listdir(directory):
            if left.match(entry):
                remove_tree_or_file(os.path.join(directory, entry))

    def __call__(self, batch: list, t: int) -> None:
        data = render_file(batch, self.fmt, self.header).encode("utf-8", "surrogateescape")
        if self.layout == "spark":
            write_directory_atomically(self.path_for(t), {"part-00000": data, "_SUCCESS": b""})
        else:
            write_atomically(self.path_for(t), data)


#: process groups of foreach-batch commands still running: killed on every way out, a second SIGINT too
RUNNING_COMMANDS: set[int] = set()


def kill_running_commands() -> None:
    for group in list(RUNNING_COMMANDS):
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass


class CommandRunner:
    """``foreach-batch``: ``sh -c COMMAND`` once per non-empty batch, the elements on its stdin.

    The command runs in a process group of its own; one still running after *timeout_s* is killed with
    all it started, and the batch counts as failed (retried like any output)."""

    def __init__(self, command: str, fmt: str, stdout, timeout_s: float | None, header: bool = False) -> None:
        require_header_format(fmt, header)
        self.header = header
        self.command = command
        self.fmt = fmt
        self.stdout = stdout
        self.timeout_s = timeout_s

    def __call__(self, batch: list, t: int) -> None:
        if not batch:
            return
        if self.stdout is not None:
            self.stdout().flush()  # keep our earlier output ahead of the command's
        import subprocess  # only foreach-batch with a command needs it: not a cost of every start

        environment = dict(os.environ, DSTREAM_BATCH_TIME=str(t))
        data = render_file(batch, self.fmt, self.header).encode("utf-8", "surrogateescape")
        process = subprocess.Popen(["sh", "-c", self.command], stdin=subprocess.PIPE, env=environment,
                                   start_new_session=True)
        RUNNING_COMMANDS.add(process.pid)
        try:
            process.communicate(data, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            raise OutputFailed(f"foreach-batch command {self.command!r} was still running after "
                               f"{self.timeout_s:g}s for batch {t} (--timeout); killed it") from None
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            RUNNING_COMMANDS.discard(process.pid)
        if process.returncode != 0:
            raise OutputFailed(f"foreach-batch command {self.command!r} exited {process.returncode} for batch {t}")
