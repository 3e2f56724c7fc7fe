"""``save-to-kafka``: each batch's elements as messages, with the idempotent producer. A batch counts as done
only when every record is acknowledged (at-least-once: a batch retried after a failure may be written twice)."""
from __future__ import annotations

from ..errors import OutputFailed
from . import QUIET, client


class KafkaWriter:
    """``save-to-kafka``: each element of a batch as one message, (key, value) pairs keyed; a batch is done when
    the broker acknowledged every message of it."""

    def __init__(self, topic: str, brokers: str, fmt: str, timeout_s: float = 30.0) -> None:
        self.kafka = client()
        self.topic = topic
        self.brokers = brokers
        self.fmt = fmt
        self.timeout_s = timeout_s
        self.producer = None

    def __call__(self, batch, t: int) -> None:
        from ..formats import render

        if self.producer is None:
            self.producer = self.kafka.Producer({"bootstrap.servers": self.brokers, "enable.idempotence": True,
                                                 "acks": "all", "linger.ms": 5, **QUIET})
        failures: list = []

        def delivered(error, message) -> None:
            if error is not None:
                failures.append(error)

        produce = self.producer.produce
        for record in batch:
            if isinstance(record, tuple) and len(record) == 2:
                key, value = record
                if key is not None:  # a None key is no key, as Kafka has it (not the text "null")
                    key = key.encode("utf-8", "surrogateescape") if isinstance(key, str) else render([key], "json")[:-1]
            else:
                key, value = None, record
            payload = render([value], self.fmt)[:-1].encode("utf-8", "surrogateescape")
            while True:
                try:
                    produce(self.topic, payload, key, on_delivery=delivered)
                    break
                except BufferError:  # the local queue is full: let it drain
                    self.producer.poll(0.1)
            self.producer.poll(0)
        left = self.producer.flush(self.timeout_s)
        if left or failures:
            self.producer.purge()  # a retry sends the batch again: nothing of this attempt may follow it
            self.producer.flush(0)
        if left:
            raise OutputFailed(f"save-to-kafka {self.topic}: {left} messages not acknowledged by {self.brokers} "
                               f"within {self.timeout_s:g}s")
        if failures:
            raise OutputFailed(f"save-to-kafka {self.topic}: {len(failures)} messages refused ({failures[0].str()})")
