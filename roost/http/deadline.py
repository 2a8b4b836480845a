"""A deadline for a request's headers, which uvicorn does not have.

uvicorn closes a connection idle between requests (``timeout_keep_alive``) and bounds the
size of incomplete headers, but a client that opens a connection and sends its headers a
byte at a time holds the connection, and a slot of the server, for as long as it likes. Here
a connection whose next request's headers are not complete ``seconds`` after it opened, or
after its last response, is closed. A request whose headers arrived is never cut by it,
however long its body or its stream lasts.

Nothing is done per request: one timer per server looks at each of its connections a few
times per deadline (every ``seconds / CHECKS``), noting since when one has waited after the
same request. A hook on every request cost the data API's busiest requests about 1.5 µs
each (docs/benchmarks.md); the price is a cut up to a quarter of the deadline late.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

HEADER_TIMEOUT = 10.0  # seconds
CHECKS = 4  # looks at each connection per deadline


def with_header_deadline(base: type[Any], seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol ``base`` (h11 or httptools) closing a connection whose request
    headers are not complete within ``seconds``."""
    watched: weakref.WeakSet[Any] = weakref.WeakSet()  # the servers a timer looks after

    def look(loop: asyncio.AbstractEventLoop, server_state: Any) -> None:
        now = loop.time()
        for connection in list(server_state.connections):
            if isinstance(connection, HeaderDeadline):
                connection.look(now)
        if server_state.connections:
            loop.call_later(seconds / CHECKS, look, loop, server_state)
        else:  # the next connection starts it again
            watched.discard(server_state)

    class HeaderDeadline(base):  # type: ignore[misc, valid-type]
        # The request the connection was waiting after when first seen waiting (None before
        # its first), and when that was, in loop time.
        _after: object = None
        _since: float = 0.0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._since = self.loop.time()
            if self.server_state not in watched:
                watched.add(self.server_state)
                self.loop.call_later(seconds / CHECKS, look, self.loop, self.server_state)

        def look(self, now: float) -> None:
            cycle = self.cycle  # uvicorn's current request: a new one once its headers are in
            if cycle is not None and not cycle.response_complete:
                return  # a request is under way
            if cycle is not self._after:  # waiting for the next request since about now
                self._after, self._since = cycle, now
            elif now - self._since >= seconds and not self.transport.is_closing():
                self.transport.close()

    HeaderDeadline.__name__ = f"HeaderDeadline{base.__name__}"
    return HeaderDeadline
