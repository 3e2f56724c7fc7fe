"""The direct Kafka input: no receiver, as Spark's ``KafkaUtils.createDirectStream``.

Partitions are assigned explicitly (no group rebalancing in the data path), and every batch is a
range of offsets per partition, fetched when the batch is allocated. A batch's records are its
partitions' records, in partition order and offset order within each, so a batch fetched again from
its ranges is the same batch. The ranges are the input's position, saved in the allocation log and
the checkpoint like a file's offset: after a crash the unfinished batches are read again, exactly.
After each completed batch the offsets reached are committed to the consumer group, for the usual
lag tools.
"""
from __future__ import annotations

import itertools
import operator
import time
import urllib.parse
from typing import Iterator, NamedTuple

from ..errors import DstreamError, UsageError
from ..inputs import InputDStream
from ..receivers.blocks import BadRaw, Block
from . import QUIET, client

#: how long an allocation waits for more records once the broker has stopped handing them over
FETCH_IDLE_S = 0.05
#: ... and when the last fetch was full (more is surely there, the broker is only slow to send it)
FETCH_BUSY_S = 0.5
#: ... and, at most, while the broker's high watermark says more records are there than were handed over (not
#: for ever: in a transactional topic the last offsets are markers, never handed over); in the first batch after
#: the partitions were assigned, while the client's first fetches are under way, up to the batch's end
FETCH_BEHIND_S = 0.2
FETCH_MESSAGES = 10_000
#: the client's pause before fetching again once its queue is full (librdkafka's default is a second): records
#: are taken in bursts, at each batch, so with a second's pause every other batch would find the queue empty
CONSUMER_DEFAULTS = {"fetch.queue.backoff.ms": 10}
#: how often the topics' partitions are listed again (new ones are read from their beginning)
METADATA_EVERY_S = 2.0
#: how long it waits at most for a partition's records while replaying a recorded range
REPLAY_TIMEOUT_S = 30.0
#: the query keys that are dstream's own; every other one goes to the client
OWN_KEYS = ("group", "start", "records", "reset")
RESETS = ("earliest", "latest", "fail")
#: how long the high watermarks of a fetch are waited for (see partition_bounds)
FETCH_END_S = 2.0
#: librdkafka logs every failed connection to stderr; an outage is said once, by dstream, instead
class KafkaSource(NamedTuple):
    brokers: str
    topics: list[str]
    group: str
    start: str
    records: str  # "value": the value as a line; "json": a JSON line of key, value, topic, partition, offset...
    config: dict
    reset: str = "fail"  # an offset outside what the brokers hold: from the earliest, the latest, or stop


def parse_kafka_uri(uri: str, name: str) -> KafkaSource:
    """``kafka://HOST:PORT[,HOST:PORT]/TOPIC[,TOPIC]?group=G&start=earliest|latest&records=value|json&...``."""
    try:
        parsed = urllib.parse.urlsplit(uri)
    except ValueError as exc:  # "Invalid IPv6 URL": a bracket left open
        raise UsageError(f"-i {name}: {uri!r} is not a URL ({exc})") from None
    topics = [t for t in parsed.path.strip("/").split(",") if t]
    if not parsed.netloc or not topics:
        raise UsageError(f"-i {name}: {uri!r} should be kafka://HOST:PORT[,HOST:PORT]/TOPIC[,TOPIC][?group=G]")
    query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
    start = query.get("start", "latest")
    if start not in ("earliest", "latest"):
        raise UsageError(f"-i {name}: start={start!r} should be earliest or latest")
    records = query.get("records", "value")
    if records not in ("value", "json"):
        raise UsageError(f"-i {name}: records={records!r} should be value or json")
    reset = query.get("reset", "fail")
    if reset not in RESETS:
        raise UsageError(f"-i {name}: reset={reset!r} should be earliest, latest or fail")
    config = {key: value for key, value in query.items() if key not in OWN_KEYS}
    return KafkaSource(parsed.netloc, topics, query.get("group", f"dstream-{name}"), start, records, config, reset)


def partition_bounds(kafka, consumer, keys: list[str], timeout_s: float = 10.0) -> dict[str, tuple[int, int]]:
    """(first offset, end) of each partition, with *consumer* unassigned afterwards. Some brokers (Tansu 0.6)
    answer a list of offsets with the last record batch's first offset + 1 as the end; the high watermark a
    fetch answers with is right on every broker, so the last record of each partition is fetched to read it."""
    TopicPartition = kafka.TopicPartition
    listed = {key: consumer.get_watermark_offsets(TopicPartition(*split_key(key)), timeout=timeout_s) for key in keys}
    consumer.assign([TopicPartition(*split_key(key), max(high - 1, low)) for key, (low, high) in listed.items()])
    fetched: dict[str, int] = {}
    deadline = time.monotonic() + FETCH_END_S
    while len(fetched) < len(keys) and time.monotonic() < deadline:
        consumer.consume(num_messages=10_000, timeout=0.05)
        for key in keys:
            high = consumer.get_watermark_offsets(TopicPartition(*split_key(key)), cached=True)[1]
            if high >= 0:
                fetched[key] = high
    consumer.unassign()
    return {key: (low, max(high, fetched.get(key, high))) for key, (low, high) in listed.items()}


def topic_partitions(metadata, topics: list[str], name: str, missing: set[str], say) -> list[tuple[str, int]]:
    """Every (topic, partition) of *topics* in the brokers' *metadata*, sorted; a topic that does not exist is
    said once (and again if it goes away after it appeared), and read when it appears."""
    found = []
    for topic in topics:
        described = metadata.topics.get(topic)
        if described is None or described.error is not None:
            if topic not in missing:
                missing.add(topic)
                say(f"dstream: input {name}: topic {topic} does not exist (yet); it is read when it appears")
            continue
        missing.discard(topic)
        found.extend((topic, partition) for partition in described.partitions)
    return sorted(found)


class OffsetOutOfRange(DstreamError):
    """A saved offset is outside what the brokers hold, and the input's reset= says to stop."""


def reset_offset(source: KafkaSource, name: str, key: str, offset: int, bounds: tuple[int, int], say) -> int:
    """*offset* of partition *key* if the brokers hold it (or it is the end); else what ``reset=`` says, said
    once through *say*, or OffsetOutOfRange for ``reset=fail``."""
    low, high = bounds
    if low <= offset <= high:
        return offset
    where = f"offset {offset} of {key} is outside what the brokers hold ({low} to {high}): the topic was recreated " \
            "or its records deleted"
    if source.reset == "fail":
        raise OffsetOutOfRange(f"input {name}: {where}; add reset=earliest or reset=latest to the URI to go on")
    moved = low if source.reset == "earliest" else high
    say(f"dstream: input {name}: {where}; reading from offset {moved} (reset={source.reset})")
    return moved


def partition_key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


class DirectKafkaInputDStream(InputDStream):
    """Batch t is, for every partition of the topics, the records from where the previous batch ended, up to
    what the broker hands over by then (at most ``--max-rate`` a second per partition).

    Where reading starts: the checkpoint's offsets; without one, the group's committed offsets, else
    ``start``. A partition that appears later is read from its beginning, so a batch that first met it
    is the same batch when read again."""

    replayable = True

    def __init__(self, context, name: str, source: KafkaSource, fmt: str | None = "text") -> None:
        super().__init__(context, name, fmt)
        self.kafka = client()
        self.source = source
        self.only_topic = source.topics[0] if len(source.topics) == 1 else None  # its messages' topic, known
        self.offsets: dict[str, int] = {}  # "topic:partition" -> the next offset to read
        self.started = False  # whether self.offsets says where the run starts (checkpoint, group or start)
        self.consumer = None
        self.outage = False
        self.assigned: list | None = None  # the partitions the consumer reads, from self.offsets on
        self.listed_at = 0.0
        self.carried: dict[str, list] = {}  # fetched beyond a batch's --max-rate: the next batches' first records
        self.highs: dict[str, int] = {}  # each partition's high watermark when it was assigned
        self.just_assigned = False  # no batch has fetched since the partitions were assigned
        self.listing_failed = False  # the last listing of the topics' partitions failed
        self.missing: set[str] = set()  # topics said not to exist (yet)

    # --- the client ---------------------------------------------------------------------------------
    def _consumer(self):
        if self.consumer is None:
            config = {"bootstrap.servers": self.source.brokers, "group.id": self.source.group,
                      "enable.auto.commit": False, "auto.offset.reset": self.source.start,
                      "error_cb": self._on_client_error, **QUIET, **CONSUMER_DEFAULTS, **self.source.config}
            self.consumer = self.kafka.Consumer(config)
        return self.consumer

    def _on_client_error(self, error) -> bool:
        """Say a broker outage (once until records flow again); whether *error* is one."""
        if error.code() not in (self.kafka.KafkaError._ALL_BROKERS_DOWN, self.kafka.KafkaError._TRANSPORT):
            return False
        self._say_outage(error.str())
        return True

    def _say_outage(self, detail) -> None:
        """Once an outage, however many ways the client reports it (a failed listing, a transport error, every
        reconnection), until records flow again."""
        if not self.outage:
            self.outage = True
            print(f"dstream: input {self.name}: brokers {self.source.brokers} unreachable ({detail}); retrying",
                  file=self.context.stderr(), flush=True)

    def close(self) -> None:
        if self.consumer is not None:
            self._commit(asynchronous=False)  # the last batch's offsets, before the run ends
            self.consumer.close()
            self.consumer = None

    # --- partitions and where to start in them ---------------------------------------------------------
    def _partitions(self) -> list[tuple[str, int]] | None:
        """Every partition of the topics, sorted, listed again every METADATA_EVERY_S; None while the brokers
        cannot be reached."""
        if self.assigned is not None and time.monotonic() < self.listed_at + METADATA_EVERY_S:
            return self.assigned
        try:  # never longer than half a batch: while the brokers are away, the clock keeps its batches
            metadata = self._consumer().list_topics(timeout=min(2.0, max(0.1, self.context.batch_ms / 2000)))
        except self.kafka.KafkaException as exc:
            failed_before, self.listing_failed = self.listing_failed, True
            if self.assigned is not None and not self.outage:
                return self.assigned  # a slow answer while records flow (a busy client): listed again next time
            if failed_before:  # one failed listing may be a slow first answer (a busy machine); two are an outage
                self._say_outage(exc)
            return None
        self.listed_at, self.listing_failed = time.monotonic(), False
        return topic_partitions(metadata, self.source.topics, self.name, self.missing, self._say)

    def _start_offsets(self, partitions: list[tuple[str, int]]) -> None:
        """Offsets for the partitions not known yet: at the run's start the group's committed ones, else
        ``start``; a partition that appears later, its beginning."""
        new = [(t, p) for t, p in partitions if partition_key(t, p) not in self.offsets]
        if not new:
            self.started = True
            return
        TopicPartition, consumer = self.kafka.TopicPartition, self._consumer()
        committed = consumer.committed([TopicPartition(t, p) for t, p in new], timeout=10) if not self.started \
            else [TopicPartition(t, p, -1) for t, p in new]
        for (topic, partition), found in zip(new, committed):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if found.offset >= 0:
                offset = found.offset
            else:
                offset = high if self.source.start == "latest" and not self.started else low
            self.offsets[partition_key(topic, partition)] = max(offset, 0)
        self.started = True

    def position(self) -> dict:
        if not self.started:  # the resume point before the first batch must say where this run starts
            partitions = self._partitions()
            if partitions is not None:
                self._start_offsets(partitions)
        return dict(self.offsets)

    def seek(self, position) -> None:
        if position is not None and (not isinstance(position, dict)
                                     or not all(type(v) is int and v >= 0 for v in position.values())):
            raise ValueError(f"position {position!r} should map topic:partition to an offset")
        self.offsets = dict(position or {})
        self.started = position is not None
        self.assigned, self.carried = None, {}

    # --- batches --------------------------------------------------------------------------------------
    def start(self) -> None:
        """Assign the partitions now, so that the client fetches while the first batch interval passes."""
        partitions = self._partitions()
        if partitions is None:
            return
        try:
            self._start_offsets(partitions)
            self._assign(partitions)
        except self.kafka.KafkaException as exc:
            self._say_outage(exc)

    def _assign(self, partitions: list[tuple[str, int]]) -> None:
        """Read *partitions* from the offsets reached (checked against what the brokers hold), unless already."""
        if self.assigned != partitions:
            self._check_offsets([partition_key(t, p) for t, p in partitions])
            self._consumer().assign([self.kafka.TopicPartition(t, p, self.offsets[partition_key(t, p)])
                                     for t, p in partitions])
            self.assigned, self.carried, self.just_assigned = partitions, {}, True

    def _receive(self, t: int) -> Block:
        partitions = self._partitions()
        if partitions is not None:
            try:
                self._start_offsets(partitions)
                taken = self._fetch(partitions, self._cap())
            except self.kafka.KafkaException as exc:
                self._say_outage(exc)
                taken = None
            if taken is not None:
                if taken:
                    self.outage = False  # records flow again
                return self._block(taken)
        return Block([], [], dict(self.offsets))

    def _cap(self) -> int | None:
        rate = self.context.rate_limiter.rate
        return None if rate is None else max(1, int(rate * self.context.batch_ms / 1000))

    def _fetch(self, partitions, cap: int | None) -> dict | None:
        """Each partition's records from its offset on, at most *cap*, until the broker has no more to give
        (or a batch interval has passed: producers faster than this run are slowed by --backpressure, not by
        batches that never end); the offsets advance past them. The consumer stays assigned from batch to
        batch, so what it fetched beyond the cap is carried to the next batch rather than fetched again."""
        consumer = self._consumer()
        self._assign(partitions)
        taken: dict[str, list] = {}
        full: set = set()
        for key, messages in list(self.carried.items()):
            self._take(taken, full, key, messages, cap)
        give_up = time.monotonic() + max(0.2, self.context.batch_ms / 1000)
        wait, empty_since = FETCH_IDLE_S, None
        behind_for = float("inf") if self.just_assigned else FETCH_BEHIND_S  # the batch's end bounds it
        self.just_assigned = False
        while len(full) < len(partitions) and time.monotonic() < give_up:
            timeout = max(0.0, min(wait, give_up - time.monotonic()))  # a negative one would wait for ever
            messages = consumer.consume(num_messages=FETCH_MESSAGES, timeout=timeout)
            if not messages:
                empty_since = empty_since or time.monotonic()
                if time.monotonic() - empty_since < behind_for and self._behind(partitions, full):
                    continue  # the broker holds more: the client is between fetches
                break
            empty_since = None
            wait = FETCH_BUSY_S if len(messages) == FETCH_MESSAGES else FETCH_IDLE_S
            errors = list(filter(None, map(_ERROR, messages)))
            if errors:
                for error in errors:
                    if self._on_client_error(error):
                        self.assigned = None  # start again from the offsets taken
                        return None
                messages = [message for message in messages if message.error() is None]
            for key, fetched in _partition_runs(messages, self.only_topic):
                self._take(taken, full, key, [*self.carried.pop(key, ()), *fetched], cap)
        return taken

    def _behind(self, partitions: list[tuple[str, int]], full: set) -> bool:
        """Whether a partition not yet full holds records beyond its offset, by the high watermark of the
        client's last fetch, or before any, the one it was assigned at (no request to the broker)."""
        consumer, TopicPartition = self._consumer(), self.kafka.TopicPartition
        for topic, partition in partitions:
            key = partition_key(topic, partition)
            if key not in full and key not in self.carried:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
                if max(high, self.highs.get(key, -1)) > self.offsets.get(key, 0):
                    return True
        return False

    def _check_offsets(self, keys: list[str]) -> None:
        """Where reading starts again (the run's start, a restart, after an outage): each offset within what the
        brokers hold, or moved as ``reset=`` says."""
        bounds = partition_bounds(self.kafka, self._consumer(), keys)
        self.highs.update((key, high) for key, (_, high) in bounds.items())
        for key in keys:
            self.offsets[key] = reset_offset(self.source, self.name, key, self.offsets[key], bounds[key], self._say)

    def _say(self, line: str) -> None:
        print(line, file=self.context.stderr(), flush=True)

    def _take(self, taken: dict, full: set, key: str, messages: list, cap: int | None) -> None:
        """Take *messages* of one partition into the batch up to *cap*; carry the rest."""
        start = self.offsets.get(key, 0)
        if messages and messages[0].offset() < start:  # in offset order: only a run fetched again begins earlier
            messages = [m for m in messages if m.offset() >= start]
        room = len(messages) if cap is None else max(cap - len(taken.get(key, ())), 0)
        if room and messages[:room]:
            taken.setdefault(key, []).extend(messages[:room])
            self.offsets[key] = messages[:room][-1].offset() + 1
        if messages[room:]:
            self.carried[key] = messages[room:]
        else:
            self.carried.pop(key, None)
        if cap is not None and len(taken.get(key, ())) >= cap:
            full.add(key)

    def _block(self, taken: dict) -> Block:
        """The batch: partitions in order, each in offset order; where they stand after it."""
        records, bad = [], []
        as_json = self.source.records == "json"
        for key in sorted(taken, key=split_key):
            texts = None if as_json else _plain_values(taken[key])
            if texts is not None:
                records += texts
                continue
            for message in taken[key]:
                try:
                    records.append(message_record(message, as_json))
                except UnicodeDecodeError:
                    bad.append(BadRaw(message.value(), not_utf8(message)))
        return Block(records, bad, dict(self.offsets))

    # --- replay and commits -----------------------------------------------------------------------------
    def replay(self, t: int, position: dict) -> int:
        """Batch *t* again: every partition from its offset here to its offset in *position*."""
        partitions = sorted(split_key(key) for key in position)
        self._start_offsets(partitions)  # a partition met by that batch first: from its beginning
        wanted = {key: end for key, end in position.items() if end > self.offsets[key]}
        TopicPartition, consumer = self.kafka.TopicPartition, self._consumer()
        taken: dict[str, list] = {key: [] for key in wanted}
        if wanted:
            consumer.assign([TopicPartition(*split_key(key), self.offsets[key]) for key in wanted])
            deadline = time.monotonic() + REPLAY_TIMEOUT_S
            done: set = set()
            while len(done) < len(wanted) and time.monotonic() < deadline:
                for message in consumer.consume(num_messages=10_000, timeout=0.2):
                    if message.error() is not None:
                        continue
                    key = partition_key(message.topic(), message.partition())
                    if key in wanted and key not in done and self.offsets[key] <= message.offset() < wanted[key]:
                        taken[key].append(message)
                        if message.offset() + 1 >= wanted[key]:
                            done.add(key)
            if len(done) < len(wanted):
                from .inputs import InputFailed

                raise InputFailed(f"input {self.name}: cannot read batch {t} again from "
                                  f"{', '.join(sorted(set(wanted) - done))} (deleted by retention, or brokers down)")
        block = self._block(taken)
        self.offsets = {**self.offsets, **position}
        self.assigned = None  # the live batches after the replayed ones read from here
        return self._allocated(t, block._replace(position=dict(self.offsets)))

    def batch_completed(self, t: int) -> None:
        """Its outputs are written: commit the offsets reached to the group, for lag tools (the checkpoint,
        not the group, says where a restart resumes)."""
        self._commit(asynchronous=True)

    def _commit(self, asynchronous: bool) -> None:
        if self.consumer is None or not self.offsets:
            return
        offsets = [self.kafka.TopicPartition(*split_key(key), offset) for key, offset in self.offsets.items()]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=asynchronous)
        except self.kafka.KafkaException:
            pass  # the brokers are away: a later batch commits


_ERROR, _TOPIC, _PARTITION, _VALUE = map(operator.methodcaller, ("error", "topic", "partition", "value"))


def _partition_runs(messages: list, only_topic: str | None) -> Iterator[tuple[str, list]]:
    """The runs of one partition's messages in *messages*, in the order consumed (the client hands over a
    partition's messages together): each run's partition key and its messages. No Python code runs per message,
    and with *only_topic* (one topic read) a message's topic, a new str at every call, is not asked for."""
    topics = itertools.repeat(only_topic) if only_topic else map(_TOPIC, messages)
    start = 0
    for (topic, partition), run in itertools.groupby(zip(topics, map(_PARTITION, messages))):
        end = start + len(list(run))
        yield partition_key(topic, partition), messages[start:end]
        start = end


def _plain_values(messages: list) -> list[str] | None:
    """The messages' values as records, joined, decoded and split again in three C-level passes, when they are
    the plain case: every one UTF-8 (a newline between them cannot make bytes that are not UTF-8 decode),
    none empty (None) and none holding a line end; else None (``message_record`` then takes each)."""
    try:
        joined = b"\n".join(map(_VALUE, messages))
    except TypeError:  # an empty message: its value is None
        return None
    if joined.count(b"\n") != len(messages) - 1:
        return None
    try:
        return joined.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return None


def message_record(message, as_json: bool) -> str:
    """The one record a message is, as input text (UnicodeDecodeError for a value that is not UTF-8): its value
    without a line end it may close with (``\n`` or ``\r\n``), nothing split inside; or with ``records=json``
    a JSON line of its key, value, topic, partition, offset and timestamp."""
    value = message.value()
    text = "" if value is None else value.decode("utf-8")
    if as_json:
        return _as_json_line(message, text)
    if text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    return text


def not_utf8(message) -> str:
    return f"not valid UTF-8 at {message.topic()}:{message.partition()}@{message.offset()}"


def split_key(key: str) -> tuple[str, int]:
    topic, _, partition = key.rpartition(":")
    return topic, int(partition)


def _as_json_line(message, text: str) -> str:
    import orjson

    key = message.key()
    kind, stamp = message.timestamp()
    return orjson.dumps({"key": None if key is None else key.decode("utf-8", "replace"), "value": text,
                         "topic": message.topic(), "partition": message.partition(), "offset": message.offset(),
                         "timestamp": stamp if kind else None}).decode()


