"""Rill's version, read from the installed package's metadata.

Why: ``pyproject.toml`` is the one place the version is written; the CLI, the
OpenAPI document and ``rill.__version__`` all read it from there.
"""

from importlib.metadata import version

__version__ = version("rill")
