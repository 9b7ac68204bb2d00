"""Issue 14: ``/.well-known/%6Dercure/…`` was accepted as a topic, so a publisher could forge
the hub's subscription events. The reserved-namespace test now runs on the path after
resolution, unreserved ``%XX`` decoding and dot-segment removal: the whole class of
spellings is checked here, not one example."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rill.hub.limits import BadRequest, check_id, check_topic, check_type
from rill.hub.publish import is_reserved

BASE = "http://localhost/.well-known/mercure"
UNRESERVED = "abcdefghijklmnopqrstuvwxyz0123456789-._~"
segment = st.text(alphabet=UNRESERVED, min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))


def _spell(text: str, encode: list[bool]) -> str:
    """Percent-encode the characters of ``text`` chosen by ``encode`` (either case)."""
    out = []
    for char, chosen in zip(text, encode + [False] * len(text), strict=False):
        if chosen and char in UNRESERVED:
            out.append(f"%{ord(char):02X}" if ord(char) % 2 else f"%{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


@given(
    rest=st.lists(segment, max_size=3),
    encode=st.lists(st.booleans(), max_size=40),
    detour=st.one_of(st.none(), segment),
    prefix=st.sampled_from(["", "https://hub.example", "//elsewhere.example", "http://x:1"]),
)
def test_every_spelling_of_the_namespace_is_reserved(
    rest: list[str], encode: list[bool], detour: str | None, prefix: str
) -> None:
    path = "/.well-known/mercure" + "".join("/" + s for s in rest)
    if detour is not None:
        # ``/.well-known/<detour>/../mercure/…``: a dot segment walks back in.
        path = path.replace("/mercure", f"/{detour}/../mercure", 1)
    topic = prefix + _spell(path, encode)
    assert is_reserved(topic, BASE), topic


@given(rest=st.lists(segment, min_size=1, max_size=4), encode=st.lists(st.booleans()))
def test_paths_elsewhere_are_not_reserved(rest: list[str], encode: list[bool]) -> None:
    path = "/" + "/".join(rest)
    normalized_is_hub = path == "/.well-known/mercure" or path.startswith("/.well-known/mercure/")
    assert is_reserved(_spell(path, encode), BASE) is normalized_is_hub


@given(
    text=st.text(max_size=20),
    bad=st.sampled_from(["\x00", "\x01", "\x1f", "\x7f", "\x85", "\u200b", "\u202e", "\ufeff"]),
)
def test_control_and_format_characters_are_refused_everywhere(text: str, bad: str) -> None:
    value = f"a{text}{bad}"
    for check in (lambda v: check_topic(v, max_length=1000), check_id, check_type):
        try:
            check(value)
        except BadRequest:
            continue
        raise AssertionError(f"{value!r} was accepted by {check}")
