"""The addresses a session advertises: all of them this server, as the request reached it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

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
