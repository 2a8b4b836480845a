"""Products (OAuth clients): Roost's own, which exists in every Roost, and the checks every
product passes whether it is made on the command line or through the developer API."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from urllib.parse import urlsplit

from roost.auth.tokens import FIRST_PARTY_CLIENT
from roost.model.schema import PERMISSIONS, parse_permission
from roost.store.base import Store

NAME_MAX = 100
DESCRIPTION_MAX = 1000
REDIRECT_URI_MAX = 2000


class InvalidProduct(ValueError):
    """A product's name, description, redirect URI or permissions cannot be accepted."""


async def ensure_first_party(store: Store) -> None:
    """Roost's own product: every permission, for the command line and the dashboard."""
    await store.ensure_client(FIRST_PARTY_CLIENT, "Roost", PERMISSIONS,
                              "Roost's own dashboard and command line")


def new_secret() -> str:
    """A client secret: 256 random bits, shown once; only its digest is stored."""
    return secrets.token_urlsafe(32)


# Schemes a redirect may never go to: they run or read something in the browser itself.
UNSAFE_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "about", "blob"})
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def has_control(text: str, allowed: str = "") -> bool:
    """Any control character (C0, DEL, C1) but those ``allowed``: they rewrite terminals and
    logs, and no name needs one."""
    return any((ord(c) < 32 or 0x7F <= ord(c) < 0xA0) and c not in allowed for c in text)


def check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidProduct("a product needs a name")
    if has_control(name):
        raise InvalidProduct("a product's name has no control characters")
    if len(name) > NAME_MAX:
        raise InvalidProduct(f"a product's name has at most {NAME_MAX} characters")
    return name


def check_description(description: str) -> str:
    if len(description) > DESCRIPTION_MAX:
        raise InvalidProduct(f"a description has at most {DESCRIPTION_MAX} characters")
    if has_control(description, allowed="\n"):
        raise InvalidProduct("a description has no control characters but line breaks")
    return description


def check_redirect_uri(uri: str) -> str:
    """An absolute URI without a fragment (RFC 6749 §3.1.2), kept exactly as given: codes
    are only ever sent to a byte-for-byte match, so nothing here normalizes it."""
    if not uri or len(uri) > REDIRECT_URI_MAX or any(c.isspace() or ord(c) < 32 for c in uri):
        raise InvalidProduct("a redirect URI is an absolute URI without spaces "
                             "(omit it for the PIN flow)")
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise InvalidProduct(f"invalid redirect URI: {exc}") from None
    if not parts.scheme:
        raise InvalidProduct("a redirect URI must be absolute, e.g. https://example.com/cb")
    if "#" in uri:
        raise InvalidProduct("a redirect URI must not have a fragment")
    scheme = parts.scheme.lower()
    if scheme in ("http", "https") and not parts.hostname:
        raise InvalidProduct("an http(s) redirect URI needs a host")
    if scheme == "http" and parts.hostname not in LOOPBACK:
        raise InvalidProduct("a redirect URI is https://, or http:// only to this machine "
                             "(localhost, 127.0.0.1, [::1]), or an app's own scheme")
    if scheme in UNSAFE_SCHEMES:
        raise InvalidProduct(f"a redirect URI cannot use the {scheme}: scheme")
    return uri


def check_permissions(names: Iterable[str]) -> frozenset[str]:
    """Nest's permission names, spelled as in :data:`PERMISSIONS`, each optionally at an older
    version (``"Thermostat read/write v4"``); at least one, each name once."""
    chosen = frozenset(names)
    unknown = []
    for entry in sorted(chosen):
        try:
            parse_permission(entry)
        except ValueError:
            unknown.append(entry)
    if unknown:
        raise InvalidProduct(
            f"unknown permission{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))}; valid permissions are: "
            + ", ".join(map(repr, PERMISSIONS))
            + " (optionally with an older version, e.g. 'Thermostat read/write v4')")
    if len({parse_permission(e)[0] for e in chosen}) < len(chosen):
        raise InvalidProduct("each permission may be named once")
    if not chosen:
        raise InvalidProduct("a product needs at least one permission")
    return chosen


def ordered(permissions: Iterable[str]) -> list[str]:
    """Permissions in Nest's order (the order of :data:`PERMISSIONS`), for display."""
    rank = {name: i for i, name in enumerate(PERMISSIONS)}
    return sorted(permissions, key=lambda entry: rank[parse_permission(entry)[0]])
