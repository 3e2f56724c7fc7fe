"""Kafka: the direct input (``direct.py``, Spark's direct stream: offset ranges per batch) and
``save-to-kafka`` (``writer.py``), through the optional confluent-kafka client (``dstream-cli[kafka]``)."""
from __future__ import annotations

from ..errors import UsageError

QUIET = {"log_level": 0}


def client():
    """The confluent_kafka module, or a one-line usage error (exit 2) naming the extra to install."""
    try:
        import confluent_kafka
    except ImportError:
        raise UsageError("Kafka needs the confluent-kafka client: pip install 'dstream-cli[kafka]'") from None
    return confluent_kafka
