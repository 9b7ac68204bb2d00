"""``GET /api/conversations/search``: find the user's conversations by title and text (issue 17)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from rill.fields import Text
from rill.http.identity import CurrentUser, ServicesDep
from rill.http.schemas import ConversationOut
from rill.store.models import SearchHit

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


class ConversationHitOut(ConversationOut):
    #: One line of the best-matching message or the title, cut around the first match.
    snippet: str

    @classmethod
    def of_hit(cls, hit: SearchHit) -> ConversationHitOut:
        return cls(**ConversationOut.of(hit.conversation).model_dump(), snippet=hit.snippet)


class ConversationHitsOut(BaseModel):
    #: Best match first; only the caller's own conversations.
    conversations: list[ConversationHitOut]


@router.get("/search", response_model=ConversationHitsOut, operation_id="searchConversations")
async def search_conversations(
    user: CurrentUser,
    services: ServicesDep,
    q: Annotated[Text, Query(min_length=1, max_length=200)],
    chatbotId: Annotated[Text | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> ConversationHitsOut:
    """Conversations whose title or finished messages contain every word of ``q``
    (each as a word prefix; punctuation and operators are ignored)."""
    hits = await services.store.search_conversations(user, q, chatbotId, limit)
    return ConversationHitsOut(conversations=[ConversationHitOut.of_hit(h) for h in hits])
