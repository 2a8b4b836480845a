"""What the account flows (OAuth codes, browser sessions) use of the service that runs them.

The service checks tokens with ``auth``, so ``auth`` sits beneath it and cannot import it;
the flows name here the little they need, and the running :class:`~roost.service.Service`
is what they are handed. What their changes mean for live tokens and streams reaches the
service as the store's account events, not through a call from here."""

from __future__ import annotations

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
