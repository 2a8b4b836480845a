"""Fixtures of an integration built on python-nest 4.2.0: a Roost home from the ``roost``
pytest plugin, and python-nest pointed at it with a product's token, as the integration would
be after its user linked it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import nest
import nest.nest
import pytest

WAIT = 10.0  # seconds a change may take to reach python-nest's stream


@dataclass
class Linked:
    home: Any  # roost.testing.home.RoostHome
    napi: nest.Nest
    token: str  # the product's token python-nest uses

    def wait_for(self, read: Callable[[], Any], expected: Any) -> None:
        """Until ``read()`` (through python-nest) equals ``expected``: python-nest updates
        its cache only from its stream."""
        deadline = time.monotonic() + WAIT
        while (value := read()) != expected:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"still {value!r}, expected {expected!r}"
            self.napi.update_event.wait(min(remaining, 0.5))
            self.napi.update_event.clear()

    def unlink(self) -> list[BaseException]:
        """Revoke the product's token, as the user unlinking the integration does; what
        python-nest's stream thread raised on it (its stream ends with auth_revoked)."""
        raised: list[BaseException] = []
        previous = threading.excepthook
        threading.excepthook = lambda args: raised.append(args.exc_value)  # type: ignore[assignment, return-value]
        try:
            self.home.client.revoke(self.token)
            thread = self.napi._event_thread
            if thread is not None:
                thread.join(WAIT)
                assert not thread.is_alive()
        finally:
            threading.excepthook = previous
        return raised


@pytest.fixture
def linked(roost_home: Callable[..., Any],
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Linked]:
    home = roost_home(thermostats=1, protects=1, cameras=0, scale="F")
    monkeypatch.setattr(nest.nest, "API_URL", home.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    token = home.product_token(["Thermostat read/write", "Smoke+CO read", "Away read/write"])
    napi = nest.Nest(client_id="integration", client_secret="secret", access_token=token)
    link = Linked(home, napi, token)
    yield link
    if napi._event_thread is not None and napi._event_thread.is_alive():
        link.unlink()
    napi._session.close()
