"""--on-error and --dead-letter: a bad record stops the run with a message, or is counted and kept aside.

Each dead letter has an ``id``, ``"<batch time>-<n>"``: the n-th record rejected in that batch. A batch
recomputed after a crash rejects the same records in the same order, so after a restart the ids
already in the file (those past the checkpoint resumed from) are not written again: exactly once.
"""
from __future__ import annotations

import os
import threading

import orjson

from .errors import BadRecord, DstreamError, StageFailed, shorten
from .labels import batch_time_text


def _describe(t: int) -> str:
    return f"batch {batch_time_text(t)} ({t} ms)"


class RecordErrors:
    """Applies the --on-error policy; ``skipped`` counts what went to the dead letter (or was skipped)."""

    def __init__(self, mode: str = "fail", dead_letter: str | None = None) -> None:
        self.mode = mode
        self.dead_letter = dead_letter
        self.skipped = 0
        self._lock = threading.Lock()
        self._file = None
        self._in_batch: dict[int, int] = {}  # batch time -> records rejected in it so far
        self._already_written: set[str] = set()

    def rejecter(self, t: int, input_name: str):
        """The ``reject(label, record, exc, whole_batch=False)`` callback for one batch and input."""

        def reject(label: str, record, exc: BaseException, whole_batch: bool = False) -> None:
            reason = str(exc) if isinstance(exc, BadRecord) else f"{type(exc).__name__}: {exc}"
            if self.mode == "fail":
                what = f"a batch of {len(record)} records" if whole_batch else f"record {shorten(_printable(record))}"
                raise StageFailed(f"{label}: {reason}; {what}, input {input_name}, {_describe(t)}") from exc
            for one in (record if whole_batch else [record]):
                self._write(label, one, reason, t, input_name)

        return reject

    def write_dead_letter(self, label: str, record, reason: str, t: int, input_name: str,
                          entry_id: str | None = None) -> None:
        """Count *record* as skipped and append it to the dead letter, if there is one, whatever --on-error says
        (late records under --event-time, which name their entries by *entry_id*)."""
        self._write(label, record, reason, t, input_name, entry_id)

    def resume_after(self, t: int) -> None:
        """Resuming after batch *t*: note the dead letters that batches after it wrote before a crash."""
        if self.dead_letter is None or not os.path.exists(self.dead_letter):
            return
        try:
            self._already_written = {entry["id"] for entry in _entries_after(self.dead_letter, t) if "id" in entry}
        except OSError as exc:
            raise DstreamError(f"--dead-letter {self.dead_letter}: cannot read: {exc.strerror or exc}") from None

    def _write(self, label: str, record, reason: str, t: int, input_name: str, entry_id: str | None = None) -> None:
        with self._lock:
            self.skipped += 1
            if self.dead_letter is None:
                return
            if entry_id is None:
                if t not in self._in_batch:
                    self._in_batch = {u: n for u, n in self._in_batch.items() if u >= t}  # older batches are done
                number = self._in_batch[t] = self._in_batch.get(t, 0) + 1
                entry_id = f"{t}-{number}"
            entry = {"id": entry_id, **entry_for(label, record, reason, t, input_name)}
            if entry["id"] in self._already_written:
                return
            try:
                self._append(entry)
            except OSError as exc:
                raise DstreamError(f"--dead-letter {self.dead_letter}: cannot write: {exc.strerror or exc}") from None

    def _append(self, entry: dict) -> None:
        if self._file is None:
            fd = os.open(self.dead_letter, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._file = os.fdopen(fd, "ab", buffering=0)  # one write per line; nothing left to fail at close
        self._file.write(orjson.dumps(entry) + b"\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _entries_after(path: str, t: int, block: int = 1 << 16) -> list[dict]:
    """The entries of batches after *t*, read backwards from the end (lines are in batch order); a last line
    that a crash cut short is cut off, so the next entry starts on a line of its own."""
    with open(path, "rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        tail, start = b"", size
        while start > 0:
            start = max(0, start - block)
            handle.seek(start)
            tail = handle.read(size - start)
            first_complete = tail.find(b"\n") + 1 if start else 0
            lines = tail[first_complete:].split(b"\n")
            oldest = next((line for line in lines if line.strip()), None)
            if oldest is not None and _batch_time(oldest) <= t:
                break
        end = tail.rfind(b"\n") + 1
        if start + end < size:
            handle.truncate(start + end)
        tail = tail[:end]
    lines = tail.split(b"\n")[1 if start else 0:]
    entries = []
    for line in lines:
        if line.strip():
            try:
                entry = orjson.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("batch_time"), int) and entry["batch_time"] > t:
                entries.append(entry)
    return entries


def _batch_time(line: bytes) -> int:
    try:
        return orjson.loads(line).get("batch_time", -1)
    except (ValueError, AttributeError):
        return -1


def entry_for(label: str, record, reason: str, t: int, input_name: str) -> dict:
    entry = {"stage": label, "input": input_name, "batch_time": t, "reason": reason}
    if isinstance(record, (bytes, bytearray)):
        import base64  # bytes records are rare: not a cost of every start

        entry["record_base64"] = base64.b64encode(record).decode()
    elif isinstance(record, (str, float, bool, type(None))) or (
            isinstance(record, int) and -(1 << 63) <= record < 1 << 63):
        entry["record"] = record
    else:
        entry["record"] = repr(record)
    return entry


def _printable(record):
    if isinstance(record, (bytes, bytearray)):
        return bytes(record).decode("utf-8", "backslashreplace")
    return record
