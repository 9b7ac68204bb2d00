"""Rill's own tools speak the current spec by default: ``rill token``, ``rill publish``
and ``HubClient`` against the strict hub (where nothing of the previous revision is read)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import jwt

from rill.client.hub import HubClient
from tests.conformance.conftest import ISSUER, PUBLISHER_KEY, Hub


def _rill(hub: Hub, *args: str) -> str:
    """Run the CLI with the strict hub's key, issuer and audience (as its operator would)."""
    assert hub.audience is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("RILL_")}
    env |= {"RILL_HUB__PUBLISHER_JWT_KEY": PUBLISHER_KEY, "RILL_HUB__JWT_ISSUER": ISSUER,
            "RILL_HUB__JWT_AUDIENCE": hub.audience}
    out = subprocess.run(
        [sys.executable, "-m", "rill.cli", *args, "--data-dir", str(hub.server.data_dir)],
        capture_output=True, text=True, timeout=60, env=env, check=True,
    )
    return out.stdout.strip()


def test_rill_token_mints_a_current_access_token(strict: Hub) -> None:
    token = _rill(strict, "token", "--publish", "https://example.com/a",
                  "--publish-urlpattern", "https://example.com/b/:id", "--ttl", "5m")
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] > claims["iat"] and claims["aud"] == strict.audience
    assert claims["iss"] == ISSUER and "mercure" not in claims
    assert claims["authorization_details"] == [{
        "type": "https://mercure.rocks/authorization-detail",
        "actions": ["publish"],
        "topics": [{"match": "https://example.com/a"},
                   {"match": "https://example.com/b/:id", "match_type": "urlpattern"}],
    }]
    for topic, status in (("https://example.com/a", 200), ("https://example.com/b/7", 200),
                          ("https://example.com/c", 403)):
        assert strict.publish([("topic", topic)], token).status_code == status


def test_rill_publish_mints_and_publishes(strict: Hub) -> None:
    update_id = _rill(strict, "publish", "--url", strict.url, "conf/cli", "hello")
    assert update_id.startswith("urn:uuid:")


async def test_hub_client_uses_current_parameters(strict: Hub) -> None:
    async with HubClient(strict.url, strict.publisher()) as publisher, HubClient(strict.url) as c:
        first = await publisher.publish("conf/client/1", "one")

        async def take_one() -> str:
            async for event in c.subscribe(url_patterns=["conf/client/:n"], last_event_id=first):
                return event.data
            raise AssertionError("the stream ended")

        reader = asyncio.create_task(take_one())
        await asyncio.sleep(0.3)
        await publisher.publish("conf/client/2", "two")
        assert await asyncio.wait_for(reader, 10) == "two"
