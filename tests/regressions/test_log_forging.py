"""Issue 13: the access log printed the decoded path as it came, so ``/api/x%0a<fake
line>`` forged a log line and ``%00`` wrote a NUL. Every logged value is escaped by
the formatter (``rill.logs``), whatever logger wrote it."""

from __future__ import annotations

import logging
import unicodedata

import httpx
from hypothesis import given
from hypothesis import strategies as st

from rill.logs import KeyValueFormatter, escape

#: Every character a terminal or a log shipper may treat as a line break or control.
CONTROLS = [chr(c) for c in range(0x110000)
            if unicodedata.category(chr(c)) == "Cc" or chr(c) in "\u2028\u2029"]
hostile = st.text(alphabet=st.sampled_from([*CONTROLS, "a", "\\", "x", "=", " ", "é"]))


def _line(message: str, *args: object, **extra: object) -> str:
    record = logging.LogRecord("rill.access", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return KeyValueFormatter("%(levelname)s %(name)s: %(message)s").format(record)


def test_every_control_character_is_covered() -> None:
    assert len(CONTROLS) == 67  # C0 (32), DEL, C1 (32), U+2028, U+2029
    for char in CONTROLS:
        assert not set(escape(char)) & set(CONTROLS), repr(char)


@given(hostile, hostile)
def test_no_logged_value_carries_a_control_character(path: str, user: str) -> None:
    line = _line("%s %s", "GET", path, path=path, user=user, status=200)
    assert not set(line) & set(CONTROLS)
    assert line.count(" path=") == 1 + path.count(" path=")


@given(hostile, hostile)
def test_escaping_keeps_values_apart(a: str, b: str) -> None:
    """Two different values never log alike (a literal ``\\x0a`` is not an LF)."""
    assert (escape(a) == escape(b)) == (a == b)


def test_a_forged_access_log_line_stays_on_its_line(rill_server) -> None:
    marker = "FORGED-0123"
    httpx.get(f"{rill_server.url}/api/x%0a{marker}%20INFO%0d%00%e2%80%a8end", timeout=5)
    httpx.get(f"{rill_server.url}/healthz", timeout=5)  # the line above is flushed by now
    logs = rill_server.logs()
    assert "\x00" not in logs
    forged = [line for line in logs.splitlines() if marker in line]
    assert forged, "the request was logged"
    assert all(not line.startswith(marker) for line in forged)
    assert any("/api/x\\x0aFORGED-0123 INFO\\x0d\\x00\\u2028end" in line for line in forged)
