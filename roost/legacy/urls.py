"""The addresses a session advertises: all of them the server of the user's homes, which is
this one, as the request reached it, unless several processes share the database."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from roost import errors
from roost.service import Service
from roost.settings import Settings

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(request: Request) -> str:
    """``scheme://host:port`` with the port always written out: clients take host *and* port
    from ``transport_url`` (unofficial-nest-api reads ``.port`` and would fall back to 443)."""
    url = request.url
    host = url.hostname or (request.scope.get("server") or ("127.0.0.1", 0))[0]
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    port = url.port or _DEFAULT_PORTS.get(url.scheme, 80)
    return f"{url.scheme}://{host}:{port}"


async def home_origin(service: Service, settings: Settings, request: Request,
                      user_id: str) -> str:
    """The origin of the process serving the user's homes, so legacy clients go straight
    there: this server as the request reached it when it serves every home; with several
    over one database, the live owner of the user's slot (this server's advertised URL when
    that is this one, or while no process serves the slot: it sends the client on once one
    does; docs/scale-out.md)."""
    if service.ownership is None:
        return origin(request)
    try:
        return await service.owner_url(user_id) or settings.advertise_url
    except errors.ApiError:  # between owners
        return settings.advertise_url


def urls(origin: str) -> dict[str, Any]:
    """``urls`` of a session. Clients use transport_url (czfe_url for /v5/put), weather_url
    (by appending ``<postal>,<country>``) and rubyapi_url; the log and support addresses are
    informational and Roost serves nothing there."""
    return {
        "transport_url": origin,
        "direct_transport_url": origin,
        "czfe_url": origin,
        "rubyapi_url": origin + "/",
        "weather_url": origin + "/weather/v1?query=",
        "log_upload_url": origin + "/upload/user",
        "support_url": origin + "/support?",
    }
