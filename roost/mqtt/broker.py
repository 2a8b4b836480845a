"""Where the broker is: ``mqtt://[user:pass@]host[:port]``, or ``mqtts://`` for TLS."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        """The address as logs show it: never the password."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse(url: str) -> Broker:
    """The broker of a URL; ValueError saying what is wrong with it."""
    parts = urlsplit(url)
    if parts.scheme not in PORTS:
        raise ValueError("the broker's URL starts with mqtt:// or mqtts://")
    try:
        port = parts.port or PORTS[parts.scheme]
    except ValueError:
        raise ValueError("the broker's port is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError("the broker's URL names no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("the broker's URL has only a host, a port and credentials")
    return Broker(parts.hostname, port, parts.scheme == "mqtts",
                  unquote(parts.username) if parts.username else None,
                  unquote(parts.password) if parts.password is not None else None)
