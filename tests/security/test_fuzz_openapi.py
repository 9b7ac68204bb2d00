"""Fuzz the API from its own OpenAPI document (schemathesis): no 5xx, and every response
conforms to the documented status codes, content types and schemas.

Schemathesis never generates lone surrogates and seldom the control characters, the
strings that once reached the store and broke it (issue 13), so each generated
request has some of its strings spoilt with them: NUL and the other C0 controls,
DEL, U+200B, U+FEFF everywhere, and lone surrogates in JSON bodies (a URL cannot
carry one). Run against SQLite and against PostgreSQL.

A few hundred generated requests per store by default; thousands with RILL_SOAK=1.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import POSTGRES_URL, REDIS_URL, RunningServer, start_server
from tests.reliability.support import scaled

ECHO = '[[bots]]\nid = "echo"\nname = "Echo"\nprovider = "echo"\npace = 0\n'
EXAMPLES = scaled(40, 400)
IN_URLS = [chr(c) for c in range(0x20)] + ["\x7f", "\u200b", "\ufeff"]
IN_BODIES = [*IN_URLS, "\ud800", "\udbff", "\udc00", "\udfff"]
STORES = [
    pytest.param({}, id="sqlite"),
    pytest.param({"RILL_DATABASE_URL": POSTGRES_URL, "RILL_BROKER_URL": REDIS_URL},
                 id="postgres", marks=[pytest.mark.postgres, pytest.mark.redis]),
]


@pytest.fixture(scope="module", params=STORES)
def fuzz_server(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[RunningServer]:
    server = start_server(tmp_path_factory.mktemp("fuzz"), config=ECHO, env={
        "RILL_CHAT_TURNS_PER_MINUTE": "0", "RILL_MAX_CONCURRENT_GENERATIONS": "100",
        "RILL_MAX_MESSAGE_CHARS": "2000", **request.param})
    yield server
    server.stop()


def spoil(value: Any, data: st.DataObject, alphabet: list[str]) -> Any:
    """``value`` with some of its strings (at any depth) given a character from ``alphabet``."""
    if isinstance(value, str):
        if not data.draw(st.booleans()):
            return value
        at = data.draw(st.integers(0, len(value)))
        return value[:at] + data.draw(st.sampled_from(alphabet)) + value[at:]
    if isinstance(value, dict):
        return {k: spoil(v, data, alphabet) for k, v in value.items()}
    if isinstance(value, list):
        return [spoil(v, data, alphabet) for v in value]
    return value


# Why a longer timeout: every operation of every surface (chat, hub, /v1, AI SDK) on a
# shared 2-core machine; 40 examples each run in 1-2 minutes, the suite's 120 s is too tight.
@pytest.mark.timeout(900)
def test_generated_requests(fuzz_server: RunningServer) -> None:
    """Every operation in the document, ``EXAMPLES`` generated requests each."""
    token = fuzz_server.session_token()
    # Why not schemathesis.pytest.from_fixture: it does not run under pytest 9.
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    sent = 0
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10, "the document lost its operations"
    for operation in operations:

        @given(case=operation.as_strategy(), data=st.data())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case, data: st.DataObject) -> None:
            nonlocal sent
            sent += 1
            if case.path_parameters:
                case.path_parameters = spoil(case.path_parameters, data, IN_URLS)
            if case.query:
                case.query = spoil(case.query, data, IN_URLS)
            if isinstance(case.body, dict | list | str):
                case.body = spoil(case.body, data, IN_BODIES)
            # Why: signing out revokes the token it is sent with; the shared one must
            # stay valid for every other operation.
            signs_out = case.method == "DELETE" and case.path == "/api/session"
            own = fuzz_server.session_token() if signs_out else token
            response = case.call(headers={"Authorization": f"Bearer {own}"}, timeout=30)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path}: {response.status_code} "
                f"{response.text[:300]}")
            # Not checked: positive data acceptance. A schema-valid body may still break
            # a rule the schema cannot say (an empty message, an unknown chatbot id);
            # those answers are documented 4xx problems, not contract violations.
            case.validate_response(response, excluded_checks=[positive_data_acceptance])

        check()
    assert fuzz_server.process.poll() is None
    print(f"fuzz: {len(operations)} operations, {sent} generated requests, no 5xx")
