"""Topic matchers: ``Exact``, ``URLPattern``, the legacy URI templates, and ``*``.

Matchers are interned (one object per kind and value), so ten thousand
subscribers of the same pattern share it, and the fan-out evaluates each
distinct non-exact matcher once per update. Results of the costlier kinds are
cached per topic, because the same few topics are published over and over.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from functools import lru_cache
from typing import Literal

from urlpattern import URLPattern

from rill.hub.limits import BadRequest
from rill.hub.templates import compile_template, is_template

MatchType = Literal["Exact", "URLPattern", "URITemplate"]
#: Each type's name as the spec writes it (``match_type``, subscription topics);
#: ``uritemplate`` is the legacy ``topic`` parameter's, outside the spec.
SPEC_NAMES: dict[MatchType, str] = {
    "Exact": "exact",
    "URLPattern": "urlpattern",
    "URITemplate": "uritemplate",
}

#: Relative patterns and topics resolve against the hub's URL (spec); a fixed
#: base keeps compiled patterns shareable whatever Host a request carried.
DEFAULT_BASE = "http://localhost/.well-known/mercure"

_RESULT_CACHE_SIZE = 256


class Matcher:
    """One topic matcher. ``matches`` must be cheap for exact values."""

    __slots__ = ("kind", "value", "wildcard")

    def __init__(self, kind: MatchType, value: str) -> None:
        self.kind: MatchType = kind
        self.value = value
        #: The reserved ``*`` matches every topic whatever the kind.
        self.wildcard = value == "*"

    def matches(self, topic: str) -> bool:
        return self.wildcard or topic == self.value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.kind}, {self.value!r})"


class _CachedMatcher(Matcher):
    __slots__ = ("_results",)

    def __init__(self, kind: MatchType, value: str) -> None:
        super().__init__(kind, value)
        self._results: OrderedDict[str, bool] = OrderedDict()

    def matches(self, topic: str) -> bool:
        if self.wildcard:
            return True
        found = self._results.get(topic)
        if found is None:
            found = self._evaluate(topic)
            self._results[topic] = found
            if len(self._results) > _RESULT_CACHE_SIZE:
                self._results.popitem(last=False)
        return found

    def _evaluate(self, topic: str) -> bool:
        raise NotImplementedError


class URLPatternMatcher(_CachedMatcher):
    """WHATWG URL Pattern, on the Rust ``urlpattern`` crate.

    Why that engine: the crate compiles patterns for Rust's ``regex``, which
    matches in linear time, so no pattern can cause catastrophic backtracking
    (the spec requires a linear engine or a cost limit).
    """

    __slots__ = ("_pattern", "_base")

    def __init__(self, value: str, base: str) -> None:
        super().__init__("URLPattern", value)
        self._base = base
        self._pattern: URLPattern | None = None
        if self.wildcard:
            return
        try:
            try:
                self._pattern = URLPattern(value)
            except ValueError:
                self._pattern = URLPattern(value, base)
        except (ValueError, TypeError) as exc:
            raise BadRequest(f"invalid URL pattern {value!r}: {exc}") from None

    def _evaluate(self, topic: str) -> bool:
        assert self._pattern is not None
        try:
            return self._pattern.test(topic, self._base)
        except (ValueError, TypeError):
            return False


class TemplateMatcher(_CachedMatcher):
    """A legacy URI template (RFC 6570); a template without expressions is exact."""

    __slots__ = ("_regex",)

    def __init__(self, value: str) -> None:
        super().__init__("URITemplate", value)
        self._regex: re.Pattern[str] = compile_template(value)

    def _evaluate(self, topic: str) -> bool:
        return topic == self.value or self._regex.fullmatch(topic) is not None


@lru_cache(maxsize=2048)
def matcher(kind: MatchType, value: str, base: str = DEFAULT_BASE) -> Matcher:
    """The interned matcher for ``kind`` and ``value``; raises ``BadRequest``."""
    if kind == "Exact" or value == "*":
        return Matcher("Exact" if kind == "URITemplate" else kind, value)
    if kind == "URLPattern":
        return URLPatternMatcher(value, base)
    return TemplateMatcher(value)


def legacy_selector(value: str, base: str = DEFAULT_BASE) -> Matcher:
    """A topic selector of the older protocol: ``*``, a URI template, or an exact topic."""
    if value != "*" and is_template(value):
        return matcher("URITemplate", value, base)
    return matcher("Exact", value, base)


#: Subscribe query parameter names (spec: ``match`` and ``match_<matcher-type>``).
QUERY_PARAMETERS: dict[str, MatchType] = {
    "match": "Exact",
    "match_exact": "Exact",
    "match_urlpattern": "URLPattern",
}
#: The previous revision's spellings (``hub.legacy_parameters``).
LEGACY_QUERY_PARAMETERS: dict[str, MatchType] = {
    "matchExact": "Exact",
    "matchURLPattern": "URLPattern",
}


def in_match_namespace(name: str) -> bool:
    """Names in the ``match`` namespace are matchers; unknown ones must be refused (400)."""
    return name.lower().startswith("match")
