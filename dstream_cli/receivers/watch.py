"""``--watch DIR``: each new file read once, entirely, into the batch in which it is complete
(Spark ``textFileStream``).

A file is complete when it was moved into DIR (the safe way Spark documents), when its writer
closed it, or when its size has not changed for a batch interval. Files there before the start
are ignored unless ``--watch-existing``; the set of files read is the input's position, so with
--checkpoint a restart neither rereads a file nor misses one that arrived meanwhile.
"""
from __future__ import annotations

import fnmatch
import os
import sys
import threading
import time

from .base import Receiver
from .lines import DEFAULT_MAX_LINE_BYTES, LineSplitter, read_chunk


class DirectoryReceiver(Receiver):
    def __init__(self, directory: str, pattern: str | None = None, new_files_only: bool = True,
                 stable_ms: int = 1000, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, stderr=None) -> None:
        self.directory = os.path.abspath(directory)
        self.pattern = pattern
        self.new_files_only = new_files_only
        self.stable_s = stable_ms / 1000
        self.max_line_bytes = max_line_bytes
        self.done: set[str] = set()  # files read, or ignored at the first start
        self.restored = False
        self._pending: dict[str, tuple[int, float]] = {}  # name -> (size, time it was last seen changing)
        self._ready: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._observer = None
        self.stderr = stderr or sys.stderr
        self._size_read: dict[str, int] = {}  # files read by this run -> bytes read; warned ones are removed

    def seek(self, position) -> None:
        self.done = set(position or ())
        self.restored = True

    def _matches(self, name: str) -> bool:
        return not name.startswith(".") and (self.pattern is None or fnmatch.fnmatch(name, self.pattern))

    def on_start(self) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        existing = {n for n in os.listdir(self.directory) if os.path.isfile(os.path.join(self.directory, n))}
        if not self.restored and self.new_files_only:
            self.done |= existing
        for name in existing - self.done:
            self._note(name, ready=False)
        receiver = self

        class Handler(FileSystemEventHandler):
            def on_created(self, event):
                receiver._event(event.src_path, ready=False)

            def on_modified(self, event):
                receiver._event(event.src_path, ready=False)

            def on_moved(self, event):
                receiver._event(event.dest_path, ready=True)

            def on_closed(self, event):
                receiver._event(event.src_path, ready=True)

        self._observer = Observer()
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
        return sorted(ready - self.done)

    def _run(self) -> None:
        while not self.is_stopped():
            self._wake.wait(0.1)
            self._wake.clear()
            for name in self._stable_files():
                self._read(name)

    def _read(self, name: str) -> None:
        splitter = LineSplitter(self.max_line_bytes)
        lines, bad = [], []
        size = 0
        try:
            with open(os.path.join(self.directory, name), "rb") as handle:
                while chunk := read_chunk(handle):
                    size += len(chunk)
                    more, more_bad = splitter.feed(chunk)
                    lines += more
                    bad += more_bad
        except OSError as exc:
            self.store_bad(name, f"cannot read {name}: {exc}")
            return
        more, more_bad = splitter.finish()
        self.done.add(name)
        self._size_read[name] = size
        self._require_supervisor().push(lines + more, bad + more_bad, sorted(self.done))
