"""CORS for the hub's paths, with the API's policy (``settings.cors_origins``).

Same rules as the API's Starlette ``CORSMiddleware`` (http/app.py): only listed
origins (or ``*``), credentials only for an explicit list, never with ``*``, a
request without ``Origin`` untouched, and a refused preflight answered 400.
Allowed and exposed headers follow the Mercure reference hub: a subscriber
sends ``Authorization``, ``Cache-Control`` and ``Last-Event-ID``; a fetch-based
one reads ``Link``, ``Last-Event-ID``/``Mercure-Last-Event-ID``, and the
``WWW-Authenticate`` challenge (RFC 9728 discovery) or ``Retry-After`` on errors.

Why not Starlette's middleware: it wraps ``send``, which costs every body
message of a stream a call and hides uvicorn's request cycle from
``subscribe._aborter`` (a stalled subscriber could then only be cancelled),
and ``direct.py`` writes subscription heads without any ASGI app at all. Both
paths take their headers from ``CorsPolicy.headers`` instead, so their answers
stay byte-for-byte the same; with no origins configured it
returns an empty tuple and the hub's bytes are what they were.
"""

from __future__ import annotations

from collections.abc import Sequence

from rill.hub._asgi import Scope

Header = tuple[bytes, bytes]
Headers = tuple[Header, ...]

ALLOW_METHODS = ("GET", "POST", "OPTIONS")
#: The CORS-safelisted request headers (Fetch standard) plus what a hub client sends.
ALLOW_HEADERS = (
    "Accept",
    "Accept-Language",
    "Authorization",
    "Cache-Control",
    "Content-Language",
    "Content-Type",
    "Last-Event-ID",
)
EXPOSE_HEADERS = ("Link", "Last-Event-ID", "Mercure-Last-Event-ID", "WWW-Authenticate",
                  "Retry-After")
#: Seconds a browser may cache a preflight answer (Starlette's default).
MAX_AGE = 600

_ORIGIN = b"origin"
_ALLOWED_HEADER_NAMES = frozenset(h.lower() for h in ALLOW_HEADERS)
_VARY = (b"vary", b"Origin")
_PREFLIGHT_VARY = (b"vary", b"Origin, Access-Control-Request-Method, "
                            b"Access-Control-Request-Headers")
_CREDENTIALS = (b"access-control-allow-credentials", b"true")
_EXPOSE = (b"access-control-expose-headers", ", ".join(EXPOSE_HEADERS).encode())
_PREFLIGHT = (
    (b"access-control-allow-methods", ", ".join(ALLOW_METHODS).encode()),
    (b"access-control-allow-headers", ", ".join(ALLOW_HEADERS).encode()),
    (b"access-control-max-age", str(MAX_AGE).encode()),
)


class CorsPolicy:
    """Which CORS headers a hub response carries, from the request's ``Origin``."""

    __slots__ = ("enabled", "_any", "_answers", "_other")

    def __init__(self, origins: Sequence[str]) -> None:
        self.enabled = bool(origins)
        self._any = "*" in origins
        # Why precomputed per origin: a subscribe request then costs one dict
        # lookup and allocates nothing (the direct path's head is hot).
        self._answers: dict[bytes, Headers] = {}
        #: The answer to any origin not in ``_answers``: ``*``, or refused (only ``Vary``).
        self._other: Headers = (_VARY,)
        if self._any:
            self._other = ((b"access-control-allow-origin", b"*"), _EXPOSE)
        else:
            for origin in origins:
                value = origin.encode("latin-1")
                self._answers[value] = (
                    (b"access-control-allow-origin", value), _CREDENTIALS, _EXPOSE, _VARY
                )

    def headers(self, origin: bytes | None) -> Headers:
        """The headers to add to an actual (not preflight) response."""
        if not self.enabled or origin is None:
            return ()
        return self._answers.get(origin, self._other)

    def headers_for(self, scope: Scope) -> Headers:
        """``headers`` for an ASGI scope; nothing is read while CORS is off."""
        if not self.enabled:
            return ()
        return self.headers(request_origin(scope))

    def preflight(
        self, origin: bytes, method: bytes, requested: bytes | None
    ) -> tuple[int, bytes, Headers]:
        """Status, body and headers answering an ``OPTIONS`` preflight (as Starlette)."""
        failures: list[str] = []
        allowed = self._any or origin in self._answers
        if not allowed:
            failures.append("origin")
        if method.decode("latin-1") not in ALLOW_METHODS:
            failures.append("method")
        if requested is not None and any(
            name.strip() and name.strip() not in _ALLOWED_HEADER_NAMES
            for name in requested.decode("latin-1").lower().split(",")
        ):
            failures.append("headers")
        if failures:
            vary: Headers = () if self._any else (_PREFLIGHT_VARY,)
            return 400, ("Disallowed CORS " + ", ".join(failures)).encode(), vary
        if self._any:
            return 200, b"OK", ((b"access-control-allow-origin", b"*"), *_PREFLIGHT)
        return 200, b"OK", (
            (b"access-control-allow-origin", origin), _CREDENTIALS, *_PREFLIGHT, _PREFLIGHT_VARY
        )


def request_origin(scope: Scope) -> bytes | None:
    """The ``Origin`` header of an ASGI scope (its first, as ``header_map``)."""
    for name, value in scope.get("headers", ()):
        if name.lower() == _ORIGIN:
            origin: bytes = value
            return origin
    return None
