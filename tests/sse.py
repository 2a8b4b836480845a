"""A Server-Sent Events client for tests: one stream read on a thread, its events in a queue."""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

WAIT = 10.0  # the longest any single wait in this module may take


@dataclass(frozen=True)
class Event:
    event: str
    data: str

    @property
    def put(self) -> Any:
        """The ``data`` of a ``put`` event, after checking its envelope."""
        assert self.event == "put", self
        message = json.loads(self.data)
        assert set(message) == {"path", "data"}
        assert message["path"] == "/"
        return message["data"]


class EOF:
    """Placed in a stream's queue when the server ended the response."""


class Stream:
    """One SSE connection, read on a thread; events (and finally ``EOF``) land in a queue."""

    def __init__(self, url: str, token: str | None = None, params: dict[str, str] | None = None,
                 follow_redirects: bool = False) -> None:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self.events: queue.Queue[Event | type[EOF]] = queue.Queue()
        self.status_code: int | None = None
        self.headers: httpx.Headers | None = None
        self.history: list[httpx.Response] = []
        self.error: BaseException | None = None
        self._opened = threading.Event()
        self._stop = threading.Event()
        # The read timeout bounds the thread's life if the server neither writes nor closes.
        self._client = httpx.Client(timeout=httpx.Timeout(WAIT, read=3 * WAIT),
                                    follow_redirects=follow_redirects)
        self._thread = threading.Thread(target=self._run, args=(url, headers, params),
                                        daemon=True)
        self._thread.start()
        assert self._opened.wait(WAIT), "the stream did not open"
        assert self.error is None, self.error

    def _run(self, url: str, headers: dict[str, str], params: dict[str, str] | None) -> None:
        try:
            with self._client.stream("GET", url, headers=headers, params=params) as response:
                self.status_code = response.status_code
                self.headers = response.headers
                self.history = response.history
                self._opened.set()
                if response.status_code != 200:
                    return
                name, data = "", []
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if line == "":
                        if name or data:
                            self.events.put(Event(name or "message", "\n".join(data)))
                        name, data = "", []
                    elif not line.startswith(":"):
                        key, _, value = line.partition(":")
                        value = value.removeprefix(" ")
                        if key == "event":
                            name = value
                        elif key == "data":
                            data.append(value)
        except BaseException as exc:  # reported to the test through .error
            self.error = exc
        finally:
            self._opened.set()
            self.events.put(EOF)
            self._client.close()

    def next(self, timeout: float = WAIT) -> Event | type[EOF]:
        try:
            item = self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s") from None
        if item is EOF:
            self.events.put(EOF)  # stays at the end for later calls
        return item

    def next_put(self, timeout: float = WAIT) -> Any:
        """The data of the next ``put``, skipping keep-alives."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.next(max(0.0, deadline - time.monotonic()))
            assert item is not EOF, f"the stream ended: {self.error!r}"
            assert isinstance(item, Event)
            if item.event != "keep-alive":
                return item.put

    def keep_alives(self, count: int, timeout: float = WAIT) -> list[Event]:
        """Everything received up to and including ``count`` keep-alives."""
        seen: list[Event] = []
        deadline = time.monotonic() + timeout
        while sum(e.event == "keep-alive" for e in seen) < count:
            item = self.next(max(0.0, deadline - time.monotonic()))
            assert item is not EOF, f"the stream ended: {self.error!r}"
            assert isinstance(item, Event)
            seen.append(item)
        return seen

    def drain(self) -> list[Event]:
        """What is queued already, without waiting."""
        seen: list[Event] = []
        while True:
            try:
                item = self.events.get_nowait()
            except queue.Empty:
                return seen
            if item is EOF:
                self.events.put(EOF)
                return seen
            assert isinstance(item, Event)
            seen.append(item)

    def wait_eof(self, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while self.next(max(0.0, deadline - time.monotonic())) is not EOF:
            pass

    def close(self) -> None:
        self._stop.set()
