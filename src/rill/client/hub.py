"""``HubClient``: publish to and subscribe from a Mercure hub (Rill's or any other).

``subscribe`` is an async iterator that reconnects on its own, sending the id
of the last event it yielded as ``Last-Event-ID``, so a dropped connection
loses nothing the hub still retains. ``SyncHubClient`` offers the same for
code without an event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from types import TracebackType
from urllib.parse import urlencode

import httpx

from rill.sse.decoder import SSEDecoder
from rill.sse.event import ServerSentEvent

HUB_PATH = "/.well-known/mercure"
_MAX_DELAY = 30.0


def hub_url(url: str) -> str:
    """Accept the server's base URL or the hub's own."""
    url = url.rstrip("/")
    return url if url.endswith(HUB_PATH) else url + HUB_PATH


class HubError(Exception):
    """The hub refused a request; ``status`` and ``detail`` say why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


def _form(
    topics: str | Sequence[str],
    data: str,
    private: bool,
    type: str | None,
    id: str | None,
    retry: int | None,
) -> list[tuple[str, str]]:
    form = [("topic", t) for t in ([topics] if isinstance(topics, str) else topics)]
    form.append(("data", data))
    if private:
        form.append(("private", "on"))
    for name, value in (("type", type), ("id", id), ("retry", retry)):
        if value is not None:
            form.append((name, str(value)))
    return form


def _params(
    topics: Sequence[str], url_patterns: Sequence[str], last_event_id: str | None
) -> httpx.QueryParams:
    params: list[tuple[str, str | int | float | bool | None]] = [("match", t) for t in topics]
    params += [("match_urlpattern", p) for p in url_patterns]
    if last_event_id is not None:
        # Why the query too: the first connection of a browser-style client
        # cannot send headers, and hubs must accept it there (spec).
        params.append(("last_event_id", last_event_id))
    return httpx.QueryParams(params)


def _check(response: httpx.Response) -> None:
    if response.status_code >= 400:
        try:
            detail = str(response.json().get("detail", response.text))
        except ValueError:
            detail = response.text
        raise HubError(response.status_code, detail)


class HubClient:
    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        reconnect_delay: float = 1.0,
    ) -> None:
        self.url = hub_url(url)
        self.token = token
        self.reconnect_delay = reconnect_delay
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(10, read=None))
        self._owns_client = client is None
        #: The last event id seen by ``subscribe`` (resume from here).
        self.last_event_id: str | None = None

    async def __aenter__(self) -> HubClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def publish(
        self,
        topics: str | Sequence[str],
        data: str,
        *,
        private: bool = False,
        type: str | None = None,
        id: str | None = None,
        retry: int | None = None,
    ) -> str:
        """Publish one update; returns its id once the hub has stored it."""
        response = await self._client.post(
            self.url,
            content=urlencode(_form(topics, data, private, type, id, retry)),
            headers={**self._headers(), "Content-Type": "application/x-www-form-urlencoded"},
        )
        _check(response)
        return response.text

    async def subscribe(
        self,
        topics: Sequence[str] = (),
        *,
        url_patterns: Sequence[str] = (),
        last_event_id: str | None = None,
    ) -> AsyncIterator[ServerSentEvent]:
        """Updates as they arrive, forever; reconnects with the last id after any drop."""
        self.last_event_id = last_event_id
        failures = 0
        while True:
            decoder = SSEDecoder()
            try:
                async with self._client.stream(
                    "GET",
                    self.url,
                    params=_params(topics, url_patterns, self.last_event_id),
                    headers={
                        **self._headers(),
                        "Accept": "text/event-stream",
                        **({"Last-Event-ID": self.last_event_id} if self.last_event_id else {}),
                    },
                ) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        _check(response)
                    failures = 0
                    async for chunk in response.aiter_bytes():
                        for event in decoder.feed(chunk):
                            if event.id:
                                self.last_event_id = event.id
                            yield event
            except httpx.HTTPError:
                failures += 1
            delay = (decoder.retry / 1000) if decoder.retry is not None else self.reconnect_delay
            await asyncio.sleep(
                min(delay * (2 ** min(failures, 5)) if failures else delay, _MAX_DELAY)
            )


class SyncHubClient:
    """The same, blocking, for scripts and code without an event loop."""

    def __init__(self, url: str, token: str | None = None, *, reconnect_delay: float = 1.0):
        self.url = hub_url(url)
        self.token = token
        self.reconnect_delay = reconnect_delay
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=None))
        self.last_event_id: str | None = None

    def __enter__(self) -> SyncHubClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def publish(
        self,
        topics: str | Sequence[str],
        data: str,
        *,
        private: bool = False,
        type: str | None = None,
        id: str | None = None,
        retry: int | None = None,
    ) -> str:
        response = self._client.post(
            self.url,
            content=urlencode(_form(topics, data, private, type, id, retry)),
            headers={**self._headers(), "Content-Type": "application/x-www-form-urlencoded"},
        )
        _check(response)
        return response.text

    def subscribe(
        self,
        topics: Sequence[str] = (),
        *,
        url_patterns: Sequence[str] = (),
        last_event_id: str | None = None,
    ) -> Iterator[ServerSentEvent]:
        self.last_event_id = last_event_id
        while True:
            decoder = SSEDecoder()
            headers = {**self._headers(), "Accept": "text/event-stream"}
            if self.last_event_id:
                headers["Last-Event-ID"] = self.last_event_id
            try:
                with self._client.stream(
                    "GET",
                    self.url,
                    params=_params(topics, url_patterns, self.last_event_id),
                    headers=headers,
                ) as response:
                    if response.status_code >= 400:
                        response.read()
                        _check(response)
                    for chunk in response.iter_bytes():
                        for event in decoder.feed(chunk):
                            if event.id:
                                self.last_event_id = event.id
                            yield event
            except httpx.HTTPError:
                pass
            delay = (decoder.retry / 1000) if decoder.retry is not None else self.reconnect_delay
            time.sleep(min(delay, _MAX_DELAY))
