"""An update is stored once and framed once, and retention counts its bytes (issue 12)."""

from __future__ import annotations

import time
import tracemalloc

from hypothesis import given
from hypothesis import strategies as st

from rill.hub.fanout import chunk
from rill.hub.replay import ReplayIndex
from rill.hub.update import MARKER, Head, Record, Update, read_head
from rill.sse.decoder import SSEDecoder
from rill.sse.encoder import encode_event

field = st.text(st.characters(blacklist_characters="\r\n\x00"), max_size=20)


def stored(update: Update, seq: int = 0, ms: int = 0) -> Record:
    payload = update.to_payload()
    head = read_head(payload)
    assert head is not None
    return Record(seq, f"{ms}-{seq}", ms, payload, head)


@given(
    data=st.text(max_size=300),
    topics=st.lists(st.text(max_size=30), min_size=1, max_size=3),
    private=st.booleans(),
    type=st.none() | field.filter(bool),
    retry=st.none() | st.integers(0, 10**6),
)
def test_the_stored_payload_is_the_framed_event_behind_its_head(
    data: str, topics: list[str], private: bool, type: str | None, retry: int | None
) -> None:
    update = Update("urn:uuid:x", tuple(topics), data, private, type, retry)
    record = stored(update)
    event = encode_event(data, event=type, id=update.id, retry=retry)
    assert (record.id, record.topics, record.private) == (update.id, update.topics, private)
    assert bytes(record.wire) == event
    assert bytes(record.framed) == chunk(event)
    # The views are of the one payload, not copies of it.
    assert record.framed.obj is record.payload and record.wire.obj is record.payload
    # ``data()`` is what a subscriber decodes (line breaks become LF).
    decoded = SSEDecoder().feed(event)
    assert record.data() == (decoded[0].data if decoded else "")


def test_what_is_not_an_update_has_no_head() -> None:
    assert read_head(MARKER) is None
    assert read_head(b'{"i":"x","t":"not a list"}\n0\r\n\r\n') is None
    assert read_head(b"not json\n0\r\n\r\n") is None
    assert read_head(b'{"i":"x","t":["a"],"d":"an old payload, without a framed event"}') is None


def test_the_index_holds_at_most_its_bytes_and_keeps_the_newest() -> None:
    now = int(time.time() * 1000)
    index = ReplayIndex(max_count=10_000, max_age=3600, max_bytes=100_000)
    for seq in range(200):
        index.add(f"{now}-{seq}", now, *_entry(f"u{seq}", 30_000))
        assert index.bytes <= 100_000
        assert index.last() is not None and index.last().id == f"u{seq}"  # type: ignore[union-attr]
    assert len(index) == 3 and index.first_seq == 197
    assert index.find("u196") is None and index.find("u197") == 197
    # One update larger than the bound is not retained at all (live delivery is separate).
    index.add(f"{now}-200", now, *_entry("huge", 200_000))
    assert len(index) == 0 and index.bytes == 0 and index.first_seq == 201


def test_trimmed_records_release_their_payloads() -> None:
    now = int(time.time() * 1000)
    index = ReplayIndex(max_count=10_000, max_age=3600, max_bytes=1 << 20)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        # 1,000 × 64 KiB through a 1 MiB window: the list is compacted only now and
        # then, and its trimmed slots must not keep 64 MiB alive meanwhile.
        for seq in range(1000):
            index.add(f"{now}-{seq}", now, *_entry(f"u{seq}", 64 * 1024))
        held = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert index.bytes <= 1 << 20
    assert held < 2 * (1 << 20), f"{held / (1 << 20):.1f} MiB held"


def _entry(update_id: str, size: int) -> tuple[bytes, Head]:
    payload = Update(update_id, ("t",), "x" * size).to_payload()
    head = read_head(payload)
    assert head is not None
    return payload, head
