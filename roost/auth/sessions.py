"""Signed-in browsers: a random session cookie, stored as a digest, and its CSRF token.

The CSRF token is derived from the session (an HMAC under the server's secret), so a form can
carry it without the server keeping it in plain text; the store keeps only its digest. So is
the session's access token, a first-party token that ends with the session: the web app acts
through it (reads, writes, its event stream) exactly as any API client does, and signing out
revokes it, which ends the page's streams, without the token ever reaching the browser.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from roost import clock
from roost.auth import tokens
from roost.auth.host import AccountHost

COOKIE = "roost_session"
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class Session:
    user_id: str
    csrf: str

    def csrf_ok(self, offered: str) -> bool:
        return hmac.compare_digest(self.csrf.encode(), offered.encode())


def _csrf(service: AccountHost, cookie: str) -> str:
    return hmac.new(service.secret.encode(), b"csrf:" + cookie.encode(),
                    hashlib.sha256).hexdigest()


def access_token(service: AccountHost, cookie: str) -> str:
    """The session's own first-party token."""
    return "c." + hmac.new(service.secret.encode(), b"token:" + cookie.encode(),
                           hashlib.sha256).hexdigest()


async def start(service: AccountHost, user_id: str) -> str:
    """A new session for the user, with its access token; the cookie value to set."""
    cookie = secrets.token_urlsafe(32)
    expires = clock.iso(service.clock() + LIFETIME)
    csrf_hash = tokens.digest(_csrf(service, cookie))
    await service.store.add_session(tokens.digest(cookie), user_id, csrf_hash, expires)
    await service.store.add_token(tokens.digest(access_token(service, cookie)), user_id,
                                  tokens.FIRST_PARTY_CLIENT, expires=expires)
    return cookie


async def end(service: AccountHost, cookie: str) -> None:
    """Sign out: forget the session and revoke its token (its streams end at once)."""
    await service.store.revoke_token(tokens.digest(access_token(service, cookie)))
    await service.store.end_session(tokens.digest(cookie))


async def find(service: AccountHost, cookie: str | None) -> Session | None:
    if not cookie:
        return None
    found = await service.store.session(tokens.digest(cookie))
    if found is None:
        return None
    csrf = _csrf(service, cookie)
    if clock.parse(found.expires) <= service.clock() or not hmac.compare_digest(
            tokens.digest(csrf), found.csrf_hash):
        return None
    return Session(found.user_id, csrf)
