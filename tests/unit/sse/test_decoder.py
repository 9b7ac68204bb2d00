"""The decoder against the WHATWG "event stream interpretation" rules, rule by rule."""

from __future__ import annotations

import pytest

from rill.sse import ServerSentEvent, SSEDecoder

KOREAN = "안녕하세요, 스트리밍 챗봇입니다"


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events


def datas(*chunks: bytes) -> list[str]:
    return [e.data for e in decode(*chunks)]


# --- byte order mark -------------------------------------------------------------------

def test_leading_bom_is_dropped() -> None:
    assert datas(b"\xef\xbb\xbfdata: x\n\n") == ["x"]


def test_bom_split_across_chunks_is_dropped() -> None:
    assert datas(b"\xef", b"\xbb", b"\xbfdata: x\n\n") == ["x"]


def test_only_one_bom_is_dropped() -> None:
    # The second BOM becomes part of the field name "\ufeffdata", which is unknown.
    assert datas(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n") == []


def test_bom_after_the_start_is_not_dropped() -> None:
    assert datas(b"data: a\n\n\xef\xbb\xbfdata: b\n\n") == ["a"]


def test_bom_inside_a_value_is_kept() -> None:
    assert datas(b"data: \xef\xbb\xbfx\n\n") == ["\ufeffx"]


def test_a_stream_starting_with_a_bom_prefix_that_is_not_a_bom() -> None:
    assert datas(b"\xef", b"data: x\n\n") == []  # "\ufffddata" is an unknown field
    assert datas(b"\xef\xbb", b"\n", b"data: x\n\n") == ["x"]


# --- line endings ----------------------------------------------------------------------

@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_every_line_ending(eol: bytes) -> None:
    stream = b"event: e" + eol + b"data: a" + eol + b"data: b" + eol + eol
    assert decode(stream) == [ServerSentEvent(event="e", data="a\nb")]


def test_mixed_line_endings() -> None:
    assert datas(b"data: a\rdata: b\r\ndata: c\n\r\n") == ["a\nb\nc"]


def test_crlf_split_across_chunks_is_one_line_break() -> None:
    assert datas(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == ["a\nb"]


def test_crlf_split_with_empty_chunks_between() -> None:
    assert datas(b"data: a\r", b"", b"\n", b"data: b\n\n") == ["a\nb"]


def test_cr_at_chunk_end_followed_by_data_is_a_line_break() -> None:
    assert datas(b"data: a\r", b"data: b\r\r") == ["a\nb"]


def test_cr_cr_is_two_line_breaks() -> None:
    assert datas(b"data: a\r\rdata: b\r\r") == ["a", "b"]


def test_lf_cr_is_two_line_breaks() -> None:
    assert datas(b"data: a\n\rdata: b\n\r") == ["a", "b"]


# --- fields ----------------------------------------------------------------------------

def test_comments_are_ignored_and_reported() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b": keep-alive\n:raw\n\n") == []
    assert decoder.comments == ["keep-alive", "raw"]
    assert decoder.feed(b"data: x\n\n")[0].data == "x"
    assert decoder.comments == []


def test_comment_between_data_lines_does_not_split_the_event() -> None:
    assert datas(b"data: a\n: ping\ndata: b\n\n") == ["a\nb"]


def test_multi_line_data_is_joined_with_lf() -> None:
    assert datas(b"data: one\ndata: two\ndata: three\n\n") == ["one\ntwo\nthree"]


def test_data_without_colon_is_an_empty_line_of_data() -> None:
    assert datas(b"data\n\n") == [""]
    assert datas(b"data\ndata\n\n") == ["\n"]
    assert datas(b"data: a\ndata\n\n") == ["a\n"]


def test_only_one_leading_space_is_stripped() -> None:
    assert datas(b"data:  two spaces\n\n") == [" two spaces"]
    assert datas(b"data:no space\n\n") == ["no space"]
    assert datas(b"data:\ttab\n\n") == ["\ttab"]


def test_trailing_whitespace_is_kept() -> None:
    assert datas(b"data: x  \n\n") == ["x  "]


def test_colons_after_the_first_belong_to_the_value() -> None:
    assert datas(b'data: {"a": "b:c"}\n\n') == ['{"a": "b:c"}']


def test_unknown_fields_and_case_variants_are_ignored() -> None:
    assert decode(b"Data: x\nEVENT: e\nfoo: bar\ndata: y\n\n") == [ServerSentEvent(data="y")]


def test_field_name_with_leading_space_is_unknown() -> None:
    assert datas(b" data: x\n\n") == []


def test_event_type_defaults_to_message_and_resets_after_dispatch() -> None:
    events = decode(b"event: a\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\n")
    assert [e.event for e in events] == ["a", "message", "message"]


def test_event_type_of_an_undispatched_event_does_not_leak() -> None:
    assert [e.event for e in decode(b"event: a\n\ndata: x\n\n")] == ["message"]


# --- id --------------------------------------------------------------------------------

def test_id_persists_across_events() -> None:
    events = decode(b"id: 1\ndata: a\n\ndata: b\n\n")
    assert [e.id for e in events] == ["1", "1"]


def test_empty_id_resets_the_last_event_id() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 1\ndata: a\n\nid\ndata: b\n\nid: 2\ndata: c\n\nid:\ndata: d\n\n")
    assert [e.id for e in events] == ["1", "", "2", ""]
    assert decoder.last_event_id == ""


def test_id_containing_nul_is_ignored() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n")
    assert [e.id for e in events] == ["1", "1"]
    assert decoder.last_event_id == "1"


def test_id_is_committed_at_the_blank_line_even_without_data() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 7\n\n") == []
    assert decoder.last_event_id == "7"
    assert decoder.feed(b"data: x\n\n")[0].id == "7"


def test_id_of_an_unterminated_event_is_not_committed() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n")
    assert decoder.last_event_id == "1"


def test_id_keeps_spaces_after_the_first() -> None:
    assert decode(b"id:  x \ndata\n\n")[0].id == " x "


# --- retry -----------------------------------------------------------------------------

def test_retry_sets_the_reconnection_time() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"retry: 2000\n\n") == []
    assert decoder.retry == 2000
    assert decoder.feed(b"data: x\n\n")[0].retry == 2000


@pytest.mark.parametrize(
    "value", [b"", b"abc", b"-1", b"+5", b"1.5", b"10 ", b"  10", b"1e3", b"\xd9\xa3"]
)
def test_bogus_retry_is_ignored(value: bytes) -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 1000\n\nretry:" + value + b"\n\n")
    assert decoder.retry == 1000


def test_retry_zero_is_valid() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry:0\n\n")
    assert decoder.retry == 0


def test_retry_without_colon_is_ignored() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry\n\n")
    assert decoder.retry is None


# --- dispatch --------------------------------------------------------------------------

def test_event_is_dispatched_only_at_a_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"data: b\n") == []
    assert [e.data for e in decoder.feed(b"\n")] == ["a\nb"]


def test_no_dispatch_when_the_data_buffer_is_empty() -> None:
    assert decode(b"event: e\nid: 1\n\n\n\n") == []


def test_pending_data_is_discarded_at_end_of_stream() -> None:
    assert datas(b"data: a\n\ndata: b\n") == ["a"]
    assert datas(b"data: a\n\ndata: b") == ["a"]


def test_last_line_without_terminator_is_not_processed() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 5")
    assert decoder.retry is None


# --- chunking --------------------------------------------------------------------------

STREAM = (
    b"\xef\xbb\xbfretry: 1500\r\n"
    b": hello\r\n"
    b"event: message_start\r\nid: 1-0\r\ndata: {\"a\": 1}\r\n\r\n"
    b"event: delta\nid: 2-5\ndata: " + KOREAN.encode() + b"\ndata: line2\n\n"
    b"id: 3\x00x\rdata: ping\r\r"
    b"event: stop\r\nid:\r\ndata\r\n\r\n"
    b"data: trailing"
)
EXPECTED = [
    ServerSentEvent("message_start", '{"a": 1}', "1-0", 1500),
    ServerSentEvent("delta", KOREAN + "\nline2", "2-5", 1500),
    ServerSentEvent("message", "ping", "2-5", 1500),
    ServerSentEvent("stop", "", "", 1500),
]


def test_whole_stream() -> None:
    assert decode(STREAM) == EXPECTED


@pytest.mark.parametrize("offset", range(len(STREAM) + 1))
def test_split_at_every_byte_offset(offset: int) -> None:
    assert decode(STREAM[:offset], STREAM[offset:]) == EXPECTED


@pytest.mark.parametrize("offset", range(0, len(STREAM) + 1, 7))
def test_split_into_three_with_an_empty_chunk(offset: int) -> None:
    mid = min(len(STREAM), offset + 5)
    assert decode(STREAM[:offset], b"", STREAM[offset:mid], STREAM[mid:]) == EXPECTED


def test_one_byte_at_a_time() -> None:
    assert decode(*(STREAM[i : i + 1] for i in range(len(STREAM)))) == EXPECTED


# --- UTF-8 -----------------------------------------------------------------------------

def test_korean_split_inside_every_multibyte_sequence() -> None:
    raw = b"data: " + KOREAN.encode() + b"\n\n"
    for offset in range(len(raw) + 1):
        assert datas(raw[:offset], raw[offset:]) == [KOREAN], offset


def test_four_byte_sequence_split_byte_by_byte() -> None:
    raw = "data: 🦀 streams\n\n".encode()
    assert datas(*(raw[i : i + 1] for i in range(len(raw)))) == ["🦀 streams"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"data: \xff\xfe\n\n", "\ufffd\ufffd"),
        (b"data: a\xc3\n\n", "a\ufffd"),  # truncated sequence at end of line
        (b"data: \xed\xa0\x80\n\n", "\ufffd\ufffd\ufffd"),  # encoded surrogate
        (b"data: \xe4\xb8\r\n\r\n", "\ufffd"),
    ],
)
def test_invalid_utf8_is_replaced(raw: bytes, expected: str) -> None:
    assert datas(raw) == [expected]


def test_invalid_utf8_does_not_break_the_following_events() -> None:
    assert datas(b"data: \x80\n\ndata: ok\n\n") == ["\ufffd", "ok"]


def test_nul_in_data_is_kept() -> None:
    assert datas(b"data: a\x00b\n\n") == ["a\x00b"]


def test_json_helper() -> None:
    assert decode(b'data: {"type": "ping"}\n\n')[0].json() == {"type": "ping"}


def test_seeded_decoder_continues_the_previous_connection() -> None:
    decoder = SSEDecoder(last_event_id="5-9", retry=1500)
    events = decoder.feed(b"event: ping\ndata: {}\n\n")
    assert events == [ServerSentEvent("ping", "{}", "5-9", 1500)]
    assert decoder.last_event_id == "5-9"
