"""Chat turns: start and stream, resume, cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response

from rill.fields import RecordId
from rill.http.admission import admit, start_reply
from rill.http.identity import CurrentUser, ServicesDep
from rill.http.schemas import CancelOut, ChatRequest
from rill.http.sse import EventStreamResponse

router = APIRouter(prefix="/api/chat", tags=["chat"])

MessageId = Annotated[RecordId, Path()]
SSE_DOC: dict[int | str, dict[str, Any]] = {200: {"content": {"text/event-stream": {}},
                 "description": "Anthropic Messages streaming events"}}


@router.post("", status_code=200, response_class=EventStreamResponse, responses=SSE_DOC)
async def send_message(
    body: ChatRequest, user: CurrentUser, services: ServicesDep
) -> EventStreamResponse:
    """Start a turn and stream the reply as Server-Sent Events."""
    return await start_reply(services, admit(body, user, services.settings.max_message_chars))


@router.get("/{message_id}/stream", status_code=200, response_class=EventStreamResponse,
            responses={**SSE_DOC, 204: {"description": "nothing to resume"}})
async def resume_stream(
    message_id: MessageId,
    user: CurrentUser,
    services: ServicesDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)] = None,
    lastEventId: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Resume a reply after ``Last-Event-ID``: missed events, then live ones until it ends."""
    after = last_event_id or lastEventId or None
    chunks = await services.chat.resume(user, message_id, after)
    if chunks is None:
        return Response(status_code=204)
    return EventStreamResponse(chunks, heartbeat=services.heartbeat,
                               retry_ms=services.settings.retry_ms)


@router.post("/{message_id}/cancel", status_code=202, response_model=CancelOut)
async def cancel(message_id: MessageId, user: CurrentUser, services: ServicesDep) -> CancelOut:
    """Stop generating; the stream ends with stop reason ``cancelled``, the text so far is kept."""
    message = await services.chat.cancel(user, message_id)
    return CancelOut(id=message.id, status=message.status)
