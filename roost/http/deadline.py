"""A deadline for a request's headers, which uvicorn does not have.

uvicorn closes a connection idle between requests (``timeout_keep_alive``) and bounds the
size of incomplete headers, but a client that opens a connection and sends its headers a
byte at a time holds the connection, and a slot of the server, for as long as it likes. Each
connection here gets a timer when it opens and again after each response: if the next
request's headers are not complete when it fires, the connection is closed. A request whose
headers arrived is never cut by it, however long its body or its stream lasts.
"""

from __future__ import annotations

import asyncio
from typing import Any

HEADER_TIMEOUT = 10.0  # seconds


def with_header_deadline(base: type[Any], seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol ``base`` (h11 or httptools) closing a connection whose request
    headers are not complete within ``seconds``."""

    class HeaderDeadline(base):  # type: ignore[misc, valid-type]
        # When the awaited headers are due (loop time), None while a request is under way.
        # One timer per connection, moved on only when it fires early: arming and cancelling
        # a timer for every request would cost each request a heap push and a cancelled
        # handle left behind, on the busiest path of the server.
        _header_due: float | None = None
        _header_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._header_due = self.loop.time() + seconds
            if self._header_timer is None:
                self._header_timer = self.loop.call_at(self._header_due,
                                                       self._headers_too_slow)

        def _disarm(self) -> None:
            self._header_due = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            due = self._header_due
            if due is None:
                return  # the headers came: the next response arms it again
            if due - self.loop.time() > 0.01:  # armed again since this timer was set
                self._header_timer = self.loop.call_at(due, self._headers_too_slow)
            elif self.cycle is None or self.cycle.response_complete:  # still waiting for them
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            super().connection_lost(exc)

        def on_headers_complete(self) -> None:  # httptools
            self._disarm()
            super().on_headers_complete()

        def handle_events(self) -> None:  # h11: a new cycle begins with complete headers
            super().handle_events()
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request's headers have the same deadline

    HeaderDeadline.__name__ = f"HeaderDeadline{base.__name__}"
    return HeaderDeadline
