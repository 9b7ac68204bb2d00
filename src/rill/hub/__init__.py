"""The Mercure hub: publish, subscribe, authorization, replay, active subscriptions.

``Hub`` is the one entry point; see ``rill.hub.hub`` for how the parts fit.
"""

from rill.hub.hub import Hub

__all__ = ["Hub"]
