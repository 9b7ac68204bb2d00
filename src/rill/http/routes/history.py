"""History: cursor pagination, and the seed's page-number request."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from rill.fields import Cursor, Text
from rill.http.identity import CurrentUser, ServicesDep, check_claimed_user
from rill.http.schemas import (
    HistoryOut,
    SeedHistoryOut,
    SeedHistoryRequest,
    SeedMessageOut,
)

router = APIRouter(prefix="/api/history", tags=["history"])


@router.get("", response_model=HistoryOut)
async def history(
    user: CurrentUser,
    services: ServicesDep,
    chatbotId: Annotated[Text, Query(min_length=1, max_length=64)],
    conversationId: Annotated[Text | None, Query(max_length=64)] = None,
    before: Annotated[Cursor | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> HistoryOut:
    """Newest page first (each page in time order); pass ``nextCursor`` as ``before``."""
    services.chat.bot(chatbotId)
    page = await services.store.history(
        user, chatbotId, conversation_id=conversationId, before=before, limit=limit
    )
    return HistoryOut.of(page)


@router.post("", response_model=SeedHistoryOut)
async def seed_history(
    body: SeedHistoryRequest, user: CurrentUser, services: ServicesDep
) -> SeedHistoryOut:
    """The seed's request, unchanged: ``{userId, chatbotId, page, pageSize}``."""
    check_claimed_user(user, body.userId)
    services.chat.bot(body.chatbotId)
    messages = await services.store.history_page(
        user, body.chatbotId, page=body.page, page_size=body.pageSize
    )
    return SeedHistoryOut(
        messages=[SeedMessageOut.of(m) for m in messages],
        hasMore=len(messages) == body.pageSize,
    )
