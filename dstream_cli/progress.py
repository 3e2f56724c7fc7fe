"""The live view (--progress): rich on stderr, only when asked for or stderr is a terminal; never stdout."""
from __future__ import annotations

import collections
import time

from .labels import batch_time_text
from .listener import BatchInfo, StreamingListener

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values, ceiling: float | None = None) -> str:
    values = list(values)
    top = max([*values, ceiling or 0, 1e-9])
    return "".join(SPARK[min(int(v / top * (len(SPARK) - 1)), len(SPARK) - 1)] for v in values)


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return ""


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class ReadProgress:
    """How far through its files the run is, and when it will be through at the pace so far."""

    def __init__(self) -> None:
        self.first: tuple[float, int] | None = None  # (monotonic time, bytes read) at the first figures

    def text(self, read: int, total: int) -> tuple[str, str]:
        """("43% of 1.2 GB", "ETA 1m12s"): the ETA once the pace is known."""
        now = time.monotonic()
        if self.first is None:
            self.first = (now, read)
        percent = f"{read / total:.0%} of {_size(total)}" if total else "100%"
        started, read_then = self.first
        pace = (read - read_then) / (now - started) if now > started else 0
        if read >= total:
            return percent, "done"
        return percent, f"ETA {_duration((total - read) / pace)}" if pace > 0 else "ETA -"


def _count(value: int | None) -> str:
    """A figure, or "-" where the engine does not report it (Spark: backlog, keys in state)."""
    return "-" if value is None else f"{value:,}"


class ProgressView(StreamingListener):
    """Current batch time, records, rates, delays, backlog, keys in state, and sparklines of recent batches; by
    event time, the late records too."""

    def __init__(self, stderr, batch_ms: int, history: int = 40, event_time: bool = False) -> None:
        from rich.console import Console
        from rich.live import Live

        self.batch_ms = batch_ms
        self.late: int | None = 0 if event_time else None  # in all, since the view started
        self.rates: collections.deque = collections.deque(maxlen=history)
        self.processing: collections.deque = collections.deque(maxlen=history)
        self.reading = ReadProgress()
        self.console = Console(file=stderr, force_terminal=True)
        self.live = Live(console=self.console, refresh_per_second=4, transient=True, redirect_stdout=False,
                         redirect_stderr=False)
        self.live.start()

    def update(self, info: BatchInfo) -> None:
        from rich.table import Table

        self.rates.append(info.records_in / (self.batch_ms / 1000))
        self.processing.append(info.processing_ms)
        table = Table.grid(padding=(0, 2))
        table.add_row("batch", batch_time_text(info.batch_time), "records", f"{info.records_in:,}",
                      "rate", f"{self.rates[-1]:,.0f}/s")
        table.add_row("processing", f"{info.processing_ms} ms", "scheduling delay", f"{info.scheduling_delay_ms} ms",
                      "total delay", f"{info.total_delay_ms} ms")
        table.add_row("backlog", _count(info.backlog), "keys in state", _count(info.keys_in_state),
                      "skipped", f"{info.skipped:,}")
        if info.total_bytes is not None:
            percent, eta = self.reading.text(info.read_bytes, info.total_bytes)
            table.add_row("read", percent, "", eta)
        if self.late is not None:
            self.late += info.late
            table.add_row("late", f"{info.late:,} this batch", "late in all", f"{self.late:,}")
        table.add_row("input rate", sparkline(self.rates), "processing / interval",
                      sparkline(self.processing, self.batch_ms), "rate limit",
                      "-" if info.rate_limit is None else f"{info.rate_limit:,.0f}/s")
        self.live.update(table)

    on_batch_completed = update

    def close(self) -> None:
        self.live.stop()
