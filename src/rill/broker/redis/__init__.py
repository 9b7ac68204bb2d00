"""The shared broker: Redis Streams for streams, Redis Pub/Sub for signals.

Keys, under a configurable prefix (which must not contain ``{``):
``<prefix>{<tag>}s:<stream>`` is a Redis stream whose entries carry the payload
in field ``d``; ``<tag>`` is the stream's shard tag, a stable hash of its name
mod 16 (``streams.shard_of``), so that on a Redis Cluster a stream, its ledger and
every stream a reader loop names at once share one hash slot; ``end`` appends one entry with field
``end`` instead, so every node's subscribers learn of it from the stream itself.
Signals use channel ``<prefix>c:<channel>``, and are logged in a short stream
``<prefix>{<tag>}g:<channel>`` so a node whose Pub/Sub connection was down when
one was sent still gets it on reconnect (see ``signals``).

Retention: a stream appended with bounds has a ledger beside it, a list
``<prefix>{<tag>}l:<stream>`` of ``"<id> <payload length>"`` per bounded entry and
a counter ``<prefix>{<tag>}b:<stream>`` of their total length. The append script pops
the ledger's oldest items while any bound (count, age, bytes) is exceeded, then
``XTRIM MINID`` to the oldest id left (or to the age bound, if older, for
entries appended without bounds): trimming is exact in entries and bytes
(Redis' own ``MAXLEN ~`` trims whole radix-tree nodes, and has no byte bound).
The ledger expires with the stream.

Subscriptions are multiplexed: each node runs one reader task with one
connection doing ``XREAD BLOCK`` over every stream that has a local subscriber
(on a Cluster, one such loop per shard tag in use, as one XREAD may only name
keys of one slot),
and fans entries out to per-subscriber queues, so a thousand live replies cost
one blocked connection, not a thousand. A subscriber replays with ``XRANGE``
and then joins the reader; see ``reader.Subscription`` for why it never misses or
repeats an entry. Listeners share one Pub/Sub connection the same way.

Both background tasks survive Redis going away: they back off, reconnect, and
carry on from the last delivered ids. Everything else fails fast with
``BrokerError`` while Redis is down, and never retries a write (a retried XADD
could land twice).

Where Redis is (one server, a Cluster, Sentinel) is read from the URL by
``topology``. The package: ``streams`` (``RedisBroker``), ``reader`` (the node's XREAD loop),
``signals`` (Pub/Sub), ``entries`` and ``errors`` (shared helpers), and the Lua
scripts as ``*.lua`` resources, loaded with ``importlib.resources``.
"""

from rill.broker.redis.streams import RedisBroker

__all__ = ["RedisBroker"]
