"""What the store hands out about accounts: plain frozen records, whatever database is behind
it. Every secret in them is already a digest or a hash."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class User:
    id: str
    email: str
    password_hash: str


@dataclass(frozen=True)
class Client:
    """A product (an OAuth client)."""

    id: str
    name: str
    description: str
    secret_hash: str | None
    redirect_uri: str | None
    permissions: frozenset[str]
    version: int
    owner_id: str | None = None  # the developer who manages it; None for Roost's own


@dataclass(frozen=True)
class Grant:
    """What a user accepted for a product: its permissions at a version, for chosen homes."""

    id: str
    user_id: str
    client_id: str
    client_version: int
    permissions: frozenset[str]
    structures: frozenset[str] | None = None  # the homes the user chose; None: all


@dataclass(frozen=True)
class LiveToken:
    """A token that has not been revoked: the grant it acts under, and when it ends."""

    grant: Grant
    expires: str | None  # ISO 8601; None: never


@dataclass(frozen=True)
class TokenInfo:
    """A live token as its user may see it: never the token, only its digest."""

    hash: str
    client_id: str
    created: str
    expires: str | None  # ISO 8601; None: never


@dataclass(frozen=True)
class Code:
    """An authorization code or PIN, by digest."""

    hash: str
    grant_id: str
    client_id: str
    user_id: str
    redirect_uri: str | None
    expires: str
    used: str | None


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser, by the digest of its cookie."""

    user_id: str
    csrf_hash: str
    expires: str


# The kinds of account event.
TOKENS_REVOKED = "tokens_revoked"
GRANT_CHANGED = "grant_changed"
CLIENT_UPDATED = "client_updated"
CLIENT_DELETED = "client_deleted"
USER_DELETED = "user_deleted"
DEVICE_CLAIMED = "device_claimed"  # subject: the serial a user claimed with its entry key


@dataclass(frozen=True)
class AccountEvent:
    """A change to accounts that a running server must act on, recorded in the transaction
    that made it, numbered in order. It carries what the server needs to act without asking
    the store again: the digests of the tokens it affects and, for a grant, the grant as it
    now is."""

    seq: int
    kind: str
    subject: str  # the id of the token's grant, grant, product or user it is about
    tokens: tuple[str, ...] = ()  # digests of the live tokens affected
    grant: Grant | None = None  # GRANT_CHANGED: the grant as accepted


@dataclass(frozen=True)
class DeviceRecord:
    """A real thermostat that has called Roost (the device protocol): its serial, the digest
    of the entry key it shows while one is out, whose home it joined once claimed, and its
    buckets as the protocol keeps them (JSON: key → revision, timestamp, value)."""

    serial: str
    key_hash: str | None = None
    key_expires: int = 0  # ms since the epoch
    user_id: str | None = None  # None: unclaimed, in nobody's home
    structure_id: str | None = None
    device_id: str | None = None  # the thermostat it is; None until the server created it
    buckets: str = "{}"


@dataclass(frozen=True)
class ChangeEntry:
    """One recorded commit of home objects: its sequence number and what it wrote."""

    seq: int
    objects: tuple[tuple[str, str, int], ...]  # (kind, id, version) of each object written
