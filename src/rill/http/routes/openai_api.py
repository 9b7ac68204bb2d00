"""``POST /v1/chat/completions`` and ``GET /v1/models``: OpenAI Chat Completions over
Rill's chat service.

The chunks' ``id`` is the Rill reply id: ``POST /api/chat/{id}/cancel`` stops the
reply, ``GET /api/chat/{id}/stream`` resumes it (in Rill's own event format,
since OpenAI's protocol has no resume).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from rill.chat.service import TurnRequest
from rill.http.admission import open_turn
from rill.http.identity import ServicesDep
from rill.http.protocol_routes import (
    ApiKeyUser,
    ConversationHeader,
    bot_id,
    error_route,
    json_response,
    turn_headers,
)
from rill.http.sse import EventStreamResponse
from rill.protocols import openai
from rill.protocols.stream import chat_events, whole_reply
from rill.sse import comment, encode_event

_DONE = encode_event("[DONE]")
_ERROR: dict[str, Any] = {
    "application/json": {"schema": {"$ref": "#/components/schemas/OpenAIError"}}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": _ERROR}
    for status, description in (
        (400, "Invalid request"), (401, "No or invalid token"), (404, "Not found"),
        (413, "Too large"), (429, "A per-user limit is reached"), (500, "The reply failed"),
        (503, "Unavailable"), (504, "The model timed out"))
}
COMPLETION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A `chat.completion`, or with `stream: true` a stream of "
          "`chat.completion.chunk` objects ended by `data: [DONE]`",
          "content": {
              "application/json": {"schema": {"$ref": "#/components/schemas/OpenAICompletion"}},
              "text/event-stream": {"schema": {"$ref": "#/components/schemas/OpenAIChunk"}}}},
    **_ERRORS,
}

router = APIRouter(prefix="/v1", tags=["openai"], route_class=error_route(openai.error_body))


@router.get("/models", operation_id="listModels", response_class=Response,
            responses={200: {"description": "The chatbots, as OpenAI models", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/OpenAIModels"}}}},
                **_ERRORS})
async def list_models(user: ApiKeyUser, services: ServicesDep) -> Response:
    """Rill's chatbots: each bot id is a ``model``."""
    return json_response(openai.models_body(list(services.chat.bots), 0))


@router.post("/chat/completions", operation_id="createChatCompletion", response_class=Response,
             responses=COMPLETION_RESPONSES)
async def create_chat_completion(
    body: openai.CompletionRequest,
    user: ApiKeyUser,
    services: ServicesDep,
    conversation_id: ConversationHeader = None,
) -> Response:
    """Send a conversation, get the reply (``model`` is a Rill chatbot id); stored as
    for ``POST /v1/messages``."""
    prompt, system = openai.request_prompt(body)
    turn = await open_turn(services, TurnRequest(
        user_id=user, chatbot_id=bot_id(services, body.model),
        message=prompt[-1].content, conversation_id=conversation_id, prompt=prompt,
        system=system, max_tokens=body.max_completion_tokens or body.max_tokens,
        new_conversation=conversation_id is None,
    ))
    created = int(time.time())
    chunks = services.chat.relay(user, turn.message_id)
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        writer = openai.ChunkWriter(created=created, include_usage=include_usage)
        # Why a comment for a ping: the SDK reads every ``data:`` as a chunk.
        return EventStreamResponse(_encoded(writer, chunks), heartbeat=services.heartbeat,
                                   headers=turn_headers(turn), ping=comment())
    reply = await whole_reply(chunks)
    if reply.error is not None:
        kind, message = reply.error
        return json_response(openai.error_body(500, kind, message), turn_headers(turn), 500)
    return json_response(openai.completion_body(reply, created), turn_headers(turn))


async def _encoded(
    writer: openai.ChunkWriter, chunks: AsyncIterator[bytes]
) -> AsyncIterator[bytes]:
    async with contextlib.aclosing(chat_events(chunks)) as events:
        async for event in events:
            out = writer.translate(event)
            if out:
                yield b"".join(encode_event(orjson.dumps(c).decode()) for c in out)
    yield _DONE
