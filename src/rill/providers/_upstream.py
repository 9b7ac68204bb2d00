"""What the upstream adapters share: API keys, HTTP timeouts, error translation.

Every failure becomes a ``rill.errors.UpstreamError`` whose message is fit for a user:
it names the service and the status, never the API key or the upstream body (a 401
body can echo part of the key back).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from typing import Any

import aiohttp
import httpx2
import orjson

from rill.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from rill.providers.base import Chunk, TextDelta
from rill.sse.decoder import SSEDecoder
from rill.sse.event import ServerSentEvent

logger = logging.getLogger("rill.providers")

#: Local servers (Ollama, vLLM, llama.cpp) accept any key, but the SDKs insist on one.
PLACEHOLDER_KEY = "not-needed"
CONNECT_TIMEOUT = 10.0
#: A backstop only: the chat layer enforces first-token and idle timeouts itself.
READ_TIMEOUT = 600.0
WRITE_TIMEOUT = 30.0

_OVERLOADED_TYPES = frozenset({"overloaded_error", "rate_limit_error"})
_REJECTED_HINTS = {
    401: "check the API key",
    403: "check the API key's permissions",
    404: "check the model name and base URL",
}


def api_key(env_name: str | None, default_env: str) -> str:
    return os.environ.get(env_name or default_env) or PLACEHOLDER_KEY


def from_status(service: str, status: int, error_type: str | None = None) -> UpstreamError:
    """Translate an HTTP status (or, mid-stream, an error event's type) into our errors."""
    logger.warning(
        "upstream_error", extra={"service": service, "status": status, "error_type": error_type}
    )
    if status == 429 or error_type == "rate_limit_error":
        return UpstreamUnavailable(f"{service} is rate-limiting requests (429); try again shortly")
    if status in (503, 529) or error_type in _OVERLOADED_TYPES:
        return UpstreamUnavailable(f"{service} is overloaded; try again in a moment")
    if status in (408, 504) or error_type == "timeout_error":
        return UpstreamTimeout(f"{service} timed out")
    if 400 <= status < 500:
        hint = _REJECTED_HINTS.get(status)
        suffix = f"; {hint}" if hint else ""
        return UpstreamError(f"{service} rejected the request ({status} {_phrase(status)}{suffix})")
    if status >= 500:
        return UpstreamError(f"{service} failed ({status} {_phrase(status)})")
    return UpstreamError(f"{service} reported an error while streaming")


def from_transport(service: str, exc: BaseException) -> UpstreamError | None:
    """Translate an HTTP client transport error, or None if ``exc`` is not one.

    Why by name: the SDKs raise their HTTP library's exceptions while a stream is
    being read, and that library is ``httpx`` or its successor ``httpx2`` depending
    on the SDK version; both keep these class names.
    """
    names = {cls.__name__ for cls in type(exc).__mro__ if cls.__module__.startswith("httpx")}
    if not names:
        return None
    logger.warning(
        "upstream_transport_error", extra={"service": service, "exc": type(exc).__name__}
    )
    if "TimeoutException" in names:
        return timed_out(service)
    if "TransportError" in names:
        return connection_lost(service)
    return UpstreamError(f"{service} sent a response Rill could not read")


def error_type(body: object) -> str | None:
    """The ``error.type`` of an upstream error body (both APIs nest it the same way)."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("type"), str):
            return str(error["type"])
    return None


async def text_batches(
    service: str,
    body: AsyncIterator[bytes],
    texts_of: Callable[[ServerSentEvent], list[str] | None],
) -> AsyncIterator[list[Chunk]]:
    """An upstream's SSE body as batches of ``TextDelta``: one batch per network read.

    Why the adapters parse the stream themselves instead of iterating the SDK's
    stream objects: those build a pydantic model per event, ~118 µs a token against
    ~4.5 µs for the WHATWG decoder plus orjson (measured side by side,
    docs/performance.md), which was the relay's whole budget. The SDKs still send
    the request, authenticate, retry and map error statuses.

    ``texts_of`` reads one event: the text pieces it carries, or None once the
    stream says it is done; it raises ``UpstreamError`` for an error event. Text
    that arrived in the same read before an error is handed over first.
    """
    decoder = SSEDecoder()
    try:
        async for data in body:
            batch: list[Chunk] = []
            failure: UpstreamError | None = None
            done = False
            for event in decoder.feed(data):
                try:
                    texts = texts_of(event)
                except UpstreamError as exc:
                    failure = exc
                    break
                if texts is None:
                    done = True
                    break
                batch += map(TextDelta, texts)
            if batch:
                yield batch
            if failure is not None:
                raise failure
            if done:
                return
    except UpstreamError:
        raise
    except Exception as exc:
        translated = from_aiohttp(service, exc, streaming=True) or from_transport(service, exc)
        if translated is None:
            raise
        raise translated from None


@contextlib.asynccontextmanager
async def opened(
    service: str, request: Awaitable[httpx2.Response], sdk: Any
) -> AsyncIterator[httpx2.Response]:
    """Send an SDK's streaming request; yield its HTTP response, closed on exit.

    Why here: the SDK sends the request, retries and raises for an error status
    while ``request`` is awaited, so that is where ``sdk``'s own errors (the
    ``openai`` or ``anthropic`` module's, which share their class names) are
    translated. Closing the response is what makes a cancel or ``aclose()`` drop
    the upstream connection at once instead of leaving the model generating.
    """
    try:
        response = await request
    except sdk.APIError as exc:
        raise from_sdk(service, exc, sdk) from None
    try:
        yield response
    finally:
        await response.aclose()


def timeout() -> httpx2.Timeout:
    """The SDK client's timeouts (both SDKs take httpx2's ``Timeout``)."""
    return httpx2.Timeout(
        connect=CONNECT_TIMEOUT, read=READ_TIMEOUT, write=WRITE_TIMEOUT, pool=CONNECT_TIMEOUT
    )


def limits(max_connections: int) -> httpx2.Limits:
    """The SDK transport's connection pool: ``max_connections`` at once, 100 kept idle."""
    return httpx2.Limits(max_connections=max_connections, max_keepalive_connections=100)


def raw_post(client: Any, path: str, body: dict[str, object]) -> Awaitable[httpx2.Response]:
    """An SDK client's ``post`` of ``body``, answered by the HTTP response itself, unread.

    ``client`` is an ``openai.AsyncOpenAI`` or ``anthropic.AsyncAnthropic`` (Any: the
    two share this method but no type). With ``cast_to`` an HTTP response class and
    ``stream`` set, both SDKs hand back the response before reading its body.
    """
    response: Awaitable[httpx2.Response] = client.post(
        path, body=body, cast_to=httpx2.Response, stream=True
    )
    return response


def from_sdk(service: str, exc: Any, sdk: Any) -> UpstreamError:
    """Translate an error the SDK raised before the stream began."""
    underlying = from_aiohttp(service, exc, streaming=False)
    if underlying is not None:
        return underlying
    if isinstance(exc, sdk.APITimeoutError):
        return timed_out(service)
    if isinstance(exc, sdk.APIConnectionError):
        return unreachable(service)
    status = exc.status_code if isinstance(exc, sdk.APIStatusError) else 200
    return from_status(service, status, error_type(exc.body))


def json_object(service: str, data: str) -> dict[str, Any]:
    """An event's JSON data as an object, or the error a user should see."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamError(f"{service} sent a response Rill could not read") from None
    if not isinstance(value, dict):
        raise UpstreamError(f"{service} sent a response Rill could not read")
    return value


def from_aiohttp(service: str, exc: BaseException, *, streaming: bool) -> UpstreamError | None:
    """Translate by the ``aiohttp`` error behind ``exc``, or None if there is none.

    Why: the SDKs' aiohttp transport re-raises aiohttp's errors as httpx ones, but
    maps every ``ClientConnectionError`` to a connect *timeout*, so a refused
    connection or a server hanging up mid-reply would read "timed out". The
    original error is kept as the cause; its class says what really happened.
    """
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, aiohttp.ClientError):
        seen = seen.__cause__ or seen.__context__
    if seen is None:
        return None
    if isinstance(seen, aiohttp.ServerTimeoutError | aiohttp.ConnectionTimeoutError):
        return timed_out(service)
    if isinstance(seen, aiohttp.ClientConnectorError) and not streaming:
        return unreachable(service)
    if isinstance(seen, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        return connection_lost(service) if streaming else unreachable(service)
    return UpstreamError(f"{service} sent a response Rill could not read")


def unreachable(service: str) -> UpstreamError:
    logger.warning("upstream_unreachable", extra={"service": service})
    return UpstreamUnavailable(f"could not reach {service}")


def connection_lost(service: str) -> UpstreamError:
    logger.warning("upstream_connection_lost", extra={"service": service})
    return UpstreamUnavailable(f"the connection to {service} was lost")


def timed_out(service: str) -> UpstreamError:
    logger.warning("upstream_timeout", extra={"service": service})
    return UpstreamTimeout(f"{service} timed out")


def ended_early(service: str) -> UpstreamError:
    return UpstreamError(f"{service} ended the reply before finishing it")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"
