"""The guide's knowledge base: markdown shipped in ``knowledge/``, one file per language.

Each ``## `` heading starts a section; the comment line under it carries the
section's id (the same in every language) and extra search keywords.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from rill.providers._bm25 import BM25Index
from rill.providers._text import tokenize, word_terms

LANGUAGES = ("en", "ko")
_META = re.compile(r"^<!--\s*id:\s*(?P<id>[\w-]+)\s*;\s*keywords:(?P<keywords>.*?)-->\s*$")
# Why: a heading is what a question most often paraphrases, so its terms count extra.
_TITLE_WEIGHT = 3
# Why: keywords are curated for retrieval; body words include every passing mention.
_KEYWORD_WEIGHT = 2
_TITLE_BONUS = 1.0
# Why: BM25 ranks, it does not judge. An off-topic question ("who won the game?")
# still shares a word with some section; requiring that a good part of the question's
# words appear in the section turns those into the friendly fallback instead.
MIN_COVERAGE = 0.4


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    title: str
    body: str
    keywords: str


@dataclass(frozen=True, slots=True)
class Match:
    section: Section
    score: float


class KnowledgeBase:
    def __init__(self, sections: list[Section]) -> None:
        self.sections = sections
        self._by_id = {s.id: s for s in sections}
        terms = [_section_terms(s) for s in sections]
        self._index = BM25Index(terms)
        self._vocabularies = [frozenset(t) for t in terms]
        self._titles = [frozenset(tokenize(s.title)) for s in sections]

    def search(self, question: str) -> Match | None:
        """The best section for ``question``, or None when nothing matches well enough."""
        words = word_terms(question)
        query = [term for terms in words for term in terms]
        scores = [
            score + self._title_bonus(query, i)
            for i, score in enumerate(self._index.scores(query))
        ]
        if not scores:
            return None
        best = max(range(len(scores)), key=scores.__getitem__)
        if scores[best] <= 0 or self._coverage(words, best) < MIN_COVERAGE:
            return None
        return Match(self.sections[best], scores[best])

    def _title_bonus(self, query: list[str], index: int) -> float:
        """The rarer the question's words found in a heading, the surer the section.

        Why: in one long BM25 document a heading's words are drowned by the body's
        passing mentions; "How does SSE reconnect?" went to "What is SSE" (issue 17).
        """
        title = self._titles[index]
        return _TITLE_BONUS * sum(self._index.idf(t) for t in dict.fromkeys(query) if t in title)

    def _coverage(self, words: list[list[str]], index: int) -> float:
        """The share of the question's words with a term in section ``index``."""
        # Why: a lone Hangul syllable is nearly always a particle or a filler verb ("해",
        # "줘"); counting it would punish natural Korean phrasing.
        counted = [terms for terms in words if not _is_single_syllable(terms)]
        if not counted:
            return 0.0
        vocabulary = self._vocabularies[index]
        matched = sum(1 for terms in counted if any(t in vocabulary for t in terms))
        return matched / len(counted)

    def get(self, section_id: str) -> Section | None:
        return self._by_id.get(section_id)


def _is_single_syllable(terms: list[str]) -> bool:
    return len(terms) == 1 and len(terms[0]) == 1 and "\uac00" <= terms[0] <= "\ud7a3"


def _section_terms(section: Section) -> list[str]:
    return (
        tokenize(section.title) * _TITLE_WEIGHT
        + tokenize(section.keywords) * _KEYWORD_WEIGHT
        + tokenize(section.body)
    )


def parse_sections(markdown: str) -> list[Section]:
    sections: list[Section] = []
    for block in re.split(r"^## ", markdown, flags=re.MULTILINE)[1:]:
        title, _, rest = block.partition("\n")
        meta_line, _, body = rest.partition("\n")
        meta = _META.match(meta_line.strip())
        if meta is None:
            raise ValueError(f"knowledge section {title!r} lacks its id/keywords comment")
        sections.append(Section(meta["id"], title.strip(), body.strip(), meta["keywords"].strip()))
    return sections


@cache
def load(language: str) -> KnowledgeBase:
    """The knowledge base for ``language`` ("en" or "ko"), parsed once per process."""
    if language not in LANGUAGES:
        raise ValueError(f"no knowledge base for language {language!r}")
    text = (resources.files("rill.providers") / "knowledge" / f"{language}.md").read_text(
        encoding="utf-8"
    )
    return KnowledgeBase(parse_sections(text))
