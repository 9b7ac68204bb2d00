"""Sessions: anonymous users in embedded mode, cookie hand-off in production mode."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from rill.errors import Unauthorized
from rill.http.identity import CurrentUser, ServicesDep, request_token, user_of
from rill.http.schemas import MeOut, SessionOut, iso
from rill.ids import new_id, now_ms

router = APIRouter(prefix="/api", tags=["identity"])


@router.post("/session", response_model=SessionOut)
async def create_session(request: Request, response: Response, services: ServicesDep) -> SessionOut:
    """Embedded mode: create an anonymous user (or renew the caller's session).
    Production mode: answer the authenticated user and set the cookie for browsers."""
    settings = services.settings
    user_id: str | None = None
    token = request_token(request, settings.session_cookie)
    try:
        user_id = await user_of(services.verifier, token)
    except Unauthorized:
        if not settings.anonymous_sessions:
            raise
    if settings.anonymous_sessions:
        if user_id is None:
            # Why: every new user starts with fresh per-user limits (issue 13). The
            # address is the peer's, or a trusted proxy's X-Forwarded-For (uvicorn,
            # ``trusted_proxies``).
            await services.session_limit.hit(request.client.host if request.client else "-")
        user_id = user_id or new_id("usr")
        ttl = settings.session_ttl_seconds
        token = services.issuer.mint(user_id, ttl=ttl)
        expires: str | None = iso(now_ms() + ttl * 1000)
    elif user_id is None or token is None:
        raise Unauthorized("this server uses external identity: send your bearer token")
    else:
        expires = None
    await services.store.ensure_user(user_id)
    response.set_cookie(
        settings.session_cookie,
        token,
        max_age=settings.session_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )
    return SessionOut(userId=user_id, token=token, expiresAt=expires)


@router.delete("/session", status_code=204)
async def end_session(request: Request, services: ServicesDep) -> Response:
    """Sign out: the caller's token is revoked (refused everywhere until it would have
    expired) and the cookie cleared. An invalid or missing token has nothing to revoke."""
    token = request_token(request, services.settings.session_cookie)
    if token is not None:
        try:
            claims = await services.verifier.verify(token)
        except Unauthorized:
            pass
        else:
            await services.verifier.revoke(token, claims)
    response = Response(status_code=204)
    response.delete_cookie(services.settings.session_cookie, path="/")
    return response


@router.get("/me", response_model=MeOut)
async def me(user: CurrentUser) -> MeOut:
    return MeOut(userId=user)
