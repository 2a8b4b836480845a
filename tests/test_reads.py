"""Reading the home over HTTP from a real ``roost serve`` process.

Every data location a Works with Nest client reads (``/``, collections, one device or
structure, one field, wheres, metadata), the two ways to present a token, the 307 front door
that clients first reach, the OpenAPI document and the methods that are refused. Every test
runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from conftest import BOTH_STORES, RoostProcess, free_port, new_database

from roost.model.schema import FIELDS

AUTH_ERROR = "https://developer.nest.com/documentation/cloud/error-messages#auth-error"
ERROR_BASE = "https://developer.nest.com/documentation/cloud/error-messages#"

pytestmark = BOTH_STORES


@pytest.fixture(scope="module")
def server(store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoostProcess]:
    """One demo server for the read-only tests of this module."""
    with ExitStack() as stack:
        process = RoostProcess(new_database(store, tmp_path_factory.mktemp("reads"), stack))
        stack.callback(process.kill)
        yield process.start()


@pytest.fixture(scope="module")
def root(server: RoostProcess) -> dict[str, Any]:
    with server.client() as client:
        response = client.get("/")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def ids(root: dict[str, Any]) -> dict[str, str]:
    """Placeholders for the demo home's ids, used to build concrete locations."""
    devices = root["devices"]
    structure_id = next(iter(root["structures"]))
    thermostats = devices["thermostats"]
    return {
        "thermostat": next(i for i, t in thermostats.items() if t["where_name"] == "Living Room"),
        "bedroom": next(i for i, t in thermostats.items() if t["where_name"] == "Bedroom"),
        "alarm": next(iter(devices["smoke_co_alarms"])),
        "camera": next(iter(devices["cameras"])),
        "structure": structure_id,
        "where": next(iter(root["structures"][structure_id]["wheres"])),
    }


def at(tree: Any, path: str) -> Any:
    node = tree
    for segment in path.strip("/").split("/"):
        if segment:
            node = node[segment]
    return node


def assert_error(response: httpx.Response, status: int, anchor: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert {"error", "type", "message", "instance"} <= body.keys(), body
    assert body["type"].startswith(ERROR_BASE)
    if anchor is not None:
        assert body["type"] == ERROR_BASE + anchor
    assert isinstance(body["error"], str) and body["error"]
    assert body["message"] == body["error"]
    uuid.UUID(body["instance"])  # an opaque id of this occurrence
    return body


# -- locations -------------------------------------------------------------------------------

LOCATIONS = [
    "/devices",
    "/devices/thermostats",
    "/devices/thermostats/{thermostat}",
    "/devices/thermostats/{thermostat}/target_temperature_f",
    "/devices/thermostats/{thermostat}/target_temperature_c",
    "/devices/thermostats/{thermostat}/hvac_mode",
    "/devices/thermostats/{thermostat}/has_fan",
    "/devices/thermostats/{bedroom}/name_long",
    "/devices/smoke_co_alarms",
    "/devices/smoke_co_alarms/{alarm}",
    "/devices/smoke_co_alarms/{alarm}/co_alarm_state",
    "/devices/smoke_co_alarms/{alarm}/ui_color_state",
    "/devices/cameras",
    "/devices/cameras/{camera}",
    "/devices/cameras/{camera}/is_streaming",
    "/devices/cameras/{camera}/last_event",
    "/devices/cameras/{camera}/last_event/has_person",
    "/devices/cameras/{camera}/activity_zones",
    "/structures",
    "/structures/{structure}",
    "/structures/{structure}/name",
    "/structures/{structure}/away",
    "/structures/{structure}/thermostats",
    "/structures/{structure}/wheres",
    "/structures/{structure}/wheres/{where}",
    "/structures/{structure}/wheres/{where}/name",
    "/metadata",
    "/metadata/access_token",
    "/metadata/client_version",
]


def test_root_holds_devices_structures_and_metadata(
        server: RoostProcess, root: dict[str, Any]) -> None:
    assert set(root) == {"devices", "structures", "metadata"}
    assert set(root["devices"]) == {"thermostats", "smoke_co_alarms", "cameras"}
    assert len(root["devices"]["thermostats"]) == 2
    assert len(root["devices"]["smoke_co_alarms"]) == 1
    assert len(root["devices"]["cameras"]) == 1
    assert len(root["structures"]) == 1
    meta = root["metadata"]
    assert meta["access_token"] == server.token
    assert meta["client_version"] == 1
    assert meta["user_id"].startswith("z.1.1.")
    assert server.token.startswith("c.")


@pytest.mark.parametrize("template", LOCATIONS)
def test_every_location_is_the_subtree_of_root(
        server: RoostProcess, root: dict[str, Any], ids: dict[str, str], template: str) -> None:
    path = template.format(**ids)
    with server.client() as client:
        response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == at(root, path)


def test_data_answers_carry_their_exact_length_and_json_type(
        server: RoostProcess, root: dict[str, Any], ids: dict[str, str]) -> None:
    """What an HTTP client relies on, for a read, a write and a HEAD: the body's own length,
    the JSON type, and no other header of Roost's own."""
    base = f"/structures/{ids['structure']}"
    name = root["structures"][ids["structure"]]["name"]
    with server.client() as client:
        read = client.get(base)
        written = client.put(base, json={"name": name})  # as it was: nothing changes
        head = client.head(base)
    for response in (read, written, head):
        assert response.status_code == 200, response.text
        assert set(response.headers) - {"date", "server"} == {"content-length", "content-type"}
        assert response.headers["content-type"] == "application/json"
    assert int(read.headers["content-length"]) == len(read.content)
    assert read.json() == root["structures"][ids["structure"]]
    assert written.content == b'{"name":"%s"}' % name.encode()
    assert int(written.headers["content-length"]) == len(written.content)
    assert head.headers["content-length"] == read.headers["content-length"]
    assert head.content == b""


def test_a_field_is_a_bare_json_value(server: RoostProcess, ids: dict[str, str]) -> None:
    base = f"/devices/thermostats/{ids['thermostat']}"
    with server.client() as client:
        number = client.get(f"{base}/target_temperature_f")
        text = client.get(f"{base}/hvac_mode")
        flag = client.get(f"/devices/cameras/{ids['camera']}/is_streaming")
        token = client.get("/metadata/access_token")
    assert number.text == "70"
    assert text.text == '"heat"'
    assert flag.text == "true"
    assert json.loads(token.text) == server.token


def test_camera_with_its_last_event(server: RoostProcess, ids: dict[str, str]) -> None:
    with server.client() as client:
        camera = client.get(f"/devices/cameras/{ids['camera']}").json()
        event = client.get(f"/devices/cameras/{ids['camera']}/last_event").json()
    assert camera["device_id"] == ids["camera"]
    assert camera["last_event"] == event
    for key in ("has_sound", "has_motion", "has_person", "start_time", "end_time",
                "urls_expire_time", "web_url", "app_url"):
        assert key in event, key
    assert event["has_person"] is True
    assert event["start_time"].endswith("Z") and event["start_time"] <= event["end_time"]


def test_structure_and_its_wheres(server: RoostProcess, ids: dict[str, str]) -> None:
    with server.client() as client:
        structure = client.get(f"/structures/{ids['structure']}").json()
        wheres = client.get(f"/structures/{ids['structure']}/wheres").json()
        where = client.get(f"/structures/{ids['structure']}/wheres/{ids['where']}").json()
    assert structure["structure_id"] == ids["structure"]
    assert structure["name"] == "Home"
    assert structure["away"] == "home"
    assert "eta" not in structure  # write-only
    assert wheres == structure["wheres"]
    assert where == {"where_id": ids["where"], "name": wheres[ids["where"]]["name"]}
    assert {w["name"] for w in wheres.values()} >= {"Living Room", "Bedroom", "Front Door"}


@pytest.mark.parametrize("template", ["/", *LOCATIONS])
def test_json_suffix_and_trailing_slash_give_the_same_body(
        server: RoostProcess, ids: dict[str, str], template: str) -> None:
    path = template.format(**ids)
    variants = [path, path.rstrip("/") + ".json", path.rstrip("/") + "/"]
    with server.client() as client:
        responses = [client.get(p) for p in variants]
    for variant, response in zip(variants, responses, strict=True):
        assert response.status_code == 200, (variant, response.text)
    assert len({r.content for r in responses}) == 1, variants


@pytest.mark.parametrize("template", [
    "/devices/thermostats/no-such-device",
    "/devices/thermostats/no-such-device.json",
    "/devices/thermostats/{thermostat}/no_such_field",
    "/devices/thermostats/{thermostat}/target_temperature_f/deeper",
    "/devices/smoke_co_alarms/{thermostat}",
    "/devices/cameras/{camera}/last_event/no_such_key",
    "/devices/sprinklers",
    "/structures/no-such-structure",
    "/structures/{structure}/eta",  # write-only
    "/structures/{structure}/peak_period_start_time",  # absent outside a Rush Hour event
    "/structures/{structure}/wheres/no-such-where",
    "/metadata/no_such_field",
    "/nothing-here",
    "/nothing-here/",
])
def test_missing_location_is_404_in_the_envelope(
        server: RoostProcess, ids: dict[str, str], template: str) -> None:
    with server.client() as client:
        response = client.get(template.format(**ids))
    assert_error(response, 404, "not-found")


# -- authentication --------------------------------------------------------------------------


def test_token_in_the_query(server: RoostProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        by_query = client.get("/devices", params={"auth": server.token})
    with server.client() as client:
        by_header = client.get("/devices")
    assert by_query.status_code == 200, by_query.text
    assert by_query.content == by_header.content


def test_token_in_header_and_query_together(server: RoostProcess) -> None:
    with server.client() as client:
        response = client.get("/", params={"auth": server.token})
    assert response.status_code == 200, response.text
    assert response.json()["metadata"]["access_token"] == server.token


@pytest.mark.parametrize("headers,params", [
    ({}, {}),
    ({"Authorization": "Bearer"}, {}),
    ({"Authorization": "Bearer c.not-a-real-token"}, {}),
    ({}, {"auth": "c.not-a-real-token"}),
    ({}, {"auth": ""}),
    ({"Authorization": "Basic ZGVtbzpkZW1v"}, {}),
])
@pytest.mark.parametrize("path", ["/", "/devices/thermostats", "/no-such-location"])
def test_no_valid_token_is_401(server: RoostProcess, headers: dict[str, str],
                               params: dict[str, str], path: str) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        response = client.get(path, headers=headers, params=params)
    body = assert_error(response, 401)
    assert {k: v for k, v in body.items() if k != "instance"} == {
        "error": "unauthorized", "type": AUTH_ERROR, "message": "unauthorized"}


def test_a_token_from_the_command_line_works_at_once(server: RoostProcess) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "roost", "token", "create", "--user", "demo@example.com",
         "--db", str(server.db)],
        capture_output=True, text=True, timeout=30, check=False)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("c.") and token != server.token
    with httpx.Client(base_url=server.url, timeout=10,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        mine = client.get("/")
    with server.client() as client:
        theirs = client.get("/").json()
    assert mine.status_code == 200, mine.text
    tree = mine.json()
    assert tree["metadata"]["access_token"] == token
    assert tree["metadata"]["user_id"] == theirs["metadata"]["user_id"]
    assert tree["devices"] == theirs["devices"]
    assert tree["structures"] == theirs["structures"]


def test_token_create_for_an_unknown_user_fails(server: RoostProcess) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "roost", "token", "create", "--user", "nobody@example.com",
         "--db", str(server.db)],
        capture_output=True, text=True, timeout=30, check=False)
    assert made.returncode != 0
    assert made.stdout.strip() == ""


# -- the values agree with each other ----------------------------------------------------------


def test_fahrenheit_and_celsius_twins_agree(root: dict[str, Any]) -> None:
    twins = 0
    for thermostat in root["devices"]["thermostats"].values():
        for name, fahrenheit in thermostat.items():
            if not name.endswith("_f"):
                continue
            celsius = thermostat[name[:-2] + "_c"]
            assert isinstance(fahrenheit, int) and not isinstance(fahrenheit, bool), name
            assert celsius * 2 == int(celsius * 2), (name, celsius)  # half degrees
            # Each scale is rounded on its own: up to 0.5 °F (0.28 °C) plus 0.25 °C apart.
            assert abs((fahrenheit - 32) * 5 / 9 - celsius) <= 0.54, (name, fahrenheit, celsius)
            twins += 1
        assert thermostat["humidity"] % 5 == 0
        assert thermostat["eco_temperature_low_f"] == thermostat["away_temperature_low_f"]
        assert thermostat["eco_temperature_high_c"] == thermostat["away_temperature_high_c"]
    assert twins >= 2 * 10


def test_ids_and_device_lists_agree(root: dict[str, Any]) -> None:
    structures = root["structures"]
    for structure_id, structure in structures.items():
        assert structure["structure_id"] == structure_id
        for where_id, where in structure["wheres"].items():
            assert where["where_id"] == where_id
        for kind, devices in root["devices"].items():
            in_structure = {i for i, d in devices.items() if d["structure_id"] == structure_id}
            assert set(structure[kind]) == in_structure, kind
            assert len(structure[kind]) == len(set(structure[kind]))
    for devices in root["devices"].values():
        for device_id, device in devices.items():
            assert device["device_id"] == device_id
            wheres = structures[device["structure_id"]]["wheres"]
            assert device["where_name"] == wheres[device["where_id"]]["name"]
            assert device["name"].startswith(device["where_name"])
    alarms = root["devices"]["smoke_co_alarms"].values()
    structure = next(iter(structures.values()))
    assert structure["co_alarm_state"] == "ok" == next(iter(alarms))["co_alarm_state"]


# -- the front door ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RoostProcess, int]]:
    """A server with its front door: ``roost serve --redirect-port``."""
    port = free_port()
    process = RoostProcess(tmp_path_factory.mktemp("door") / "roost.db",
                           ["--redirect-port", str(port)]).start()
    yield process, port
    process.kill()


@pytest.mark.parametrize("method", ["GET", "PUT"])
@pytest.mark.parametrize("target", [
    "/", "/devices/thermostats/{thermostat}", "/devices/thermostats/{thermostat}.json",
    "/structures/{structure}/", "/devices?auth=c.x&print=pretty", "/no-such-location",
])
def test_front_door_answers_307_to_the_serving_port(
        door: tuple[RoostProcess, int], method: str, target: str) -> None:
    served, port = door
    with served.client() as client:
        tree = client.get("/").json()
    target = target.format(
        thermostat=next(iter(tree["devices"]["thermostats"])),
        structure=next(iter(tree["structures"])))
    with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {served.token}"}) as client:
        response = client.request(method, f"http://127.0.0.1:{port}{target}",
                                  content=b'{"away":"home"}' if method == "PUT" else None)
    assert response.status_code == 307
    assert response.headers["location"] == f"http://127.0.0.1:{served.port}{target}"


def test_following_the_307_by_hand(door: tuple[RoostProcess, int]) -> None:
    """What python-nest does: the same verb, body and token at the Location, once."""
    served, port = door
    headers = {"Authorization": f"Bearer {served.token}"}
    with httpx.Client(timeout=10, headers=headers) as client:
        first = client.get(f"http://127.0.0.1:{port}/")
        assert first.status_code == 307
        root = client.get(first.headers["location"])
        assert root.status_code == 200, root.text
        thermostat = next(i for i, t in root.json()["devices"]["thermostats"].items()
                          if t["where_name"] == "Living Room")
        path = f"/devices/thermostats/{thermostat}"
        body = b'{"target_temperature_f": 73}'
        put = client.put(f"http://127.0.0.1:{port}{path}", content=body)
        assert put.status_code == 307
        assert put.headers["location"] == f"{served.url}{path}"
        written = client.put(put.headers["location"], content=body)
        assert written.status_code == 200, written.text
        assert written.json() == {"target_temperature_f": 73}
        read = client.get(f"http://127.0.0.1:{port}{path}/target_temperature_f")
        assert read.status_code == 307
        assert client.get(read.headers["location"]).json() == 73


def test_following_the_307_with_the_token_in_the_query(door: tuple[RoostProcess, int]) -> None:
    """A client that follows redirects itself keeps ``?auth=`` because the query is kept."""
    served, port = door
    with httpx.Client(timeout=10, follow_redirects=True) as client:
        response = client.get(f"http://127.0.0.1:{port}/metadata",
                              params={"auth": served.token})
    assert response.status_code == 200, response.text
    assert [r.status_code for r in response.history] == [307]
    assert response.json()["access_token"] == served.token


@pytest.mark.parametrize("method,path,auth,status", [
    ("GET", "/", True, 200),
    ("GET", "/devices", True, 200),
    ("GET", "/nothing-here", True, 404),
    ("GET", "/", False, 401),
    ("PUT", "/", True, 400),
    ("PUT", "/structures", False, 401),
    ("GET", "/openapi.json", False, 200),
])
def test_the_serving_port_never_redirects(door: tuple[RoostProcess, int], method: str,
                                          path: str, auth: bool, status: int) -> None:
    served, _ = door
    headers = {"Authorization": f"Bearer {served.token}"} if auth else {}
    with httpx.Client(base_url=served.url, timeout=10, headers=headers) as client:
        response = client.request(method, path, content=b"[]" if method == "PUT" else None)
    assert response.status_code == status, response.text
    assert "location" not in response.headers


# -- the OpenAPI document ----------------------------------------------------------------------

BASES = {
    "thermostats": "/devices/thermostats/{device_id}",
    "smoke_co_alarms": "/devices/smoke_co_alarms/{device_id}",
    "cameras": "/devices/cameras/{device_id}",
    "structures": "/structures/{structure_id}",
}

JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,), "object": (dict,),
}


@pytest.fixture(scope="module")
def openapi(server: RoostProcess) -> dict[str, Any]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    return json.loads(response.text)


def test_openapi_document(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.")
    assert openapi["info"]["title"]
    item = openapi["paths"]["/devices/thermostats/{device_id}/target_temperature_f"]
    assert {"get", "put"} <= item.keys()
    assert item["put"]["requestBody"]["content"]["application/json"]["schema"]["type"] == (
        "integer")
    for path in ("/", "/metadata", "/structures", "/devices/thermostats",
                 "/devices/cameras/{device_id}", "/structures/{structure_id}"):
        assert "get" in openapi["paths"][path], path


@pytest.mark.parametrize("kind", sorted(FIELDS))
def test_openapi_has_a_path_for_every_field(openapi: dict[str, Any], kind: str) -> None:
    for field in FIELDS[kind].values():
        item = openapi["paths"].get(f"{BASES[kind]}/{field.name}")
        assert item is not None, field.name
        assert ("get" in item) == field.readable, field.name
        assert ("put" in item) == field.writable, field.name
        for operation in item.values():
            names = {p["name"] for p in operation["parameters"]}
            assert BASES[kind].rsplit("{", 1)[1].rstrip("}") in names, field.name


@pytest.mark.parametrize("kind", sorted(FIELDS))
def test_openapi_describes_what_is_served(openapi: dict[str, Any], root: dict[str, Any],
                                          kind: str) -> None:
    """Every field a client receives is documented, with the JSON type and values it has."""
    objects = root["structures"] if kind == "structures" else root["devices"][kind]
    for obj in objects.values():
        for name, value in obj.items():
            item = openapi["paths"].get(f"{BASES[kind]}/{name}")
            assert item is not None and "get" in item, name
            schema = item["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            assert isinstance(value, JSON_TYPES[schema["type"]]), (name, value)
            if schema["type"] in ("integer", "number"):
                assert not isinstance(value, bool), name
            if "enum" in schema:
                assert value in schema["enum"], (name, value)


# -- refused methods ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["DELETE", "POST"])
@pytest.mark.parametrize("template", [
    "/", "/devices/thermostats/{thermostat}", "/devices/thermostats/{thermostat}/hvac_mode",
    "/structures/{structure}",
])
def test_unsupported_method_is_405(server: RoostProcess, ids: dict[str, str], method: str,
                                   template: str) -> None:
    with server.client() as client:
        response = client.request(method, template.format(**ids),
                                  content=b'{"hvac_mode":"off"}' if method == "POST" else None)
        after = client.get(f"/devices/thermostats/{ids['thermostat']}/hvac_mode")
    body = assert_error(response, 405)
    assert method in body["message"]
    allowed = {m.strip() for m in response.headers.get("allow", "").split(",")}
    assert {"GET", "PUT", "PATCH"} <= allowed
    assert after.json() == "heat"  # nothing was written

