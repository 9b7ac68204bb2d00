"""``rill token``: mint a JWT for scripts, tests and hub publishers.

Hub grants are minted as the current Mercure spec writes them: a JWT access
token (``typ: at+jwt``) with an ``authorization_details`` claim and an ``exp``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from rill.auth.tokens import TokenIssuer
from rill.config import load_settings
from rill.hub.grants import authorization_details

_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 90s, 15m, 1h, 7d)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("token", help="print a signed JWT")
    p.add_argument("--user", help="the subject (user id)")
    p.add_argument("--ttl", type=parse_duration, default=3600, help="lifetime (default 1h)")
    p.add_argument("--publish", action="append", default=[], metavar="TOPIC",
                   help="hub topic this token may publish to, '*' for any (repeatable)")
    p.add_argument("--subscribe", action="append", default=[], metavar="TOPIC",
                   help="hub topic whose private updates this token may read (repeatable)")
    p.add_argument("--publish-urlpattern", action="append", default=[], metavar="PATTERN",
                   help="URL pattern of topics this token may publish to (repeatable)")
    p.add_argument("--subscribe-urlpattern", action="append", default=[], metavar="PATTERN",
                   help="URL pattern of private topics this token may read (repeatable)")
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--config", type=Path)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rill.http.app import session_secret

    settings = load_settings(args.config, data_dir=args.data_dir)
    if settings.jwt_public_key or settings.jwks_url:
        print("rill: this server verifies tokens from an external issuer; mint them there",
              file=sys.stderr)
        return 2
    details = authorization_details(
        args.publish,
        args.subscribe,
        publish_patterns=args.publish_urlpattern,
        subscribe_patterns=args.subscribe_urlpattern,
    )
    if not args.user and not details:
        print("rill: give --user and/or --publish/--subscribe", file=sys.stderr)
        return 2
    hub_key = settings.hub.publisher_jwt_key
    secret = (
        hub_key.get_secret_value() if hub_key and not args.user else session_secret(settings)
    )
    claims: dict[str, Any] = {}
    if details:
        claims["authorization_details"] = details
    # A hub token names the hub's issuer and audience when those are configured.
    issuer = TokenIssuer(
        secret,
        issuer=(settings.hub.jwt_issuer if details else None) or settings.jwt_issuer,
        audience=(settings.hub.jwt_audience if details else None) or settings.jwt_audience,
    )
    print(issuer.mint(args.user, ttl=args.ttl, typ="at+jwt" if details else None, **claims))
    return 0
