"""Run a ``pyspark.streaming`` program on dstream by changing its imports::

    from dstream_cli.pyspark import SparkContext               # was: from pyspark import SparkContext
    from dstream_cli.pyspark.streaming import StreamingContext  # was: from pyspark.streaming import ...

The modules are PySpark's (``conf``, ``context``, ``rdd``, ``streaming.context``, ``streaming.dstream``,
``streaming.listener``, ``accumulators``, ``broadcast``...), with its names and signatures. Everything runs in
this process; there is no cluster and no JVM, and what needs them (Hadoop formats, barrier mode, resource
profiles, the status tracker) raises NotImplementedError naming itself.
"""
from .accumulators import Accumulator, AccumulatorParam
from .broadcast import Broadcast
from .conf import SparkConf
from .context import SPARK_VERSION as __version__
from .context import SparkContext
from .files import SparkFiles
from .rdd import RDD
from .storagelevel import StorageLevel
from .taskcontext import TaskContext
from .util import InheritableThread, inheritable_thread_target

# Left out, as meaningless in one process without a JVM: the serializers, the profilers, barrier mode and the
# cluster's status tracker (tests/test_pyspark_parity.py lists them).
__all__ = ["Accumulator", "AccumulatorParam", "Broadcast", "InheritableThread", "RDD", "SparkConf", "SparkContext",
           "SparkFiles", "StorageLevel", "TaskContext", "inheritable_thread_target", "__version__"]
