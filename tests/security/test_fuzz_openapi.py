"""Fuzz the API from its own OpenAPI document (schemathesis): no 5xx, and every response
conforms to the documented status codes, content types and schemas.

A few hundred generated requests by default; thousands with RILL_SOAK=1.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import RunningServer, start_server
from tests.reliability.support import scaled

ECHO = '[[bots]]\nid = "echo"\nname = "Echo"\nprovider = "echo"\npace = 0\n'
EXAMPLES = scaled(40, 400)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory) -> Iterator[RunningServer]:
    server = start_server(tmp_path_factory.mktemp("fuzz"), config=ECHO, env={
        "RILL_CHAT_TURNS_PER_MINUTE": "0", "RILL_MAX_CONCURRENT_GENERATIONS": "100",
        "RILL_MAX_MESSAGE_CHARS": "2000"})
    yield server
    server.stop()


def test_generated_requests(fuzz_server: RunningServer) -> None:
    """Every operation in the document, ``EXAMPLES`` generated requests each."""
    token = fuzz_server.session_token()
    # Why not schemathesis.pytest.from_fixture: it does not run under pytest 9.
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    sent = 0
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10, "the document lost its operations"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            nonlocal sent
            sent += 1
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
