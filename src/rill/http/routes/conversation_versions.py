"""``POST /api/conversations/{id}/versions``: show another version (issue 17).

Editing a message or regenerating a reply keeps the earlier versions (siblings in
the conversation's tree, ``rill.store.versions``); this switches the path the
conversation shows and answers it, as ``GET /api/history`` would.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import Field

from rill.fields import MessageRef, RecordId
from rill.http.identity import CurrentUser, ServicesDep
from rill.http.schemas import HistoryOut, _In

router = APIRouter(prefix="/api/conversations", tags=["conversations"])

#: The answer is the newest page of the path now shown, this long.
PAGE = 50


class VersionChoice(_In):
    #: The version to show: any message of the conversation.
    messageId: MessageRef = Field(max_length=64)


@router.post("/{conversation_id}/versions", response_model=HistoryOut)
async def show_version(
    conversation_id: Annotated[RecordId, Path()],
    body: VersionChoice,
    user: CurrentUser,
    services: ServicesDep,
) -> HistoryOut:
    """Show ``messageId`` and, below it, the versions shown there last; answers the
    newest page of the path now shown (``GET /api/history``'s body)."""
    conversation = await services.store.get_conversation(user, conversation_id)
    await services.store.show_version(user, conversation.id, body.messageId)
    page = await services.store.history(
        user, conversation.chatbot_id, conversation_id=conversation.id, limit=PAGE
    )
    await services.chat.sync.versions(
        user, conversation_id=conversation.id, chatbot_id=conversation.chatbot_id,
        message_id=body.messageId,
    )
    return HistoryOut.of(page)
