"""``POST /api/chat`` without FastAPI's per-request machinery.

Why: a chat turn is Rill's most frequent request, and under a burst of turns the
time to first token is the time to get through the turns ahead in the queue.
Profiling 1,000 concurrent turns (docs/performance.md) put about a fifth of a
turn's CPU in FastAPI's routing, dependency solving, request object and
exception-handling layers, none of which a well-formed request needs.

The lane reads the headers from the ASGI scope and the body from ``receive``;
everything else is shared with the FastAPI route (``routes/chat.py``): the
identity rules (``identity``), the body schema (``schemas.ChatRequest``), the
turn's admission and start (``admission``) and the problem+json mapping. A body
that does not parse or validate, or one that is not JSON, is handed, body and
all, to the route, which stays the one definition of validation errors and of
the endpoint's OpenAPI document. It sits inside the middleware stack, so CORS,
the access log and the body limit apply as for every other request.
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from rill.chat.service import TurnRequest
from rill.errors import RillError
from rill.http import identity, problems
from rill.http.admission import admit, start_reply
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
        services: Services | None = getattr(self.api.state, "services", None)
        if services is None:
            await self.api(scope, _replay(body, receive), send)
            return
        try:
            turn = await self._turn(services, scope, body)
            if turn is None:
                await self.api(scope, _replay(body, receive), send)
                return
            response = await start_reply(services, turn)
        except RillError as exc:
            await problems.answer(exc)(scope, receive, send)
            return
        await response(scope, receive, send)

    async def _turn(
        self, services: Services, scope: Scope, body: bytes
    ) -> TurnRequest | None:
        """The admitted turn, or None when the FastAPI route should answer instead.

        Raises the ``RillError`` that refuses the turn."""
        content_type = b""
        authorization: str | None = None
        cookie: str | None = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"cookie":
                cookie = value.decode("latin-1")
        if content_type.split(b";", 1)[0].strip().lower() != b"application/json":
            return None
        settings = services.settings
        token = identity.bearer_token(authorization, cookie, settings.session_cookie)
        user = identity.signed_in(await identity.user_of(services.verifier, token))
        try:
            request = ChatRequest.model_validate_json(body)
        except ValidationError:
            return None
        return admit(request, user, settings.max_message_chars)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
