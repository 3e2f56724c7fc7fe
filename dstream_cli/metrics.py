"""Per-batch figures: one JSON line each for --metrics, and the feed of the live view and backpressure."""
from __future__ import annotations

import dataclasses
import os

import orjson

from .listener import StreamingListener


@dataclasses.dataclass
class BatchInfo:
    batch_time: int
    records_in: int
    processing_ms: int
    scheduling_delay_ms: int
    total_delay_ms: int
    backlog: int | None  # None where the engine does not report it (Spark)
    skipped: int
    keys_in_state: int | None
    rate_limit: float | None = None
    late: int = 0  # --event-time: records that came after their batch was computed

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class MetricsWriter(StreamingListener):
    """--metrics: one JSON line per completed batch."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115 - closed by close()

    def write(self, info: BatchInfo) -> None:
        self._file.write(orjson.dumps(info.as_dict()) + b"\n")

    on_batch_completed = write

    def close(self) -> None:
        self._file.close()
