"""``pyspark.context``: ``SparkContext``, the stand-in for what streaming programs use it for."""
from __future__ import annotations

import getpass
import glob
import os
import pickle
import re
import time

from .accumulators import Accumulator, AccumulatorParam, _Adding
from .broadcast import Broadcast
from .conf import SparkConf
from .rdd import RDD, not_here

__all__ = ["SparkContext"]

#: the Spark version whose PySpark API the drop-in follows (its parity test compares with that PySpark)
SPARK_VERSION = "4.3.0"


class SparkContext:
    """The stand-in. ``defaultParallelism`` is N of a ``local[N]`` master (the number of processors for
    ``local[*]``), else 1: the partitions ``parallelize`` makes when not told."""

    _active: "SparkContext | None" = None
    _jvm = None  # PySpark's gateway into the JVM: there is none here
    _system_properties: dict[str, str] = {}
    PACKAGE_EXTENSIONS = (".zip", ".egg", ".jar")

    def __init__(self, master: str | None = None, appName: str | None = None, sparkHome=None,  # noqa: N803
                 pyFiles=None, environment=None, batchSize: int = 0, serializer=None, conf: SparkConf | None = None,  # noqa: N803
                 gateway=None, jsc=None, profiler_cls=None) -> None:
        self._conf = conf or SparkConf()
        self.master = master or self._conf.get("spark.master") or "local[*]"
        self.appName = appName or self._conf.get("spark.app.name") or "dstream"
        self._accumulators = 0
        self._start_ms = int(time.time() * 1000)
        self._checkpoint_dir: str | None = None
        self._local_properties: dict[str, str] = {}
        self._job_tags: set[str] = set()
        self._files: list[str] = []
        self._archives: list[str] = []
        SparkContext._active = self

    def __getnewargs__(self):
        # As in PySpark: a function that holds the context cannot be shipped (nor checkpointed), and says why.
        raise RuntimeError("[CONTEXT_ONLY_VALID_ON_DRIVER] It appears that you are attempting to reference "
                           "SparkContext from a broadcast variable, action, or transformation. SparkContext can only "
                           "be used on the driver, not in code that runs on workers. For more information, see "
                           "SPARK-5063.")

    @classmethod
    def getOrCreate(cls, conf: SparkConf | None = None) -> "SparkContext":  # noqa: N802
        return cls._active or cls(conf=conf)

    @property
    def defaultParallelism(self) -> int:  # noqa: N802
        match = re.fullmatch(r"local\[(\d+|\*)(?:,\d+)?\]", self.master)
        if not match:
            return 1
        if match.group(1) == "*":
            import os

            return os.cpu_count() or 1
        return int(match.group(1))

    def getConf(self) -> SparkConf:  # noqa: N802
        return self._conf

    def parallelize(self, c, numSlices: int | None = None) -> RDD:  # noqa: N803
        return RDD(list(c), numSlices or self.defaultParallelism, self)

    def emptyRDD(self) -> RDD:  # noqa: N802
        return RDD([], 1, self)

    def textFile(self, name: str, minPartitions: int | None = None, use_unicode: bool = True) -> RDD:  # noqa: N802, N803
        """The lines of a file, of the visible files of a directory (a ``saveAsTextFiles`` output), of a glob, or
        of a comma-separated list of them, as Hadoop reads paths for Spark, in as many partitions as Hadoop splits
        them into (the records are cut evenly among them, not at Hadoop's byte offsets)."""
        lines, sizes = [], []
        for path in _files_under(name):
            with open(path, "rb") as handle:
                data = handle.read()
            sizes.append(len(data))
            found = _LINE_END.split(data)
            if found[-1] == b"":
                found.pop()  # what follows the last line's end is not a line
            lines += [line.decode("utf-8") if use_unicode else line for line in found]
        return RDD(lines, max(_hadoop_split_count(sizes, minPartitions or self.defaultMinPartitions), 1), self)

    def broadcast(self, value) -> Broadcast:
        return Broadcast(self, value)

    def accumulator(self, value, accum_param: AccumulatorParam | None = None) -> Accumulator:
        self._accumulators += 1
        return Accumulator(self._accumulators, value, accum_param or _Adding())

    def setLogLevel(self, logLevel: str) -> None:  # noqa: N802, N803
        pass

    # --- PySpark's other reads and settings -------------------------------------------------------
    @property
    def applicationId(self) -> str:  # noqa: N802
        return f"local-{self._start_ms}"

    @property
    def startTime(self) -> int:  # noqa: N802
        return self._start_ms

    @property
    def version(self) -> str:
        return SPARK_VERSION

    @property
    def defaultMinPartitions(self) -> int:  # noqa: N802
        return min(self.defaultParallelism, 2)

    @property
    def uiWebUrl(self) -> str | None:  # noqa: N802
        return None  # no Spark UI: dstream --ui serves the run's page

    @property
    def resources(self) -> dict:
        return {}

    @property
    def listFiles(self) -> list[str]:  # noqa: N802
        return list(self._files)

    @property
    def listArchives(self) -> list[str]:  # noqa: N802
        return list(self._archives)

    def sparkUser(self) -> str:  # noqa: N802
        return getpass.getuser()

    def setCheckpointDir(self, dirName: str) -> None:  # noqa: N802, N803
        os.makedirs(dirName, exist_ok=True)
        self._checkpoint_dir = dirName

    def getCheckpointDir(self) -> str | None:  # noqa: N802
        return self._checkpoint_dir

    def setLocalProperty(self, key: str, value: str) -> None:  # noqa: N802
        self._local_properties[key] = value

    def getLocalProperty(self, key: str) -> str | None:  # noqa: N802
        return self._local_properties.get(key)

    def setJobGroup(self, groupId: str, description: str, interruptOnCancel: bool = False) -> None:  # noqa: N802, N803
        self.setLocalProperty("spark.jobGroup.id", groupId)
        self.setLocalProperty("spark.job.description", description)

    def setJobDescription(self, value: str) -> None:  # noqa: N802
        self.setLocalProperty("spark.job.description", value)

    def setInterruptOnCancel(self, interruptOnCancel: bool) -> None:  # noqa: N802, N803
        pass

    def addJobTag(self, tag: str) -> None:  # noqa: N802
        self._job_tags.add(tag)

    def removeJobTag(self, tag: str) -> None:  # noqa: N802
        self._job_tags.discard(tag)

    def getJobTags(self) -> set[str]:  # noqa: N802
        return set(self._job_tags)

    def clearJobTags(self) -> None:  # noqa: N802
        self._job_tags.clear()

    # jobs run to their end one at a time in this process: nothing is left to cancel
    def cancelAllJobs(self) -> None:  # noqa: N802
        pass

    def cancelJobGroup(self, groupId: str) -> None:  # noqa: N802, N803
        pass

    def cancelJobsWithTag(self, tag: str) -> None:  # noqa: N802
        pass

    @classmethod
    def setSystemProperty(cls, key: str, value: str) -> None:  # noqa: N802
        cls._system_properties[key] = value

    @classmethod
    def getSystemProperty(cls, key: str) -> str:  # noqa: N802
        return cls._system_properties.get(key)

    # files are read where they are: every function runs in this process
    def addFile(self, path: str, recursive: bool = False) -> None:  # noqa: N802
        self._files.append(os.path.abspath(path))

    def addPyFile(self, path: str) -> None:  # noqa: N802
        import sys

        self._files.append(os.path.abspath(path))
        sys.path.insert(0, os.path.abspath(path) if path.endswith(self.PACKAGE_EXTENSIONS) else
                        os.path.dirname(os.path.abspath(path)))

    def addArchive(self, path: str) -> None:  # noqa: N802
        self._archives.append(os.path.abspath(path))

    # --- RDDs from data and files -------------------------------------------------------------
    def range(self, start: int, end: int | None = None, step: int = 1, numSlices: int | None = None) -> RDD:  # noqa: N803
        if end is None:
            start, end = 0, start
        return self.parallelize(range(start, end, step), numSlices)

    def union(self, rdds: list[RDD]) -> RDD:
        return RDD([x for rdd in rdds for x in rdd.collect()], sum(r.getNumPartitions() for r in rdds), self)

    def wholeTextFiles(self, path: str, minPartitions: int | None = None, use_unicode: bool = True) -> RDD:  # noqa: N802, N803
        """(path, content) of each file under *path*, as ``file:`` URIs as Spark names them."""
        pairs = []
        for name in _files_under(path):
            with open(name, "rb") as handle:
                data = handle.read()
            pairs.append((f"file:{name}", data.decode("utf-8") if use_unicode else data))
        return RDD(pairs, minPartitions or self.defaultMinPartitions, self)

    def binaryFiles(self, path: str, minPartitions: int | None = None) -> RDD:  # noqa: N802, N803
        pairs = []
        for name in _files_under(path):
            with open(name, "rb") as handle:
                pairs.append((f"file:{name}", handle.read()))
        return RDD(pairs, minPartitions or self.defaultMinPartitions, self)

    def binaryRecords(self, path: str, recordLength: int) -> RDD:  # noqa: N802, N803
        records = []
        for name in _files_under(path):
            with open(name, "rb") as handle:
                data = handle.read()
            records += [data[i:i + recordLength] for i in range(0, len(data) - recordLength + 1, recordLength)]
        return RDD(records, self.defaultMinPartitions, self)

    def pickleFile(self, name: str, minPartitions: int | None = None) -> RDD:  # noqa: N802, N803
        """What ``RDD.saveAsPickleFile`` here wrote (not Hadoop's SequenceFile, which Spark writes)."""
        records = []
        for part in sorted(p for p in _files_under(name) if os.path.basename(p).startswith("part-")):
            with open(part, "rb") as handle:
                records += [x for batch in pickle.load(handle) for x in batch]
        return RDD(records, minPartitions or self.defaultMinPartitions, self)

    def runJob(self, rdd: RDD, partitionFunc, partitions=None, allowLocal: bool = False) -> list:  # noqa: N802, N803
        parts = rdd.glom().collect()
        chosen = range(len(parts)) if partitions is None else partitions
        return [x for index in chosen for x in partitionFunc(iter(parts[index]))]

    # --- what needs Hadoop or a cluster -----------------------------------------------------------
    def sequenceFile(self, path: str, keyClass: str | None = None, valueClass: str | None = None,  # noqa: N802, N803
                     keyConverter: str | None = None, valueConverter: str | None = None,  # noqa: N803
                     minSplits: int | None = None, batchSize: int = 0) -> RDD:  # noqa: N803
        raise not_here("SparkContext.sequenceFile", "Hadoop's file formats need Hadoop")

    def hadoopFile(self, path: str, inputFormatClass: str, keyClass: str, valueClass: str,  # noqa: N802, N803
                   keyConverter: str | None = None, valueConverter: str | None = None,  # noqa: N803
                   conf: dict | None = None, batchSize: int = 0) -> RDD:  # noqa: N803
        raise not_here("SparkContext.hadoopFile", "Hadoop's input formats need Hadoop")

    def newAPIHadoopFile(self, path: str, inputFormatClass: str, keyClass: str, valueClass: str,  # noqa: N802, N803
                         keyConverter: str | None = None, valueConverter: str | None = None,  # noqa: N803
                         conf: dict | None = None, batchSize: int = 0) -> RDD:  # noqa: N803
        raise not_here("SparkContext.newAPIHadoopFile", "Hadoop's input formats need Hadoop")

    def hadoopRDD(self, inputFormatClass: str, keyClass: str, valueClass: str,  # noqa: N802, N803
                  keyConverter: str | None = None, valueConverter: str | None = None,  # noqa: N803
                  conf: dict | None = None, batchSize: int = 0) -> RDD:  # noqa: N803
        raise not_here("SparkContext.hadoopRDD", "Hadoop's input formats need Hadoop")

    def newAPIHadoopRDD(self, inputFormatClass: str, keyClass: str, valueClass: str,  # noqa: N802, N803
                        keyConverter: str | None = None, valueConverter: str | None = None,  # noqa: N803
                        conf: dict | None = None, batchSize: int = 0) -> RDD:  # noqa: N803
        raise not_here("SparkContext.newAPIHadoopRDD", "Hadoop's input formats need Hadoop")

    def statusTracker(self):  # noqa: N802
        raise not_here("SparkContext.statusTracker", "it reports a cluster's jobs and stages")

    def show_profiles(self) -> None:
        raise not_here("SparkContext.show_profiles", "Spark's Python profiler runs in its workers")

    def dump_profiles(self, path: str) -> None:
        raise not_here("SparkContext.dump_profiles", "Spark's Python profiler runs in its workers")

    def stop(self) -> None:
        if SparkContext._active is self:
            SparkContext._active = None


#: Hadoop's line ends: a line ends at \n, \r\n or \r (str.splitlines would also end one at \f, \x1c, ...)
_LINE_END = re.compile(rb"\r\n|\n|\r")
#: Hadoop's local file system reads in blocks of 32 MB; a split is at most one block
_LOCAL_BLOCK = 32 * 1024 * 1024


def _hadoop_split_count(sizes: list[int], min_splits: int) -> int:
    """How many splits Hadoop's FileInputFormat cuts files of *sizes* into when asked for *min_splits*: a goal of
    the total over *min_splits* bytes each (at most a block), the last up to 10% longer; empty files none (Spark
    ignores empty splits)."""
    goal = max(1, min(sum(sizes) // max(min_splits, 1), _LOCAL_BLOCK))
    count = 0
    for size in sizes:
        remaining = size
        while remaining / goal > 1.1:
            count += 1
            remaining -= goal
        count += remaining > 0
    return count


def _files_under(paths: str) -> list[str]:
    """The files Hadoop reads for *paths*, comma-separated: a file itself, a directory's visible files (not
    ``_SUCCESS`` nor ``.crc``), a glob's matches; each sorted, ``file:`` prefixes dropped. None is an error."""
    files = []
    for path in paths.split(","):
        path = path[len("file:"):] if path.startswith("file:") else path
        matches = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
        if not matches or not all(os.path.exists(match) for match in matches):
            raise FileNotFoundError(f"Input path does not exist: file:{os.path.abspath(path)}")
        for match in matches:
            if os.path.isfile(match):
                files.append(os.path.abspath(match))
            else:
                files += sorted(os.path.join(os.path.abspath(match), name) for name in os.listdir(match)
                                if not name.startswith((".", "_")) and os.path.isfile(os.path.join(match, name)))
    return files
