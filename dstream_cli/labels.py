"""How a batch time reads in what a user sees: print's ``Time:`` lines, messages, the live view."""
from __future__ import annotations

import datetime


def batch_time_text(t: int) -> str:
    """A batch time as PySpark prints it: local time, microseconds only when not a whole second."""
    return str(datetime.datetime.fromtimestamp(t / 1000.0))
