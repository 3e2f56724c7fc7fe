"""Receivers: where records come from. Each runs beside batch processing and stores into a BlockBuffer.

The contract is in ``base`` (``Receiver``, ``ReceiverSupervisor``); one module per kind of source."""
