"""Identity: verify JWTs (HS256 / RS256 / ES256, key or JWKS) and mint session tokens.

Shared by the chat API and the Mercure hub, so a browser's chat session also
authorises its own private hub topics.
"""

from rill.auth.keys import load_or_create_secret
from rill.auth.tokens import TokenIssuer, TokenVerifier

__all__ = ["TokenIssuer", "TokenVerifier", "load_or_create_secret"]
