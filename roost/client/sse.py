"""Server-Sent Events as the data API sends them: ``put`` events carrying
``{"path": …, "data": …}``, ``keep-alive`` on idle streams, ``auth_revoked`` when the token
stops working, and ``cancel`` / ``error`` as Nest defined them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

KEEP_ALIVE = "keep-alive"
AUTH_REVOKED = "auth_revoked"


@dataclass(frozen=True)
class Event:
    """One event. For a ``put``, ``path`` is where ``data`` belongs (``/`` for the whole
    location the stream follows); for the others ``path`` is None and ``data`` is the decoded
    ``data:`` line (``null`` for keep-alive and auth_revoked)."""

    event: str
    data: Any
    path: str | None = None

    @property
    def is_put(self) -> bool:
        return self.event == "put"


class Parser:
    """Lines in, events out: an event ends at a blank line; comments (``:``) are skipped."""

    def __init__(self) -> None:
        self._name = ""
        self._data: list[str] = []

    def feed(self, line: str) -> Event | None:
        if line == "":
            if not self._name and not self._data:
                return None
            event = _event(self._name or "message", "\n".join(self._data))
            self._name, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        key, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if key == "event":
            self._name = value
        elif key == "data":
            self._data.append(value)
        return None


def _event(name: str, text: str) -> Event:
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = text  # not JSON: given as sent
    if name == "put" and isinstance(data, dict) and "path" in data:
        return Event(name, data.get("data"), str(data["path"]))
    return Event(name, data)
