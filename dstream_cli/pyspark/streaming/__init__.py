"""``pyspark.streaming`` on dstream: PySpark's ``StreamingContext`` and ``DStream``, camelCase, with PySpark's
signatures, over the library's (``dstream_cli.StreamingContext``).

As in PySpark: durations are seconds; ``foreachRDD`` and ``transform`` functions take an RDD (``rdd.RDD``)
and optionally the batch time first, as a ``datetime``; the context runs on the clock until ``stop()``,
giving empty batches once a queue is empty. See the README's "Coming from PySpark" for what differs.
"""
from .context import StreamingContext
from .dstream import DStream
from .listener import StreamingListener

__all__ = ["StreamingContext", "DStream", "StreamingListener"]
