"""Receiving-rate control: a token bucket (--max-rate) and Spark's PID rate estimator (--backpressure)."""
from __future__ import annotations

import threading
import time


class RateLimiter:
    """A token bucket shared by one receiver's threads; ``acquire`` blocks the receiver, not the batch loop.

    Blocking the thread that reads is the point: it stops reading its pipe or socket, so the
    producer is slowed by the kernel's flow control and nothing queues up in dstream's memory.
    """

    def __init__(self, rate: float | None = None) -> None:
        self._lock = threading.Lock()
        self._rate = rate
        self._tokens = 0.0
        self._stamp = time.monotonic()

    @property
    def rate(self) -> float | None:
        return self._rate

    def set_rate(self, rate: float | None) -> None:
        with self._lock:
            self._refill()
            self._rate = rate

    def _refill(self) -> None:
        now = time.monotonic()
        if self._rate is not None:
            # At most a second's worth may be saved up, as Guava's SmoothBursty that Spark uses.
            self._tokens = min(self._tokens + (now - self._stamp) * self._rate, max(self._rate, 1.0))
        self._stamp = now

    def acquire(self, wanted: int, stopped: threading.Event | None = None) -> int:
        """Wait until at least one record may pass; return how many of *wanted* may pass now."""
        while True:
            with self._lock:
                if self._rate is None:
                    return wanted
                self._refill()
                if self._tokens >= 1:
                    granted = min(wanted, int(self._tokens))
                    self._tokens -= granted
                    return granted
                wait = (1 - self._tokens) / self._rate
            if stopped is not None and stopped.wait(min(wait, 0.1)):
                return wanted
            if stopped is None:
                time.sleep(min(wait, 0.1))


class PIDRateEstimator:
    """Spark's ``PIDRateEstimator``: a new receiving rate from each completed batch's figures.

    Defaults are Spark's (proportional 1.0, integral 0.2, derivative 0.0, minimum 100 records/s).
    """

    def __init__(self, batch_ms: int, proportional: float = 1.0, integral: float = 0.2,
                 derivative: float = 0.0, min_rate: float = 100.0) -> None:
        self.batch_ms = batch_ms
        self.proportional, self.integral, self.derivative = proportional, integral, derivative
        self.min_rate = min_rate
        self._first = True
        self._latest_time = -1
        self._latest_rate = -1.0
        self._latest_error = -1.0

    def compute(self, time_ms: int, elements: int, processing_ms: int, scheduling_delay_ms: int) -> float | None:
        """The new rate in records/s, or None when this batch says nothing new (Spark's guard)."""
        if not (time_ms > self._latest_time and elements > 0 and processing_ms > 0):
            return None
        delay_since_update = (time_ms - self._latest_time) / 1000
        processing_rate = elements / processing_ms * 1000
        error = self._latest_rate - processing_rate
        historical_error = scheduling_delay_ms * processing_rate / self.batch_ms
        d_error = (error - self._latest_error) / delay_since_update
        new_rate = max(
            self._latest_rate - self.proportional * error - self.integral * historical_error
            - self.derivative * d_error,
            self.min_rate,
        )
        self._latest_time = time_ms
        if self._first:
            self._latest_rate = processing_rate
            self._latest_error = 0.0
            self._first = False
            return None
        self._latest_rate = new_rate
        self._latest_error = error
        return new_rate
