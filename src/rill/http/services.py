"""The long-lived objects one process shares, built at start-up by the app's lifespan."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from rill.auth.tokens import TokenIssuer, TokenVerifier
from rill.broker.base import Broker
from rill.chat.service import ChatService
from rill.config import Settings
from rill.http.heartbeat import Heartbeat
from rill.providers.registry import ProviderRegistry
from rill.ratelimit import RateLimiter, Unlimited
from rill.store.base import Store

if TYPE_CHECKING:
    from rill.hub import Hub


@dataclass
class Services:
    settings: Settings
    store: Store
    broker: Broker
    providers: ProviderRegistry
    chat: ChatService
    verifier: TokenVerifier
    #: Mints anonymous sessions (embedded mode) and ``rill token`` output.
    issuer: TokenIssuer
    heartbeat: Heartbeat
    hub: Hub | None = None
    #: Chat turns per user (``chat_turns_per_minute``).
    chat_limit: RateLimiter = field(default_factory=Unlimited)
    #: New anonymous sessions per client address (``sessions_per_minute``).
    session_limit: RateLimiter = field(default_factory=Unlimited)
    #: Set once SIGTERM/SIGINT started ending streams (see ``rill.http.app.drain``).
    drain_task: asyncio.Task[None] | None = None


def get_services(conn: HTTPConnection) -> Services:
    services: Services = conn.app.state.services
    return services
