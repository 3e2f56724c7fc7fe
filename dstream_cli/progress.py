"""The live view (--progress): rich on stderr, only when asked for or stderr is a terminal; never stdout."""
from __future__ import annotations

import collections

from .labels import batch_time_text
from .listener import BatchInfo, StreamingListener

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values, ceiling: float | None = None) -> str:
    values = list(values)
    top = max([*values, ceiling or 0, 1e-9])
    return "".join(SPARK[min(int(v / top * (len(SPARK) - 1)), len(SPARK) - 1)] for v in values)


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
