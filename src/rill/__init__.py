"""Rill: a real-time server on Server-Sent Events.

Streaming AI chat and a Mercure hub on one core. The public surface is exactly
``__all__``; ``tests/unit/test_exported_members.py`` keeps it honest.
"""

from rill.errors import RillError

__version__ = "0.1.0"

__all__ = ["RillError", "__version__"]
