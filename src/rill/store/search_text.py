"""Search text: a user's query as safe terms, and the snippet shown for a hit.

Why terms, not the query as typed: FTS5's MATCH and PostgreSQL's ``to_tsquery``
each have an operator syntax (quotes, ``*``, ``NEAR``, ``&``, ``!``, ``:``) and
answer a syntax error for a stray one. Keeping only runs of letters and digits
leaves nothing either engine can misread, so any query is safe; both engines
split words at the same characters (punctuation, ``_``, spaces), so the terms
mean the same on both. Each term matches as a prefix: Korean attaches particles
to words ("검색을"), so "검색" must find it.
"""

from __future__ import annotations

import re

#: Letters and digits of any script; ``_`` and punctuation separate words, as in both engines.
_WORD = re.compile(r"[^\W_]+")
#: Bounds on what one query can ask of the index.
MAX_TERMS = 8
MAX_TERM_LENGTH = 64
#: Characters of context kept on each side of the first match in a snippet.
_CONTEXT = 60


def search_terms(query: str) -> list[str]:
    """The distinct lower-case words of ``query``, in order, at most ``MAX_TERMS``."""
    terms: list[str] = []
    for word in _WORD.findall(query.lower()):
        word = word[:MAX_TERM_LENGTH]
        if word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


def fts5_match(terms: list[str]) -> str:
    """An FTS5 MATCH expression: every term, each as a quoted prefix (implicit AND)."""
    return " ".join(f'"{term}"*' for term in terms)


def tsquery(terms: list[str]) -> str:
    """A ``to_tsquery`` expression: every term, each as a prefix, all required."""
    return " & ".join(f"{term}:*" for term in terms)


def snippet(text: str, terms: list[str]) -> str:
    """One line of ``text``, at most ``2 * _CONTEXT`` characters (plus ellipses where cut),
    with the first place a term occurs ``_CONTEXT`` characters in when it can be."""
    flat = " ".join(text.split())
    lowered = flat.lower()
    found = min((i for i in (lowered.find(term) for term in terms) if i >= 0), default=0)
    start = max(0, found - _CONTEXT)
    end = min(len(flat), start + 2 * _CONTEXT)
    if start > 0:
        # Why: start on a word, not in the middle of one.
        space = flat.find(" ", start, found)
        start = space + 1 if space >= 0 else start
    return ("…" if start > 0 else "") + flat[start:end] + ("…" if end < len(flat) else "")
