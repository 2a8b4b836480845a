"""The event stream as an ASGI response, against a peer that stops reading: a send that does
not complete in time ends the stream and leaves the hub; any other cancellation goes on."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message

from roost.api.streaming import EventStream
from roost.hub import Hub


class Peer:
    """An ASGI client whose socket fills after ``reads`` bodies: later sends never finish."""

    def __init__(self, reads: int) -> None:
        self.reads = reads
        self.bodies: list[bytes] = []
        self.left = asyncio.Event()

    async def receive(self) -> Message:
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body":
            if len(self.bodies) >= self.reads:
                await asyncio.Event().wait()  # the peer stopped reading
            self.bodies.append(message["body"])


def stream(hub: Hub, send_timeout: float) -> EventStream:
    return EventStream(hub, hub.subscribe("k", "alice", lambda b: b"put:" + (b or b"null")),
                       keepalive=30, send_timeout=send_timeout)


def test_a_send_that_never_completes_ends_the_stream_and_leaves_the_hub() -> None:
    async def test() -> None:
        bodies = {"k": b"v1"}
        hub = Hub(bodies.get)
        peer = Peer(reads=1)
        running = asyncio.create_task(stream(hub, send_timeout=0.2)(
            {"type": "http"}, peer.receive, peer.send))
        await asyncio.sleep(0.05)
        bodies["k"] = b"v2"
        hub.publish(frozenset({"alice"}))  # a change: this send never completes
        await asyncio.wait_for(running, 5)  # ends on its own, without raising
        assert peer.bodies == [b"put:v1"]
        assert hub.subscribers(lambda s: True) == []

    asyncio.run(test())


def test_a_stream_that_keeps_up_is_not_ended_and_other_cancellations_go_on() -> None:
    async def test() -> None:
        bodies = {"k": b"v1"}
        hub = Hub(bodies.get)
        peer = Peer(reads=1000)
        running = asyncio.create_task(stream(hub, send_timeout=0.1)(
            {"type": "http"}, peer.receive, peer.send))
        for n in range(5):  # events spread over more than one send timeout
            await asyncio.sleep(0.05)
            bodies["k"] = b"v%d" % (n + 2)
            hub.publish(frozenset({"alice"}))
        await asyncio.sleep(0.05)
        assert not running.done() and len(peer.bodies) == 6
        running.cancel()  # a server shutting down
        with pytest.raises(asyncio.CancelledError):
            await running
        assert hub.subscribers(lambda s: True) == []

    asyncio.run(test())
