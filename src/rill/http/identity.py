"""Who is calling: a JWT from ``Authorization: Bearer`` or the session cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rill.errors import Forbidden, Unauthorized
from rill.http.services import Services, get_services


def bearer_token(request: Request, cookie_name: str) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>'")
        return token.strip()
    return request.cookies.get(cookie_name) or None


async def optional_user(request: Request) -> str | None:
    services = get_services(request)
    token = bearer_token(request, services.settings.session_cookie)
    if token is None:
        return None
    claims = await services.verifier.verify(token)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 256:
        raise Unauthorized("token has no usable 'sub' claim")
    return subject


async def current_user(user: Annotated[str | None, Depends(optional_user)]) -> str:
    if user is None:
        raise Unauthorized("sign in first: send a bearer token, or POST /api/session")
    return user


async def services(request: Request) -> Services:
    """``get_services`` as a dependency.

    Why a coroutine: FastAPI runs a plain ``def`` dependency in its thread pool,
    a thread hop on every request (seen in the chat relay's profile).
    """
    return get_services(request)


CurrentUser = Annotated[str, Depends(current_user)]
OptionalUser = Annotated[str | None, Depends(optional_user)]
ServicesDep = Annotated[Services, Depends(services)]


def check_claimed_user(user_id: str, claimed: str | None) -> None:
    """The seed's clients send ``userId`` in bodies; it may only name the caller."""
    if claimed is not None and claimed != user_id:
        raise Forbidden("userId does not match the authenticated user")
