"""``rill publish``, ``rill subscribe`` and ``rill demo``: the hub from a terminal."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from rill.client.hub import HubClient, HubError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("publish", help="publish one update to the hub")
    p.add_argument("topic")
    p.add_argument("data")
    p.add_argument("--private", action="store_true", help="only for subscribers granted the topic")
    p.add_argument("--type", help="SSE event type")
    p.add_argument("--id", help="update id (default: the hub assigns one)")
    _common(p)
    p.set_defaults(func=_run_publish)

    s = subparsers.add_parser("subscribe", help="print hub updates as they arrive")
    s.add_argument("topics", nargs="+", metavar="TOPIC")
    s.add_argument("--pattern", action="store_true",
                   help="treat topics as URL patterns (match_urlpattern)")
    s.add_argument("--last-event-id", help="replay from after this id ('earliest' for all)")
    _common(s)
    s.set_defaults(func=_run_subscribe)

    d = subparsers.add_parser("demo", help="publish live demo data (prices, parcels, …)")
    d.add_argument("--user", help="also send private notifications to users/USER/notifications")
    d.add_argument("--duration", type=float, help="stop after this many seconds")
    d.add_argument("--rate", type=float, default=4.0, help="price ticks per second per symbol")
    _common(d)
    d.set_defaults(func=_run_demo)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", help="server URL (default: $RILL_URL or the configured host:port)")
    p.add_argument("--token", help="hub token (default: $RILL_HUB_TOKEN, or minted locally)")
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--config", type=Path)


def _url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url)
    if os.environ.get("RILL_URL"):
        return os.environ["RILL_URL"]
    from rill.config import load_settings

    settings = load_settings(args.config, data_dir=args.data_dir)
    return f"http://{settings.host}:{settings.port}"


def _token(args: argparse.Namespace, *, publish: bool) -> str | None:
    """A given token, else (for publishing) one minted with the local server's key."""
    token = args.token or os.environ.get("RILL_HUB_TOKEN")
    if token or not publish:
        return token
    from rill.auth.tokens import TokenIssuer
    from rill.config import load_settings
    from rill.http.app import session_secret
    from rill.hub.grants import authorization_details

    settings = load_settings(args.config, data_dir=args.data_dir)
    key = settings.hub.publisher_jwt_key
    secret = key.get_secret_value() if key else session_secret(settings)
    issuer = TokenIssuer(secret, issuer=settings.hub.jwt_issuer, audience=settings.hub.jwt_audience)
    return issuer.mint(
        "rill-cli",
        ttl=24 * 3600,
        typ="at+jwt",
        authorization_details=authorization_details(publish=["*"]),
    )


def _run_publish(args: argparse.Namespace) -> int:
    async def main() -> str:
        async with HubClient(_url(args), _token(args, publish=True)) as client:
            return await client.publish(
                args.topic, args.data, private=args.private, type=args.type, id=args.id
            )

    try:
        print(asyncio.run(main()))
    except HubError as exc:
        print(f"rill: {exc}", file=sys.stderr)
        return 1
    return 0


def _run_subscribe(args: argparse.Namespace) -> int:
    async def main() -> None:
        async with HubClient(_url(args), _token(args, publish=False)) as client:
            topics = [] if args.pattern else args.topics
            patterns = args.topics if args.pattern else []
            async for event in client.subscribe(
                topics, url_patterns=patterns, last_event_id=args.last_event_id
            ):
                kind = f" {event.event}" if event.event != "message" else ""
                print(f"[{event.id}]{kind} {event.data}", flush=True)

    try:
        asyncio.run(main())
    except HubError as exc:
        print(f"rill: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from rill.hub.demo import run_demo

    async def main() -> None:
        async with HubClient(_url(args), _token(args, publish=True)) as client:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.duration):
                    await run_demo(client.publish, user=args.user, rate=args.rate)

    try:
        asyncio.run(main())
    except HubError as exc:
        print(f"rill: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
