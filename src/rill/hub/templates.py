"""URI templates (RFC 6570) as topic matchers, for the legacy ``topic`` parameter.

A template is turned into an anchored regular expression that accepts every
expansion of it. Why bounded: Python's ``re`` backtracks, so a template is
refused when it could make matching super-linear in a harmful way. Adjacent
expressions whose values share a character class are merged (``{a}{b}`` is
the same language as ``{a}``), quantifiers are made possessive wherever the
next character cannot belong to the value (no backtracking is then possible),
and at most ``MAX_AMBIGUOUS`` values may be followed by a character they could
also contain (``{name}.{ext}``), which caps the worst case at a low polynomial
over topics that are themselves length-limited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rill.hub.limits import BadRequest

MAX_EXPRESSIONS = 16
MAX_AMBIGUOUS = 2

_UNRESERVED = "A-Za-z0-9._~-"
_RESERVED = ":/?#\\[\\]@!$&'()*+,;="
_VARSPEC = re.compile(
    r"^(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2})(?:\.?(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2}))*"
    r"(?::[1-9][0-9]{0,3}|\*)?$"
)
_EXPRESSION = re.compile(r"\{([^{}]*)\}")

# Character sets a value may contain, per operator (pct-encoding appears as '%').
_SIMPLE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-%,")
_WIDE = _SIMPLE | frozenset(":/?#[]@!$&'()*+;=")
_PARAM = _SIMPLE | frozenset("=")
_QUERY = _PARAM | frozenset("&")


@dataclass(frozen=True, slots=True)
class _Part:
    """A literal character, or a value: ``lead`` (fixed prefix) then any run of ``chars``."""

    literal: str | None = None
    chars: frozenset[str] = frozenset()
    lead: str = ""
    #: The value may repeat as a whole (exploded lists: ``/a/b/c``).
    repeat: bool = False
    #: The value may be absent altogether (``{#x}``, ``{?x}``).
    optional: bool = False


def _value_part(operator: str) -> _Part:
    if operator == "":
        return _Part(chars=_SIMPLE)
    if operator == "+":
        return _Part(chars=_WIDE)
    if operator == "#":
        return _Part(chars=_WIDE, lead="#", optional=True)
    if operator == ".":
        return _Part(chars=_SIMPLE, lead=".", optional=True)
    if operator == "/":
        return _Part(chars=_SIMPLE, lead="/", repeat=True)
    if operator == ";":
        return _Part(chars=_PARAM, lead=";", repeat=True)
    if operator == "?":
        return _Part(chars=_QUERY, lead="?", optional=True)
    if operator == "&":
        return _Part(chars=_PARAM, lead="&", repeat=True)
    raise BadRequest(f"unsupported URI template operator {operator!r}")


def _parse(template: str) -> list[_Part]:
    parts: list[_Part] = []
    position = 0
    expressions = 0
    for found in _EXPRESSION.finditer(template):
        parts.extend(_Part(literal=c) for c in template[position : found.start()])
        body = found.group(1)
        operator = body[:1] if body[:1] in "+#./;?&" else ""
        names = body[len(operator) :].split(",")
        if not all(_VARSPEC.match(n) for n in names):
            raise BadRequest(f"invalid URI template expression {{{body}}}")
        expressions += 1
        parts.append(_value_part(operator))
        position = found.end()
    tail = template[position:]
    leftover = _EXPRESSION.sub("", template)
    if "{" in leftover or "}" in leftover:
        raise BadRequest("unbalanced braces in URI template")
    parts.extend(_Part(literal=c) for c in tail)
    if expressions > MAX_EXPRESSIONS:
        raise BadRequest(f"a URI template may hold at most {MAX_EXPRESSIONS} expressions")
    return _merge(parts)


def _merge(parts: list[_Part]) -> list[_Part]:
    """``{a}{+b}`` accepts exactly what ``{+b}`` accepts: keep the wider one."""
    merged: list[_Part] = []
    for part in parts:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and part.literal is None
            and previous.literal is None
            and not part.lead
            and not previous.lead
        ):
            merged[-1] = part if part.chars >= previous.chars else previous
            continue
        merged.append(part)
    return merged


def _first_chars(parts: list[_Part], index: int) -> frozenset[str] | None:
    """Characters that may come right after ``parts[index - 1]``; None means end of input."""
    chars: set[str] = set()
    for part in parts[index:]:
        if part.literal is not None:
            chars.add(part.literal)
            return frozenset(chars)
        if part.lead:
            chars.add(part.lead)
            if not (part.optional or part.repeat):
                return frozenset(chars)
        else:
            chars |= part.chars
    return frozenset(chars)


def compile_template(template: str) -> re.Pattern[str]:
    parts = _parse(template)
    pieces: list[str] = []
    ambiguous = 0
    for index, part in enumerate(parts):
        if part.literal is not None:
            pieces.append(re.escape(part.literal))
            continue
        follow = _first_chars(parts, index + 1) or frozenset()
        # Why: a possessive run never gives characters back, which is only
        # equivalent when the next character cannot be one of the value's.
        clash = bool(follow & part.chars) or (part.repeat and part.lead in part.chars)
        ambiguous += clash
        star = "*" if clash else "*+"
        klass = "[" + "".join(re.escape(c) for c in sorted(part.chars)) + "]" + star
        if part.lead:
            unit = f"(?:{re.escape(part.lead)}{klass})"
            pieces.append(unit + ("*" if part.repeat else "?"))
        else:
            pieces.append(klass)
    if ambiguous > MAX_AMBIGUOUS:
        raise BadRequest("URI template too ambiguous to match safely")
    return re.compile("".join(pieces), re.DOTALL)


def is_template(value: str) -> bool:
    return "{" in value or "}" in value
