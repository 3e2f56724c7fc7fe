"""``--watch DIR``: each new file read once, entirely, into the batch in which it is complete
(Spark ``textFileStream``).

A file is complete when it was moved into DIR (the safe way Spark documents), when its writer
closed it, or when its size has not changed for a batch interval. Files there before the start
are ignored unless ``--watch-existing``. A file is read a chunk at a time under the input's
backlog limit, so a big one may span batches.

The position, saved by --checkpoint, is plain data: ``{"done": [names, in the order read, the
first "ignored" of them ignored at the first start], "ignored": N, "current": [name, offset,
lines] or None}``; a restart neither rereads a file nor misses one, and resumes inside a file.
"""
from __future__ import annotations

import fnmatch
import os
import sys
import threading
import time
from typing import Callable

from .base import Receiver
from .blocks import BadRaw
from .lines import DEFAULT_MAX_LINE_BYTES, as_line_position, read_lines_between, read_positioned


class DirectoryReceiver(Receiver):
    def __init__(self, directory: str, pattern: str | None = None, new_files_only: bool = True,
                 stable_ms: int = 1000, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, stderr=None) -> None:
        self.directory = os.path.abspath(directory)
        self.pattern = pattern
        self.new_files_only = new_files_only
        self.stable_s = stable_ms / 1000
        self.max_line_bytes = max_line_bytes
        self.done: dict[str, None] = {}  # files read (in that order), after those ignored at the first start
        self.ignored = 0
        self.current: list | None = None  # [name, line offset, lines] of a file read in part
        self.restored = False
        self._pending: dict[str, tuple[int, float]] = {}  # name -> (size, time it was last seen changing)
        self._ready: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._observer = None
        self.stderr = stderr or sys.stderr
        self._size_read: dict[str, int] = {}  # files read by this run -> bytes read; warned ones are removed

    def seek(self, position) -> None:
        done, self.ignored, self.current = _directory_position(position)
        self.done = dict.fromkeys(done)
        self.restored = position is not None

    def check_position(self, position) -> None:
        _directory_position(position)

    def position(self, current: list | None = None, finished: str | None = None) -> dict:
        done = list(self.done) if finished is None else [*self.done, finished]
        return {"done": done, "ignored": self.ignored, "current": current}

    def read_between(self, start, end) -> tuple[list, list]:
        """The records (and bad lines) between two positions this receiver gave, in the order read."""
        before_done, _, before_current = _directory_position(start)
        after_done, after_ignored, after_current = _directory_position(end)
        resume_at = {before_current[0]: before_current[1:]} if before_current else {}
        pieces = [(name, resume_at.get(name, [0, 0]), None)
                  for name in after_done[max(len(before_done), after_ignored):]]
        if after_current:
            pieces.append((after_current[0], resume_at.get(after_current[0], [0, 0]), after_current[1:]))
        records: list = []
        bad: list = []
        for name, start_at, end_at in pieces:
            more, more_bad = read_lines_between(os.path.join(self.directory, name), start_at, end_at,
                                                self.max_line_bytes, self.quoted_newlines)
            records += more
            bad += more_bad
        return records, bad

    def _matches(self, name: str) -> bool:
        return not name.startswith(".") and (self.pattern is None or fnmatch.fnmatch(name, self.pattern))

    def on_start(self) -> None:
        from watchdog.events import FileSystemEventHandler

        existing = sorted(n for n in os.listdir(self.directory) if os.path.isfile(os.path.join(self.directory, n)))
        if not self.restored and self.new_files_only:
            self.done = dict.fromkeys(existing)
            self.ignored = len(existing)
        if self.current is not None:
            self._ready.add(self.current[0])  # read in part before a restart: the rest comes first
        for name in existing:
            if name not in self.done:
                self._note(name, ready=False)
        receiver = self

        class Handler(FileSystemEventHandler):
            def on_created(self, event):
                receiver._event(event.src_path, ready=False)

            def on_modified(self, event):
                receiver._event(event.src_path, ready=False)

            def on_moved(self, event):
                if event.dest_path:  # not moved out of the directory
                    receiver._event(event.dest_path, ready=True)

            def on_closed(self, event):
                receiver._event(event.src_path, ready=True)

        self._observer = _observer()
        self._observer.schedule(Handler(), self.directory, recursive=False)
        self._observer.start()
        threading.Thread(target=self._run, name="watch", daemon=True).start()

    def on_stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
        self._wake.set()

    def _event(self, path: str, ready: bool) -> None:
        if os.path.dirname(os.path.abspath(path)) == self.directory:
            self._note(os.path.basename(path), ready)

    def _note(self, name: str, ready: bool) -> None:
        if not self._matches(name):
            return
        with self._lock:
            if name in self.done:
                self._warn_if_changed(name)
                return
            if ready:
                self._ready.add(name)
            else:
                self._pending[name] = (-1, time.monotonic())
        self._wake.set()

    def _warn_if_changed(self, name: str) -> None:
        size = self._size_read.get(name)
        try:
            changed = size is not None and os.path.getsize(os.path.join(self.directory, name)) != size
        except OSError:
            changed = False
        if changed:
            del self._size_read[name]
            print(f"dstream: warning: input {self.directory}: {name} changed after it was read; a file is read once,"
                  " so the change is not read (write files elsewhere, then move them in)", file=self.stderr, flush=True)

    def _stable_files(self) -> list[str]:
        now = time.monotonic()
        with self._lock:
            ready = set(self._ready)
            for name, (size, since) in list(self._pending.items()):
                try:
                    current = os.path.getsize(os.path.join(self.directory, name))
                except OSError:
                    del self._pending[name]
                    continue
                if current != size:
                    self._pending[name] = (current, now)
                elif now - since >= self.stable_s:
                    ready.add(name)
            self._ready.clear()
            for name in ready:
                self._pending.pop(name, None)
        return sorted(name for name in ready if name not in self.done)

    def _run(self) -> None:
        while not self.is_stopped():
            self._wake.wait(0.1)
            self._wake.clear()
            for name in self._stable_files():
                self._read(name)

    def _read(self, name: str) -> None:
        """Store the file's lines a chunk at a time, each push positioned so that a restart resumes exactly."""
        supervisor = self._require_supervisor()
        offset, skip = self.current[1:] if self.current and self.current[0] == name else (0, 0)
        try:
            handle = open(os.path.join(self.directory, name), "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            self.store_bad(name, f"cannot read {name}: {exc}")
            return
        with handle:
            handle.seek(offset)
            for read in read_positioned(handle, offset, skip, self.max_line_bytes, self.is_stopped,
                                        quoted=self.quoted_newlines):
                supervisor.push(read.lines, read.bad, self._positions(name, read))
                if read.last:
                    self.done[name] = None
                    self.current = None
                    self._size_read[name] = read.end

    def _positions(self, name: str, read) -> Callable[[int], dict]:
        def after(stored: int) -> dict:
            if stored == len(read.lines) and read.last:
                return self.position(finished=name)
            return self.position([name, *read.position_after(stored)])

        return after


def _observer():
    """The platform's observer. On Linux it reports a file moved in from outside the directory as moved, not as
    created: the file is complete, and is read in the batch it arrived in rather than after a batch of waiting."""
    if not sys.platform.startswith("linux"):
        from watchdog.observers import Observer

        return Observer()
    from watchdog.observers.inotify import InotifyObserver

    return InotifyObserver(generate_full_events=True)


def _directory_position(position) -> tuple[list, int, list | None]:
    """(done, ignored, current) of a position; a plain list of names is how earlier versions saved it."""
    if position is None:
        return [], 0, None
    if isinstance(position, list) and all(isinstance(n, str) for n in position):
        return position, len(position), None
    try:
        done, ignored, current = position["done"], position["ignored"], position["current"]
        if not (isinstance(done, list) and all(isinstance(n, str) for n in done) and type(ignored) is int
                and 0 <= ignored <= len(done)):
            raise TypeError
        if current is not None:
            as_line_position(current[1:])
            if len(current) != 3 or not isinstance(current[0], str):
                raise TypeError
    except (TypeError, KeyError, ValueError, IndexError):
        raise ValueError(f"position {position!r:.80} should be {{'done': [names], 'ignored': N, "
                         "'current': [name, offset, lines] or None}") from None
    return done, ignored, current


class BinaryRecordsReceiver(DirectoryReceiver):
    """Each new file cut into records of *record_length* bytes (Spark's ``binaryRecordsStream``); a file whose
    size is not a multiple of it is reported whole as bad input (Spark fails the batch)."""

    def __init__(self, directory: str, record_length: int, **options) -> None:
        if not isinstance(record_length, int) or record_length < 1:
            raise ValueError(f"record length must be a positive number of bytes, not {record_length!r}")
        super().__init__(directory, **options)
        self.record_length = record_length

    def _records_of(self, name: str) -> tuple[list, list]:
        try:
            with open(os.path.join(self.directory, name), "rb") as handle:
                data = handle.read()
        except OSError as exc:
            return [], [BadRaw(name, f"cannot read {name}: {exc}")]
        size = self.record_length
        if len(data) % size:
            return [], [BadRaw(name, f"{name} has {len(data)} bytes, not a multiple of the record length {size}")]
        return [data[i:i + size] for i in range(0, len(data), size)], []

    def _read(self, name: str) -> None:
        records, bad = self._records_of(name)
        self._require_supervisor().push(records, bad, self.position(finished=name))
        self.done[name] = None
        if not bad:
            self._size_read[name] = len(records) * self.record_length

    def read_between(self, start, end) -> tuple[list, list]:
        before_done = _directory_position(start)[0]
        after_done, after_ignored, _ = _directory_position(end)
        records: list = []
        bad: list = []
        for name in after_done[max(len(before_done), after_ignored):]:
            more, more_bad = self._records_of(name)
            records += more
            bad += more_bad
        return records, bad
