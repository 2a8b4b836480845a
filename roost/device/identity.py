"""Which device is calling (spec §3). A device names its serial on every request, in the Basic
user name (``SERIAL`` or ``<prefix>.SERIAL[.…]``), in ``X-nl-client-id: d.<SERIAL>.<random>``
or in ``X-nl-device-id``. Nothing in the protocol proves it: whoever knows a serial may speak
as that device (docs/devices.md says what that allows). The Basic password, the device's own
secret, is never read, kept or logged.
"""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request

from roost.device.errors import malformed

SHORTEST, LONGEST = 10, 32


def _cleaned(raw: str) -> str:
    return "".join(c for c in raw.upper() if c.isascii() and c.isalnum())


def _from_basic(header: str) -> str | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user = base64.b64decode(encoded.strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    user = user.partition(":")[0]
    parts = user.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def serial(request: Request) -> str:
    """The caller's serial, upper-case letters and digits; 400 if it names none."""
    headers = request.headers
    candidates = []
    if "authorization" in headers:
        candidates.append(_from_basic(headers["authorization"]))
    client_id = headers.get("x-nl-client-id")
    if client_id:
        parts = client_id.split(".")
        candidates.append(parts[1] if len(parts) > 1 else parts[0])
    candidates.append(headers.get("x-nl-device-id"))
    for candidate in candidates:
        if candidate:
            found = _cleaned(candidate)
            if SHORTEST <= len(found) <= LONGEST:
                return found
    raise malformed("no device serial in Authorization, X-nl-client-id or X-nl-device-id")
