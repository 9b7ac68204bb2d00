"""``rill openapi``: print the OpenAPI document (the web app's client is generated from it)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("openapi", help="print the OpenAPI document as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rill.config import Settings
    from rill.http.app import create_api

    document = create_api(Settings(hub={"enabled": False})).openapi()
    print(json.dumps(document, indent=2, sort_keys=True))
    return 0
