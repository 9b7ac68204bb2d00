"""Who is asking: find the bearer token, verify it, turn it into ``Grants``.

Token sources, highest precedence first (the spec's order, then Rill's):
``Authorization: Bearer``, the ``access_token`` (or legacy ``authorization``)
query parameter on subscriptions when ``hub.query_token`` allows it, the hub
cookie (``hub.cookie_name``; with ``hub.legacy_cookies`` also the earlier
``mercureAuthorization`` and ``mercureAccessToken``), and finally the chat
session (bearer or cookie), which only opens the user's own ``users/{sub}/…`` topics.
Every hub token must carry ``exp`` (RFC 9068; the spec rejects tokens without it).

Keys are picked by role and algorithm family, never by anything else in the
token: HMAC tokens go to the role's shared secret, asymmetric ones to the
configured public key or JWKS. Each ``TokenVerifier`` only admits its own
family, so a public key can never be used as an HMAC secret.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from rill.auth.tokens import TokenVerifier
from rill.config import Settings
from rill.errors import Forbidden, Unauthorized
from rill.hub.grants import ANONYMOUS, Grants, grants_from_claims, session_grants
from rill.hub.limits import BadRequest
from rill.hub.matchers import DEFAULT_BASE

Role = Literal["publish", "subscribe"]
#: Cookie names of earlier protocol revisions (``hub.legacy_cookies``).
LEGACY_COOKIES = ("mercureAuthorization", "mercureAccessToken")
_ACCEPTED_TYPES = {"jwt", "at+jwt", "application/at+jwt"}


class MissingToken(Unauthorized):
    """401 without an error code: a token is needed and none was presented."""


class MalformedCredentials(BadRequest):
    """400 ``invalid_request``: the token's presentation itself is malformed (RFC 6750)."""


class InsufficientScope(Forbidden):
    """403 ``insufficient_scope``: a valid token that does not allow this."""


@dataclass(frozen=True, slots=True)
class Credentials:
    token: str | None
    #: Where it came from: header, query, cookie, session-cookie, or none.
    source: str


def find_token(
    headers: dict[bytes, bytes],
    cookies: dict[str, str],
    query: dict[str, list[str]] | None,
    *,
    cookie_name: str,
    session_cookie: str,
    legacy_cookies: bool = False,
) -> Credentials:
    """The one token a request presents; ``query`` is None where URL tokens are refused."""
    authorization = headers.get(b"authorization")
    if authorization is not None:
        scheme, _, value = authorization.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise MalformedCredentials("the Authorization header must be 'Bearer <token>'")
        return Credentials(value.strip(), "header")
    if query is not None:
        for name in ("access_token", "authorization"):
            values = query.get(name)
            if values:
                return Credentials(values[0], "query")
    for name in (cookie_name, *(LEGACY_COOKIES if legacy_cookies else ())):
        if name in cookies:
            return Credentials(cookies[name], "cookie")
    if session_cookie in cookies:
        return Credentials(cookies[session_cookie], "session-cookie")
    return Credentials(None, "none")


class Authenticator:
    def __init__(self, settings: Settings, session_verifier: TokenVerifier, default_key: str):
        hub = settings.hub
        self._settings = hub
        self._session = session_verifier
        self._base = hub.public_url or DEFAULT_BASE
        publisher = hub.publisher_jwt_key.get_secret_value() if hub.publisher_jwt_key else None
        subscriber = hub.subscriber_jwt_key.get_secret_value() if hub.subscriber_jwt_key else None
        # Why: a role without its own key verifies with the chat's key, so it must
        # also hold tokens to the chat's issuer and audience; else a token minted
        # for another service by the same identity provider would pass here.
        self._hmac: dict[Role, TokenVerifier] = {
            "publish": self._verifier(
                secret=publisher or default_key, claims_from=None if publisher else settings
            ),
            "subscribe": self._verifier(
                secret=subscriber or default_key, claims_from=None if subscriber else settings
            ),
        }
        self._asymmetric: TokenVerifier | None = None
        if hub.jwt_public_key or hub.jwks_url:
            self._asymmetric = self._verifier(public_key=hub.jwt_public_key, jwks_url=hub.jwks_url)

    def _verifier(self, *, claims_from: Settings | None = None, **key: str | None) -> TokenVerifier:
        hub = self._settings
        family = {"HS256", "HS384", "HS512"} if key.get("secret") else None
        algorithms = [a for a in hub.jwt_algorithms if family is None or a in family]
        if key.get("public_key") and key.get("jwks_url"):
            key["jwks_url"] = None
        return TokenVerifier(
            secret=key.get("secret"),
            public_key=key.get("public_key"),
            jwks_url=key.get("jwks_url"),
            algorithms=algorithms or None,
            issuer=hub.jwt_issuer or (claims_from.jwt_issuer if claims_from else None),
            audience=hub.jwt_audience or (claims_from.jwt_audience if claims_from else None),
            leeway=0,
        )

    async def grants(self, credentials: Credentials, role: Role) -> Grants:
        """Grants for a request; ``ANONYMOUS`` when no token was presented."""
        token = credentials.token
        if token is None:
            return ANONYMOUS
        if credentials.source == "session-cookie":
            return await self._session_grants(token)
        header = _header(token)
        if header.get("alg", "none") == "none":
            raise Unauthorized("unsigned tokens are not accepted")
        self._check_type(header)
        verifier = self._pick(header, role)
        claims = await verifier.verify(token)
        if not isinstance(claims.get("exp"), int | float) or isinstance(claims["exp"], bool):
            # Why here and not in PyJWT's options: the chat side shares the verifier.
            raise Unauthorized("the token has no exp claim")
        found = grants_from_claims(
            claims,
            max_length=self._settings.max_topic_length,
            base=self._base,
            legacy=self._settings.legacy_tokens,
        )
        if found is not None:
            return found
        if role == "subscribe":
            # A token with no hub claims may still be a chat session of this app.
            return await self._session_grants(token)
        return Grants(subject=claims.get("sub") if isinstance(claims.get("sub"), str) else None)

    def _pick(self, header: dict[str, Any], role: Role) -> TokenVerifier:
        alg = str(header.get("alg", ""))
        if alg.startswith("HS"):
            return self._hmac[role]
        if self._asymmetric is None:
            raise Unauthorized(f"no key configured for {alg} tokens")
        return self._asymmetric

    def _check_type(self, header: dict[str, Any]) -> None:
        typ = header.get("typ")
        if self._settings.require_access_token_type:
            if not isinstance(typ, str) or typ.lower() not in ("at+jwt", "application/at+jwt"):
                raise Unauthorized("the token type must be at+jwt")
        elif typ is not None and (not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYPES):
            raise Unauthorized("unexpected token type")

    async def _session_grants(self, token: str) -> Grants:
        claims = await self._session.verify(token)
        subject = claims.get("sub")
        if not isinstance(subject, str):
            raise Unauthorized("the session token has no subject")
        expires = claims.get("exp")
        return session_grants(subject, float(expires) if isinstance(expires, int | float) else None)


def _header(token: str) -> dict[str, Any]:
    try:
        encoded = token.split(".", 1)[0]
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        header = orjson.loads(raw)
    except (ValueError, orjson.JSONDecodeError):
        raise Unauthorized("malformed token") from None
    if not isinstance(header, dict):
        raise Unauthorized("malformed token")
    return header
