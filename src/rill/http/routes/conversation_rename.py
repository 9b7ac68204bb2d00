"""``PATCH /api/conversations/{id}``: rename a conversation (issue 17)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import Field, field_validator

from rill.fields import RecordId
from rill.http.identity import CurrentUser, ServicesDep
from rill.http.schemas import ConversationOut, _In

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


class ConversationRename(_In):
    title: str = Field(min_length=1, max_length=200)

    @field_validator("title")
    @classmethod
    def _one_line(cls, title: str) -> str:
        # Why: a title is shown on one line in lists; blank would read as "untitled" by accident.
        cleaned = " ".join(title.split())
        if not cleaned:
            raise ValueError("title must not be blank")
        return cleaned


@router.patch("/{conversation_id}", response_model=ConversationOut)
async def rename_conversation(
    conversation_id: Annotated[RecordId, Path()],
    body: ConversationRename,
    user: CurrentUser,
    services: ServicesDep,
) -> ConversationOut:
    conversation = await services.store.rename_conversation(user, conversation_id, body.title)
    await services.chat.sync.conversation_renamed(
        user, conversation_id=conversation.id, chatbot_id=conversation.chatbot_id,
        title=conversation.title,
    )
    return ConversationOut.of(conversation)
