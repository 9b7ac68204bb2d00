"""``POST /v1/messages``: the Anthropic Messages API over Rill's chat service.

A streaming request gets the same bytes as ``POST /api/chat`` (the same events,
ids and ``retry``), so it resumes through ``GET /api/chat/{id}/stream`` and stops
through ``POST /api/chat/{id}/cancel``, with ``id`` from ``message_start``.
"""

from __future__ import annotations

from typing import Any

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
from rill.protocols import anthropic
from rill.protocols.stream import whole_reply

#: What a failed reply answers a non-streaming request with, by Anthropic error type.
_FAILED_STATUS = {"overloaded_error": 529, "timeout_error": 504, "rate_limit_error": 429}
_ERROR: dict[str, Any] = {
    "application/json": {"schema": {"$ref": "#/components/schemas/AnthropicError"}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A `Message`, or with `stream: true` its event stream "
          "(the same events as `POST /api/chat`)",
          "content": {
              "application/json": {"schema": {"$ref": "#/components/schemas/AnthropicMessage"}},
              "text/event-stream": {"schema": {"$ref": "#/components/schemas/ChatEvent"}}}},
    **{status: {"description": description, "content": _ERROR}
       for status, description in (
           (400, "Invalid request"), (401, "No or invalid token"), (404, "Not found"),
           (413, "Too large"), (429, "A per-user limit is reached"),
           (500, "The reply failed"), (503, "Unavailable"), (504, "The model timed out"),
           (529, "Overloaded"))},
}

router = APIRouter(prefix="/v1", tags=["anthropic"], route_class=error_route(
    lambda status, code, message, _: anthropic.error_body(status, code, message)))


@router.post("/messages", operation_id="createMessage", response_class=Response,
             responses=RESPONSES)
async def create_message(
    body: anthropic.MessagesRequest,
    user: ApiKeyUser,
    services: ServicesDep,
    conversation_id: ConversationHeader = None,
) -> Response:
    """Send a conversation, get the reply (``model`` is a Rill chatbot id).

    Each request is stored as a turn of a new conversation, or of the conversation
    ``X-Rill-Conversation-Id`` names; the model sees the messages the request sends.
    """
    prompt, system = anthropic.request_prompt(body)
    turn = await open_turn(services, TurnRequest(
        user_id=user, chatbot_id=bot_id(services, body.model),
        message=prompt[-1].content, conversation_id=conversation_id, prompt=prompt,
        system=system, max_tokens=body.max_tokens, new_conversation=conversation_id is None,
    ))
    chunks = services.chat.relay(user, turn.message_id)
    if body.stream:
        return EventStreamResponse(chunks, heartbeat=services.heartbeat,
                                   retry_ms=services.settings.retry_ms,
                                   headers=turn_headers(turn))
    reply = await whole_reply(chunks)
    if reply.error is not None:
        kind, message = reply.error
        status = _FAILED_STATUS.get(kind, 500)
        return json_response(anthropic.error_body(status, kind, message), turn_headers(turn),
                             status)
    return json_response(anthropic.message_body(reply), turn_headers(turn))
