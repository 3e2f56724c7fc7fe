"""--metrics: one JSON line of each batch's figures (``listener.BatchInfo``)."""
from __future__ import annotations

import os

import orjson

from .listener import BatchInfo, StreamingListener


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
