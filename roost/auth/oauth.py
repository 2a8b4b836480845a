"""OAuth 2.0 as Works with Nest had it: authorization codes (or PINs) for access tokens.

A product with a redirect URI gets a code on its redirect (10 minutes); one without gets a PIN
the user types into it (8 characters, 48 hours). Either is single use: a second redemption is
refused and revokes the tokens the first one issued, since the code has leaked.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import ClassVar

from roost import clock
from roost.auth import tokens
from roost.auth.host import AccountHost
from roost.errors import StorageUnavailable
from roost.http.body import BodyRefused
from roost.http.errors import HttpError, Translations
from roost.store.records import Client

CODE_TTL = timedelta(minutes=10)
PIN_TTL = timedelta(hours=48)
TOKEN_LIFETIME = 315_360_000  # ten years, in seconds, as Nest answered
PIN_LENGTH = 8
PIN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
PARAMETERS = ("client_id", "client_secret", "code", "grant_type")


class OAuthError(HttpError):
    """A refusal of the OAuth endpoints, in their own envelope rather than the data API's;
    never cached, since these answers are about credentials."""

    logger = "roost.api"
    translations: ClassVar[Translations] = {
        BodyRefused: lambda exc: OAuthError(str(exc), exc.status),
        StorageUnavailable: lambda exc: OAuthError("storage is unavailable, try again", 503),
    }

    def __init__(self, description: str, status: int = 400,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status, description, {"Cache-Control": "no-store", **(headers or {})})
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": "oauth2_error", "error_description": self.description,
                "instance_id": str(uuid.uuid4())}

    @classmethod
    def internal(cls) -> OAuthError:
        return OAuthError("internal server error", 500)

    @classmethod
    def method_not_allowed(cls, method: str, allowed: str) -> OAuthError:
        return OAuthError(f"{method} is not supported here", 405, {"Allow": allowed})


def new_pin() -> str:
    return "".join(secrets.choice(PIN_ALPHABET) for _ in range(PIN_LENGTH))


async def issue_code(service: AccountHost, user_id: str, product: Client,
                     structures: frozenset[str] | None = None,
                     redirect_uri: str | None = None) -> str:
    """The user allowed the product (into the chosen structures, or all): record the grant
    as accepted now, and a code for it. ``redirect_uri`` is the one the authorization request
    named, if any: the token request must repeat it (RFC 6749 §4.1.3)."""
    # Its live tokens see the grant as accepted before this answers (an account event).
    grant = await service.store.accept(user_id, product, structures)
    pin = product.redirect_uri is None
    code = new_pin() if pin else secrets.token_urlsafe(24)
    expires = clock.iso(service.clock() + (PIN_TTL if pin else CODE_TTL))
    await service.store.add_code(tokens.digest(code), grant.id, redirect_uri or None, expires)
    return code


def _code_digest(code: str) -> str:
    # PINs are shown in capitals; people type them as they like.
    return tokens.digest(code.upper() if len(code) == PIN_LENGTH else code)


async def exchange(service: AccountHost, params: Mapping[str, str]) -> str:
    """An access token for a code, or :class:`OAuthError` with Nest's description."""
    missing = [name for name in PARAMETERS if not params.get(name)]
    if missing:
        raise OAuthError(f"missing required parameters: {', '.join(missing)}")
    if params["grant_type"] != "authorization_code":
        raise OAuthError("unsupported grant type")
    product = await service.store.client(params["client_id"])
    offered = tokens.digest(params["client_secret"])
    if product is None or product.secret_hash is None or not hmac.compare_digest(
            product.secret_hash, offered):
        raise OAuthError("client secret not found")
    key = _code_digest(params["code"])
    code = await service.store.code(key)
    if code is None or code.client_id != product.id:
        raise OAuthError("authorization code not found")
    if clock.parse(code.expires) <= service.clock():
        raise OAuthError("authorization code expired")
    # RFC 6749 §4.1.3: the redirect_uri the authorization request named, repeated exactly;
    # one given when none was named is the one the code was sent to.
    given = params.get("redirect_uri") or None
    if given != code.redirect_uri and (code.redirect_uri is not None
                                       or given != product.redirect_uri):
        raise OAuthError("redirect_uri mismatch")
    token = tokens.new_token()
    if not await service.store.redeem_code(key, clock.iso(service.clock()),
                                           tokens.digest(token)):
        # Its streams end before this answers (an account event).
        await service.store.revoke_code_tokens(key)
        raise OAuthError("authorization code has already been used")
    return token
