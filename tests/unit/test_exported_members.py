"""``rill``'s public surface is exactly ``__all__``, and every name in it exists."""

import rill


def test_all_names_exist_and_nothing_else_is_public():
    for name in rill.__all__:
        assert hasattr(rill, name), name
    public = {
        name
        for name, value in vars(rill).items()
        if not name.startswith("_") and not getattr(value, "__name__", "").startswith("rill.")
    }
    assert public <= set(rill.__all__), public - set(rill.__all__)


def test_app_factory_builds_an_asgi_app():
    app = rill.create_app(rill.Settings(hub={"enabled": False}))
    assert callable(app)
