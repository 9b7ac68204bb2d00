"""What a token allows: publish and subscribe matchers, and subscription payloads.

Read from the spec's ``authorization_details`` claim (RFC 9396): entries of
type ``https://mercure.rocks/authorization-detail`` (and ``mercure``, the
draft's earlier name for the same object) grant actions on topic matchers;
entries of any other type belong to other resources and are skipped. A
malformed Mercure entry invalidates the whole token: acting on the entries
that did parse would silently change what the token grants. Action names the
hub does not know grant nothing and invalidate nothing (spec: future actions).

With ``hub.legacy_tokens`` (the default) a token without ``authorization_details``
may carry the previous revision's ``mercure: {publish, subscribe, payload}``
claim, and topic matchers may use its ``matchType: Exact|URLPattern`` spelling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rill.errors import Unauthorized
from rill.hub.limits import MAX_GRANT_DETAILS, MAX_GRANT_TOPICS, BadRequest, check_matcher
from rill.hub.matchers import DEFAULT_BASE, Matcher, MatchType, legacy_selector, matcher


class InvalidGrant(Unauthorized):
    """401 ``invalid_token``: the token's authorization claims are malformed."""


@dataclass(frozen=True, slots=True)
class Grants:
    publish: tuple[Matcher, ...] = ()
    subscribe: tuple[Matcher, ...] = ()
    #: ``(matchers, payload)`` of subscribe details carrying a payload, in token order.
    payloads: tuple[tuple[tuple[Matcher, ...], Any], ...] = ()
    subject: str | None = None
    #: Unix time after which a subscription under this token must be closed.
    expires_at: float | None = None

    def can_publish(self, topic: str) -> bool:
        return any(m.matches(topic) for m in self.publish)

    def can_subscribe(self, topic: str) -> bool:
        return any(m.matches(topic) for m in self.subscribe)

    def can_subscribe_any(self, topics: Iterable[str]) -> bool:
        return any(self.can_subscribe(t) for t in topics)

    def payload_for(self, subscription_matcher: str) -> Any:
        """The payload of the first subscribe detail matching the subscription's own matcher."""
        for matchers, payload in self.payloads:
            if any(m.matches(subscription_matcher) for m in matchers):
                return payload
        return None


ANONYMOUS = Grants()


#: The authorization detail types this hub understands (advertised in its metadata).
DETAIL_TYPES = ("https://mercure.rocks/authorization-detail", "mercure")
#: Matcher type names as the spec spells them in ``match_type``, and the earlier spelling.
_MATCH_TYPES: dict[str, MatchType] = {"exact": "Exact", "urlpattern": "URLPattern"}
_LEGACY_MATCH_TYPES: dict[str, MatchType] = {"Exact": "Exact", "URLPattern": "URLPattern"}


def authorization_details(
    publish: Iterable[str] = (),
    subscribe: Iterable[str] = (),
    *,
    publish_patterns: Iterable[str] = (),
    subscribe_patterns: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """The ``authorization_details`` claim granting these topics (what Rill mints)."""
    details: list[dict[str, Any]] = []
    for action, exact, patterns in (
        ("publish", publish, publish_patterns),
        ("subscribe", subscribe, subscribe_patterns),
    ):
        topics: list[dict[str, str]] = [{"match": t} for t in exact]
        topics += [{"match": p, "match_type": "urlpattern"} for p in patterns]
        if topics:
            details.append({"type": DETAIL_TYPES[0], "actions": [action], "topics": topics})
    return details


def grants_from_claims(
    claims: Mapping[str, Any], *, max_length: int, base: str = DEFAULT_BASE, legacy: bool = True
) -> Grants | None:
    """Grants of a verified token, or None when it carries no hub claims at all."""
    expires = claims.get("exp")
    expires_at = float(expires) if isinstance(expires, int | float) else None
    subject = claims.get("sub") if isinstance(claims.get("sub"), str) else None
    if "authorization_details" in claims:
        publish, subscribe, payloads = _details(
            claims["authorization_details"], max_length, base, legacy
        )
    elif legacy and "mercure" in claims:
        publish, subscribe, payloads = _legacy(claims["mercure"], max_length, base)
    else:
        return None
    return Grants(publish, subscribe, payloads, subject, expires_at)


def _details(
    raw: Any, max_length: int, base: str, legacy: bool
) -> tuple[tuple[Matcher, ...], tuple[Matcher, ...], tuple[tuple[tuple[Matcher, ...], Any], ...]]:
    if not isinstance(raw, list):
        raise InvalidGrant("authorization_details must be an array")
    for detail in raw:
        if not isinstance(detail, dict) or not isinstance(detail.get("type"), str):
            raise InvalidGrant("an authorization detail must be an object with a string type")
    details = [d for d in raw if d["type"] in DETAIL_TYPES]
    if len(details) > MAX_GRANT_DETAILS:
        raise InvalidGrant("too many mercure authorization details")
    publish: list[Matcher] = []
    subscribe: list[Matcher] = []
    payloads: list[tuple[tuple[Matcher, ...], Any]] = []
    for detail in details:
        actions = detail.get("actions")
        if (
            not isinstance(actions, list)
            or not actions
            or not all(isinstance(a, str) for a in actions)
        ):
            raise InvalidGrant("mercure detail actions must be a non-empty array of strings")
        matchers = _topic_list(detail.get("topics"), max_length, base, legacy)
        payload = detail.get("payload")
        if payload is not None and not isinstance(payload, dict):
            raise InvalidGrant("mercure detail payload must be an object")
        # Unknown actions are ignored (spec): they grant nothing and reject nothing.
        if "publish" in actions:
            publish.extend(matchers)
        if "subscribe" in actions:
            subscribe.extend(matchers)
            if payload is not None:
                payloads.append((matchers, payload))
    return tuple(publish), tuple(subscribe), tuple(payloads)


def _match_type(entry: dict[str, Any], legacy: bool) -> MatchType:
    if "match_type" in entry:
        kind = entry["match_type"]
        if isinstance(kind, str) and kind in _MATCH_TYPES:
            return _MATCH_TYPES[kind]
        # An unsupported type must reject the token: the grant cannot be evaluated.
        raise InvalidGrant(f"unsupported match_type {kind!r}")
    if legacy and "matchType" in entry:
        kind = entry["matchType"]
        if isinstance(kind, str) and kind in _LEGACY_MATCH_TYPES:
            return _LEGACY_MATCH_TYPES[kind]
        raise InvalidGrant(f"unsupported matchType {kind!r}")
    return "Exact"


def _topic_list(raw: Any, max_length: int, base: str, legacy: bool) -> tuple[Matcher, ...]:
    if not isinstance(raw, list) or not raw:
        raise InvalidGrant("mercure detail topics must be a non-empty array")
    if len(raw) > MAX_GRANT_TOPICS:
        raise InvalidGrant("too many topics in a mercure detail")
    result: list[Matcher] = []
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("match"), str):
            raise InvalidGrant("a topic matcher must be an object with a string 'match'")
        kind = _match_type(entry, legacy)
        value: str = entry["match"]
        if not value or len(value) > max_length:
            raise InvalidGrant("a topic matcher is empty or too long")
        try:
            check_matcher(value, max_length=max_length)
            result.append(matcher(kind, value, base))
        except BadRequest as exc:
            raise InvalidGrant(f"invalid topic matcher: {exc.detail}") from None
    return tuple(result)


def _legacy(
    raw: Any, max_length: int, base: str
) -> tuple[tuple[Matcher, ...], tuple[Matcher, ...], tuple[tuple[tuple[Matcher, ...], Any], ...]]:
    if not isinstance(raw, dict):
        raise InvalidGrant("the mercure claim must be an object")
    lists: list[tuple[Matcher, ...]] = []
    for key in ("publish", "subscribe"):
        selectors = raw.get(key, [])
        if not isinstance(selectors, list) or not all(isinstance(s, str) for s in selectors):
            raise InvalidGrant(f"mercure.{key} must be an array of strings")
        if len(selectors) > MAX_GRANT_TOPICS:
            raise InvalidGrant(f"too many selectors in mercure.{key}")
        try:
            usable = [s for s in selectors if 0 < len(s) <= max_length]
            lists.append(tuple(legacy_selector(s, base) for s in usable))
        except BadRequest as exc:
            raise InvalidGrant(f"invalid topic selector: {exc.detail}") from None
    payload = raw.get("payload")
    payloads = (((matcher("Exact", "*"),), payload),) if payload is not None else ()
    return lists[0], lists[1], payloads


def session_grants(subject: str, expires_at: float | None) -> Grants:
    """A chat session may read its own user's private topics, ``users/{sub}/…``, nothing else."""
    if not subject or "/" in subject or "?" in subject or "#" in subject:
        # Why: a subject with a slash would reach into another user's topic tree.
        return Grants(subject=subject, expires_at=expires_at)
    own = _UserTopics(f"users/{subject}/")
    return Grants(subscribe=(own,), subject=subject, expires_at=expires_at)


class _UserTopics(Matcher):
    """Every topic under one user's prefix."""

    __slots__ = ("_prefix",)

    def __init__(self, prefix: str) -> None:
        super().__init__("Exact", prefix)
        self._prefix = prefix
        self.wildcard = False

    def matches(self, topic: str) -> bool:
        return topic.startswith(self._prefix) and len(topic) > len(self._prefix)
