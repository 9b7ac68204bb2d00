"""Authorization failures as RFC 6750 challenges.

Every presented-token failure is answered ``invalid_token`` with the same
description, so a caller cannot learn whether the signature, the expiry or
the audience was wrong (the spec asks for exactly that).
"""

from __future__ import annotations

from rill.errors import (
    Forbidden,
    PayloadTooLarge,
    RequestTimeout,
    RillError,
    Unauthorized,
)
from rill.hub._asgi import Send, respond_problem
from rill.hub.auth import InsufficientScope, MalformedCredentials, MissingToken
from rill.hub.limits import BadRequest

METADATA_PATH = "/.well-known/oauth-protected-resource/.well-known/mercure"


def challenge(error: RillError, metadata_url: str) -> tuple[RillError, bytes | None]:
    """The error to answer with and its ``WWW-Authenticate`` value, if any."""
    resource = f'resource_metadata="{metadata_url}"'
    if isinstance(error, MissingToken):
        return error, f"Bearer {resource}".encode()
    if isinstance(error, InsufficientScope):
        value = (
            f'Bearer error="insufficient_scope", error_description="{_quote(error.detail)}", '
            f"{resource}"
        )
        return error, value.encode()
    if isinstance(error, MalformedCredentials):
        return error, f'Bearer error="invalid_request", {resource}'.encode()
    if isinstance(error, Unauthorized):
        generic = Unauthorized("the access token is invalid")
        value = (
            'Bearer error="invalid_token", '
            f'error_description="the access token is invalid", {resource}'
        )
        return generic, value.encode()
    if isinstance(error, BadRequest):
        return error, None
    if isinstance(error, Forbidden):
        return error, None
    return error, None


async def send_error(send: Send, error: RillError, metadata_url: str) -> None:
    answer, header = challenge(error, metadata_url)
    headers = [(b"www-authenticate", header)] if header is not None else []
    if isinstance(answer, RequestTimeout | PayloadTooLarge):
        # Why: the rest of the body may still be on its way (or trickling for ever);
        # closing is the only way to stop reading it.
        headers.append((b"connection", b"close"))
    await respond_problem(send, answer, headers)


def _quote(text: str) -> str:
    return "".join(c for c in text if c not in '"\\' and 0x20 <= ord(c) < 0x7F)
