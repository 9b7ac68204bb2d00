from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from rill.fields import RecordId, Text
from rill.http.identity import CurrentUser, ServicesDep
from rill.http.schemas import ConversationOut, ConversationsOut, NewConversation

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


#: ``<updated_at>.<id>`` of the last conversation of the previous page.
Cursor = Annotated[str | None, Query(pattern=r"^[0-9]{1,15}\.[0-9A-Za-z_-]{1,64}$")]


@router.get("", response_model=ConversationsOut, operation_id="listConversations")
async def list_conversations(
    user: CurrentUser,
    services: ServicesDep,
    chatbotId: Annotated[Text | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> ConversationsOut:
    """Most recently updated first; ``nextCursor`` fetches the next page."""
    before = None
    if cursor is not None:
        updated_at, _, conversation_id = cursor.partition(".")
        before = (int(updated_at), conversation_id)
    page = await services.store.list_conversations(user, chatbotId, limit + 1, before)
    more = len(page) > limit
    page = page[:limit]
    last = page[-1] if more else None
    return ConversationsOut(
        conversations=[ConversationOut.of(c) for c in page],
        nextCursor=None if last is None else f"{last.updated_at}.{last.id}",
    )


@router.post("", status_code=201, response_model=ConversationOut)
async def create_conversation(
    body: NewConversation, user: CurrentUser, services: ServicesDep
) -> ConversationOut:
    services.chat.bot(body.chatbotId)
    await services.store.ensure_user(user)
    conversation = await services.store.create_conversation(user, body.chatbotId, body.title)
    return ConversationOut.of(conversation)


@router.delete("/{conversation_id}", status_code=204)
async def delete_conversation(
    conversation_id: Annotated[RecordId, Path()],
    user: CurrentUser,
    services: ServicesDep,
) -> Response:
    await services.store.delete_conversation(user, conversation_id)
    await services.chat.sync.conversation_deleted(user, conversation_id=conversation_id)
    return Response(status_code=204)
