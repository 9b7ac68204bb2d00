"""``rill``'s public surface is exactly ``__all__``, and each name is what it says."""

from importlib.metadata import version
from inspect import signature
from pathlib import Path

import httpx

import rill
from rill.client.chat import AsyncChatClient, ChatClient
from rill.client.hub import HubClient, SyncHubClient
from rill.config import Settings, load_settings
from rill.errors import RillError
from rill.http.app import RillApp, create_app

#: Each export and the object it must be (the one its home module defines).
EXPORTS: dict[str, object] = {
    "AsyncChatClient": AsyncChatClient,
    "ChatClient": ChatClient,
    "HubClient": HubClient,
    "RillError": RillError,
    "Settings": Settings,
    "SyncHubClient": SyncHubClient,
    "create_app": create_app,
    "load_settings": load_settings,
}


def test_all_names_exist_and_nothing_else_is_public():
    for name in rill.__all__:
        assert hasattr(rill, name), name
    public = {
        name
        for name, value in vars(rill).items()
        if not name.startswith("_") and not getattr(value, "__name__", "").startswith("rill.")
    }
    assert public <= set(rill.__all__), public - set(rill.__all__)


def test_the_exports_are_exactly_these_objects():
    assert sorted(rill.__all__) == sorted([*EXPORTS, "__version__"])
    for name, expected in EXPORTS.items():
        assert getattr(rill, name) is expected, name


def test_the_version_is_the_installed_distributions():
    assert rill.__version__ == version("rill")


def test_the_error_base_and_the_clients_are_what_callers_rely_on():
    assert issubclass(rill.RillError, Exception)
    for client in (rill.ChatClient, rill.AsyncChatClient):
        assert list(signature(client).parameters)[:2] == ["base_url", "token"]
    assert callable(rill.AsyncChatClient.aclose) and callable(rill.ChatClient.close)


def test_load_settings_builds_settings_with_overrides(tmp_path: Path):
    settings = rill.load_settings(data_dir=tmp_path, port=9123)
    assert isinstance(settings, rill.Settings)
    assert (settings.data_dir, settings.port) == (tmp_path, 9123)


async def test_app_factory_builds_an_asgi_app_that_answers(tmp_path: Path):
    app = rill.create_app(rill.Settings(data_dir=tmp_path, hub={"enabled": False}))
    assert isinstance(app, RillApp)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rill.test") as http:
        health = await http.get("/healthz")
        assert (health.status_code, health.json()["status"]) == (200, "ok")
        schema = await http.get("/openapi.json")
        assert schema.json()["info"]["title"] == "Rill"
