"""What the Python client raises.

    RillError                       (rill.errors)
    └── RillClientError             anything the client reports
        ├── APIError                the server answered an error status (problem+json)
        └── StreamError             an event stream could not be read to its end
            ├── NotAnEventStream    the answer was 2xx but not ``text/event-stream``
            ├── ReconnectExhausted  the connection kept failing; ``__cause__`` is the last failure
            └── StreamInterrupted   the stream dropped before anything identified it for a resume
"""

from __future__ import annotations

from typing import Any

import httpx

from rill.errors import RillError


class RillClientError(RillError):
    """Base of the client's errors."""

    code = "client_error"
    title = "Client error"


class APIError(RillClientError):
    """An error status with its RFC 9457 problem document.

    ``status``, ``title``, ``detail`` and ``type`` come from the document when the
    server sent one, from the HTTP status line otherwise; ``problem`` is the whole
    document (extension members included, e.g. ``retry_after``).
    """

    def __init__(
        self,
        status: int,
        *,
        title: str,
        detail: str,
        type: str = "about:blank",
        problem: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.type = type
        # Why: the problem type URI ends in the same slug the server's RillError uses.
        self.code = type.rsplit("/", 1)[-1] if "/" in type else type
        self.problem: dict[str, Any] = problem or {}

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"

    @classmethod
    def from_response(cls, response: httpx.Response) -> APIError:
        """Build from a response whose body has been read."""
        reason = response.reason_phrase or "Error"
        problem: dict[str, Any] = {}
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            problem = body
        text = response.text.strip()
        detail = problem.get("detail") or problem.get("title") or text[:500] or reason
        return cls(
            response.status_code,
            title=str(problem.get("title") or reason),
            detail=str(detail),
            type=str(problem.get("type") or "about:blank"),
            problem=problem,
        )


class StreamError(RillClientError):
    code = "stream_error"
    title = "Event stream failed"


class NotAnEventStream(StreamError):
    title = "Not an event stream"


class ReconnectExhausted(StreamError):
    title = "Reconnection attempts exhausted"


class StreamInterrupted(StreamError):
    title = "Stream interrupted before it could be resumed"


def raise_for_problem(response: httpx.Response) -> None:
    """Raise :class:`APIError` for any non-2xx response (its body must have been read)."""
    if not response.is_success:
        raise APIError.from_response(response)
