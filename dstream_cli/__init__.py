"""dstream: Spark Streaming's DStream model as one Unix command, and as a small library.

>>> from dstream_cli import StreamingContext
>>> ssc = StreamingContext("1s")
>>> ssc.queue_stream([[1, 2, 3]]).map(lambda x: x * 10).pprint()
>>> ssc.run()  # doctest: +SKIP
"""
from .errors import DstreamError, ExitStatus, OutputFailed, StageFailed, UsageError

__version__ = "0.1.0"

# The engine is imported on first use, so that `dstream --version` and `--help` stay quick (PEP 562).
_LAZY = {"StreamingContext": ".context", "DStream": ".dstream", "Receiver": ".receivers.base",
         "RunOptions": ".scheduler.jobs"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "StreamingContext", "DStream", "Receiver", "RunOptions",
    "DstreamError", "UsageError", "StageFailed", "OutputFailed", "ExitStatus", "__version__",
]
