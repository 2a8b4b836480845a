"""What the rest of Roost needs from a store, whatever database is behind it.

Home objects are versioned: ``commit`` writes objects only one version ahead of the stored
ones and of the same owner, records one change per call, and hands it to ``on_commit`` on the
event loop, in commit order, before the caller is answered. Changes committed in one
transaction are handed over together, so what follows every commit (caches dropped, streams
rendered) is done once for all of them.

Accounts (users, products, grants, tokens, codes, web sessions) are methods. The ones a
running server calls are async, so a network database never blocks the event loop; outside a
started server (the command line) they run in their own transactions. Changes to accounts a
running server must act on (a token revoked, a product deleted or edited, a grant accepted, a
user deleted) are *account events*, recorded in the same transaction as the change and
numbered in order: the store hands each of its own to ``on_account`` before its caller is
answered, and a server learns of another process's by ``account_events(after=…)`` whenever
``data_changed`` says there may be some.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from roost.errors import StorageUnavailable
from roost.model.home import Change, Obj
from roost.store.records import (
    AccountEvent,
    ChangeEntry,
    Client,
    Code,
    DeviceRecord,
    Grant,
    LiveToken,
    TokenInfo,
    User,
    WebSession,
)

OnCommit = Callable[[list[Change]], None]  # one or more changes, in commit order
OnAccount = Callable[[AccountEvent], None]


class StoreError(Exception):
    """The base of what a store raises on purpose."""


class Duplicate(StoreError):
    """A user with that email already exists."""


class Conflict(StoreError):
    """A commit's object is not one version ahead of the stored one, or of another owner."""


class Unavailable(StoreError, StorageUnavailable):
    """The database cannot be reached now (a network database lost while serving): nothing
    was done, or, for a write cut off during its commit, the store settles the outcome once
    the database is back. Every API answers it 503."""


class StoreInUse(StoreError):
    """Another server process serves this store, and it cannot be shared."""


class Fenced(StoreError):
    """A commit's slots are no longer this process's (docs/scale-out.md): nothing of it was
    written."""

    def __init__(self, slots: Iterable[int]) -> None:
        self.slots = frozenset(slots)
        super().__init__(f"slots {sorted(self.slots)} are no longer served here")


@dataclass(frozen=True)
class LeaseTiming:
    """Seconds: a slot's lease on the database's clock, how often it is renewed, and how long
    without a renewal this process fences itself (well before the lease ends elsewhere)."""

    lease: float = 10.0
    renew: float = 2.0
    fence: float = 6.0


# The homes of newly owned slots: the slots, every object of their users, and the number of
# the newest change when they were read.
Take = Callable[[frozenset[int], list[Obj], int], None]
Lose = Callable[[frozenset[int]], None]


class Ownership(abc.ABC):
    """Which slots of a shared database this process serves (roost/store/slots.py). Only
    their homes are in memory here; every commit re-checks, in its own transaction, that
    their slots are still this process's."""

    # The slots whose homes are in memory here, each with the epoch it was taken at.
    held: dict[int, int]

    @abc.abstractmethod
    async def start(self, take: Take, lose: Lose) -> None:
        """Join: take this process's share of slots (loaded and handed to ``take`` before
        it returns), then keep the leases and the share on the running loop."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Hand every slot back, so the others take them over at once."""

    @abc.abstractmethod
    def lose(self, slots: Iterable[int]) -> None:
        """Stop serving these slots here (a commit found them taken over)."""

    @abc.abstractmethod
    async def owner_url(self, slot: int) -> str | None:
        """Where clients reach the live owner of a slot served elsewhere; None when no live
        owner is known (or the database does not answer soon)."""


class Store(abc.ABC):
    # -- lifecycle ---------------------------------------------------------------------------

    @abc.abstractmethod
    def open(self) -> None:
        """Create or migrate the schema; account methods work from here on."""

    def claim(self) -> None:  # noqa: B027 - stores that may be shared need nothing here
        """Take the store for this serving process for as long as it is open; StoreInUse if
        another process serves it and the store cannot be shared."""

    def join(self, url: str, timing: LeaseTiming) -> Ownership | None:
        """Share the store with other serving processes, this one reached at ``url``; None
        for a store one process serves whole (claim refuses a second one)."""
        return None

    @abc.abstractmethod
    async def start(self, on_commit: OnCommit, on_account: OnAccount = lambda e: None) -> None:
        """Start committing on the running event loop."""

    @abc.abstractmethod
    async def stop(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    # -- home objects ------------------------------------------------------------------------

    @abc.abstractmethod
    def commit(self, objects: Iterable[Obj]) -> Awaitable[Change]:
        """Write objects atomically (deleted ones removed) as one change; Conflict if one is
        not one version ahead of the stored object or is of another owner."""

    @abc.abstractmethod
    def load(self) -> tuple[list[Obj], int]:
        """Every home object and the sequence number of the last change."""

    @abc.abstractmethod
    async def changes_since(self, seq: int) -> list[ChangeEntry]:
        """The changes after ``seq`` still kept, oldest first."""

    # -- accounts ----------------------------------------------------------------------------

    @abc.abstractmethod
    async def secret(self) -> str:
        """The server's own secret (keys per-product user ids and CSRF tokens)."""

    @abc.abstractmethod
    async def ensure_client(self, client_id: str, name: str, permissions: Iterable[str],
                            description: str = "") -> None:
        """Create a product, or give an existing one these permissions (version unchanged)."""

    @abc.abstractmethod
    async def create_user(self, email: str, password_hash: str) -> User:
        """A new user; Duplicate if the email (any case) is taken."""

    @abc.abstractmethod
    async def user_by_email(self, email: str) -> User | None: ...

    @abc.abstractmethod
    async def user_by_id(self, user_id: str) -> User | None: ...

    @abc.abstractmethod
    async def users(self) -> list[User]: ...

    @abc.abstractmethod
    async def set_password_hash(self, user_id: str, password_hash: str) -> None: ...

    @abc.abstractmethod
    async def delete_user(self, user_id: str) -> bool:
        """Delete a user with their homes, products, grants and tokens (USER_DELETED);
        False if there is none."""

    @abc.abstractmethod
    async def create_client(self, name: str, description: str, secret_hash: str,
                            redirect_uri: str | None, permissions: Iterable[str],
                            owner_id: str | None = None) -> Client: ...

    @abc.abstractmethod
    async def client(self, client_id: str) -> Client | None: ...

    @abc.abstractmethod
    async def clients(self) -> list[Client]: ...

    @abc.abstractmethod
    async def update_client(self, client_id: str, *, name: str | None = None,
                            description: str | None = None, redirect_uri: str | None = None,
                            clear_redirect_uri: bool = False,
                            permissions: Iterable[str] | None = None,
                            owner_id: str | None = None) -> Client | None:
        """Edit a product (CLIENT_UPDATED); new permissions add one to its version, and users
        keep what they accepted. None if there is no such product, or, given ``owner_id``,
        none of that owner's."""

    @abc.abstractmethod
    async def delete_client(self, client_id: str) -> list[str] | None:
        """Delete a product with its grants, codes and tokens (CLIENT_DELETED): the digests
        of its live tokens; None if there is no such product."""

    @abc.abstractmethod
    async def accept(self, user_id: str, product: Client,
                     structures: Iterable[str] | None = None) -> Grant:
        """The user accepts the product as it is now, for the chosen structures (all when
        None): GRANT_CHANGED."""

    @abc.abstractmethod
    async def grant(self, user_id: str, client_id: str) -> Grant | None: ...

    @abc.abstractmethod
    async def grants_of(self, user_id: str) -> list[Grant]:
        """The user's grants: the products connected to their homes."""

    @abc.abstractmethod
    async def users_of(self, client_id: str) -> int:
        """How many users have a grant for the product."""

    @abc.abstractmethod
    async def disconnect(self, user_id: str, client_id: str) -> list[str] | None:
        """Revoke every live token of the user's grant for the product and forget the grant
        (TOKENS_REVOKED): the digests revoked; None if there is no such grant."""

    @abc.abstractmethod
    async def add_token(self, token_hash: str, user_id: str, client_id: str,
                        code_hash: str | None = None, expires: str | None = None) -> None:
        """A token under the user's grant for the product (accepting it first if there is
        none); ``expires`` (ISO 8601) ends it, None never does."""

    @abc.abstractmethod
    async def live_token(self, token_hash: str) -> LiveToken | None:
        """An unrevoked token's grant and end; None for an unknown or revoked one."""

    @abc.abstractmethod
    async def tokens_of(self, user_id: str, client_id: str) -> list[TokenInfo]:
        """The user's live tokens for one product, oldest first."""

    @abc.abstractmethod
    async def revoke_token(self, token_hash: str) -> bool:
        """Revoke a live token (TOKENS_REVOKED); False if there is none with that digest."""

    @abc.abstractmethod
    async def add_code(self, code_hash: str, grant_id: str, redirect_uri: str | None,
                       expires: str) -> None: ...

    @abc.abstractmethod
    async def code(self, code_hash: str) -> Code | None: ...

    @abc.abstractmethod
    async def redeem_code(self, code_hash: str, at: str, token_hash: str) -> bool:
        """Mark a code used and add the token it issues, at once; False if it was used
        before (and then nothing is added)."""

    @abc.abstractmethod
    async def revoke_code_tokens(self, code_hash: str) -> list[str]:
        """Revoke every live token a code issued (TOKENS_REVOKED); their digests."""

    @abc.abstractmethod
    async def add_session(self, session_hash: str, user_id: str, csrf_hash: str,
                          expires: str) -> None: ...

    @abc.abstractmethod
    async def session(self, session_hash: str) -> WebSession | None: ...

    # -- real thermostats (the device protocol) ---------------------------------------------

    @abc.abstractmethod
    async def device(self, serial: str) -> DeviceRecord | None: ...

    @abc.abstractmethod
    async def devices(self) -> list[DeviceRecord]:
        """Every device that has called, claimed or not, by serial."""

    @abc.abstractmethod
    async def save_device_buckets(self, serial: str, buckets: str) -> None:
        """Store a device's buckets (kept from its first call, claimed or not)."""

    @abc.abstractmethod
    async def set_entry_key(self, serial: str, key_hash: str, expires: int) -> None:
        """The digest of the entry key a device now shows, and when it ends (ms)."""

    @abc.abstractmethod
    async def claim_device(self, key_hash: str, now_ms: int, user_id: str,
                           structure_id: str | None) -> DeviceRecord | None:
        """Give the device showing an unexpired key to a user (recording a DEVICE_CLAIMED
        event); None if no device shows it, Conflict if that device is claimed already."""

    @abc.abstractmethod
    async def attach_device(self, serial: str, structure_id: str, device_id: str) -> None:
        """Record the thermostat a claimed device became."""

    @abc.abstractmethod
    async def end_session(self, session_hash: str) -> None:
        """Forget a web session (signing out)."""

    # -- account events ----------------------------------------------------------------------

    @abc.abstractmethod
    async def account_events(self, after: int) -> list[AccountEvent]:
        """The account events after sequence number ``after`` still kept, oldest first."""

    @abc.abstractmethod
    async def last_account_event(self) -> int:
        """The sequence number of the newest account event; 0 if there is none."""

    @abc.abstractmethod
    async def data_changed(self) -> bool:
        """Cheap: True if anything may have been written since the last call, by this
        process or another (then look for account events)."""
