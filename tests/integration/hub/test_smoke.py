from __future__ import annotations

from tests.integration.hub.conftest import HubServer, subscribe


async def test_publish_reaches_subscriber(hub_server: HubServer) -> None:
    async with hub_server.client() as c, subscribe(c, {"match": "prices/BTC"}) as s:
        assert s.response.status_code == 200
        assert s.response.headers["content-type"].startswith("text/event-stream")
        r = await hub_server.publish("prices/BTC", '{"price": 1}')
        assert r.status_code == 200, r.text
        event = await s.next()
        assert event.data == '{"price": 1}'
        assert event.id == r.text
        assert r.text.startswith("urn:uuid:")
