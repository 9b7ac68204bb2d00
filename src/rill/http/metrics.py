"""``GET /metrics``: Prometheus text exposition, for the operator only.

Access: with ``metrics_token`` set, a request must carry
``Authorization: Bearer <metrics_token>`` (else 401); without it, only
loopback clients are answered (else 403). Behind a reverse proxy on the same
host every request looks local, so the shipped nginx config refuses
``/metrics`` and Prometheus scrapes each node directly (docs/deployment.md).

Raw ASGI, routed before the API stack: a scrape should not pay for CORS,
identity or the access log.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from rill.config import Settings
from rill.errors import Forbidden, RillError, Unauthorized
from rill.hub._asgi import Receive, Scope, Send, header_map, respond, respond_problem

METRICS_PATH = "/metrics"


def _registry() -> CollectorRegistry:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return REGISTRY
    from prometheus_client import multiprocess

    # Why a fresh registry per scrape: the collector reads every worker's files
    # when asked, and must not be mixed with this process's own in-memory values.
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry


def check_access(scope: Scope, settings: Settings) -> None:
    """Raise ``Unauthorized``/``Forbidden`` unless this request may read the metrics."""
    if settings.metrics_token is not None:
        expected = b"bearer " + settings.metrics_token.get_secret_value().encode()
        given = header_map(scope).get(b"authorization", b"")
        # Why lower() on the scheme only: "Bearer" is case-insensitive, the token is not.
        scheme, _, token = given.partition(b" ")
        if not hmac.compare_digest(scheme.lower() + b" " + token.strip(), expected):
            raise Unauthorized("a valid metrics token is required (Authorization: Bearer …)")
        return
    client = scope.get("client")
    host = client[0] if client else ""
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if not local:
        raise Forbidden("metrics are served to loopback clients only (or set metrics_token)")


async def serve_metrics(scope: Scope, receive: Receive, send: Send, settings: Settings) -> None:
    try:
        if scope["method"] not in ("GET", "HEAD"):
            await respond(send, 405, b"", b"text/plain", [(b"allow", b"GET, HEAD")])
            return
        check_access(scope, settings)
    except RillError as error:
        headers = [(b"www-authenticate", b'Bearer realm="rill-metrics"')]
        await respond_problem(send, error, headers if error.status == 401 else None)
        return
    body = generate_latest(_registry())
    await respond(send, 200, b"" if scope["method"] == "HEAD" else body,
                  CONTENT_TYPE_LATEST.encode())
