"""``--ui [HOST:]PORT``: the run's own page (Spark's Streaming tab: rates, delays, batches, inputs, outputs) and
its Prometheus metrics, served while the run lives. ``RunState`` is a listener that both engines feed;
``UIServer`` answers ``/``, ``/api/state``, ``/metrics`` and ``/healthz``, read-only."""
from .server import UIServer, parse_ui_address, serve_run_page
from .state import RunState

__all__ = ["RunState", "UIServer", "parse_ui_address", "serve_run_page"]
