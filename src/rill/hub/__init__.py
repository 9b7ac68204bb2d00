"""The Mercure hub: publish, subscribe, authorization, replay, active subscriptions.

``Hub`` is the engine (``rill.hub.hub`` draws how the parts fit); HTTP reaches it
through ``rill.hub.router`` (and, under ``rill serve``, ``rill.hub.direct``).
"""

from rill.hub.hub import Hub

__all__ = ["Hub"]
