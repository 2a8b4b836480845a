"""The change fan-out called directly: groups render once per change, a subscriber holds only
the newest snapshot, streams close with a last event, and move between groups."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable

from roost.hub import KEEPALIVE, Hub, Subscriber

Frame = Callable[[bytes | None], bytes]


class Homes:
    """What the hub renders: a body per key, and a count of renders, as the service's
    projection would give them."""

    def __init__(self) -> None:
        self.bodies: dict[Hashable, bytes | None] = {}
        self.renders: list[Hashable] = []

    def render(self, key: Hashable) -> bytes | None:
        self.renders.append(key)
        return self.bodies.get(key)


def put(body: bytes | None) -> bytes:
    return b"put:" + (body or b"null")


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


async def next_of(subscriber: Subscriber, keepalive: float = 1.0) -> bytes | None:
    return await subscriber.next(keepalive, asyncio.get_running_loop().create_future())


def test_subscribers_of_one_location_share_a_group_rendered_once_per_change() -> None:
    async def test() -> None:
        homes = Homes()
        homes.bodies["alice/"] = b"v1"
        hub = Hub(homes.render)
        first = hub.subscribe("alice/", "alice", put)
        second = hub.subscribe("alice/", "alice", lambda b: b"other:" + (b or b""))
        assert first.group is second.group and homes.renders == ["alice/"]
        assert await next_of(first) == b"put:v1"
        assert await next_of(second) == b"other:v1"

        homes.bodies["alice/"] = b"v2"
        hub.publish(frozenset({"alice"}))
        assert homes.renders == ["alice/", "alice/"]
        assert (await next_of(first), await next_of(second)) == (b"put:v2", b"other:v2")

    run(test)


def test_a_change_renders_only_the_groups_of_its_users_and_only_changes_are_offered() -> None:
    async def test() -> None:
        homes = Homes()
        homes.bodies.update({"alice/": b"a1", "bob/": b"b1"})
        hub = Hub(homes.render)
        alice, bob = hub.subscribe("alice/", "alice", put), hub.subscribe("bob/", "bob", put)
        await next_of(alice), await next_of(bob)
        homes.renders.clear()

        hub.publish(frozenset({"alice"}))  # re-rendered, but the same bytes
        assert homes.renders == ["alice/"]
        assert await next_of(alice, keepalive=0.01) == KEEPALIVE

        homes.bodies["bob/"] = b"b2"
        hub.publish(frozenset({"bob"}))
        assert homes.renders == ["alice/", "bob/"]
        assert await next_of(bob) == b"put:b2"

    run(test)


def test_a_slow_subscriber_skips_to_the_newest_state() -> None:
    async def test() -> None:
        homes = Homes()
        hub = Hub(homes.render)
        slow = hub.subscribe("alice/", "alice", put)
        assert await next_of(slow) == b"put:null"  # the location does not exist yet
        for version in range(1, 101):
            homes.bodies["alice/"] = b"v%d" % version
            hub.publish(frozenset({"alice"}))
        assert await next_of(slow) == b"put:v100"
        assert await next_of(slow, keepalive=0.01) == KEEPALIVE

    run(test)


def test_a_waiting_subscriber_wakes_on_a_change() -> None:
    async def test() -> None:
        homes = Homes()
        hub = Hub(homes.render)
        waiting = hub.subscribe("alice/", "alice", put)
        await next_of(waiting)
        reader = asyncio.create_task(next_of(waiting, keepalive=30))
        await asyncio.sleep(0)
        homes.bodies["alice/"] = b"v1"
        hub.publish(frozenset({"alice"}))
        assert await asyncio.wait_for(reader, 1) == b"put:v1"

    run(test)


def test_close_sends_a_last_event_then_ends_the_stream() -> None:
    async def test() -> None:
        homes = Homes()
        hub = Hub(homes.render)
        revoked = hub.subscribe("alice/", "alice", put, owner="token-1")
        kept = hub.subscribe("alice/", "alice", put, owner="token-2")
        await next_of(revoked), await next_of(kept)
        reader = asyncio.create_task(next_of(revoked, keepalive=30))
        await asyncio.sleep(0)

        hub.close(lambda s: s.owner == "token-1", b"event: auth_revoked\n\n")
        assert await asyncio.wait_for(reader, 1) == b"event: auth_revoked\n\n"
        assert await next_of(revoked) is None
        assert hub.subscribers(lambda s: True) == [kept]
        hub.close()
        assert await next_of(kept) is None

    run(test)


def test_a_disconnected_client_ends_its_stream() -> None:
    async def test() -> None:
        hub = Hub(Homes().render)
        subscriber = hub.subscribe("alice/", "alice", put)
        gone = asyncio.get_running_loop().create_future()
        gone.set_result(None)
        assert await subscriber.next(30, gone) is None

    run(test)


def test_a_stream_moves_to_the_group_of_what_it_may_see_now() -> None:
    async def test() -> None:
        homes = Homes()
        homes.bodies.update({("alice/", "thermostat"): b"narrow", ("alice/", "all"): b"wide"})
        hub = Hub(homes.render)
        moving = hub.subscribe(("alice/", "thermostat"), "alice", put)
        staying = hub.subscribe(("alice/", "thermostat"), "alice", put)
        await next_of(moving), await next_of(staying)

        hub.move(moving, ("alice/", "all"), "alice", lambda b: b"regranted:" + (b or b""))
        assert moving.group.key == ("alice/", "all") and staying.group is not moving.group
        assert await next_of(moving) == b"regranted:wide"  # at once, not at the next change

        homes.bodies[("alice/", "thermostat")] = b"narrow2"
        homes.bodies[("alice/", "all")] = b"wide2"
        hub.publish(frozenset({"alice"}))
        assert (await next_of(moving), await next_of(staying)) == \
            (b"regranted:wide2", b"put:narrow2")

    run(test)


def test_an_empty_group_is_dropped_and_no_longer_rendered() -> None:
    async def test() -> None:
        homes = Homes()
        hub = Hub(homes.render)
        only = hub.subscribe("alice/", "alice", put)
        hub.unsubscribe(only)
        homes.renders.clear()
        hub.publish(frozenset({"alice"}))
        assert homes.renders == []
        again = hub.subscribe("alice/", "alice", put)  # a new group, rendered afresh
        assert again.group is not only.group and homes.renders == ["alice/"]

    run(test)


def test_a_closed_stream_is_not_moved() -> None:
    async def test() -> None:
        homes = Homes()
        hub = Hub(homes.render)
        closed = hub.subscribe("alice/", "alice", put)
        closed.close()
        hub.move(closed, "alice/other", "alice", put)
        assert closed.group.key == "alice/" and "alice/other" not in homes.renders

    run(test)


def test_a_keep_alive_comes_a_whole_interval_after_the_last_event_not_before() -> None:
    async def test() -> None:
        loop = asyncio.get_running_loop()
        hub = Hub(Homes().render)
        subscriber = hub.subscribe("alice/", "alice", put)
        connected = loop.create_future()
        assert await subscriber.next(0.3, connected) == b"put:null"
        loop.call_later(0.1, hub.publish, frozenset({"alice"}))  # renders the same: no event
        loop.call_later(0.15, subscriber.offer, b"v2")
        assert await subscriber.next(0.3, connected) == b"put:v2"
        # The timer armed before that event is still pending; it must not end this wait early.
        began = loop.time()
        assert await subscriber.next(0.3, connected) == KEEPALIVE
        assert loop.time() - began >= 0.3 - 0.01
        connected.set_result(None)
        assert await subscriber.next(0.3, connected) is None

    run(test)
