"""The baselines for the HTTP benchmark: a minimal Starlette app, or with ``--raw`` a bare ASGI
app, with Roost's uvicorn setup.

GET of a thermostat answers fixed JSON of the same size as Roost's demo thermostat; PUT parses
the JSON body and echoes it, as Roost's PUT does, but stores nothing. The server is started
exactly the way ``roost serve`` starts it (``roost/server.py``): a ``uvicorn.Server`` with
default loop/http settings (uvloop and httptools where installed), ``lifespan="on"``,
``timeout_graceful_shutdown=5``, no proxy headers, the same garbage-collector thresholds,
the log level given on the command line, and the access log off unless that level shows it.
``--raw`` serves the same bytes from a plain ASGI callable, no framework at all: the most any
Python app on this server setup could do.

    python bench/minimal_app.py --port 8001 --log-level warning [--raw]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from uvicorn.config import LOG_LEVELS

THERMOSTAT = {
    "device_id": "vR-Gr1EsKlHHMKi_t-zygg", "software_version": "5.9.3-5",
    "structure_id": "Z1BQmgQS18k5_oEkxRThaQ8CJ14BBeRIeyVEhH46a0c",
    "where_id": "AcnHlKxlTUQ5bSrRi9kVK3uJMQujDOScnCercLAROdo", "where_name": "Living Room",
    "name": "Living Room", "name_long": "Living Room Thermostat", "is_online": True,
    "locale": "en-US", "last_connection": "2026-11-23T15:05:04.809Z", "can_cool": True,
    "can_heat": True, "is_using_emergency_heat": False, "has_fan": True,
    "fan_timer_active": False, "fan_timer_timeout": "1970-01-01T00:00:00.000Z",
    "fan_timer_duration": 15, "has_leaf": False, "temperature_scale": "F",
    "target_temperature_f": 70, "target_temperature_c": 21.0,
    "target_temperature_high_f": 76, "target_temperature_high_c": 24.5,
    "target_temperature_low_f": 66, "target_temperature_low_c": 19.0,
    "eco_temperature_high_f": 80, "eco_temperature_high_c": 26.5,
    "eco_temperature_low_f": 62, "eco_temperature_low_c": 16.5,
    "away_temperature_high_f": 80, "away_temperature_high_c": 26.5,
    "away_temperature_low_f": 62, "away_temperature_low_c": 16.5, "hvac_mode": "heat",
    "previous_hvac_mode": "", "ambient_temperature_f": 68, "ambient_temperature_c": 20.0,
    "humidity": 41, "hvac_state": "heating", "label": "", "is_locked": False,
    "locked_temp_min_f": 64, "locked_temp_min_c": 18.0, "locked_temp_max_f": 80,
    "locked_temp_max_c": 26.5, "sunlight_correction_enabled": True,
    "sunlight_correction_active": False, "time_to_target": "~0",
    "time_to_target_training": "ready",
}
BODY = orjson.dumps(THERMOSTAT)  # 1,364 bytes, as Roost's demo Living Room thermostat


async def thermostat(request: Request) -> Response:
    if request.method == "PUT":
        return Response(orjson.dumps(orjson.loads(await request.body())),
                        media_type="application/json")
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/devices/thermostats/{device_id}", thermostat,
                              methods=["GET", "PUT"])])
JSON_HEADERS = [(b"content-type", b"application/json")]


async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The same answers with no framework: GET the fixed JSON, PUT the body echoed."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = BODY
    if scope["method"] == "PUT":
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = orjson.dumps(orjson.loads(b"".join(chunks)))
    await send({"type": "http.response.start", "status": 200,
                "headers": [*JSON_HEADERS, (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--raw", action="store_true", help="a bare ASGI app, no Starlette")
    args = parser.parse_args()
    # As roost/server.py does: no access log unless its lines would be shown.
    access_log = LOG_LEVELS.get(args.log_level.lower(), logging.INFO) <= logging.INFO
    # Nor uvicorn's X-Forwarded-* middleware, which Roost leaves out unless told whom to
    # believe (--forwarded-allow-ips): it costs about 1.2 µs a request.
    config = uvicorn.Config(raw_app if args.raw else app, host=args.host, port=args.port,
                            log_level=args.log_level, lifespan="on", timeout_graceful_shutdown=5,
                            access_log=access_log, proxy_headers=False)
    kind = "raw ASGI" if args.raw else "minimal"
    print(f"{kind} app serving http://{args.host}:{args.port}/", flush=True)
    gc.set_threshold(50_000, 20, 20)
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
