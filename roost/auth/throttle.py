"""Login throttling: a few failures per account and per address, then a pause."""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime, timedelta

from roost.clock import Clock

WINDOW = timedelta(minutes=15)
PER_ACCOUNT = 5
PER_ADDRESS = 20


class LoginThrottle:
    """Counts failures in memory: a restart forgets them, which costs an attacker a restart
    of the server they cannot cause, and keeps the store free of attempt records."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._failures: dict[str, deque[datetime]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[datetime]:
        failures = self._failures[key]
        cutoff = self.clock() - WINDOW
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures

    def blocked(self, account: str, address: str) -> bool:
        return (len(self._recent("account:" + account.lower())) >= PER_ACCOUNT
                or len(self._recent("address:" + address)) >= PER_ADDRESS)

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        self._recent("account:" + account.lower()).append(now)
        self._recent("address:" + address).append(now)

    def succeeded(self, account: str) -> None:
        self._failures.pop("account:" + account.lower(), None)
