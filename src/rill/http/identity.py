"""Who is calling: a JWT from ``Authorization: Bearer`` or the session cookie.

The rules are plain functions of header values, so the FastAPI dependencies below
and ``chat_lane`` (which reads the headers straight from the ASGI scope) apply
the same ones.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import cookie_parser

from rill.auth.tokens import TokenVerifier
from rill.errors import Forbidden, Unauthorized
from rill.fields import unstorable
from rill.http.services import Services, get_services


def bearer_token(authorization: str | None, cookie: str | None, cookie_name: str) -> str | None:
    """The token from the ``Authorization`` header, else from the session cookie."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>'")
        return token.strip()
    if not cookie:
        return None
    return cookie_parser(cookie).get(cookie_name) or None


async def user_of(verifier: TokenVerifier, token: str | None) -> str | None:
    """The verified token's subject (the user id), or None without a token."""
    if token is None:
        return None
    claims = await verifier.verify(token)
    subject = claims.get("sub")
    # Why the storable check: the subject becomes a stored user id (issue 13).
    if not isinstance(subject, str) or not subject or len(subject) > 256 or unstorable(subject):
        raise Unauthorized("token has no usable 'sub' claim")
    return subject


def signed_in(user: str | None) -> str:
    if user is None:
        raise Unauthorized("sign in first: send a bearer token, or POST /api/session")
    return user


def request_token(request: Request, cookie_name: str) -> str | None:
    headers = request.headers
    return bearer_token(headers.get("authorization"), headers.get("cookie"), cookie_name)


async def optional_user(request: Request) -> str | None:
    services = get_services(request)
    return await user_of(services.verifier,
                         request_token(request, services.settings.session_cookie))


async def current_user(user: Annotated[str | None, Depends(optional_user)]) -> str:
    return signed_in(user)


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
