"""Admitting a chat turn: what makes ``POST /api/chat`` acceptable, decided once.

The FastAPI route (``routes/chat.py``) and the fast lane (``chat_lane.py``) differ
only in how they read the request; both hand the parsed body and the caller to
``admit`` and start the turn with ``start_reply``, so a rule added here holds
for every turn (issue 15).
"""

from __future__ import annotations

from rill.chat.service import Turn, TurnRequest
from rill.errors import InvalidInput, NotFound, PayloadTooLarge
from rill.fields import could_exist
from rill.http.identity import check_claimed_user
from rill.http.schemas import ChatRequest
from rill.http.services import Services
from rill.http.sse import EventStreamResponse


def admit(body: ChatRequest, user: str, max_message_chars: int) -> TurnRequest:
    """The turn ``user`` asks for, or the ``RillError`` that refuses it.

    ``body`` has passed the schema (so its text is storable, ``fields.Text``); the
    rules here are the ones a schema cannot say.
    """
    check_claimed_user(user, body.userId)
    message = body.message
    if body.editOf is not None:
        if body.regenerate:
            raise InvalidInput("send either an edit (editOf) or regenerate, not both")
        if message is None:
            raise InvalidInput("editOf needs the edited message's new text in message")
    if body.regenerate:
        if message is not None:
            raise InvalidInput("send either a message or regenerate, not both")
        if body.conversationId is None:
            raise InvalidInput("regenerate needs the conversationId")
    else:
        if message is None:
            raise InvalidInput("message must not be empty")
        check_message(message, max_message_chars)
    conversation_id = body.conversationId
    if conversation_id is not None and not could_exist(conversation_id):
        raise NotFound("no such conversation", conversation_id=conversation_id)
    return TurnRequest(
        user_id=user,
        chatbot_id=body.chatbotId,
        message=message,
        conversation_id=conversation_id,
        regenerate=body.regenerate,
        language=body.language,
        edit_of=body.editOf,
    )


def check_message(message: str, max_message_chars: int) -> None:
    """A user message any surface may send: not blank, not over the length limit."""
    if not message.strip():
        raise InvalidInput("message must not be empty")
    if len(message) > max_message_chars:
        raise PayloadTooLarge(f"message is longer than {max_message_chars} characters")


async def open_turn(services: Services, request: TurnRequest) -> Turn:
    """Apply the user's turn rate limit and start the turn: every surface's one way in."""
    if request.message is not None:
        check_message(request.message, services.settings.max_message_chars)
    await services.chat_limit.hit(request.user_id)
    return await services.chat.start_turn(request)


async def start_reply(services: Services, request: TurnRequest) -> EventStreamResponse:
    """Start the turn (``open_turn``) and stream its reply in Rill's own format."""
    turn = await open_turn(services, request)
    return EventStreamResponse(
        services.chat.relay(request.user_id, turn.message_id),
        heartbeat=services.heartbeat,
        retry_ms=services.settings.retry_ms,
        headers={"X-Rill-Message-Id": turn.message_id,
                 "X-Rill-Conversation-Id": turn.conversation_id},
    )
