"""Access tokens: random, shown once, stored only as a SHA-256 digest.

Tokens carry 384 random bits, so a fast hash is enough (no password-style stretching), and a
lookup by digest means no stored secret is ever compared byte by byte.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# The product every first-party token belongs to (command line, demo, dashboard).
FIRST_PARTY_CLIENT = "roost"
# What a legacy password session's token starts with (``/user/login``, ``/session``).
SESSION_PREFIX = "b."


def is_password_session(token: str) -> bool:
    """A token from signing in with a password, as the Nest app did: it reaches the home
    and the legacy API, but manages no product and drives no simulator unless the operator
    allows it (docs/security.md)."""
    return token.startswith(SESSION_PREFIX)


def new_token() -> str:
    return "c." + secrets.token_urlsafe(48)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_id_for(secret: str, user_id: str, client_id: str) -> str:
    """A per-product user id: stable for a (user, product) pair, unlinkable across products."""
    mac = hmac.new(secret.encode(), f"{user_id}:{client_id}".encode(), hashlib.sha256).digest()
    return "z.1.1." + base64.urlsafe_b64encode(mac).decode()
