"""The hand-built text delta encoding is byte-identical to the generic one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rill.chat import events
from rill.sse import SSEDecoder


@given(st.text(), st.integers(1, 10**9), st.integers(0, 10**9))
def test_text_delta_fast_path_matches_the_generic_encoder(text, seq, offset):
    fast = events.text_delta_sse(text, events.event_id(seq, offset))
    assert fast == events.sse(*events.text_delta(text), seq, offset)
    [event] = SSEDecoder().feed(fast)
    assert event.json()["delta"]["text"] == text and event.id == f"{seq}-{offset}"
