"""What the other protocols' routes (``/v1``, the AI SDK's) share: who is calling,
errors in the protocol's own shape, and starting a turn.

Why a route class for errors: Rill's app-wide handlers answer problem+json; a
client of another protocol only understands its own error body, so these routes
catch errors themselves, before the app's handlers see them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import Response

from rill.chat.service import Turn
from rill.errors import NotFound, RillError, TooManyRequests, Unauthorized
from rill.fields import RecordId
from rill.http.identity import current_user, optional_user, signed_in, user_of
from rill.http.services import Services, get_services

log = logging.getLogger("rill.http")

#: ``(status, code, message, param) -> body``: a protocol's error document.
ErrorBody = Callable[[int, str, str, str | None], dict[str, Any]]


def error_route(body: ErrorBody) -> type[APIRoute]:
    """A route class whose errors are answered as ``body`` builds them."""

    class ProtocolRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def route(request: Request) -> Response:
                try:
                    return await handler(request)
                except RillError as exc:
                    if exc.status >= 500:
                        log.warning("request failed",
                                    extra={"event": "request_failed", "error": exc.code})
                    # Why 400 for 422: both protocols answer invalid requests with 400.
                    status = 400 if exc.status == 422 else exc.status
                    return _answer(body(status, exc.code, exc.detail, None), status,
                                   _headers(exc))
                except RequestValidationError as exc:
                    return _answer(_invalid(body, exc), 400)

            return route

    return ProtocolRoute


def _invalid(body: ErrorBody, exc: RequestValidationError) -> dict[str, Any]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return body(400, "invalid_request_error", "the request body is not valid JSON", None)
    where = [".".join(str(p) for p in e.get("loc", ())[1:]) for e in errors]
    detail = "; ".join(f"{w}: {e.get('msg', '')}" for w, e in zip(where, errors, strict=True))
    return body(400, "invalid_request_error", detail or "invalid input",
                where[0] if where and where[0] else None)


def _headers(exc: RillError) -> dict[str, str] | None:
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": 'Bearer realm="rill"'}
    if isinstance(exc, TooManyRequests):
        return {"Retry-After": str(max(1, round(exc.retry_after)))}
    return None


def _answer(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers=headers)


def json_response(
    body: dict[str, Any], headers: dict[str, str] | None = None, status: int = 200
) -> Response:
    return _answer(body, status, headers)


async def api_key_user(request: Request) -> str:
    """The caller: a Rill token in ``x-api-key`` (what the Anthropic SDK sends), else in
    ``Authorization: Bearer`` (the OpenAI SDK) or the session cookie, as everywhere."""
    key = request.headers.get("x-api-key")
    if key is None:
        return await current_user(await optional_user(request))
    # Why a present but empty key is not skipped: a credential that was sent is the
    # one to judge, never a fallback to another one.
    if not key.strip():
        raise Unauthorized("x-api-key is empty")
    return signed_in(await user_of(get_services(request).verifier, key.strip()))


ApiKeyUser = Annotated[str, Depends(api_key_user)]


def bot_id(services: Services, model: str) -> str:
    """The chatbot a ``model`` names; an unknown one is 404, as the protocols answer it."""
    if model not in services.chat.bots:
        raise NotFound(f"model {model!r} not found; GET /v1/models lists them", model=model)
    return model


def turn_headers(turn: Turn) -> dict[str, str]:
    return {"X-Rill-Message-Id": turn.message_id, "X-Rill-Conversation-Id": turn.conversation_id}


#: The conversation a stateless request continues (``X-Rill-Conversation-Id``); an id
#: Rill could not have minted is not found, as everywhere (``rill/fields.py``).
ConversationHeader = Annotated[RecordId | None, Header(alias="X-Rill-Conversation-Id")]
