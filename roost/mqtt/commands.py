"""Command messages: which are taken, and how a device's commands are gathered into one write.

Home Assistant sends one temperature change as several messages (the target, then the low,
then the high set point); applied one at a time, a valid move from 20–24 to 25–28 would be
refused at "low 25 above high 24". So a device's commands wait a moment for the rest and go
to the service together, as one write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import NamedTuple

from roost.mqtt.device import Topics

log = logging.getLogger("roost.mqtt")

MAX_PAYLOAD = 256  # bytes; no command value is near it
WINDOW = 0.25  # seconds a device's commands wait for the messages sent with them


class Command(NamedTuple):
    id: str  # a structure's or device's id
    name: str  # mode, target, away, streaming, …
    payload: str


def parse(topics: Topics, topic: str, payload: bytes, retained: bool,
          names: frozenset[str]) -> Command | None:
    """The command a message carries; None, with a log line, for one that is not taken."""
    parts = topic.split("/")
    prefix = topics.own.split("/")
    if (len(parts) != len(prefix) + 3 or parts[:len(prefix)] != prefix
            or parts[-1] != "set"):
        log.info("MQTT: ignored a message on %s, not a command topic", topic)
        return None
    id, name = parts[-3], parts[-2]
    if retained:
        # A broker replays retained messages to every new subscriber: an old command must not
        # be carried out again on each reconnect.
        log.warning("MQTT: ignored a retained command on %s", topic)
        return None
    if name not in names:
        log.warning("MQTT: ignored an unknown command %r on %s", name, topic)
        return None
    if len(payload) > MAX_PAYLOAD:
        log.warning("MQTT: ignored a command of %d bytes on %s", len(payload), topic)
        return None
    try:
        text = payload.decode().strip()
    except UnicodeDecodeError:
        log.warning("MQTT: ignored a command on %s that is not UTF-8 text", topic)
        return None
    return Command(id, name, text)


Apply = Callable[[str, dict[str, str]], Awaitable[None]]


class Buffer:
    """A device's commands, held for :data:`WINDOW` from the first, then applied together;
    a command repeated within it counts once, with its latest value."""

    def __init__(self, apply: Apply, window: float = WINDOW) -> None:
        self._apply = apply
        self._window = window
        self._pending: dict[str, dict[str, str]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._running: set[asyncio.Task[None]] = set()

    def add(self, command: Command) -> None:
        pending = self._pending.get(command.id)
        if pending is None:
            pending = self._pending[command.id] = {}
            self._timers[command.id] = asyncio.get_running_loop().call_later(
                self._window, self._due, command.id)
        pending.pop(command.name, None)
        pending[command.name] = command.payload

    def _due(self, id: str) -> None:
        self._timers.pop(id, None)
        commands = self._pending.pop(id)
        task = asyncio.create_task(self._apply(id, commands))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def close(self) -> None:
        """Drop what has not been applied; wait for what is being applied."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._pending.clear()
        for task in list(self._running):
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
