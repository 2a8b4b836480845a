"""Change fan-out to streams.

Subscribers that would receive the same bytes share a :class:`Group`; on each change a group
renders its location once and offers the bytes to its subscribers. A subscriber keeps only the
newest snapshot it has not sent yet (every ``put`` is a whole snapshot, so skipping states a
slow reader missed loses nothing), which bounds memory per stream whatever the write rate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

KEEPALIVE = b"event: keep-alive\ndata: null\n\n"


@dataclass(eq=False)
class Group:
    key: Hashable
    user_id: str
    body: bytes | None  # the encoded location, None while it does not exist
    subscribers: set[Subscriber] = field(default_factory=set)


class Subscriber:
    """One open stream. ``frame`` turns a group's body into this stream's ``put`` event."""

    __slots__ = ("_frame", "_pending", "_waiter", "closed", "group", "owner", "reason")

    def __init__(self, group: Group, frame: Callable[[bytes | None], bytes],
                 owner: Hashable = None) -> None:
        self.group = group
        self.owner = owner  # who opened it (a token's digest), to close its streams on revoke
        self._frame = frame
        self._pending: bytes | None = frame(group.body)
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.reason: bytes | None = None  # a last event to send before closing

    def offer(self, body: bytes | None) -> None:
        self._pending = self._frame(body)
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

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self, keepalive: float, disconnected: asyncio.Future[None]) -> bytes | None:
        """The next bytes to send: a snapshot, a keep-alive, a last event; None to end."""
        if self._pending is None and not self.closed:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait((self._waiter, disconnected), timeout=keepalive,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._waiter = None
        if disconnected.done():
            return None
        if self.closed:
            last, self.reason = self.reason, None
            return last
        if self._pending is not None:
            pending, self._pending = self._pending, None
            return pending
        return KEEPALIVE


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

    def publish(self, user_ids: frozenset[str]) -> None:
        """Re-render every group of these users; offer what changed."""
        for group in [g for user_id in user_ids for g in self._by_user.get(user_id, ())]:
            body = self._render(group.key)
            if body != group.body:
                group.body = body
                for subscriber in group.subscribers:
                    subscriber.offer(body)

    def close(self, predicate: Callable[[Subscriber], bool] = lambda s: True,
              last_event: bytes | None = None) -> None:
        for subscriber in self.subscribers(predicate):
            subscriber.close(last_event)
