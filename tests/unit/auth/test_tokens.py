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
