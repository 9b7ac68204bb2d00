"""Brokers: ordered, replayable event streams plus ephemeral signals.

``Broker`` is the interface; ``MemoryBroker`` serves one process, ``RedisBroker``
many nodes. ``open_broker(url)`` picks one from a URL.
"""

from rill.broker.base import Broker, Entry, StreamMissing, compare_ids, parse_id
from rill.broker.factory import open_broker

__all__ = ["Broker", "Entry", "StreamMissing", "compare_ids", "open_broker", "parse_id"]
