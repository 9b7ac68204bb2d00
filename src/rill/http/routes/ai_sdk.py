"""The AI SDK's ``useChat``: ``POST /api/ai-sdk/chat`` and its resume,
``GET /api/ai-sdk/chat/{id}/stream``, over Rill's chat service.

Point ``DefaultChatTransport({api: '/api/ai-sdk/chat'})`` here with a Rill token;
the chat id is a Rill conversation id. Stop is Rill's ``POST /api/chat/{id}/cancel``
with the assistant message's id (the reply id): aborting the fetch only
disconnects, and the reply completes in the background, as on ``/api/chat``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path
from starlette.responses import Response

from rill.chat.service import TurnRequest
from rill.fields import RecordId
from rill.http.admission import open_turn
from rill.http.identity import CurrentUser, ServicesDep
from rill.http.services import Services
from rill.http.sse import EventStreamResponse
from rill.protocols import ai_sdk
from rill.protocols.stream import chat_events
from rill.sse import comment, encode_event

router = APIRouter(prefix="/api/ai-sdk/chat", tags=["ai-sdk"])

_DONE = encode_event("[DONE]")
_STREAM: dict[int | str, dict[str, Any]] = {200: {
    "description": "The reply as UI message chunks (`x-vercel-ai-ui-message-stream: v1`), "
                   "ended by `data: [DONE]`",
    "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/UIMessageChunk"}}},
}}


@router.post("", status_code=200, operation_id="sendUiMessage", response_class=EventStreamResponse,
             responses=_STREAM)
async def send_ui_message(
    body: ai_sdk.UIChatRequest, user: CurrentUser, services: ServicesDep
) -> EventStreamResponse:
    """Send the chat's new user message (or regenerate the last reply) and stream the reply."""
    conversation = await services.store.get_conversation(user, body.id)
    message = ai_sdk.new_user_text(body)
    turn = await open_turn(services, TurnRequest(
        user_id=user, chatbot_id=conversation.chatbot_id, message=message,
        conversation_id=conversation.id, regenerate=message is None,
    ))
    return _stream(services, services.chat.relay(user, turn.message_id),
                   {"X-Rill-Message-Id": turn.message_id})


@router.get("/{chat_id}/stream", status_code=200, operation_id="resumeUiMessageStream",
            response_class=EventStreamResponse,
            responses={**_STREAM, 204: {"description": "no reply is streaming in this chat"}})
async def resume_ui_message_stream(
    chat_id: Annotated[RecordId, Path()],
    user: CurrentUser,
    services: ServicesDep,
) -> Response:
    """The chat's streaming reply from its start (the SDK replays it), or 204."""
    conversation = await services.store.get_conversation(user, chat_id)
    page = await services.store.history(user, conversation.chatbot_id,
                                        conversation_id=conversation.id, limit=1)
    latest = page.messages[-1] if page.messages else None
    if latest is None or latest.role != "assistant" or latest.status != "streaming":
        return Response(status_code=204)
    chunks = await services.chat.resume(user, latest.id, None)
    if chunks is None:
        return Response(status_code=204)
    return _stream(services, chunks, {"X-Rill-Message-Id": latest.id})


def _stream(services: Services, chunks: AsyncIterator[bytes],
            headers: dict[str, str]) -> EventStreamResponse:
    # Why a comment for a ping: the SDK validates every ``data:`` as a chunk.
    return EventStreamResponse(_encoded(chunks), heartbeat=services.heartbeat,
                               headers={**ai_sdk.HEADERS, **headers}, ping=comment())


async def _encoded(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async with contextlib.aclosing(chat_events(chunks)) as events:
        async for event in events:
            out = ai_sdk.translate(event)
            if out:
                yield b"".join(encode_event(orjson.dumps(c).decode()) for c in out)
    yield _DONE
