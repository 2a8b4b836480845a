"""Server-Sent Events: one task per open stream, sending whatever its subscriber yields."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import Receive, Scope, Send

from roost.hub import TIMER_SLACK, Hub, Subscriber


class EventStream:
    """An ASGI response that streams a subscriber until it closes or the client leaves.

    A send that does not complete within ``send_timeout`` (a peer that stopped reading) ends
    the stream, so dead connections are reaped; the subscriber itself never queues more than
    one snapshot.
    """

    def __init__(self, hub: Hub, subscriber: Subscriber, keepalive: float,
                 send_timeout: float) -> None:
        self.hub = hub
        self.subscriber = subscriber
        self.keepalive = keepalive
        self.send_timeout = send_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        disconnected = asyncio.ensure_future(_disconnect(receive))
        deadline = SendDeadline(self.send_timeout)
        try:
            await send({
                "type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream; charset=utf-8"),
                            (b"cache-control", b"no-cache"),
                            (b"x-accel-buffering", b"no")],
            })
            while (chunk := await self.subscriber.next(self.keepalive, disconnected)) is not None:
                deadline.start()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                deadline.done()
            if not disconnected.done():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (OSError, TimeoutError):
            pass  # the client went away; nothing is left to tell it
        except asyncio.CancelledError:
            if not deadline.missed():
                raise
        finally:
            deadline.stop()
            disconnected.cancel()
            self.hub.unsubscribe(self.subscriber)


class SendDeadline:
    """Cancels the task that runs it when a send takes longer than ``limit`` seconds.

    Like the subscriber's keep-alive, its timer is armed once and moved on only when it
    fires, rather than a timer (or, with ``wait_for``, a task) for every send: a stream
    sends an event per change, and per-event machinery was most of fan-out's cost.
    """

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self._task = asyncio.current_task()
        self._loop = asyncio.get_running_loop()
        self._since: float | None = None  # when the send in progress began
        self._timer: asyncio.TimerHandle | None = None
        self._missed = False

    def start(self) -> None:
        self._since = self._loop.time()
        if self._timer is None:
            self._timer = self._loop.call_at(self._since + self.limit, self._check)

    def done(self) -> None:
        self._since = None

    def missed(self) -> bool:
        """Whether it cancelled the task; if so the cancellation is taken back."""
        if self._missed and self._task is not None:
            self._task.uncancel()
        return self._missed

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        if self._since is None or self._task is None:
            return  # no send in progress: the next one arms the timer again
        due = self._since + self.limit
        if self._loop.time() >= due - TIMER_SLACK:
            self._missed = True
            self._task.cancel()
        else:
            self._timer = self._loop.call_at(due, self._check)


async def _disconnect(receive: Receive) -> None:
    with contextlib.suppress(Exception):
        while (await receive())["type"] != "http.disconnect":
            pass
