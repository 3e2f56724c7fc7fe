"""The library's exceptions and the exit status each one means. Library code never imports click.

    DstreamError             every error dstream reports as one line (exit 1)
    ├── UsageError           the chain, a duration, a window or a checkpoint does not fit (exit 2);
    │                        also a ValueError, as PySpark raises for a bad window or duration
    ├── StageFailed          a stage could not process a record or a batch at run time (exit 1)
    └── OutputFailed         an output could not write a batch, even after its retries (exit 1)
"""
from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    INTERRUPTED = 130


class DstreamError(Exception):
    """Base of every error dstream reports to a user as one line."""

    exit_status = ExitStatus.FAILURE


class UsageError(DstreamError, ValueError):
    """The chain, an expression, a window or a checkpoint does not fit: nothing was read."""

    exit_status = ExitStatus.USAGE


class StageFailed(DstreamError):
    """A stage could not process a record or a batch at run time."""


class BadRecord(Exception):
    """Why raw input could not become a record (not UTF-8, too long, not the --format)."""


class OutputFailed(DstreamError):
    """An output operation could not write a batch, even after its retries."""


#: what a user expression may raise for one record: any error, and also SystemExit (``exit()``,
#: ``sys.exit()``), so that no expression can end the run past --on-error. Ctrl-C still interrupts.
RECORD_ERRORS = (Exception, SystemExit)


def shorten(value: object, limit: int = 80) -> str:
    """repr(value), cut to *limit* characters so a message stays on one line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
