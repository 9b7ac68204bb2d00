"""Liveness (the process answers) and readiness (its store and broker answer)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from starlette.responses import Response

from rill.errors import RillError
from rill.http.identity import ServicesDep
from rill.http.schemas import HealthOut

router = APIRouter(tags=["health"])


# HEAD too (load balancers probe with it), undocumented: the same operation as GET.
@router.head("/healthz", include_in_schema=False)
@router.get("/healthz", response_model=HealthOut)
async def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.head("/readyz", include_in_schema=False)
@router.get("/readyz", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def readyz(services: ServicesDep, response: Response) -> HealthOut:
    checks: dict[str, str] = {}
    for name, probe in (("store", services.store.ping), ("broker", services.broker.ping)):
        try:
            async with asyncio.timeout(2):
                await probe()
            checks[name] = "ok"
        except (RillError, TimeoutError, OSError) as exc:
            checks[name] = f"unavailable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    response.status_code = 200 if ready else 503
    return HealthOut(status="ok" if ready else "unavailable", checks=checks)
