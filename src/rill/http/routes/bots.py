from __future__ import annotations

from fastapi import APIRouter

from rill.http.identity import ServicesDep
from rill.http.schemas import BotOut

router = APIRouter(prefix="/api", tags=["bots"])


@router.get("/bots", response_model=list[BotOut])
async def list_bots(services: ServicesDep) -> list[BotOut]:
    return [
        BotOut(id=b.id, name=b.name, description=b.description, provider=b.provider,
               model=b.model or b.provider)
        for b in services.settings.bots
    ]
