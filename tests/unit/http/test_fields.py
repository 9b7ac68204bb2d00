"""The one rule for text entering the API (``rill/fields.py``), as properties.

Accepted text is text both stores keep: it encodes as UTF-8 (no lone surrogate),
has no NUL, and round-trips through SQLite unchanged; refused text holds one of
the characters the rule names. Ids: everything ``new_id`` mints could exist.
"""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from rill.errors import NotFound
from rill.fields import Text, could_exist, record_id, storable, unstorable
from rill.ids import new_id

# Everything a str can hold, with the classes of issue 13 made frequent.
NASTY = st.sampled_from([chr(c) for c in range(0x20)] + ["\x7f", "\u200b", "\ufeff", "\ud800",
                        "\udbff", "\udc00", "\udfff", "\ufffe", "\U0010ffff"])
TEXT = st.lists(st.one_of(st.characters(codec=None), NASTY)).map("".join)
ALLOWED_CONTROLS = {"\t", "\n", "\r"}
_SQLITE = sqlite3.connect(":memory:")


def _refusable(ch: str) -> bool:
    return (ord(ch) < 0x20 and ch not in ALLOWED_CONTROLS) or 0xD800 <= ord(ch) <= 0xDFFF


@given(TEXT)
@example("a\ud800b")
@example("a\x00b")
@example("tab\tnew\nline\r")
def test_text_is_accepted_exactly_when_it_can_be_stored(value: str) -> None:
    reason = unstorable(value)
    assert (reason is None) == (not any(_refusable(ch) for ch in value))
    if reason is None:
        assert storable(value) is value
        assert "\x00" not in value
        value.encode("utf-8")  # PostgreSQL's and SQLite's encoding: no lone surrogate
        assert _SQLITE.execute("select ?", (value,)).fetchone()[0] == value
    else:
        with pytest.raises(ValueError, match="cannot be stored"):
            storable(value)


class Body(BaseModel):
    text: Text


@given(TEXT)
def test_the_pydantic_type_applies_the_same_rule(value: str) -> None:
    try:
        Body(text=value)
    except ValidationError:
        assert unstorable(value) is not None
    else:
        assert unstorable(value) is None


@given(st.sampled_from(["msg", "conv", "usr"]))
def test_every_minted_id_could_exist(prefix: str) -> None:
    minted = new_id(prefix)
    assert could_exist(minted) and record_id(minted) == minted


@given(TEXT)
@example("a\x00b")
@example("msg_01J0000000000000000000000a")
def test_anything_else_is_not_found(value: str) -> None:
    if not could_exist(value):
        with pytest.raises(NotFound):
            record_id(value)
    else:
        assert unstorable(value) is None
