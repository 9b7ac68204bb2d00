"""The retention window of one node: recent updates by id, for reconnections.

Mercure ids are arbitrary strings, broker positions are ``<ms>-<n>``; a dict
from id to a dense node-local sequence number makes a ``Last-Event-ID`` lookup
O(1), and the records sit in a list where ``seq - first_seq`` is the index.

The window is bounded by count, age and bytes (``Record.size``, the one copy of
each update this node holds), whichever is reached first.
"""

from __future__ import annotations

import time

from rill.hub.update import Head, Record

#: How far back the ``Last-Event-ID`` response header may look for an event the
#: subscriber is allowed to see (the spec's backward-scan limit).
SCAN_LIMIT = 1000


#: Stands in for trimmed records until the list is compacted.
_TRIMMED = Record(-1, "0-0", 0, b"{}\n0\r\n\r\n", Head("", (), False, 3))


class ReplayIndex:
    def __init__(self, max_count: int, max_age: float, max_bytes: int) -> None:
        self._max_count = max_count
        self._max_age = max_age
        self._max_bytes = max_bytes
        #: Sum of ``size`` over the retained records.
        self.bytes = 0
        # Why a list with a moving head rather than a deque: replay needs random
        # access by seq, which a deque only gives in linear time.
        self._records: list[Record] = []
        self._head = 0
        self._by_id: dict[str, int] = {}
        #: Seq the next record will get; ``first_seq`` is the oldest retained one.
        self.next_seq = 0
        self.first_seq = 0

    def __len__(self) -> int:
        return len(self._records) - self._head

    def add(self, position: str, ms: int, payload: bytes, head: Head) -> Record:
        record = Record(self.next_seq, position, ms, payload, head)
        self.next_seq += 1
        self._records.append(record)
        # Why the first: when a publisher reuses an id, a reconnect with it must
        # replay everything after its earliest occurrence, or updates between
        # the two would be skipped (spec, Reconciliation).
        self._by_id.setdefault(record.id, record.seq)
        self.bytes += record.size
        self.trim()
        return record

    def trim(self, now: float | None = None) -> None:
        oldest_ms = int(((now or time.time()) - self._max_age) * 1000)
        records = self._records
        head = self._head
        while head < len(records) and (
            len(records) - head > self._max_count
            or records[head].ms < oldest_ms
            or self.bytes > self._max_bytes
        ):
            gone = records[head]
            if self._by_id.get(gone.id) == gone.seq:
                del self._by_id[gone.id]
            self.bytes -= gone.size
            # Why: the list is compacted only now and then (below); until then a
            # trimmed slot would keep its payload alive past the byte bound.
            records[head] = _TRIMMED
            head += 1
            self.first_seq = gone.seq + 1
        if head > 1024 and head * 2 > len(records):
            del records[:head]
            head = 0
        self._head = head

    def find(self, update_id: str) -> int | None:
        """Seq of the retained update with this id (the earliest, if ids repeat).

        Once that earliest occurrence leaves the window the id is unknown, and the
        reconnect replays the whole window: more than needed, never less.
        """
        return self._by_id.get(update_id)

    def get(self, seq: int) -> Record | None:
        if self.first_seq <= seq < self.next_seq:
            return self._records[self._head + seq - self.first_seq]
        return None

    def last(self) -> Record | None:
        return self._records[-1] if len(self) else None

    def iter_from(self, seq: int, limit: int) -> list[Record]:
        """Up to ``limit`` records from ``seq`` on (clamped to what is retained)."""
        start = self._head + max(seq - self.first_seq, 0)
        return self._records[start : start + limit]

    def iter_back(self, seq: int, limit: int) -> list[Record]:
        """Up to ``limit`` records from ``seq`` backwards (newest first)."""
        end = self._head + min(seq, self.next_seq - 1) - self.first_seq
        stop = max(end - limit, self._head - 1)
        return [self._records[i] for i in range(end, stop, -1)]
