"""``POST /api/chat`` on its happy path, without FastAPI's per-request machinery.

Why: a chat turn is Rill's most frequent request, and under a burst of turns the
time to first token is the time to get through the turns ahead in the queue.
Profiling 1,000 concurrent turns (docs/performance.md) put about a fifth of a
turn's CPU in FastAPI's routing, dependency solving, request object and
exception-handling layers, none of which the happy path needs.

The lane handles a request only when everything about it is ordinary: a JSON
body that validates as ``ChatRequest``, a bearer token (header or session
cookie) that verifies, and a message the route would accept. Anything else is
handed, body and all, to the FastAPI route (``routes/chat.py``), which stays the
one definition of the endpoint's errors and its OpenAPI document. Errors that
happen after the turn is admitted (rate limit, unknown conversation, shutdown)
are answered with the same problem+json mapping the route's handlers use.
It sits inside the middleware stack, so CORS, the access log and the body
limit apply as for every other request.
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from rill.chat.service import TurnRequest
from rill.errors import RillError
from rill.http import problems
from rill.http.routes.chat import start_reply
from rill.http.schemas import ChatRequest
from rill.http.services import Services

PATH = "/api/chat"


class ChatLane:
    def __init__(self, api: FastAPI) -> None:
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.api(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        admitted = await self._admit(scope, body)
        if admitted is None:
            await self.api(scope, _replay(body, receive), send)
            return
        services, turn_request = admitted
        try:
            response = await start_reply(services, turn_request)
        except RillError as exc:
            await problems.answer(exc)(scope, receive, send)
            return
        await response(scope, receive, send)

    async def _admit(self, scope: Scope, body: bytes) -> tuple[Services, TurnRequest] | None:
        """The turn to start, or None when the FastAPI route should answer instead."""
        services: Services | None = getattr(self.api.state, "services", None)
        if services is None:
            return None
        content_type = b""
        authorization = b""
        cookie = b""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"authorization":
                authorization = value
            elif name == b"cookie":
                cookie = value
        if content_type.split(b";", 1)[0].strip().lower() != b"application/json":
            return None
        token = _token(authorization, cookie, services.settings.session_cookie)
        if token is None:
            return None
        try:
            request = ChatRequest.model_validate_json(body)
            claims = await services.verifier.verify(token)
        except (ValidationError, RillError):
            return None
        user = claims.get("sub")
        if not isinstance(user, str) or not user or len(user) > 256:
            return None
        if request.userId is not None and request.userId != user:
            return None
        message = request.message
        if (
            request.regenerate
            or message is None
            or not message.strip()
            or len(message) > services.settings.max_message_chars
        ):
            # Regenerations are rare and have their own rules: the route checks them.
            return None
        return services, TurnRequest(
            user_id=user,
            chatbot_id=request.chatbotId,
            message=message,
            conversation_id=request.conversationId,
            regenerate=False,
            language=request.language,
        )


def _token(authorization: bytes, cookie: bytes, cookie_name: str) -> str | None:
    """The bearer token, as ``identity.bearer_token`` finds it; None if unusual."""
    if authorization:
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        token = token.strip()
        return token if scheme.lower() == "bearer" and token else None
    found = None
    for part in cookie.decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == cookie_name:
            found = value or None  # the last one wins, as in Starlette's parser
    return found


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
