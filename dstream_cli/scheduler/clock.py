"""Clocks: the system clock with batch times aligned to the interval, and the simulated one of queue mode."""
from __future__ import annotations

import threading
import time


class SystemClock:
    """Real time; batch times are multiples of the interval (Spark's ``RecurringTimer``)."""

    simulated = False

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def next_aligned(self, interval_ms: int, after_ms: int | None = None) -> int:
        now = self.now_ms() if after_ms is None else after_ms
        return (now // interval_ms + 1) * interval_ms

    def wait_until(self, t: int, wake: threading.Event, poll_s: float = 0.5) -> bool:
        """Sleep until *t*; return False early when *wake* is set (checked every *poll_s* at most)."""
        while True:
            remaining = (t - self.now_ms()) / 1000
            if remaining <= 0:
                return True
            if wake.wait(min(remaining, poll_s)):
                return False


class ManualClock:
    """Queue mode: time is whatever batch is being processed, and waiting takes no time."""

    simulated = True

    def __init__(self, start_ms: int = 0) -> None:
        self.time_ms = start_ms

    def now_ms(self) -> int:
        return self.time_ms

    def wait_until(self, t: int, wake: threading.Event, poll_s: float = 0.5) -> bool:
        self.time_ms = max(self.time_ms, t)
        return not wake.is_set()
