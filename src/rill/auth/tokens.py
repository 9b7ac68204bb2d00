"""JWT verification and minting, on PyJWT.

``alg: none`` can never pass: PyJWT only accepts the algorithms we list, and we
never list ``none``. Symmetric and asymmetric algorithms are never mixed on one
key (listing HS256 next to a public key would let an attacker sign with the
public key as an HMAC secret), so the algorithm list is filtered by key type.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from typing import Any, Protocol

import jwt

from rill.errors import RillError, Unauthorized

#: How long (seconds) a verified token is trusted without checking it again, and how
#: many such tokens are kept.
VERIFIED_TTL = 30.0
VERIFIED_MAX = 10_000

#: Expiry (epoch ms) recorded for revoked tokens that carry no ``exp``.
NEVER = 2**62

_SYMMETRIC = {"HS256", "HS384", "HS512"}
_ASYMMETRIC = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "EdDSA"}


class RevocationStore(Protocol):
    """Where revoked tokens are denied until they expire (the ``Store``)."""

    async def revoke_token(self, token_id: str, expires_at: int) -> None: ...

    async def is_token_revoked(self, token_id: str) -> bool: ...

    async def last_revocation(self) -> int: ...


def token_id(token: str) -> str:
    """What the deny-list keeps of a token: a digest, so the store never holds a token."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


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
        #: Where revoked tokens are kept (the store); None: nothing is ever revoked.
        self.revocations: RevocationStore | None = None
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
        claims = self._decode(token, key)
        # Why only here, past the memory: revoking forgets the token (``revoke``,
        # ``follow_revocations``), so a remembered token is never a revoked one.
        if self.revocations is not None and await self.revocations.is_token_revoked(
            token_id(token)
        ):
            raise Unauthorized("token revoked")
        return self._remember(token, claims)

    async def revoke(self, token: str, claims: dict[str, Any]) -> None:
        """Deny ``token`` (verified, with these claims) until it expires, everywhere."""
        if self.revocations is None:
            raise RuntimeError("no revocation store configured")
        expires = claims.get("exp")
        until = int(expires * 1000) if isinstance(expires, int | float) else NEVER
        await self.revocations.revoke_token(token_id(token), until)
        self._verified.pop(token, None)

    async def follow_revocations(self, interval: float) -> None:
        """Forget every remembered token when another node revoked one (nodes sharing
        a store): a revoked token is refused everywhere within ``interval`` seconds."""
        assert self.revocations is not None
        seen: int | None = None
        while True:
            latest: int | None
            try:
                latest = await self.revocations.last_revocation()
            except RillError:
                latest = seen  # the store is away: look again at the next turn
            if seen is not None and latest != seen:
                self._verified.clear()
            seen = latest
            await asyncio.sleep(interval)

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
