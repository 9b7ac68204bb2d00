"""``GET /.well-known/mercure/subscriptions[/…]``: the active subscriptions API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rill.errors import NotFound, RillError
from rill.hub._asgi import Scope, Send, cookies, header_map, query, respond_json
from rill.hub.auth import InsufficientScope, MissingToken, find_token
from rill.hub.errors import send_error
from rill.hub.subscriptions import PREFIX

if TYPE_CHECKING:
    from rill.hub.hub import Hub

_JSON = b"application/json"


async def serve_subscriptions_api(hub: Hub, scope: Scope, send: Send) -> None:
    try:
        document, last_event_id = await _subscriptions(hub, scope)
    except RillError as error:
        await send_error(send, error, hub.metadata_url(scope))
        return
    # The cursor to subscribe from travels as the hub link's ``last-event-id``
    # attribute, as a publisher's discovery response would carry it.
    link = (
        f'<{hub.request_base(scope)}/.well-known/mercure>; rel="mercure"; '
        f'last-event-id="{_quoted(last_event_id)}"'
    ).encode()
    await respond_json(
        send,
        200,
        document,
        _JSON,
        [(b"link", link), (b"cache-control", b"must-revalidate")],
    )


def _quoted(value: str) -> str:
    """A quoted-string body (RFC 9110 §5.6.4); ids hold no controls (limits.check_id)."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


async def _subscriptions(hub: Hub, scope: Scope) -> tuple[dict[str, Any], str]:
    settings = hub.settings.hub
    if not settings.subscriptions:
        raise NotFound("the subscriptions API is not enabled")
    # The raw path keeps the percent-encoding the topics are written with.
    raw = scope.get("raw_path") or scope["path"].encode()
    path = raw.decode("latin-1").split("?", 1)[0].rstrip("/")
    if path != PREFIX and not path.startswith(PREFIX + "/"):
        raise NotFound("no such hub resource")
    headers = header_map(scope)
    values: dict[str, list[str]] = {}
    for name, value in query(scope, 32):
        values.setdefault(name, []).append(value)
    credentials = find_token(
        headers,
        cookies(headers),
        values if settings.query_token else None,
        cookie_name=settings.cookie_name,
        legacy_cookies=settings.legacy_cookies,
        session_cookie=hub.settings.session_cookie,
    )
    if credentials.token is None:
        raise MissingToken("the subscriptions API needs an access token")
    grants = await hub.auth.grants(credentials, "subscribe")
    if not grants.can_subscribe(path):
        raise InsufficientScope("the token does not allow reading these subscriptions")
    segments = [s for s in path[len(PREFIX) :].split("/") if s]
    found = hub.subscriptions.select(segments)
    last = hub.index.last()
    last_event_id = last.id if last is not None else "earliest"
    if found is None:
        raise NotFound("no such subscription")
    if isinstance(found, dict):
        return found, last_event_id
    return {"id": path, "type": "subscriptions", "subscriptions": found}, last_event_id
