"""The identity rules both chat entry points use (``http/identity.py``)."""

from __future__ import annotations

import pytest

from rill.auth.tokens import TokenIssuer, TokenVerifier
from rill.errors import Unauthorized
from rill.http.identity import bearer_token, user_of

SECRET = "s" * 32


@pytest.mark.parametrize("subject", ["a\x00b", "a\ud800b", "\x1b[2J", "", "x" * 257])
async def test_a_subject_that_cannot_be_a_stored_user_id_is_refused(subject: str) -> None:
    # Why: the subject becomes a stored user id; PostgreSQL answered 503 for NUL (issue 13).
    token = TokenIssuer(SECRET).mint(subject)
    with pytest.raises(Unauthorized, match="usable 'sub'"):
        await user_of(TokenVerifier(secret=SECRET), token)


async def test_an_ordinary_subject_is_the_user() -> None:
    token = TokenIssuer(SECRET).mint("usr_a\tb")
    assert await user_of(TokenVerifier(secret=SECRET), token) == "usr_a\tb"
    assert await user_of(TokenVerifier(secret=SECRET), None) is None


def test_the_header_wins_over_the_cookie_and_the_last_cookie_wins() -> None:
    assert bearer_token("Bearer abc ", "s=def", "s") == "abc"
    assert bearer_token(None, "s=one; t=x; s=two", "s") == "two"
    assert bearer_token(None, "t=x", "s") is None
    assert bearer_token(None, None, "s") is None
    for bad in ("Basic eDp5", "Bearer ", "bearer"):
        with pytest.raises(Unauthorized):
            bearer_token(bad, "s=def", "s")
