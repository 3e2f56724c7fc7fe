"""Receivers: where records come from. Each runs beside batch processing and stores into a BlockBuffer."""
from .base import Receiver, ReceiverSupervisor

__all__ = ["Receiver", "ReceiverSupervisor"]
