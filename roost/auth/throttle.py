"""Sign-in throttling that a stranger cannot turn against the owner (docs/security.md).

Failures are counted per source (the client's address) and per account:

- one source that fails 5 times for one account is refused for that account (429) until the
  window passes, and one that fails 20 times in all is refused for every account: a guesser
  at one address is stopped;
- the account itself is never refused. Once it has 5 recent failures from anywhere, every
  sign-in to it, the right password included, waits a little longer (half a second more per
  failure, up to 5 s): guessers spread over many addresses are slowed, and the owner, at an
  address that has not failed, still gets in.
"""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime, timedelta

from roost.clock import Clock

WINDOW = timedelta(minutes=15)
PER_SOURCE_ACCOUNT = 5  # failures of one source for one account before it is refused
PER_SOURCE = 20  # failures of one source over all accounts before it is refused
PER_ACCOUNT = 5  # failures for one account, from anywhere, before its sign-ins slow down
STEP = 0.5  # seconds more per failure beyond PER_ACCOUNT
MAX_DELAY = 5.0


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

    @staticmethod
    def _keys(account: str, address: str) -> tuple[str, str, str]:
        account = account.lower()
        return f"account:{account}", f"source:{address}", f"pair:{address} {account}"

    def blocked(self, account: str, address: str) -> bool:
        """This source may not try this account now."""
        _, source, pair = self._keys(account, address)
        return (len(self._recent(pair)) >= PER_SOURCE_ACCOUNT
                or len(self._recent(source)) >= PER_SOURCE)

    def delay(self, account: str) -> float:
        """Seconds every sign-in to this account waits now, whoever tries it."""
        beyond = len(self._recent(self._keys(account, "")[0])) - PER_ACCOUNT
        return 0.0 if beyond < 0 else min(STEP * (beyond + 1), MAX_DELAY)

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        for key in self._keys(account, address):
            self._recent(key).append(now)

    def succeeded(self, account: str, address: str) -> None:
        whole, _, pair = self._keys(account, address)
        self._failures.pop(whole, None)
        self._failures.pop(pair, None)
