"""``rill serve``: start the server (one process, or ``--workers N`` sharing engines)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from rill import logs
from rill.config import Settings, load_settings


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
    import uvicorn

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
    scheme = "https" if args.tls_cert else "http"
    print(f"Rill listening on {scheme}://{settings.host}:{settings.port} — {_describe(settings)}",
          flush=True)
    ssl: dict[str, Any] = {}
    if args.tls_cert:
        ssl = {"ssl_certfile": str(args.tls_cert), "ssl_keyfile": str(args.tls_key)}
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": int(settings.shutdown_grace_seconds) + 5,
        **ssl,
    }
    if args.workers > 1:
        # Workers are fresh processes: hand them the resolved settings via the environment.
        os.environ.update(_as_env(args, overrides))
        uvicorn.run("rill.http.app:create_app", factory=True, workers=args.workers, **common)
    else:
        from rill.http.app import create_app

        uvicorn.run(create_app(settings), **common)
    return 0


def _as_env(args: argparse.Namespace, overrides: dict[str, Any]) -> dict[str, str]:
    env = {f"RILL_{k.upper()}": str(v) for k, v in overrides.items() if v is not None}
    if args.config:
        env["RILL_CONFIG"] = str(args.config)
    return env
