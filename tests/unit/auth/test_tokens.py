"""TokenVerifier's memory of verified tokens never outlives what the token allows."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest

from rill.auth import tokens
from rill.auth.tokens import TokenIssuer, TokenVerifier
from rill.errors import Unauthorized

SECRET = "s" * 40


async def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier(secret=SECRET, leeway=0)
    # PyJWT reads ``exp`` as whole seconds: this token lives for 1 to 2 seconds.
    expires = int(time.time()) + 2
    token = jwt.encode({"sub": "alice", "exp": expires}, SECRET, algorithm="HS256")
    assert (await verifier.verify(token))["sub"] == "alice"
    assert (await verifier.verify(token))["sub"] == "alice"  # from memory now
    decoded = 0
    real_decode = verifier._decode

    def counting(token: str, key: object) -> dict[str, object]:
        nonlocal decoded
        decoded += 1
        return real_decode(token, key)

    monkeypatch.setattr(verifier, "_decode", counting)
    await verifier.verify(token)
    assert decoded == 0, "a remembered token is not decoded again"
    await asyncio.sleep(expires + 0.05 - time.time())
    with pytest.raises(Unauthorized, match="expired"):
        await verifier.verify(token)
    assert decoded == 1


async def test_memory_is_short_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "VERIFIED_MAX", 3)
    verifier = TokenVerifier(secret=SECRET)
    issuer = TokenIssuer(SECRET)
    minted = [issuer.mint(f"user{i}") for i in range(5)]
    for token in minted:
        await verifier.verify(token)
    assert list(verifier._verified) == minted[2:]
    now = time.time()
    monkeypatch.setattr(tokens.time, "time", lambda: now + tokens.VERIFIED_TTL + 1)
    assert verifier._recall(minted[-1]) is None, "checked again after VERIFIED_TTL"


async def test_forged_and_mutated_tokens_are_not_helped_by_memory() -> None:
    verifier = TokenVerifier(secret=SECRET)
    token = TokenIssuer(SECRET).mint("alice")
    claims = await verifier.verify(token)
    claims["sub"] = "mallory"  # the caller's copy, not the remembered one
    assert (await verifier.verify(token))["sub"] == "alice"
    head, body, _ = token.split(".")
    forged = TokenIssuer("x" * 40).mint("alice")
    with pytest.raises(Unauthorized):
        await verifier.verify(".".join([head, body, forged.split(".")[2]]))
    with pytest.raises(Unauthorized):
        await verifier.verify(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))


class _Revocations:
    def __init__(self) -> None:
        self.revoked: dict[str, int] = {}
        self.latest = 0

    async def revoke_token(self, token_id: str, expires_at: int) -> None:
        self.revoked[token_id] = expires_at
        self.latest += 1

    async def is_token_revoked(self, token_id: str) -> bool:
        return token_id in self.revoked

    async def last_revocation(self) -> int:
        return self.latest


async def test_revoking_defeats_the_verified_memory() -> None:
    verifier = TokenVerifier(secret=SECRET)
    verifier.revocations = _Revocations()
    token = TokenIssuer(SECRET).mint("alice", ttl=60)
    claims = await verifier.verify(token)  # remembered from here on
    await verifier.revoke(token, claims)
    with pytest.raises(Unauthorized, match="revoked"):
        await verifier.verify(token)
    assert verifier.revocations.revoked[tokens.token_id(token)] == claims["exp"] * 1000
    assert token not in tokens.token_id(token), "the store keeps a digest, not the token"


async def test_another_nodes_revocation_clears_the_memory() -> None:
    store = _Revocations()
    here, there = TokenVerifier(secret=SECRET), TokenVerifier(secret=SECRET)
    here.revocations = there.revocations = store
    token = TokenIssuer(SECRET).mint("alice")
    await here.verify(token)
    claims = await there.verify(token)
    follower = asyncio.create_task(here.follow_revocations(0.02))
    try:
        await asyncio.sleep(0.05)
        await there.revoke(token, claims)  # no exp: denied for good
        assert store.revoked[tokens.token_id(token)] == tokens.NEVER
        await asyncio.sleep(0.1)
        with pytest.raises(Unauthorized, match="revoked"):
            await here.verify(token)
    finally:
        follower.cancel()
