"""--on-error and --dead-letter: a bad record stops the run with a message, or is counted and kept aside."""
from __future__ import annotations

import base64
import os
import threading

import orjson

from .errors import BadRecord, DstreamError, StageFailed, shorten


def _describe(t: int) -> str:
    from .outputs import batch_time_text

    return f"batch {batch_time_text(t)} ({t} ms)"


class RecordErrors:
    """Applies the --on-error policy; ``skipped`` counts what went to the dead letter (or was skipped)."""

    def __init__(self, mode: str = "fail", dead_letter: str | None = None) -> None:
        self.mode = mode
        self.dead_letter = dead_letter
        self.skipped = 0
        self._lock = threading.Lock()
        self._file = None

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

    def _write(self, label: str, record, reason: str, t: int, input_name: str) -> None:
        with self._lock:
            self.skipped += 1
            if self.dead_letter is None:
                return
            try:
                self._append(entry_for(label, record, reason, t, input_name))
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


def entry_for(label: str, record, reason: str, t: int, input_name: str) -> dict:
    entry = {"stage": label, "input": input_name, "batch_time": t, "reason": reason}
    if isinstance(record, (bytes, bytearray)):
        entry["record_base64"] = base64.b64encode(record).decode()
    elif isinstance(record, (str, float, bool, type(None))) or (isinstance(record, int) and -(1 << 63) <= record < 1 << 63):
        entry["record"] = record
    else:
        entry["record"] = repr(record)
    return entry


def _printable(record):
    if isinstance(record, (bytes, bytearray)):
        return bytes(record).decode("utf-8", "backslashreplace")
    return record
