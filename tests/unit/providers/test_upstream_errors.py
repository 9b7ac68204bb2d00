import httpx
import pytest

from rill.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from rill.providers import _upstream


@pytest.mark.parametrize(
    ("status", "error_type", "expected"),
    [
        (429, None, UpstreamUnavailable),
        (529, "overloaded_error", UpstreamUnavailable),
        (503, None, UpstreamUnavailable),
        (200, "overloaded_error", UpstreamUnavailable),
        (200, "rate_limit_error", UpstreamUnavailable),
        (504, None, UpstreamTimeout),
        (200, "timeout_error", UpstreamTimeout),
        (500, "api_error", UpstreamError),
        (200, "api_error", UpstreamError),
        (401, "authentication_error", UpstreamError),
        (400, "invalid_request_error", UpstreamError),
    ],
)
def test_statuses_map_to_error_classes(
    status: int, error_type: str | None, expected: type[UpstreamError]
) -> None:
    assert type(_upstream.from_status("Anthropic", status, error_type)) is expected


def test_rejections_say_what_to_check() -> None:
    message = str(_upstream.from_status("OpenAI", 401))
    assert message == "OpenAI rejected the request (401 Unauthorized; check the API key)"


def test_transport_errors_are_recognised_by_class() -> None:
    request = httpx.Request("GET", "http://x")
    timeout = _upstream.from_transport("X", httpx.ReadTimeout("slow", request=request))
    assert isinstance(timeout, UpstreamTimeout)
    lost = _upstream.from_transport("X", httpx.RemoteProtocolError("peer closed", request=request))
    assert isinstance(lost, UpstreamUnavailable)
    assert _upstream.from_transport("X", ValueError("not http")) is None


def test_missing_key_falls_back_to_a_placeholder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RILL_TEST_ABSENT_KEY", raising=False)
    assert _upstream.api_key("RILL_TEST_ABSENT_KEY", "OPENAI_API_KEY") == "not-needed"
    monkeypatch.setenv("RILL_TEST_ABSENT_KEY", "k")
    assert _upstream.api_key("RILL_TEST_ABSENT_KEY", "OPENAI_API_KEY") == "k"
