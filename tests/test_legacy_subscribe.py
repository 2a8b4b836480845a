"""The legacy long-polls (``/v2/subscribe``, ``/v5`` and ``/v6/subscribe``) and app_launch.

A held request runs in a thread while the test writes through the Works with Nest API or the
legacy API; "held" means it has not been answered a moment after it was sent (a request
answered early would show the same bucket, so no test depends on that moment's length).
"""

from __future__ import annotations

import concurrent.futures
import signal
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from conftest import Api, RoostProcess
from legacy_helpers import Legacy, assert_error, ms, sign_in

from roost import demo

HELD = 0.2  # seconds a request must stay unanswered to count as held
SHORT = "0.5"  # a subscribe timeout, in seconds, for the answers after nothing changed

Call = Callable[[], httpx.Response]


@pytest.fixture
def legacy(api: Api, monkeypatch: pytest.MonkeyPatch) -> Legacy:
    return sign_in(api, monkeypatch)


@pytest.fixture
def pool() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(4) as executor:
        yield executor


def subscribe(legacy: Legacy, keys: list[dict[str, Any]], timeout: str = "10",
              version: int = 2) -> Call:
    """A /v2 subscribe as unofficial-nest-api sends it: timeout in the header."""
    return lambda: legacy.api.client.post(
        f"/v{version}/subscribe", json={"keys": keys},
        headers={**legacy.headers, "X-nl-subscribe-timeout": timeout})


def subscribe_objects(legacy: Legacy, objects: list[dict[str, Any]], timeout: float = 10,
                      version: int = 5) -> Call:
    return lambda: legacy.api.client.post(
        f"/v{version}/subscribe", json={"objects": objects, "timeout": timeout},
        headers=legacy.headers)


def held(pool: concurrent.futures.Executor, call: Call,
         moment: float = HELD) -> concurrent.futures.Future[Any]:
    """Send ``call`` and check that it is waiting."""
    future = pool.submit(call)
    done, _ = concurrent.futures.wait([future], timeout=moment)
    assert not done, future.result().text
    return future


def key(legacy: Legacy, name: str) -> dict[str, Any]:
    """A subscribe key for a bucket at the version /v2/mobile shows now."""
    kind, _, id = name.partition(".")
    bucket = legacy.mobile()[kind][id]
    return {"key": name, "version": bucket["$version"], "timestamp": bucket["$timestamp"]}


def held_objects(legacy: Legacy, names: list[str]) -> list[dict[str, Any]]:
    """Objects as app_launch gave them, values included (homebridge-nest 3.x sends them)."""
    found = {o["object_key"]: o for o in legacy.get(f"/v5/mobile/{legacy.user}").json()["objects"]}
    return [found[name] for name in names]


def assert_bucket(response: httpx.Response, legacy: Legacy, name: str) -> dict[str, Any]:
    """A /v2 answer carrying bucket ``name`` as /v2/mobile shows it now; its body."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    kind, _, id = name.partition(".")
    now = legacy.mobile()[kind][id]
    assert response.headers["x-nl-skv-key"] == name
    assert int(response.headers["x-nl-skv-version"]) == now.pop("$version")
    assert int(response.headers["x-nl-skv-timestamp"]) == now.pop("$timestamp")
    assert int(response.headers["x-nl-service-timestamp"]) == ms(legacy.api)
    body = response.json()
    assert body == now  # the whole value, the meta fields only in the headers
    return body


def assert_nothing(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert not any(h.startswith("x-nl-skv-") for h in response.headers)


# -- answered at once ------------------------------------------------------------------------


def test_a_key_without_a_version_is_answered_at_once(api: Api, legacy: Legacy) -> None:
    """As the Windows Phone app read single buckets."""
    response = subscribe(legacy, [{"key": f"shared.{api.living_room}"}])()
    body = assert_bucket(response, legacy, f"shared.{api.living_room}")
    wwn = api.get(f"/devices/thermostats/{api.living_room}")
    assert round(body["target_temperature"] * 2) / 2 == wwn["target_temperature_c"]


def test_a_stale_version_is_answered_at_once_one_bucket_at_a_time(api: Api,
                                                                   legacy: Legacy) -> None:
    shared, device = f"shared.{api.living_room}", f"device.{api.living_room}"
    current = key(legacy, f"structure.{api.structure_id}")
    stale = [{**key(legacy, shared), "version": 12345},
             {**key(legacy, device), "version": -7, "timestamp": 0}]
    # The first bucket that differs, whatever comes before it.
    assert_bucket(subscribe(legacy, [current, *stale])(), legacy, shared)
    # The client takes the version from the headers and asks again: the next one.
    assert_bucket(subscribe(legacy, [current, key(legacy, shared), stale[1]])(), legacy, device)


def test_v1_is_v2(api: Api, legacy: Legacy) -> None:
    name = f"structure.{api.structure_id}"
    assert_bucket(subscribe(legacy, [{"key": name}], version=1)(), legacy, name)


# -- held until a change ---------------------------------------------------------------------


def test_a_wwn_write_wakes_a_held_subscribe(api: Api, legacy: Legacy,
                                            pool: concurrent.futures.Executor) -> None:
    shared = f"shared.{api.living_room}"
    before = key(legacy, shared)
    keys = [key(legacy, f"device.{api.living_room}"), before,
            {"key": f"energy_latest.{api.living_room}", "version": 0, "timestamp": 0}]
    waiting = held(pool, subscribe(legacy, keys))
    api.clock.advance(minutes=5)
    assert api.put(f"/devices/thermostats/{api.living_room}",
                   {"target_temperature_f": 75}).status_code == 200
    response = waiting.result(10)
    body = assert_bucket(response, legacy, shared)
    assert round(body["target_temperature"] * 9 / 5 + 32) == 75
    assert int(response.headers["x-nl-skv-version"]) != before["version"]
    assert int(response.headers["x-nl-skv-timestamp"]) == ms(api) > before["timestamp"]


def test_a_legacy_put_wakes_a_held_subscribe(api: Api, legacy: Legacy,
                                             pool: concurrent.futures.Executor) -> None:
    structure = f"structure.{api.structure_id}"
    waiting = held(pool, subscribe(legacy, [key(legacy, structure)]))
    other = Legacy(api)  # a second session of the same user, as another app would be
    assert other.put(structure, {"away": True, "away_timestamp": 1_700_000_000,
                                 "away_setter": 0}).status_code == 200
    assert assert_bucket(waiting.result(10), legacy, structure)["away"] is True
    assert api.get(f"/structures/{api.structure_id}")["away"] == "away"


def test_a_change_to_another_bucket_keeps_it_waiting(api: Api, legacy: Legacy,
                                                     pool: concurrent.futures.Executor) -> None:
    shared = f"shared.{api.living_room}"
    waiting = held(pool, subscribe(legacy, [key(legacy, shared)]))
    # The user's home changes, but not the bucket listed: the subscribe waits on.
    assert api.put(f"/devices/thermostats/{api.bedroom}",
                   {"target_temperature_low_f": 67}).status_code == 200
    done, _ = concurrent.futures.wait([waiting], timeout=HELD)
    assert not done, waiting.result().text
    assert api.put(f"/devices/thermostats/{api.living_room}",
                   {"target_temperature_f": 74}).status_code == 200
    assert_bucket(waiting.result(10), legacy, shared)


def test_nothing_changed_before_the_timeout(api: Api, legacy: Legacy) -> None:
    """Unknown keys (energy history, which Roost does not keep; no such device; another
    user's) wait like unchanged ones, with or without a version."""
    keys = [key(legacy, f"shared.{api.living_room}"),
            {"key": f"energy_latest.{api.living_room}", "version": 0, "timestamp": 0},
            {"key": f"energy_latest.{api.bedroom}"},
            {"key": "shared.no-such-device"}, {"key": "user.someone-else"}]
    response = subscribe(legacy, keys, timeout=SHORT)()
    assert_nothing(response)
    assert int(response.headers["x-nl-service-timestamp"]) == ms(api)


def test_a_revoked_token_ends_a_held_subscribe_with_401(
        api: Api, legacy: Legacy, pool: concurrent.futures.Executor) -> None:
    waiting = held(pool, subscribe(legacy, [key(legacy, f"shared.{api.living_room}")]))
    assert api.client.delete(f"/oauth2/access_tokens/{legacy.token}").status_code == 204
    assert_error(waiting.result(10), 401, "unauthorized")
    assert_error(legacy.get(f"/v2/mobile/{legacy.user}"), 401, "unauthorized")


# -- the object form -------------------------------------------------------------------------


@pytest.mark.parametrize("version", [5, 6])
def test_objects_answer_every_changed_object_at_once(api: Api, legacy: Legacy,
                                                     version: int) -> None:
    shared, device = f"shared.{api.living_room}", f"device.{api.living_room}"
    structure = f"structure.{api.structure_id}"
    objects = held_objects(legacy, [shared, device, structure])
    objects[0] = {**objects[0], "object_revision": 99}  # stale
    objects[1] = {"object_key": device}  # no revision: wanted at once
    objects.append({"object_key": f"energy_latest.{api.living_room}"})  # unknown: never
    response = subscribe_objects(legacy, objects, version=version)()
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    now = held_objects(legacy, [shared, device])
    assert response.json() == {"objects": now}


@pytest.mark.parametrize("version", [5, 6])
def test_objects_are_held_until_a_change(api: Api, legacy: Legacy,
                                         pool: concurrent.futures.Executor,
                                         version: int) -> None:
    thermostats = [f"{kind}.{id}" for id in (api.living_room, api.bedroom)
                   for kind in ("shared", "device")]
    names = [f"structure.{api.structure_id}", *thermostats]
    before = {o["object_key"]: o["object_revision"] for o in held_objects(legacy, names)}
    waiting = held(pool, subscribe_objects(legacy, held_objects(legacy, names),
                                           version=version))
    api.clock.advance(minutes=1)
    # Away puts both thermostats into Eco: one change, several buckets, one answer.
    assert api.put(f"/structures/{api.structure_id}", {"away": "away"}).status_code == 200
    response = waiting.result(10)
    assert response.status_code == 200, response.text
    answered = response.json()["objects"]
    now = {o["object_key"]: o for o in held_objects(legacy, names)}
    assert answered == [now[name] for name in names
                        if now[name]["object_revision"] != before[name]]
    assert {o["object_key"] for o in answered} >= {names[0], *thermostats[1::2]}
    assert all(o["object_timestamp"] == ms(api) for o in answered)
    assert answered[0]["value"]["away"] is True


def test_objects_after_the_timeout(api: Api, legacy: Legacy) -> None:
    objects = held_objects(legacy, [f"shared.{api.living_room}"])
    response = subscribe_objects(legacy, objects, timeout=float(SHORT))()
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"objects": []}


# -- refused ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body", "headers"), [
    ("/v2/subscribe", {}, {}),
    ("/v2/subscribe", {"keys": "shared"}, {}),
    ("/v2/subscribe", {"keys": [{"version": 1}]}, {}),
    ("/v2/subscribe", {"keys": [{"key": "shared.x", "version": "12"}]}, {}),
    ("/v2/subscribe", {"keys": [{"key": "shared.x", "version": 1.5}]}, {}),
    ("/v2/subscribe", {"keys": [{"key": "shared.x", "timestamp": "now"}]}, {}),
    ("/v2/subscribe", {"keys": []}, {"X-nl-subscribe-timeout": "soon"}),
    ("/v2/subscribe", {"keys": []}, {"X-nl-subscribe-timeout": "-1"}),
    ("/v5/subscribe", {"objects": [{"object_key": "shared.x"}], "timeout": True}, {}),
    ("/v5/subscribe", {"keys": []}, {}),
    ("/v6/subscribe", {"objects": [{"object_key": "shared.x", "object_revision": "1"}]}, {}),
])
def test_malformed_subscribes_are_refused(api: Api, legacy: Legacy, path: str, body: Any,
                                          headers: dict[str, str]) -> None:
    response = api.client.post(path, json=body, headers={**legacy.headers, **headers})
    assert_error(response, 400, "invalid_request")


def test_subscribe_needs_a_live_session_and_json(api: Api, legacy: Legacy) -> None:
    body = {"keys": [{"key": f"shared.{api.living_room}"}]}
    assert_error(api.client.post("/v2/subscribe", json=body,
                                 headers={"Authorization": "Basic b.nobody"}),
                 401, "unauthorized")
    # A Works with Nest token does not open the legacy API.
    assert_error(api.client.post("/v5/subscribe", json={"objects": []}), 401, "unauthorized")
    assert_error(api.client.post("/v2/subscribe", content=b"keys=1", headers=legacy.headers),
                 400, "invalid_json")
    assert_error(legacy.get("/v2/subscribe"), 405, "method_not_allowed")


# -- app_launch ------------------------------------------------------------------------------


def app_launch(legacy: Legacy, body: Any, user_id: str | None = None) -> httpx.Response:
    """As PHP's nest-api sends it: a JSON body labelled text/json."""
    return legacy.api.client.post(f"/api/0.1/user/{user_id or legacy.user_id}/app_launch",
                                  content=orjson.dumps(body),
                                  headers={**legacy.headers, "Content-Type": "text/json"})


def test_app_launch(api: Api, legacy: Legacy) -> None:
    types = ["buckets", "structure", "shared", "topaz", "device", "rcs_settings",
             "kryptonite", "quartz", "track", "where"]
    response = app_launch(legacy, {"known_bucket_types": types, "known_bucket_versions": []})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"updated_buckets", "service_urls", "weather_for_structures",
                         "2fa_enabled"}
    every = legacy.get(f"/v5/mobile/{legacy.user}").json()["objects"]
    assert body["updated_buckets"] == [o for o in every
                                       if o["object_key"].split(".")[0] in types]
    assert body["updated_buckets"][0]["object_key"] == f"buckets.{legacy.user_id}"
    # What homebridge-nest and badnest read from it.
    urls = body["service_urls"]
    assert urls["urls"]["transport_url"] == urls["urls"]["czfe_url"] == "http://testserver:80"
    assert set(urls["limits"]) >= {"structures", "thermostats", "thermostats_per_structure"}
    assert set(urls["weave"]) == {"service_config", "pairing_token", "access_token"}
    structure = api.get(f"/structures/{api.structure_id}")
    weather = body["weather_for_structures"][f"structure.{api.structure_id}"]
    assert set(weather) == {"current", "location"}
    assert weather["location"]["zip"] == structure["postal_code"]
    assert isinstance(weather["current"]["temp_c"], float)
    assert {"icon", "sunrise", "sunset"} <= set(weather["current"])
    # The simulator's outdoors, as the weather route tells it for the same place.
    query = f"{structure['postal_code']},{structure['country_code']}"
    assert weather["current"] == api.get(f"/weather/v1?query={query}")[query]["current"]


def test_app_launch_leaves_out_buckets_the_client_holds(api: Api, legacy: Legacy) -> None:
    first = app_launch(legacy, {"known_bucket_types": ["shared", "user"],
                                "known_bucket_versions": []}).json()["updated_buckets"]
    assert {o["object_key"] for o in first} == {f"shared.{api.living_room}",
                                                f"shared.{api.bedroom}", legacy.user}
    assert api.put(f"/devices/thermostats/{api.bedroom}",
                   {"target_temperature_high_f": 77}).status_code == 200
    known = [{k: o[k] for k in ("object_key", "object_revision", "object_timestamp")}
             for o in first]
    again = app_launch(legacy, {"known_bucket_types": ["shared", "user"],
                                "known_bucket_versions": known}).json()["updated_buckets"]
    assert [o["object_key"] for o in again] == [f"shared.{api.bedroom}"]


def test_app_launch_refusals(api: Api, legacy: Legacy) -> None:
    assert_error(app_launch(legacy, {"known_bucket_types": ["shared"]}, "someone-else"),
                 404, "not_found")
    assert_error(app_launch(legacy, {"known_bucket_types": "shared"}), 400, "invalid_request")
    assert_error(app_launch(legacy, {"known_bucket_types": ["shared"],
                                     "known_bucket_versions": {}}), 400, "invalid_request")
    assert_error(app_launch(legacy, ["shared"]), 400, "invalid_request")
    assert_error(api.client.post(f"/api/0.1/user/{legacy.user_id}/app_launch",
                                 json={"known_bucket_types": ["shared"]}),
                 401, "unauthorized")


# -- a real server ---------------------------------------------------------------------------


def test_shutdown_answers_open_long_polls(make_server: Callable[..., RoostProcess],
                                          pool: concurrent.futures.Executor) -> None:
    """SIGTERM with long-polls open: each is answered "nothing changed" at once and the
    server exits, rather than holding them to their timeouts or cutting them off."""
    server = make_server()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        session = http.post("/user/login", data={"username": demo.EMAIL,
                                                 "password": demo.PASSWORD}).json()
        headers = {"Authorization": f"Basic {session['access_token']}",
                   "X-nl-subscribe-timeout": "600"}
        shared = http.get(f"/v2/mobile/{session['user']}", headers=headers).json()["shared"]
        keys = [{"key": f"shared.{id}", "version": b["$version"]} for id, b in shared.items()]
        objects = [{"object_key": f"shared.{id}", "object_revision": b["$version"]}
                   for id, b in shared.items()]
        # Longer than in-process: both must have reached the server before it stops.
        v2 = held(pool, lambda: http.post("/v2/subscribe", json={"keys": keys},
                                          headers=headers), moment=1.0)
        v5 = held(pool, lambda: http.post("/v5/subscribe", json={"objects": objects},
                                          headers=headers), moment=1.0)
        assert server.terminate(timeout=20) in (0, -signal.SIGTERM)
        assert_nothing(v2.result(10))
        assert v5.result(10).json() == {"objects": []}
