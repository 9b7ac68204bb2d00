"""The query → terms rule and the snippet (issue 17), for every string, not a few examples."""

from __future__ import annotations

import re
import sqlite3

from hypothesis import given
from hypothesis import strategies as st

from rill.store.search_text import (
    MAX_TERM_LENGTH,
    MAX_TERMS,
    fts5_match,
    search_terms,
    snippet,
)


@given(st.text())
def test_terms_are_plain_words_bounded_in_number_and_length(query: str) -> None:
    terms = search_terms(query)
    assert len(terms) <= MAX_TERMS and len(set(terms)) == len(terms)
    for term in terms:
        assert 0 < len(term) <= MAX_TERM_LENGTH
        assert re.fullmatch(r"[^\W_]+", term)
        assert term in query.lower()


@given(st.text())
def test_any_query_is_a_valid_fts5_expression(query: str) -> None:
    # A real FTS5 table: any syntax error would raise here.
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
    db.execute("INSERT INTO t (body) VALUES ('tofu and kimchi')")
    terms = search_terms(query)
    if terms:
        db.execute("SELECT rowid FROM t WHERE t MATCH ?", (fts5_match(terms),)).fetchall()


def test_terms_drop_operators_and_keep_words() -> None:
    assert search_terms('"Tofu*" AND (kimchi) NEAR:x') == ["tofu", "and", "kimchi", "near", "x"]
    assert search_terms("경주 여행을, 경주!") == ["경주", "여행을"]
    assert search_terms("snake_case") == ["snake", "case"]
    assert search_terms("** -- ''") == []


@given(st.text(max_size=400), st.text(max_size=400))
def test_snippet_is_one_bounded_line_around_the_match(before: str, after: str) -> None:
    text = f"{before} lemonade {after}"
    cut = snippet(text, ["lemonade"])
    assert "\n" not in cut and "lemonade" in cut
    assert len(cut) <= 2 * 60 + 2


def test_snippet_without_a_match_is_the_start() -> None:
    assert snippet("short text", ["zzz"]) == "short text"
    assert snippet("word " * 100, ["zzz"]).endswith("…")
