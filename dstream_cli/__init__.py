"""dstream: Spark Streaming's DStream model as one Unix command, and as a small library.

>>> from dstream_cli import StreamingContext
>>> ssc = StreamingContext("1s")
>>> ssc.queue_stream([[1, 2, 3]]).map(lambda x: x * 10).pprint()
>>> ssc.run()  # doctest: +SKIP
"""
from .context import StreamingContext
from .dstream import DStream
from .errors import DstreamError, ExitStatus, OutputFailed, StageFailed, UsageError
from .receivers.base import Receiver
from .scheduler.jobs import RunOptions

__version__ = "0.1.0"

__all__ = [
    "StreamingContext", "DStream", "Receiver", "RunOptions",
    "DstreamError", "UsageError", "StageFailed", "OutputFailed", "ExitStatus", "__version__",
]
