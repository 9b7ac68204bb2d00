"""Regression: an empty chunk between the CR and the LF of a CRLF dispatched the event early.

The decoder forgot its pending CR on any ``feed``, so ``b"data: a\\r"``, ``b""``,
``b"\\n"`` read the LF as a blank line and dispatched ``"a"`` before ``"b"`` arrived.
"""

from rill.sse import SSEDecoder


def test_empty_chunk_between_cr_and_lf_keeps_the_event_open() -> None:
    decoder = SSEDecoder()
    events = [e for c in (b"data: a\r", b"", b"\n", b"data: b\r\n\r\n") for e in decoder.feed(c)]
    assert [e.data for e in events] == ["a\nb"]
