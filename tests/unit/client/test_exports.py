"""``rill.client``'s public surface is exactly its ``__all__``."""

import rill.client


def test_all_names_exist_and_nothing_public_is_left_out() -> None:
    exported = set(rill.client.__all__)
    assert all(hasattr(rill.client, name) for name in exported)
    public = {
        name for name, value in vars(rill.client).items()
        if not name.startswith("_") and not isinstance(value, type(rill))
    }
    assert public - {"annotations"} <= exported
