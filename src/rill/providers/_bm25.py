"""Okapi BM25 over a handful of documents: small enough to own, no dependency needed."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence


class BM25Index:
    """Scores documents (each a list of terms) against a query's terms."""

    def __init__(self, documents: Sequence[Sequence[str]], *, k1: float = 1.5, b: float = 0.75):
        self._k1 = k1
        self._b = b
        self._frequencies = [Counter(doc) for doc in documents]
        self._lengths = [len(doc) for doc in documents]
        self._average_length = (sum(self._lengths) / len(documents)) if documents else 0.0
        containing: Counter[str] = Counter()
        for frequencies in self._frequencies:
            containing.update(frequencies.keys())
        count = len(documents)
        # Why: the "+1" form of IDF stays positive for terms found in most documents,
        # so a common term can never push a matching section below a non-matching one.
        self._idf = {
            term: math.log(1 + (count - n + 0.5) / (n + 0.5)) for term, n in containing.items()
        }

    def idf(self, term: str) -> float:
        return self._idf.get(term, 0.0)

    def scores(self, query: Sequence[str]) -> list[float]:
        terms = [t for t in dict.fromkeys(query) if t in self._idf]
        return [self._score(i, terms) for i in range(len(self._frequencies))]

    def _score(self, index: int, terms: Sequence[str]) -> float:
        frequencies = self._frequencies[index]
        norm = self._k1 * (1 - self._b + self._b * self._lengths[index] / self._average_length)
        total = 0.0
        for term in terms:
            tf = frequencies.get(term, 0)
            if tf:
                total += self._idf[term] * tf * (self._k1 + 1) / (tf + norm)
        return total
