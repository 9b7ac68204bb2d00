"""Typed settings: defaults < ``rill.toml`` < ``RILL_*`` environment < command line.

Flat names for the core (``RILL_PORT``, ``RILL_DATABASE_URL``, ``RILL_JWT_SECRET``);
nested sections use ``__`` (``RILL_HUB__ANONYMOUS=false``). Bots come from
``[[bots]]`` tables in the TOML file (or ``RILL_BOTS`` as JSON); with none
configured, the two builtin offline bots are served.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ProviderKind = Literal["echo", "guide", "openai", "anthropic"]


class BotConfig(BaseModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str
    description: str = ""
    provider: ProviderKind
    model: str = ""
    system_prompt: str = ""
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int = Field(default=1024, ge=1, le=200_000)
    #: How many recent messages of the conversation the model sees.
    context_messages: int = Field(default=20, ge=1, le=1000)
    #: Upstream base URL (OpenAI-compatible servers, or a local Anthropic-compatible one).
    base_url: str | None = None
    #: Name of the environment variable holding the API key (the key never sits in config).
    api_key_env: str | None = None
    #: Builtin bots: seconds between streamed words.
    pace: float = Field(default=0.03, ge=0, le=10)
    #: Retries of a failed upstream request before the first token (429/5xx/connect).
    max_retries: int = Field(default=2, ge=0, le=10)
    #: Upstream connections this bot may hold at once in one process: every streaming
    #: reply holds one. Past it a turn waits for a free one, up to the connect timeout
    #: (10 s), then ends with a timeout error. Why this default: the SDKs' own pool
    #: (1,000) would queue a busy bot's replies below what one Rill process streams.
    max_connections: int = Field(default=10_000, ge=1, le=1_000_000)


def default_bots() -> list[BotConfig]:
    return [
        BotConfig(
            id="guide",
            name="Rill Guide",
            description="Answers questions about SSE and Rill, offline (English, 한국어).",
            provider="guide",
            model="guide-bm25",
            pace=0.02,
        ),
        BotConfig(
            id="echo",
            name="Echo",
            description="Streams your message back word by word: for demos and tests.",
            provider="echo",
            model="echo",
            pace=0.03,
        ),
    ]


class HubSettings(BaseModel):
    enabled: bool = True
    #: Let subscribers without a token receive public updates.
    anonymous: bool = True
    #: HS256 key for hub tokens; defaults to the chat JWT secret.
    publisher_jwt_key: SecretStr | None = None
    subscriber_jwt_key: SecretStr | None = None
    jwt_public_key: str | None = None
    jwks_url: str | None = None
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["HS256", "RS256", "ES256"])
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    #: Updates kept for replay after a reconnect: the window ends at whichever
    #: bound is reached first, in the broker's stream and in each node's memory.
    retention_count: int = Field(default=10_000, ge=0)
    retention_seconds: float = Field(default=3600, ge=0)
    #: Stored bytes of the retained updates (their data, SSE-encoded, plus a few
    #: bytes of topics); what bounds a node's memory (docs/deployment.md).
    retention_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    heartbeat_seconds: float = Field(default=15, gt=0)
    subscriptions: bool = False
    max_topics: int = Field(default=100, ge=1)
    max_topic_length: int = Field(default=2048, ge=1)
    max_data_bytes: int = Field(default=1024 * 1024, ge=1)
    #: Bytes queued for one slow subscriber before it is dropped.
    max_buffer_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    #: The cookie a browser presents its hub token in (the spec's recommended name;
    #: advertised as ``mercure_cookie`` in the protected-resource metadata).
    cookie_name: str = "__Secure-mercure_access_token"
    #: Behaviours of earlier protocol revisions (docs/mercure.md lists each one).
    #: ``legacy_tokens``: the ``mercure`` claim (in tokens without ``authorization_details``)
    #: and the ``matchType: Exact|URLPattern`` spelling (where ``match_type`` is absent).
    legacy_tokens: bool = True
    #: ``legacy_cookies``: also read the ``mercureAuthorization`` and
    #: ``mercureAccessToken`` cookies.
    legacy_cookies: bool = True
    #: ``legacy_parameters``: the ``topic`` (URI template) subscribe parameter and
    #: ``lastEventID`` for ``last_event_id``.
    legacy_parameters: bool = True
    #: ``query_token``: accept the token in the ``access_token`` (or ``authorization``)
    #: query parameter of a subscription. Off: URLs end up in logs (RFC 9700).
    query_token: bool = False
    #: The hub's public URL: base for relative topics and URL patterns, and the
    #: resource identifier in its protected-resource metadata (default: from the request).
    public_url: str | None = None
    #: Insist on ``typ: at+jwt`` (RFC 9068) as the current spec does; off by default
    #: so that tokens minted for earlier protocol revisions keep working.
    require_access_token_type: bool = False
    #: A subscriber whose socket accepts nothing for this long is dropped.
    write_timeout_seconds: float = Field(default=30, gt=0)
    #: A subscription is closed after at most this long, whatever its token's ``exp``
    #: (0: only ``exp`` ends it). Why (spec, "Subscribers"): ``exp`` alone cannot
    #: revoke an open connection; the subscriber reconnects, presents its token again
    #: and resumes from its ``Last-Event-ID``, losing nothing. Each connection closes at
    #: a random point in the last tenth of the span, so subscribers that connected
    #: together do not all reconnect together.
    max_connection_seconds: float = Field(default=3600, ge=0)
    #: Open subscriptions under one token on this process (0: no limit); one more is
    #: answered 429 (spec, "Authorization Details"). Anonymous subscribers have no
    #: token and are not counted. Off by default: a subscriber token is often shared
    #: (one minted for every visitor of a page, or a backend multiplexing many streams),
    #: and a cap would cut a legitimate audience; set it where tokens are per user.
    max_subscriptions_per_token: int = Field(default=0, ge=0)
    #: Publishes per second per token subject (a token bucket holding ``publish_burst``;
    #: 0 turns the limit off). Shared by every node when the broker is Redis.
    publishes_per_second: float = Field(default=500, ge=0)
    publish_burst: int = Field(default=1000, ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RILL_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path(".rill")
    #: Default: SQLite under ``data_dir``.
    database_url: str | None = None
    broker_url: str = "memory://"
    #: With Redis: after each write, ``WAIT`` until this many replicas have it, so
    #: an acknowledged publish or token survives a failover (0: do not wait; not
    #: on a Redis Cluster). See docs/deployment.md.
    broker_wait_replicas: int = Field(default=0, ge=0)
    #: How long a write waits for those replicas before it fails (the entry is
    #: then on the primary, but not known to be on a replica).
    broker_wait_timeout_seconds: float = Field(default=1.0, gt=0)
    #: Identifies this process in the store (crash recovery); default host:pid.
    node_id: str | None = None
    #: With a shared broker: a node whose heartbeat is older than this is dead, and
    #: the surviving nodes end its replies as ``interrupted``.
    node_timeout_seconds: float = Field(default=8.0, ge=1)
    log_level: str = "info"
    #: Serve the built web app from here (default: web/dist next to the package, if built).
    web_dir: Path | None = None

    # identity
    jwt_secret: SecretStr | None = None
    #: Signs anonymous sessions and hub tokens in embedded mode (default: a key generated
    #: under ``data_dir``). Several nodes must share one; unlike ``jwt_secret`` it keeps
    #: anonymous sessions on.
    session_secret: SecretStr | None = None
    jwt_public_key: str | None = None
    jwks_url: str | None = None
    #: Accepted algorithms; default by key type: HS256 for a secret, RS256/ES256 for keys.
    jwt_algorithms: list[str] | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    session_cookie: str = "rill_session"
    #: Mark cookies Secure (set when served over HTTPS).
    secure_cookies: bool = False
    #: Lifetime of tokens minted by ``POST /api/session``.
    session_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    cors_origins: list[str] = Field(default_factory=list)
    #: Proxies whose ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are believed (addresses
    #: or networks, ``*`` for any): the client address then comes from the header, for
    #: per-address limits. Requests from anywhere else are keyed on their own address.
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    #: New anonymous sessions (``POST /api/session`` without a valid token) per minute
    #: per client address (a token bucket holding ``sessions_burst``; 0 turns it off).
    #: Why: each session is a new user with fresh per-user limits.
    sessions_per_minute: float = Field(default=30, ge=0)
    sessions_burst: int = Field(default=60, ge=1)
    #: When set, ``/metrics`` needs ``Authorization: Bearer <metrics_token>``;
    #: when unset, it answers loopback clients only.
    metrics_token: SecretStr | None = None

    # chat
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    #: A request body (chat API and hub publish) must arrive within this many seconds,
    #: else 408: a client trickling bytes cannot hold a connection open for ever.
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    #: A request's head (request line and headers) larger than this gets 431, and one
    #: not complete within ``header_timeout_seconds`` gets 408; the API and the hub alike.
    max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    #: A chat stream whose client accepts no bytes for this long is dropped
    #: (the hub's subscribers have ``hub.write_timeout_seconds``).
    write_timeout_seconds: float = Field(default=30.0, gt=0)
    max_message_chars: int = Field(default=32_000, ge=1)
    max_concurrent_generations: int = Field(default=3, ge=1)
    ping_seconds: float = Field(default=15.0, gt=0)
    retry_ms: int = Field(default=2000, ge=0)
    checkpoint_seconds: float = Field(default=1.0, gt=0)
    #: Seconds to wait for the provider's first token, and between tokens.
    first_token_timeout: float = Field(default=60.0, gt=0)
    idle_timeout: float = Field(default=60.0, gt=0)
    #: How long a finished reply's event stream stays in the broker for resumes;
    #: after that a resume is rebuilt from the stored text.
    stream_ttl_seconds: float = Field(default=600.0, gt=0)
    #: SIGTERM: seconds to let in-flight generations finish before marking them.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    #: Chat turns per minute per user (a token bucket holding ``chat_turns_burst``;
    #: 0 turns the limit off). Shared by every node when the broker is Redis.
    chat_turns_per_minute: float = Field(default=60, ge=0)
    chat_turns_burst: int = Field(default=30, ge=1)

    bots: list[BotConfig] = Field(default_factory=default_bots)
    hub: HubSettings = Field(default_factory=HubSettings)

    @field_validator("bots")
    @classmethod
    def _unique_bot_ids(cls, bots: list[BotConfig]) -> list[BotConfig]:
        ids = [b.id for b in bots]
        if len(ids) != len(set(ids)):
            raise ValueError("bot ids must be unique")
        if not bots:
            raise ValueError("configure at least one bot")
        return bots

    @field_validator("session_secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and len(secret.get_secret_value()) < 32:
            raise ValueError("session_secret must be at least 32 characters")
        return secret

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.data_dir / 'rill.db'}"
        if self.node_id is None:
            self.node_id = f"{os.uname().nodename}:{os.getpid()}"
        return self

    @property
    def anonymous_sessions(self) -> bool:
        """Embedded default mode: no identity provider configured, so Rill mints
        anonymous sessions itself (signed with a key kept under ``data_dir``)."""
        return self.jwt_secret is None and self.jwt_public_key is None and self.jwks_url is None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = _CONFIG_PATH.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


# Why: pydantic-settings picks sources per class, not per call; the CLI sets the
# path just before constructing Settings (see ``load_settings``).
_CONFIG_PATH: dict[str, Path | None] = {"path": None}


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Build settings from an optional TOML file, the environment, and overrides."""
    path = Path(config) if config else None
    if path is None and os.environ.get("RILL_CONFIG"):
        path = Path(os.environ["RILL_CONFIG"])
    if path is None and Path("rill.toml").is_file():
        path = Path("rill.toml")
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    _CONFIG_PATH["path"] = path
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    finally:
        _CONFIG_PATH["path"] = None
