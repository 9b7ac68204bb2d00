"""Hypothesis: decode(encode(x)) is the identity, under any chunking, and data cannot escape."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from rill.sse import ServerSentEvent, SSEDecoder, encode_event

# Why: Python strings may hold lone surrogates, which have no UTF-8 encoding at all;
# every other code point is fair game, so the alphabet is only that exclusion
# plus the characters most likely to break a line-based format, drawn often.
_ANY_CHAR = st.characters(codec="utf-8")
_TRICKY = st.sampled_from(
    ["\n", "\r", "\r\n", "\x00", ":", " ", "data: ", "id: x", "retry: 1", "event: e",
     "\ufeff", "안녕하세요", "스트리밍 챗봇입니다", "🦀", "\u2028", "\x85"]
)
TEXT = st.lists(st.one_of(_ANY_CHAR, _TRICKY), max_size=30).map("".join)
FIELD = TEXT.map(lambda s: re.sub(r"[\r\n\x00]", "", s))


def normalise_line_breaks(text: str) -> str:
    """What SSE itself does to data: CRLF and CR become LF (documented, not a loss)."""
    return re.sub(r"\r\n|\r", "\n", text)


@dataclass(frozen=True)
class Sent:
    data: str
    event: str | None
    id: str | None


SENT = st.builds(Sent, TEXT, st.none() | FIELD, st.none() | FIELD)


def chunked(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(raw)) for c in cuts})
    bounds = [0, *points, len(raw)]
    return [raw[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def decode_chunks(chunks: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    return [event for chunk in chunks for event in decoder.feed(chunk)]


def expected(events: list[Sent], retry: int | None) -> list[ServerSentEvent]:
    out: list[ServerSentEvent] = []
    last_id = ""
    for sent in events:
        # Why: per spec the last event id persists until an event sets another one.
        if sent.id is not None:
            last_id = sent.id
        out.append(
            ServerSentEvent(
                event=sent.event or "message",
                data=normalise_line_breaks(sent.data),
                id=last_id,
                retry=retry,
            )
        )
    return out


@given(
    events=st.lists(SENT, max_size=6),
    retry=st.none() | st.integers(min_value=0, max_value=10**9),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=12),
)
def test_round_trip_under_any_chunking(
    events: list[Sent], retry: int | None, cuts: list[int]
) -> None:
    raw = b"".join(
        encode_event(e.data, event=e.event, id=e.id, retry=retry if i == 0 else None)
        for i, e in enumerate(events)
    )
    assert decode_chunks(chunked(raw, cuts)) == expected(events, retry)


@given(data=TEXT, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_data_text_round_trips_exactly_when_it_holds_no_cr(data: str, cuts: list[int]) -> None:
    data = data.replace("\r", "")
    [event] = decode_chunks(chunked(encode_event(data), cuts))
    assert event.data == data


@given(data=TEXT, event=FIELD.filter(bool), id=FIELD)
def test_no_data_can_inject_a_field_or_end_the_event_early(data: str, event: str, id: str) -> None:
    decoder = SSEDecoder()
    decoded = decoder.feed(encode_event(data, event=event, id=id))
    assert len(decoded) == 1
    assert (decoded[0].event, decoded[0].id, decoded[0].retry) == (event, id, None)
    assert decoder.retry is None
    assert decoder.comments == []


@given(data=TEXT)
def test_one_byte_at_a_time(data: str) -> None:
    raw = encode_event(data, event="delta", id="1-1")
    decoded = decode_chunks([raw[i : i + 1] for i in range(len(raw))])
    assert decoded == [ServerSentEvent("delta", normalise_line_breaks(data), "1-1")]


@given(raw=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=6))
def test_arbitrary_bytes_never_crash_and_chunking_never_matters(
    raw: bytes, cuts: list[int]
) -> None:
    assert decode_chunks(chunked(raw, cuts)) == decode_chunks([raw])
