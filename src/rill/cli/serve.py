"""``rill serve``: start the server (one process, or ``--workers N`` sharing engines).

Plain HTTP runs on uvicorn. With ``--tls-cert``/``--tls-key`` Rill serves
HTTP/2 (ALPN ``h2``, falling back to ``http/1.1``) on granian, because
browsers open only about six HTTP/1.1 connections per origin, and each open
EventSource holds one. granian was chosen over hypercorn by measurement
(docs/deployment.md, "Why granian").
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from rill import logs
from rill.config import Settings, load_settings
from rill.extras import MissingExtra, needs

log = logging.getLogger("rill")


#: The exit status of a failed start, uvicorn's own (a lifespan that fails exits with it).
STARTUP_FAILURE = 3


class StartupFailed(Exception):
    """Something ``rill serve`` needs before serving (its port) is not to be had."""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("serve", help="start the Rill server")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.add_argument("--data-dir", type=Path, help="where embedded data lives (default ./.rill)")
    p.add_argument("--config", type=Path, help="a rill.toml file")
    p.add_argument("--workers", type=int, default=1, help="processes sharing the engines")
    p.add_argument("--database-url", help="sqlite:///path or postgresql://…")
    p.add_argument("--broker-url", help="memory:// or redis://…")
    p.add_argument("--tls-cert", type=Path, help="certificate (PEM) to serve HTTPS")
    p.add_argument("--tls-key", type=Path, help="private key (PEM) to serve HTTPS")
    p.set_defaults(func=run)


def _describe(settings: Settings) -> str:
    store = (settings.database_url or "").split("://", 1)[0]
    broker = settings.broker_url.split("://", 1)[0]
    bots = ", ".join(f"{b.id} ({b.provider})" for b in settings.bots)
    identity = "anonymous sessions" if settings.anonymous_sessions else "external JWT"
    return f"store={store} broker={broker} identity={identity} bots: {bots}"


def run(args: argparse.Namespace) -> int:
    overrides = {
        "host": args.host,
        "port": args.port,
        "data_dir": args.data_dir,
        "database_url": args.database_url,
        "broker_url": args.broker_url,
    }
    try:
        settings = load_settings(args.config, **overrides)
    except (FileNotFoundError, ValueError) as exc:
        print(f"rill: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    if args.workers > 1 and not settings.broker_url.startswith(("redis", "rediss", "unix")):
        print("rill: --workers > 1 needs a shared broker (set RILL_BROKER_URL=redis://…); "
              "the in-process broker cannot be shared between processes", file=sys.stderr)
        return 2
    if args.workers > 1 and os.environ.get("RILL_NODE_ID"):
        # Why: the node id says whose replies are whose after a crash; workers sharing
        # one would end each other's replies when one of them restarts.
        print("rill: with --workers > 1 leave RILL_NODE_ID unset: each worker takes "
              "its own id (host:pid)", file=sys.stderr)
        return 2
    if bool(args.tls_cert) != bool(args.tls_key):
        print("rill: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    from rill.http.app import check_start, session_secret

    # Why here: worker processes starting together would race to create the key.
    session_secret(settings)
    metrics_dir = _prepare_metrics_dir(args.workers)
    scheme = "https" if args.tls_cert else "http"
    protocols = "HTTP/2 + HTTP/1.1 (granian)" if args.tls_cert else "HTTP/1.1 (uvicorn)"
    try:
        if args.tls_cert or args.workers > 1:
            # Why: these servers bind the port themselves, granian with a Rust panic on a
            # busy one, uvicorn's workers with no word of the address; trying it here
            # first gives the one clear line, before anything else is opened.
            _listen(settings.host, settings.port).close()
        # Why: with workers (uvicorn's, or granian's, which it always uses) the app starts
        # in child processes, which their manager restarts when they die, forever, and
        # the parent exits 0 if it gives up; a supervisor would never see the failure.
        # The parent reaches the store and broker once first, and fails as one process.
        if (args.workers > 1 or args.tls_cert) and not asyncio.run(check_start(settings)):
            return STARTUP_FAILURE
        print(f"Rill listening on {scheme}://{settings.host}:{settings.port} ({protocols}, "
              f"{args.workers} worker{'s' if args.workers > 1 else ''}) — "
              f"{_describe(settings)}", flush=True)
        if args.tls_cert:
            _serve_tls(settings, args, overrides)
        else:
            _serve_plain(settings, args, overrides)
    except (StartupFailed, MissingExtra) as exc:
        log.error("start-up failed: %s", exc, extra={"event": "startup_failed"})
        return STARTUP_FAILURE
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _serve_plain(settings: Settings, args: argparse.Namespace, overrides: dict[str, Any]) -> None:
    import uvicorn

    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": int(settings.shutdown_grace_seconds) + 5,
        "http": _http_protocol(),
        # The other protocol (h11, without httptools) bounds heads with its own setting.
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        # uvicorn rewrites the client address from X-Forwarded-For for these peers only.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or None,
    }
    if args.workers > 1:
        # Workers are fresh processes: hand them the resolved settings via the environment.
        os.environ.update(_as_env(args, overrides))
        uvicorn.run("rill.http.app:create_app", factory=True, workers=args.workers, **common)
    else:
        from rill.http.app import create_app

        # Why bind here: uvicorn binds only after the app started (store migrated,
        # broker reached), then logs "startup complete" before failing on a port in
        # use. Bound first, a busy port fails at once, with nothing initialised.
        # (With --workers, uvicorn binds in the parent before any worker starts.)
        sock = _listen(settings.host, settings.port)
        server = uvicorn.Server(uvicorn.Config(create_app(settings), **common))
        with sock:
            server.run(sockets=[sock])


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` as uvicorn binds it, or ``StartupFailed``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupFailed(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


def _http_protocol() -> Any:
    """uvicorn's httptools protocol with bounded request heads, serving hub subscriptions
    without a task each (``http/protocol.py``); uvicorn's choice without httptools."""
    try:
        from rill.http.protocol import ServerProtocol
    except ImportError:
        return "auto"
    from rill.hub.direct import log_support

    log_support()
    return ServerProtocol


def _serve_tls(settings: Settings, args: argparse.Namespace, overrides: dict[str, Any]) -> None:
    with needs("http2", "--tls-cert (HTTP/2)"):
        from granian.constants import HTTPModes, Interfaces, Loops, SSLProtocols
        from granian.http import HTTP1Settings, HTTP2Settings
        from granian.log import LogLevels
        from granian.server import Server

    # granian always runs the app in worker processes, even for one: like
    # uvicorn's workers, they get the resolved settings through the environment.
    os.environ.update(_as_env(args, overrides))
    # Why spawn, not fork: a forked worker would inherit this process's metrics,
    # created before PROMETHEUS_MULTIPROC_DIR was set, and keep them in memory
    # where /metrics cannot see them (uvicorn's workers are spawned too).
    multiprocessing.set_start_method("spawn", force=True)
    level = settings.log_level.lower()
    Server(
        "rill.http.app:create_app",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        loop=Loops.uvloop if sys.platform != "win32" else Loops.auto,
        http=HTTPModes.auto,
        websockets=False,
        ssl_cert=args.tls_cert,
        ssl_key=args.tls_key,
        ssl_protocol_min=SSLProtocols.tls12,
        # Why: granian's default admits backlog/workers (1024) requests at a time,
        # and every SSE subscriber is a request that never ends.
        backpressure=_MAX_STREAMS,
        # Why: one browser multiplexes all its tabs' EventSources on one
        # connection; the default (200) would make the 201st tab wait.
        http2_settings=HTTP2Settings(max_concurrent_streams=_MAX_STREAMS_PER_CONNECTION,
                                     max_headers_size=settings.max_header_bytes),
        # Request heads bounded as under uvicorn (http/protocol.py), by granian itself.
        # Why the floor: hyper's read buffer cannot be smaller than 8 KiB.
        http1_settings=HTTP1Settings(
            header_read_timeout=int(settings.header_timeout_seconds * 1000),
            max_buffer_size=max(settings.max_header_bytes, 8192),
        ),
        log_level=LogLevels(level) if level in LogLevels.__members__ else LogLevels.info,
        log_access=False,
        respawn_failed_workers=True,
        # Why: SIGTERM lets replies finish for shutdown_grace_seconds; a worker
        # still alive past that (plus slack) is killed, as uvicorn would.
        workers_kill_timeout=int(settings.shutdown_grace_seconds) + 5,
    ).serve()


_MAX_STREAMS = 100_000
_MAX_STREAMS_PER_CONNECTION = 1000


def _prepare_metrics_dir(workers: int) -> Path | None:
    """With several workers, each writes its metrics to files in one directory that
    ``/metrics`` in any worker aggregates (prometheus-client's multiprocess mode).

    Why a fresh directory per run: files left by a previous run would be added in.
    An operator's own ``PROMETHEUS_MULTIPROC_DIR`` is respected (and left alone).
    """
    if workers <= 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    path = Path(tempfile.mkdtemp(prefix="rill-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


def _as_env(args: argparse.Namespace, overrides: dict[str, Any]) -> dict[str, str]:
    env = {f"RILL_{k.upper()}": str(v) for k, v in overrides.items() if v is not None}
    if args.config:
        env["RILL_CONFIG"] = str(args.config)
    return env
