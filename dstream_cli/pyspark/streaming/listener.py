"""``pyspark.streaming.listener``: PySpark's ``StreamingListener``, told the library's events as Spark's info
objects."""
from __future__ import annotations

from ...listener import OutputOperationInfo

__all__ = ["StreamingListener"]


class StreamingListener:
    """PySpark's listener: override ``onBatchCompleted(batchCompleted)`` and the others; each event has the
    accessor PySpark's has (``batchCompleted.batchInfo()``, ``receiverStarted.receiverInfo()``...)."""

    def onStreamingStarted(self, streamingStarted) -> None:  # noqa: N802, N803
        pass

    def onReceiverStarted(self, receiverStarted) -> None:  # noqa: N802, N803
        pass

    def onReceiverError(self, receiverError) -> None:  # noqa: N802, N803
        pass

    def onReceiverStopped(self, receiverStopped) -> None:  # noqa: N802, N803
        pass

    def onBatchSubmitted(self, batchSubmitted) -> None:  # noqa: N802, N803
        pass

    def onBatchStarted(self, batchSubmitted) -> None:  # noqa: N802, N803 - PySpark names the argument so
        pass

    def onBatchCompleted(self, batchCompleted) -> None:  # noqa: N802, N803
        pass

    def onOutputOperationStarted(self, outputOperationStarted) -> None:  # noqa: N802, N803
        pass

    def onOutputOperationCompleted(self, outputOperationCompleted) -> None:  # noqa: N802, N803
        pass


class _Time:
    def __init__(self, ms: int) -> None:
        self._ms = ms

    def milliseconds(self) -> int:
        return self._ms


def _or_minus_one(value: int | None) -> int:
    """Spark's Java listener objects say -1 for a time or delay not known yet."""
    return -1 if value is None else value


class _StreamInputInfo:
    def __init__(self, stream_id: int, records: int) -> None:
        self._id, self._records = stream_id, records

    def inputStreamId(self) -> int:  # noqa: N802 - Spark's names
        return self._id

    def numRecords(self) -> int:  # noqa: N802
        return self._records

    def metadata(self) -> dict:
        return {}

    def metadataDescription(self) -> str | None:  # noqa: N802
        return None


class _BatchInfo:
    """Spark's ``JavaBatchInfo``, as PySpark's listeners are given it, over the library's figures."""

    def __init__(self, info, counted: dict[str, int], outputs: dict[int, "_OutputOperationInfo"]) -> None:
        self._info = info
        self._counted = counted  # the inputs Spark counts records of, by name: their stream ids
        self._outputs = outputs

    def batchTime(self) -> _Time:  # noqa: N802
        return _Time(self._info.batch_time)

    def streamIdToInputInfo(self) -> dict[int, _StreamInputInfo]:  # noqa: N802
        return {self._counted[name]: _StreamInputInfo(self._counted[name], figures["records"])
                for name, figures in (self._info.inputs or {}).items() if name in self._counted}

    def submissionTime(self) -> int:  # noqa: N802
        return _or_minus_one(self._info.submission_ms)

    def processingStartTime(self) -> int:  # noqa: N802
        return _or_minus_one(self._info.processing_start_ms)

    def processingEndTime(self) -> int:  # noqa: N802
        return _or_minus_one(self._info.processing_end_ms)

    def schedulingDelay(self) -> int:  # noqa: N802
        return -1 if self._info.processing_start_ms is None else self._info.scheduling_delay_ms

    def processingDelay(self) -> int:  # noqa: N802
        return -1 if self._info.processing_end_ms is None else self._info.processing_ms

    def totalDelay(self) -> int:  # noqa: N802
        return -1 if self._info.processing_end_ms is None else self._info.total_delay_ms

    def numRecords(self) -> int:  # noqa: N802
        return sum(info.numRecords() for info in self.streamIdToInputInfo().values())

    def outputOperationInfos(self) -> dict[int, "_OutputOperationInfo"]:  # noqa: N802
        return dict(self._outputs)


class _OutputOperationInfo:
    """Spark's ``JavaOutputOperationInfo``."""

    def __init__(self, info) -> None:
        self._info = info

    def batchTime(self) -> _Time:  # noqa: N802
        return _Time(self._info.batch_time)

    def id(self) -> int:
        return self._info.id

    def name(self) -> str:
        return self._info.name

    def description(self) -> str:
        return self._info.name

    def startTime(self) -> int:  # noqa: N802
        return _or_minus_one(self._info.start_ms)

    def endTime(self) -> int:  # noqa: N802
        return _or_minus_one(self._info.end_ms)

    def duration(self) -> int | None:
        return self._info.duration_ms

    def failureReason(self) -> str | None:  # noqa: N802
        return self._info.failure


class _ReceiverInfo:
    """Spark's ``JavaReceiverInfo``: the receivers run in this process, on the driver."""

    def __init__(self, info) -> None:
        self._info = info

    def streamId(self) -> int:  # noqa: N802
        return self._info.stream_id

    def name(self) -> str:
        return self._info.name

    def active(self) -> bool:
        return self._info.active

    def location(self) -> str:
        return "localhost"

    def executorId(self) -> str:  # noqa: N802
        return "driver"

    def lastErrorMessage(self) -> str:  # noqa: N802
        return self._info.last_error or ""

    def lastError(self) -> str:  # noqa: N802
        return self._info.last_error or ""

    def lastErrorTime(self) -> int:  # noqa: N802
        return -1


class _Event:
    """One of Spark's listener events: its one accessor gives the info."""

    def __init__(self, accessor: str, info) -> None:
        setattr(self, accessor, lambda: info)


class _CamelListener:
    """A PySpark listener as the library's StreamingListener (``dstream_cli.listener``). A completed batch's
    info holds the output operations of that batch, as Spark's does."""

    def __init__(self, listener, graph=None) -> None:
        self.listener = listener
        self.graph = graph  # the inputs' ids are their places in it, as Spark numbers its input streams
        self.outputs: dict[int, dict[int, _OutputOperationInfo]] = {}

    def _tell(self, method: str, accessor: str, info) -> None:
        getattr(self.listener, method)(_Event(accessor, info))

    def _batch(self, info) -> _BatchInfo:
        """Spark counts the records of its receivers' and file streams, not of a queue stream's RDDs; and a batch
        lists every output operation from its submission, those not run yet with -1 times."""
        from ...inputs import QueueInputDStream

        inputs = self.graph.inputs if self.graph else []
        counted = {s.name: i for i, s in enumerate(inputs) if not isinstance(s, QueueInputDStream)}
        outputs = {index: _OutputOperationInfo(OutputOperationInfo(info.batch_time, index, output.label, None))
                   for index, output in enumerate(self.graph.outputs if self.graph else [])}
        outputs.update(self.outputs.get(info.batch_time, {}))
        return _BatchInfo(info, counted, outputs)

    def on_streaming_started(self, time_ms: int) -> None:
        self._tell("onStreamingStarted", "time", time_ms)

    def on_batch_submitted(self, info) -> None:
        self._tell("onBatchSubmitted", "batchInfo", self._batch(info))

    def on_batch_started(self, info) -> None:
        self._tell("onBatchStarted", "batchInfo", self._batch(info))

    def on_batch_completed(self, info) -> None:
        batch = self._batch(info)
        self.outputs.pop(info.batch_time, None)
        self._tell("onBatchCompleted", "batchInfo", batch)

    def on_output_operation_started(self, info) -> None:
        self._tell("onOutputOperationStarted", "outputOperationInfo", _OutputOperationInfo(info))

    def on_output_operation_completed(self, info) -> None:
        operation = _OutputOperationInfo(info)
        self.outputs.setdefault(info.batch_time, {})[info.id] = operation
        self._tell("onOutputOperationCompleted", "outputOperationInfo", operation)

    def on_receiver_started(self, info) -> None:
        self._tell("onReceiverStarted", "receiverInfo", _ReceiverInfo(info))

    def on_receiver_error(self, info) -> None:
        self._tell("onReceiverError", "receiverInfo", _ReceiverInfo(info))

    def on_receiver_stopped(self, info) -> None:
        self._tell("onReceiverStopped", "receiverInfo", _ReceiverInfo(info))
