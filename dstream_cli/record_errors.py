"""--on-error and --dead-letter: a bad record stops the run with a message, or is counted and kept aside."""
from __future__ import annotations

import base64
import os
import threading

import orjson

from .errors import BadRecord, StageFailed, shorten


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
            if self._file is None:
                fd = os.open(self.dead_letter, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                self._file = os.fdopen(fd, "ab")
            entry = {"stage": label, "input": input_name, "batch_time": t, "reason": reason}
            if isinstance(record, (bytes, bytearray)):
                entry["record_base64"] = base64.b64encode(record).decode()
            else:
                entry["record"] = record if isinstance(record, (str, int, float, bool, type(None))) else repr(record)
            self._file.write(orjson.dumps(entry) + b"\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _printable(record):
    if isinstance(record, (bytes, bytearray)):
        return bytes(record).decode("utf-8", "backslashreplace")
    return record
