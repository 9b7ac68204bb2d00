"""Direct hub streams run only on the uvicorn releases they are tested with."""

from __future__ import annotations

import uvicorn

from rill.hub import direct


def test_the_installed_uvicorn_is_a_tested_release() -> None:
    # pyproject.toml caps uvicorn at the end of TESTED_UVICORN; the floor below it
    # serves through ASGI. Here (the dev install) the direct path must be on.
    assert direct._tested(uvicorn.__version__)
    assert direct.SUPPORTED


def test_releases_outside_the_tested_range_are_not() -> None:
    first, end = direct.TESTED_UVICORN
    assert direct._tested(".".join(map(str, first)) + ".0")
    assert direct._tested(".".join(map(str, first)) + ".7rc1")
    assert not direct._tested(".".join(map(str, end)) + ".0")
    assert not direct._tested(f"{first[0]}.{first[1] - 1}.9")
    assert not direct._tested("1.0.0")
    assert not direct._tested("not-a-version")
