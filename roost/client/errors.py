"""What the client raises: a refusal with the server's own error body, a server that cannot be
reached, and a token revoked while a stream was open."""

from __future__ import annotations

from typing import Any


class RoostError(Exception):
    """Anything the client raises on purpose."""


class ApiError(RoostError):
    """The server refused a request. ``envelope`` is its error body as sent: Nest's
    ``{"error", "type", "message", "instance"}`` from the data and simulator APIs, or
    ``{"error", "message"}`` from the developer API."""

    def __init__(self, status: int, envelope: dict[str, Any]) -> None:
        self.status = status
        self.envelope = envelope
        super().__init__(f"{self.message} (HTTP {status})")

    @property
    def message(self) -> str:
        text = self.envelope.get("message") or self.envelope.get("error")
        return str(text) if text is not None else "no message"

    @property
    def error(self) -> str | None:
        value = self.envelope.get("error")
        return None if value is None else str(value)

    @property
    def type(self) -> str | None:
        """Nest's error type URL (``https://developer.nest.com/documentation/cloud/error-messages#…``)."""
        value = self.envelope.get("type")
        return None if value is None else str(value)


class Unreachable(RoostError):
    """No answer from the server: refused connection, timeout, broken stream."""


class TokenRevoked(RoostError):
    """A stream received ``auth_revoked``: the token no longer works, and the stream ended."""
