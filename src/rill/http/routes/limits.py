"""``GET /api/limits``: the request limits a client should check before sending.

Why: a message over ``max_message_chars`` or a body over ``max_body_bytes`` is
refused with 413; the web app says the
limit while the user types instead of losing a long paste to a refusal (issue 17).
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from rill.http.identity import ServicesDep

router = APIRouter(prefix="/api", tags=["limits"])


class LimitsOut(BaseModel):
    maxBodyBytes: int
    maxMessageChars: int


@router.get("/limits", response_model=LimitsOut)
async def limits(services: ServicesDep) -> LimitsOut:
    settings = services.settings
    return LimitsOut(
        maxBodyBytes=settings.max_body_bytes, maxMessageChars=settings.max_message_chars
    )
