"""First contact (spec §4, §5, §11): ``/entry`` hands the device its URLs, the passphrase URL
its entry key, and a few endpoints the firmware calls answer plainly.

Every URL handed to a device carries an explicit port, even :80 or :443: without it the
firmware keeps a wrong port for the connection that wakes it, and pushes stop reaching a
sleeping device (spec §2). URLs are built from the configured public origin
(``--device-origin``); without one, from the address and port the device's connection really
arrived at, never from the Host header.
"""

from __future__ import annotations

import logging
import secrets
import string
import time
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from roost import pairing
from roost.device import identity
from roost.device.registry import Registry
from roost.errors import ApiError
from roost.http.body import read_raw

log = logging.getLogger("roost.device")

PREFIX = "/nest"  # the device's paths; WWN data locations never start with it
TRANSPORT = f"{PREFIX}/transport"
MAX_FORM = 4 * 1024  # /entry's form is a few fields
KEY_LIFETIME_MS = 60 * 60 * 1000  # an hour; the firmware wants at least 30 minutes ahead
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(request: Request, configured: str | None) -> str:
    """``scheme://host:port`` of the device endpoints, the port always written out."""
    if configured:
        parts = urlsplit(configured)
        scheme = parts.scheme or "http"
        port = parts.port or request.scope.get("server", (None, None))[1] \
            or _DEFAULT_PORTS[scheme]
        return f"{scheme}://{parts.hostname}:{port}"
    scheme = request.url.scheme
    # The address the device's connection really arrived at: right on a LAN even when the
    # server listens on 0.0.0.0, and unlike the Host header, not the device's to choose.
    server = request.scope.get("server") or (request.url.hostname or "localhost", None)
    host = server[0]
    if ":" in host:
        host = f"[{host}]"
    port = server[1] or _DEFAULT_PORTS.get(scheme, 80)
    return f"{scheme}://{host}:{port}"


class Entry:
    def __init__(self, registry: Registry, device_origin: str | None) -> None:
        self.registry = registry
        self.device_origin = device_origin

    async def entry(self, request: Request) -> Response:
        """The device's URLs (``POST`` form or ``GET``)."""
        facts: dict[str, str] = {}
        if request.method == "POST":
            form = parse_qs((await read_raw(request, MAX_FORM)).decode("latin-1"))
            facts = {k: form[k][0][:64] for k in ("reset", "mac", "model", "software_version")
                     if k in form}
        try:
            who = identity.serial(request)
        except Exception:
            who = "unnamed"
        log.info("device %s entry %s", who, " ".join(f"{k}={v!r}" for k, v in facts.items()))
        base = origin(request, self.device_origin)
        transport = await self._home_origin(who, base) + TRANSPORT
        return JSONResponse({
            "czfe_url": transport, "transport_url": transport,
            "direct_transport_url": transport,
            "passphrase_url": f"{base}{PREFIX}/passphrase", "ping_url": transport,
            "weather_url": f"{base}{PREFIX}/weather/v1?query=",
            "upload_url": f"{base}{PREFIX}/upload", "pro_info_url": f"{base}{PREFIX}/pro_info",
            "software_update_url": "", "server_version": "1.0.0", "tier_name": "local"},
            headers=stamp(self.registry))

    async def _home_origin(self, serial: str, here: str) -> str:
        """Where a claimed device's home is served: the live owner of its user's slot when
        several processes share the database, so the device talks to the one process that
        keeps its home (docs/scale-out.md); this server otherwise, and while no process
        serves the slot (this one sends the device on once one does)."""
        service = self.registry.service
        if service.ownership is None:
            return here
        record = await service.store.device(serial)
        if record is None or record.user_id is None:
            return here
        try:
            return await service.owner_url(record.user_id) or here
        except ApiError:  # between owners
            return here

    async def passphrase(self, request: Request) -> Response:
        """The entry key the device shows until a user claims it: the same one while it is
        valid, a new one once it ends (spec §5). ``expires`` is a JSON number of ms."""
        device = self.registry.device(identity.serial(request))
        now = self.registry.now_ms()
        if device.entry_key is None or device.key_expires - now < 30 * 60 * 1000:
            key = "".join(secrets.choice(string.digits) for _ in range(3)) + "".join(
                secrets.choice(string.ascii_uppercase) for _ in range(4))
            expires = now + KEY_LIFETIME_MS
            await self.registry.service.store.set_entry_key(
                device.serial, pairing.key_digest(key), expires)
            device.entry_key, device.key_expires = key, expires
        await self.registry.called(device)
        return JSONResponse({"value": device.entry_key, "expires": device.key_expires},
                            headers=stamp(self.registry))


def stamp(registry: Registry) -> dict[str, str]:
    """Every answer carries the server's clock; the device sets its own from it (spec §7)."""
    return {"X-nl-service-timestamp": str(registry.now_ms())}


async def ping(request: Request) -> Response:
    return JSONResponse({"status": "ok", "timestamp": int(time.time() * 1000)})


async def upload(request: Request) -> Response:
    # Device logs: read and dropped (they may hold the home's details).
    async for _ in request.stream():
        pass
    return JSONResponse({"status": "ok"})


async def weather(request: Request) -> Response:
    return JSONResponse({"current": {}, "location": {}})
