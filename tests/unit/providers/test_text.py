from hypothesis import given
from hypothesis import strategies as st

from rill.providers._bm25 import BM25Index
from rill.providers._text import has_hangul, tokenize, word_chunks


@given(st.text())
def test_word_chunks_join_back_to_the_text(text: str) -> None:
    assert "".join(word_chunks(text)) == text


def test_word_chunks_carry_trailing_whitespace() -> None:
    assert word_chunks(" a  b\n") == [" a  ", "b\n"]


def test_english_terms_are_lowercased_stemmed_and_skip_stopwords() -> None:
    assert tokenize("How do I resume the Dropped streams?") == ["resum", "drop", "stream"]
    assert tokenize("resuming resumed resumes") == ["resum"] * 3


def test_hyphenated_headers_split_into_words() -> None:
    assert tokenize("Last-Event-ID") == ["last", "event", "id"]


def test_korean_becomes_bigrams_without_polite_endings() -> None:
    assert tokenize("스트림을") == ["스트", "트림", "림을"]
    assert "세요" not in tokenize("알려 주세요")
    assert tokenize("SSE와 웹소켓") == ["sse", "와", "웹소", "소켓"]


def test_has_hangul() -> None:
    assert has_hangul("SSE와")
    assert not has_hangul("SSE vs WebSocket")


def test_bm25_prefers_the_document_with_rarer_matching_terms() -> None:
    index = BM25Index([["stream", "resume"], ["stream", "cancel"], ["stream", "history"]])
    scores = index.scores(["resume", "stream"])
    assert scores[0] > scores[1] == scores[2] > 0
    assert index.scores(["absent"]) == [0.0, 0.0, 0.0]
