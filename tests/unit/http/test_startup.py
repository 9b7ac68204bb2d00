"""The start-up failure line names the URL without its password or query."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from rill.http.startup import redact

secret = st.text(min_size=8, max_size=30).filter(lambda s: s.strip() == s and s.isprintable())
word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)


@given(scheme=st.sampled_from(["redis", "rediss", "postgresql", "postgres"]), user=word,
       password=secret, host=word, port=st.integers(1, 65535), path=word, query_secret=secret)
def test_redacted_url_keeps_where_and_drops_secrets(scheme, user, password, host, port, path,
                                                    query_secret):
    url = (f"{scheme}://{user}:{quote(password, safe='')}@{host}:{port}/{path}"
           f"?password={quote(query_secret, safe='')}")
    shown = redact(url)
    assert shown == f"{scheme}://{user}@{host}:{port}/{path}"


def test_redacted_url_without_credentials_is_unchanged():
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redact("sqlite:///var/lib/rill/rill.db") == "sqlite:///var/lib/rill/rill.db"
    assert redact("postgresql://db.example/rill") == "postgresql://db.example/rill"
    assert redact("redis://[::1]:6379") == "redis://[::1]:6379"
