"""JWT verification and minting, on PyJWT.

``alg: none`` can never pass: PyJWT only accepts the algorithms we list, and we
never list ``none``. Symmetric and asymmetric algorithms are never mixed on one
key (listing HS256 next to a public key would let an attacker sign with the
public key as an HMAC secret), so the algorithm list is filtered by key type.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any

import jwt

from rill.errors import Unauthorized

#: How long (seconds) a verified token is trusted without checking it again, and how
#: many such tokens are kept.
VERIFIED_TTL = 30.0
VERIFIED_MAX = 10_000

_SYMMETRIC = {"HS256", "HS384", "HS512"}
_ASYMMETRIC = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "EdDSA"}


class TokenVerifier:
    """Verifies bearer tokens against one key source. Raises ``Unauthorized``."""

    def __init__(
        self,
        *,
        secret: str | None = None,
        public_key: str | None = None,
        jwks_url: str | None = None,
        algorithms: list[str] | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway: float = 5.0,
    ) -> None:
        if sum(x is not None for x in (secret, public_key, jwks_url)) != 1:
            raise ValueError("configure exactly one of: secret, public key, JWKS URL")
        wanted = set(algorithms or (["HS256"] if secret else ["RS256", "ES256"]))
        allowed = _SYMMETRIC if secret else _ASYMMETRIC
        self.algorithms = sorted(wanted & allowed)
        if not self.algorithms:
            raise ValueError(f"no usable algorithm among {sorted(wanted)} for this key type")
        self._secret = secret
        self._public_key = public_key
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        #: token → (wall time it stops being trusted, claims); successes only.
        self._verified: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    async def verify(self, token: str) -> dict[str, Any]:
        """Claims of a valid token; ``exp`` is required only if present (PyJWT checks it)."""
        cached = self._recall(token)
        if cached is not None:
            return cached
        key: Any
        if self._jwks is not None:
            try:
                # Why: PyJWKClient fetches with blocking urllib; keep it off the loop.
                signing = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            except (jwt.PyJWKClientError, jwt.DecodeError) as exc:
                raise Unauthorized(f"invalid token: {exc}") from None
            key = signing.key
        else:
            key = self._secret if self._secret is not None else self._public_key
        return self._remember(token, self._decode(token, key))

    def _recall(self, token: str) -> dict[str, Any] | None:
        """Claims of a token verified in the last ``VERIFIED_TTL`` seconds and not expired.

        Why: a browser sends the same session token with every turn and every
        subscription, and decoding and checking its signature was ~7% of a chat
        turn's CPU (docs/performance.md). Only tokens that passed every check are
        kept, never past their ``exp``, and for at most ``VERIFIED_TTL`` seconds,
        so a key rotated out of a JWKS stops being honoured soon after.
        """
        entry = self._verified.get(token)
        if entry is None:
            return None
        until, claims = entry
        if time.time() >= until:
            del self._verified[token]
            return None
        self._verified.move_to_end(token)
        return dict(claims)

    def _remember(self, token: str, claims: dict[str, Any]) -> dict[str, Any]:
        until = time.time() + VERIFIED_TTL
        expires = claims.get("exp")
        if isinstance(expires, int | float) and not isinstance(expires, bool):
            until = min(until, float(expires) + self.leeway)
        self._verified[token] = (until, dict(claims))
        if len(self._verified) > VERIFIED_MAX:
            self._verified.popitem(last=False)
        return claims

    def verify_sync(self, token: str) -> dict[str, Any]:
        """For key sources that need no I/O (secret or public key)."""
        if self._jwks is not None:
            raise RuntimeError("JWKS verification is async; use verify()")
        cached = self._recall(token)
        if cached is not None:
            return cached
        key = self._secret if self._secret is not None else self._public_key
        return self._remember(token, self._decode(token, key))

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        options: jwt.types.Options = {"require": [], "verify_aud": self.audience is not None}
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options=options,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"invalid token: {exc}") from None
        return claims


class TokenIssuer:
    """Mints HS256 tokens: anonymous browser sessions, ``rill token``, tests."""

    def __init__(self, secret: str, *, issuer: str | None = None, audience: str | None = None):
        self._secret = secret
        self.issuer = issuer
        self.audience = audience

    def mint(
        self,
        subject: str | None = None,
        *,
        ttl: float | None = None,
        typ: str | None = None,
        **claims: Any,
    ) -> str:
        """``typ`` sets the header's token type (``at+jwt`` for Mercure access tokens)."""
        now = int(time.time())
        body: dict[str, Any] = {"iat": now, **claims}
        if subject is not None:
            body["sub"] = subject
        if ttl is not None:
            body["exp"] = now + int(ttl)
        if self.issuer:
            body.setdefault("iss", self.issuer)
        if self.audience:
            body.setdefault("aud", self.audience)
        headers = {"typ": typ} if typ is not None else None
        return jwt.encode(body, self._secret, algorithm="HS256", headers=headers)
