"""Change fan-out to streams.

Subscribers that would receive the same bytes share a :class:`Group`; on each change a group
renders its location once and offers the bytes to its subscribers. A subscriber keeps only the
newest snapshot it has not sent yet (every ``put`` is a whole snapshot, so skipping states a
slow reader missed loses nothing), which bounds memory per stream whatever the write rate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field

KEEPALIVE = b"event: keep-alive\ndata: null\n\n"
TIMER_SLACK = 0.001  # seconds a loop may run a timer before its time


@dataclass(eq=False)
class Group:
    key: Hashable
    user_id: str
    body: bytes | None  # the encoded location, None while it does not exist
    subscribers: set[Subscriber] = field(default_factory=set)


class Subscriber:
    """One open stream. ``frame`` turns a group's body into this stream's ``put`` event.

    Waiting for the next event costs one future per event and no timer: the keep-alive
    timer is armed once and, when it fires early because events were sent meanwhile,
    re-armed for the new deadline, so it fires about once per keep-alive interval however
    often events come (a timer and a task per event were most of fan-out's cost).
    """

    __slots__ = ("_due", "_frame", "_loop", "_pending", "_timer", "_waiter", "_watched",
                 "closed", "group", "owner", "reason")

    def __init__(self, group: Group, frame: Callable[[bytes | None], bytes],
                 owner: Hashable = None) -> None:
        self.group = group
        self.owner = owner  # who opened it (a token's digest), to close its streams on revoke
        self._frame = frame
        self._pending: bytes | None = frame(group.body)
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.reason: bytes | None = None  # a last event to send before closing
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0  # when a keep-alive is due, on the loop's clock
        self._watched: asyncio.Future[None] | None = None  # the disconnect being watched

    def offer(self, body: bytes | None, framed: dict[object, bytes] | None = None) -> None:
        """The group's new body; ``framed`` shares the framed bytes among the subscribers
        of one change that frame alike."""
        if framed is None:
            self._pending = self._frame(body)
        elif (pending := framed.get(self._frame)) is not None:
            self._pending = pending
        else:
            self._pending = framed[self._frame] = self._frame(body)
        self._wake()

    def rejoin(self, group: Group, frame: Callable[[bytes | None], bytes]) -> None:
        """Belong to ``group`` from now on, framed by ``frame``; its body is sent next, so a
        stream shows at once what changed about it (its token's grant), not at the next
        change of the home."""
        self.group = group
        self._frame = frame
        self.offer(group.body)

    def close(self, last_event: bytes | None = None) -> None:
        self.closed = True
        self.reason = last_event
        self._wake()

    def _wake(self, *_: object) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self, keepalive: float, disconnected: asyncio.Future[None]) -> bytes | None:
        """The next bytes to send: a snapshot, a keep-alive once nothing was sent for
        ``keepalive`` seconds, a last event; None to end (also once ``disconnected`` is
        done)."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        if disconnected is not self._watched:
            self._watched = disconnected
            disconnected.add_done_callback(self._wake)
        due = loop.time() + keepalive
        while self._pending is None and not self.closed and not disconnected.done():
            if loop.time() >= due - TIMER_SLACK:
                return KEEPALIVE
            self._due = due
            if self._timer is None:
                self._timer = loop.call_at(due, self._keepalive_due)
            self._waiter = loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if disconnected.done():
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return None
        if self.closed:
            last, self.reason = self.reason, None
            return last
        pending, self._pending = self._pending, None
        return pending

    def _keepalive_due(self) -> None:
        self._timer = None
        if self._waiter is None or self._loop is None:
            return  # not waiting: the next wait arms the timer again
        if self._loop.time() >= self._due - TIMER_SLACK:
            self._wake()
        else:  # events were sent since it was armed: the deadline moved
            self._timer = self._loop.call_at(self._due, self._keepalive_due)


class Hub:
    def __init__(self, render: Callable[[Hashable], bytes | None]) -> None:
        self._render = render
        self._groups: dict[Hashable, Group] = {}
        # The groups of each user: a change visits only its users' groups, not every open
        # stream's (one simulator commit touches thousands of users, a PUT one).
        self._by_user: dict[str, set[Group]] = {}

    def subscribe(self, key: Hashable, user_id: str,
                  frame: Callable[[bytes | None], bytes], owner: Hashable = None) -> Subscriber:
        group = self._group(key, user_id)
        subscriber = Subscriber(group, frame, owner)
        group.subscribers.add(subscriber)
        return subscriber

    def _group(self, key: Hashable, user_id: str) -> Group:
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = Group(key, user_id, self._render(key))
            self._by_user.setdefault(user_id, set()).add(group)
        return group

    def subscribers(self, predicate: Callable[[Subscriber], bool]) -> list[Subscriber]:
        """The open streams ``predicate`` picks."""
        return [s for group in self._groups.values() for s in group.subscribers
                if not s.closed and predicate(s)]

    def move(self, subscriber: Subscriber, key: Hashable, user_id: str,
             frame: Callable[[bytes | None], bytes]) -> None:
        """Move an open stream to the group for ``key`` (what it may see has changed); its
        next event is that group's current body, framed by ``frame``."""
        if subscriber.closed:
            return
        self.unsubscribe(subscriber)
        group = self._group(key, user_id)
        group.subscribers.add(subscriber)
        subscriber.rejoin(group, frame)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        group = subscriber.group
        group.subscribers.discard(subscriber)
        if not group.subscribers and self._groups.get(group.key) is group:
            del self._groups[group.key]
            groups = self._by_user.get(group.user_id, set())
            groups.discard(group)
            if not groups:
                self._by_user.pop(group.user_id, None)

    def publish(self, user_ids: Iterable[str]) -> None:
        """Re-render every group of these users; offer what changed."""
        for group in [g for user_id in user_ids for g in self._by_user.get(user_id, ())]:
            body = self._render(group.key)
            if body != group.body:
                group.body = body
                framed: dict[object, bytes] = {}
                for subscriber in group.subscribers:
                    subscriber.offer(body, framed)

    def close(self, predicate: Callable[[Subscriber], bool] = lambda s: True,
              last_event: bytes | None = None) -> None:
        for subscriber in self.subscribers(predicate):
            subscriber.close(last_event)
