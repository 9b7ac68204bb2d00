from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from rill.http.fields import RecordId, Text
from rill.http.identity import CurrentUser, ServicesDep
from rill.http.schemas import ConversationOut, ConversationsOut, NewConversation

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


@router.get("", response_model=ConversationsOut)
async def list_conversations(
    user: CurrentUser,
    services: ServicesDep,
    chatbotId: Annotated[Text | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConversationsOut:
    """Most recently updated first."""
    conversations = await services.store.list_conversations(user, chatbotId, limit)
    return ConversationsOut(conversations=[ConversationOut.of(c) for c in conversations])


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
    return Response(status_code=204)
