"""The ASGI application: routes, identity, problem+json errors, SSE responses."""

from rill.http.app import create_app

__all__ = ["create_app"]
