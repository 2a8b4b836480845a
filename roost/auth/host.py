"""What the account flows (OAuth codes, browser sessions) use of the service that runs them.

The service checks tokens with ``auth``, so ``auth`` sits beneath it and cannot import it;
the flows name here the little they need, and the running :class:`~roost.service.Service`
is what they are handed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from roost.clock import Clock
from roost.store.base import Store


class AccountHost(Protocol):
    store: Store
    clock: Clock

    @property
    def secret(self) -> str:
        """The server's own secret, that CSRF tokens are derived under."""
        ...

    async def grant_changed(self, grant_id: str) -> None:
        """A grant was accepted or changed: its tokens see the new permissions."""
        ...

    def tokens_revoked(self, digests: Iterable[str]) -> None:
        """The store revoked these tokens: forget them and end their streams."""
        ...
