"""The encoder's exact bytes and what it refuses."""

from __future__ import annotations

import pytest

from rill.sse import SSEDecoder, comment, encode_event
from rill.sse.encoder import retry_field


def test_exact_bytes_of_a_full_event() -> None:
    assert encode_event('{"a":1}', event="delta", id="3-6", retry=2000) == (
        b'event: delta\nid: 3-6\nretry: 2000\ndata: {"a":1}\n\n'
    )


def test_data_only() -> None:
    assert encode_event("x") == b"data: x\n\n"


def test_empty_data_is_one_empty_data_line() -> None:
    assert encode_event("") == b"data: \n\n"


@pytest.mark.parametrize("data", ["a\nb", "a\rb", "a\r\nb"])
def test_every_line_break_in_data_starts_a_new_data_line(data: str) -> None:
    assert encode_event(data) == b"data: a\ndata: b\n\n"


def test_leading_space_in_data_survives() -> None:
    encoded = encode_event("  indented")
    assert SSEDecoder().feed(encoded)[0].data == "  indented"


def test_utf8_output() -> None:
    assert encode_event("안녕") == "data: 안녕\n\n".encode()


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\r\nb", "a\x00b", "\n"])
@pytest.mark.parametrize("field", ["event", "id"])
def test_event_names_and_ids_with_cr_lf_or_nul_are_rejected(field: str, bad: str) -> None:
    with pytest.raises(ValueError, match=field):
        encode_event("x", **{field: bad})  # type: ignore[arg-type]


def test_negative_retry_is_rejected() -> None:
    with pytest.raises(ValueError, match="retry"):
        encode_event("x", retry=-1)


def test_comment() -> None:
    assert comment() == b":\n\n"
    assert comment("ping") == b":ping\n\n"
    assert SSEDecoder().feed(comment("ping")) == []


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "\x00"])
def test_comment_with_line_break_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        comment(bad)


def test_retry_field() -> None:
    decoder = SSEDecoder()
    assert retry_field(2000) == b"retry: 2000\n\n"
    assert decoder.feed(retry_field(2000)) == []
    assert decoder.retry == 2000
