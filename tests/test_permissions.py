"""Field-level permissions: a token reads, writes and streams what its grant allows.

The matrix is generated from the field table (``roost/model/schema.py``): for every
permission and every field, a GET, a PUT and the first event of a stream agree with the table.
Hand-written cases follow the spec's description of each permission. Then grants that change:
a product's new permissions wait until the user accepts them and then reach open streams with
their next event; a deleted product's streams end with ``auth_revoked``. A few checks run over
real SSE against a ``roost serve`` process.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from conftest import Api, RoostProcess
from permissions_helpers import (
    DOC,
    Fact,
    accept_update,
    another_token,
    facts,
    first_put,
    generated_doc,
    grant_token,
    grant_token_in,
    next_event,
    subscribe,
    update_product,
)
from sse import Stream

from roost import errors
from roost.clock import iso
from roost.model import paths
from roost.model.home import DEVICE_KINDS
from roost.model.schema import (
    AWAY_READ,
    AWAY_WRITE,
    CAMERA_READ,
    CAMERA_READ_IMAGES,
    CAMERA_WRITE,
    CAMERA_WRITE_IMAGES,
    ENERGY_READ,
    ETA_WRITE,
    FIELDS,
    PERMISSIONS,
    POSTAL_CODE_READ,
    SECURITY_STATE_READ,
    SMOKE_CO_READ,
    STRUCTURE_WRITE,
    THERMOSTAT_READ,
    THERMOSTAT_WRITE,
    readable,
)

FACTS = facts()
NOTHING = "nothing"  # a grant of no permission: only the store can make one
NO_WRITE = "https://developer.nest.com/documentation/cloud/error-messages#no-write-permission"
RUSH_HOUR = {"peak_period_start_time": "2026-01-15T16:00:00.000Z",
             "peak_period_end_time": "2026-01-15T19:00:00.000Z"}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def get(api: Api, token: str, path: str) -> httpx.Response:
    return api.client.get(path, headers=auth(token))


def put(api: Api, token: str, path: str, body: Any) -> httpx.Response:
    return api.client.put(path, json=body, headers=auth(token))


def read(api: Api, token: str, path: str) -> Any:
    response = get(api, token, path)
    assert response.status_code == 200, response.text
    return response.json()


def assert_not_found(response: httpx.Response, path: str) -> None:
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["error"] == body["message"] == "Not Found"
    assert body["details"] == {"path": path}


def assert_no_write_permission(response: httpx.Response, *names: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    text = f"No write permission(s) for field(s): {','.join(names)}"
    assert body["error"] == body["message"] == text
    assert body["type"] == NO_WRITE
    assert body["details"] == {"fields": ",".join(names)}


def objects_of(tree: dict[str, Any], kind: str) -> dict[str, Any]:
    return tree["structures"] if kind == "structures" else tree["devices"][kind]


def lookup(node: Any, path: paths.Path) -> tuple[bool, Any]:
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def shown(fact: Fact, value: Any, permission: str) -> Any:
    """A field's full value as this permission sees it: without the keys it may not read."""
    if len(fact.path) > 1 or not isinstance(value, dict):
        return value
    hidden = {key for key, needs in FIELDS[fact.kind][fact.name].restricted
              if permission not in needs}
    return {key: v for key, v in value.items() if key not in hidden}


def location(api: Api, fact: Fact) -> str:
    """Where the fact is tried: a thermostat whose mode accepts the write, for setpoints."""
    if fact.kind == "thermostats":
        heat_cool = fact.name.startswith(("target_temperature_high", "target_temperature_low"))
        device = api.bedroom if heat_cool else api.living_room
    else:
        device = {"structures": api.structure_id, "cameras": api.camera,
                  "smoke_co_alarms": api.alarm}[fact.kind]
    return f"{paths.object_path(fact.kind, device)}/{fact.name}"


@pytest.fixture
def home(api: Api) -> Api:
    """The demo home with every field present: a Rush Hour event is scheduled."""
    api.device_write(f"/structures/{api.structure_id}", RUSH_HOUR)
    return api


# -- the matrix, generated from the field table ----------------------------------------------


def test_the_demo_home_has_every_field(home: Api) -> None:
    """The matrix below is only meaningful if every readable field has a value to show."""
    full = home.get("/")
    for fact in FACTS:
        if fact.read:
            for id, obj in objects_of(full, fact.kind).items():
                assert lookup(obj, fact.path)[0], f"{fact.kind}/{id} lacks {fact.name}"


@pytest.mark.parametrize("permission", [*PERMISSIONS, NOTHING])
def test_permission_matrix(home: Api, permission: str) -> None:
    """For one permission, every field: shown or absent in ``/``, 200 or 404 at its own
    location, the same in a stream's first event, and a write accepted or refused."""
    api = home
    granted = grant_token(api, [] if permission == NOTHING else [permission])
    token = granted.token
    permissions = granted.grant.permissions
    full = api.get("/")  # every permission's view, through the first-party token
    wrong: list[str] = []

    # GET / and a stream at / carry exactly the readable fields, nothing else.
    tree = read(api, token, "/")
    metadata = tree.pop("metadata")
    assert metadata["access_token"] == token and metadata["client_version"] == 1
    assert first_put(api, token, "/") == {**tree, "metadata": metadata}
    for fact in FACTS:
        for id, obj in objects_of(full, fact.kind).items():
            seen, value = lookup(tree, (*paths.parse(paths.object_path(fact.kind, id)),
                                        *fact.path))
            if seen != (permission in fact.read):
                wrong.append(f"GET /: {fact.kind}/{id} {fact.name} "
                             f"{'shown' if seen else 'hidden'}")
            elif seen and value != shown(fact, lookup(obj, fact.path)[1], permission):
                wrong.append(f"GET /: {fact.kind}/{id} {fact.name} = {value!r}")

    # Each field's own location: 200 with the value, or 404; a stream there starts the same.
    for fact in FACTS:
        path = location(api, fact)
        response = get(api, token, path)
        try:
            streamed: Any = first_put(api, token, path)
        except errors.ApiError as exc:
            streamed = exc.status
        if permission in fact.read:
            expected = shown(fact, lookup(full, paths.parse(path))[1], permission)
            if response.status_code != 200 or response.json() != expected:
                wrong.append(f"GET {fact.kind} {fact.name}: {response.status_code}")
            if streamed != expected:
                wrong.append(f"stream {fact.kind} {fact.name}: {streamed!r}")
        else:
            if response.status_code != 404:
                wrong.append(f"GET {fact.kind} {fact.name}: {response.status_code}")
            if streamed != 404:
                wrong.append(f"stream {fact.kind} {fact.name}: {streamed!r}")

    # A container with nothing readable in it is absent (404); / and /metadata always exist.
    fields = readable(permissions)
    containers = {"/": True, "/metadata": True,
                  "/devices": any(fields[kind] for kind in DEVICE_KINDS),
                  "/structures": bool(fields["structures"])}
    for kind, objects in (("structures", full["structures"]), *full["devices"].items()):
        for id in objects:
            containers[paths.object_path(kind, id)] = bool(fields[kind])
        if kind != "structures":
            containers[f"/devices/{kind}"] = bool(fields[kind])
    for path, exists in containers.items():
        status = get(api, token, path).status_code
        if status != (200 if exists else 404):
            wrong.append(f"GET {path}: {status}")

    # Writes: accepted where the table grants them, else refused naming the field.
    for fact in FACTS:
        path = location(api, fact)
        if fact.path == ("eta",):  # write-only: cancelling a trip is always well formed
            body: Any = {"trip_id": "matrix", "estimated_arrival_window_begin": 0,
                         "estimated_arrival_window_end": 0}
        else:  # the value it has: a write that is allowed changes nothing
            body = lookup(full, paths.parse(path))[1]
        response = put(api, token, path, body)
        if permission in fact.write:
            if response.status_code != 200:
                wrong.append(f"PUT {fact.kind} {fact.name}: {response.text}")
        else:
            try:
                assert_no_write_permission(response, fact.name)
            except AssertionError:
                wrong.append(f"PUT {fact.kind} {fact.name}: {response.text}")

    assert not wrong, f"{permission}:\n" + "\n".join(wrong)


def test_permissions_doc_is_generated_from_the_table() -> None:
    text = DOC.read_text()
    assert generated_doc(text) == text, (
        "docs/permissions.md is stale: run `python tests/permissions_helpers.py`")


# -- each permission as the spec describes it ------------------------------------------------


def thermostat_fields(api: Api, token: str) -> dict[str, Any]:
    return read(api, token, f"/devices/thermostats/{api.living_room}")


def test_thermostat_read(api: Api) -> None:
    token = grant_token(api, [THERMOSTAT_READ]).token
    tree = read(api, token, "/")
    assert set(tree["devices"]) == {"thermostats"}
    thermostat = tree["devices"]["thermostats"][api.living_room]
    assert thermostat["target_temperature_f"] == 70 and thermostat["hvac_mode"] == "heat"
    structure = tree["structures"][api.structure_id]
    assert structure["name"] == "Home" and structure["away"] == "home"
    assert set(structure["thermostats"]) == {api.living_room, api.bedroom}
    for hidden in ("postal_code", "rhr_enrollment", "wwn_security_state", "co_alarm_state"):
        assert hidden not in structure
    path = f"/devices/thermostats/{api.living_room}"
    assert_no_write_permission(put(api, token, path, {"target_temperature_f": 72}),
                               "target_temperature_f")
    assert_no_write_permission(put(api, token, f"{path}/hvac_mode", "cool"), "hvac_mode")
    assert thermostat_fields(api, token)["target_temperature_f"] == 70


def test_thermostat_read_write(api: Api) -> None:
    token = grant_token(api, [THERMOSTAT_WRITE]).token
    path = f"/devices/thermostats/{api.living_room}"
    assert put(api, token, path, {"target_temperature_f": 72}).status_code == 200
    assert thermostat_fields(api, token)["target_temperature_f"] == 72
    assert read(api, token, f"/structures/{api.structure_id}/name") == "Home"
    assert_no_write_permission(put(api, token, f"/structures/{api.structure_id}",
                                   {"away": "away"}), "away")


def test_away_read_cannot_write_away(api: Api) -> None:
    token = grant_token(api, [AWAY_READ]).token
    assert read(api, token, f"/structures/{api.structure_id}/away") == "home"
    assert_no_write_permission(put(api, token, f"/structures/{api.structure_id}/away", "away"),
                               "away")


def test_away_read_write(api: Api) -> None:
    token = grant_token(api, [AWAY_WRITE]).token
    structure = f"/structures/{api.structure_id}"
    assert put(api, token, structure, {"away": "away"}).status_code == 200
    assert read(api, token, f"{structure}/away") == "away"
    assert set(read(api, token, "/")) == {"structures", "metadata"}
    thermostat = f"/devices/thermostats/{api.living_room}"
    assert_not_found(get(api, token, thermostat), thermostat)
    assert_no_write_permission(put(api, token, thermostat, {"target_temperature_f": 72}),
                               "target_temperature_f")


CAMERA_IMAGE_FIELDS = ("snapshot_url", "activity_zones", "is_public_share_enabled",
                       "public_share_url")
EVENT_IMAGE_KEYS = ("image_url", "animated_image_url", "activity_zone_ids")


@pytest.mark.parametrize("permission", [CAMERA_READ, CAMERA_WRITE])
def test_camera_read_without_images(api: Api, permission: str) -> None:
    token = grant_token(api, [permission]).token
    tree = read(api, token, "/")
    assert set(tree["devices"]) == {"cameras"}
    camera = tree["devices"]["cameras"][api.camera]
    assert camera["is_streaming"] is True and camera["web_url"]
    for name in CAMERA_IMAGE_FIELDS:
        assert name not in camera
        path = f"/devices/cameras/{api.camera}/{name}"
        assert_not_found(get(api, token, path), path)
    event = camera["last_event"]
    assert event["has_person"] is True and event["start_time"]
    assert not set(EVENT_IMAGE_KEYS) & set(event)
    path = f"/devices/cameras/{api.camera}/last_event/image_url"
    assert_not_found(get(api, token, path), path)
    assert first_put(api, token, f"/devices/cameras/{api.camera}/last_event") == event


@pytest.mark.parametrize("permission", [CAMERA_READ_IMAGES, CAMERA_WRITE_IMAGES])
def test_camera_read_with_images(api: Api, permission: str) -> None:
    token = grant_token(api, [permission]).token
    camera = read(api, token, f"/devices/cameras/{api.camera}")
    assert camera == api.get(f"/devices/cameras/{api.camera}")
    assert camera["snapshot_url"].endswith("snapshot.jpg")
    assert camera["activity_zones"][0]["name"] == "Porch"
    assert set(EVENT_IMAGE_KEYS) <= set(camera["last_event"])


@pytest.mark.parametrize(("permission", "allowed"), [
    (CAMERA_READ, False), (CAMERA_READ_IMAGES, False),
    (CAMERA_WRITE, True), (CAMERA_WRITE_IMAGES, True),
])
def test_only_camera_write_turns_a_camera_off(api: Api, permission: str, allowed: bool) -> None:
    token = grant_token(api, [permission]).token
    path = f"/devices/cameras/{api.camera}/is_streaming"
    response = put(api, token, path, False)
    if allowed:
        assert response.status_code == 200
        assert read(api, token, path) is False
    else:
        assert_no_write_permission(response, "is_streaming")
        assert read(api, token, path) is True


def test_energy_read(api: Api) -> None:
    token = grant_token(api, [ENERGY_READ]).token
    structure = f"/structures/{api.structure_id}"
    assert read(api, token, structure) == {"structure_id": api.structure_id,
                                           "rhr_enrollment": False}
    # Outside a Rush Hour event the peak period does not exist (Nest: absent, or 404).
    assert_not_found(get(api, token, f"{structure}/peak_period_start_time"),
                     f"{structure}/peak_period_start_time")
    api.device_write(structure, RUSH_HOUR)
    assert read(api, token, structure) == {"structure_id": api.structure_id,
                                           "rhr_enrollment": False, **RUSH_HOUR}
    assert_not_found(get(api, token, "/devices"), "/devices")


def test_postal_code_read(api: Api) -> None:
    token = grant_token(api, [POSTAL_CODE_READ]).token
    path = f"/structures/{api.structure_id}/postal_code"
    assert read(api, token, path) == "94043"
    assert read(api, token, "/structures") == {
        api.structure_id: {"structure_id": api.structure_id, "postal_code": "94043"}}
    other = grant_token(api, [THERMOSTAT_READ, AWAY_WRITE]).token
    assert_not_found(get(api, other, path), path)


def test_smoke_co_read(api: Api) -> None:
    token = grant_token(api, [SMOKE_CO_READ]).token
    tree = read(api, token, "/")
    assert set(tree["devices"]) == {"smoke_co_alarms"}
    alarm = tree["devices"]["smoke_co_alarms"][api.alarm]
    assert alarm["co_alarm_state"] == "ok" and alarm["battery_health"] == "ok"
    structure = tree["structures"][api.structure_id]
    assert structure["smoke_alarm_state"] == structure["co_alarm_state"] == "ok"
    assert structure["name"] == "Home" and structure["away"] == "home"
    assert structure["smoke_co_alarms"] == [api.alarm]
    # The roll-up follows the alarm.
    api.device_write(f"/devices/smoke_co_alarms/{api.alarm}", {"co_alarm_state": "warning"})
    assert read(api, token, f"/structures/{api.structure_id}/co_alarm_state") == "warning"
    others = grant_token(api, [THERMOSTAT_READ, CAMERA_READ_IMAGES]).token
    assert "co_alarm_state" not in read(api, others, f"/structures/{api.structure_id}")


def test_security_state_read(api: Api) -> None:
    token = grant_token(api, [SECURITY_STATE_READ]).token
    assert read(api, token, "/structures") == {
        api.structure_id: {"structure_id": api.structure_id, "wwn_security_state": "ok"}}
    others = grant_token(api, [p for p in PERMISSIONS if p != SECURITY_STATE_READ]).token
    path = f"/structures/{api.structure_id}/wwn_security_state"
    assert_not_found(get(api, others, path), path)


def test_eta_write(api: Api) -> None:
    token = grant_token(api, [ETA_WRITE]).token
    structure = f"/structures/{api.structure_id}"
    begin = api.clock() + timedelta(minutes=30)
    eta = {"trip_id": "commute", "estimated_arrival_window_begin": iso(begin),
           "estimated_arrival_window_end": iso(begin + timedelta(minutes=15))}
    assert put(api, token, f"{structure}/eta", eta).status_code == 200
    assert read(api, token, f"{structure}/eta_begin") == iso(begin)
    assert_not_found(get(api, token, f"{structure}/eta"), f"{structure}/eta")  # write-only
    assert_no_write_permission(put(api, token, structure, {"away": "away"}), "away")
    away = grant_token(api, [AWAY_WRITE]).token
    assert_no_write_permission(put(api, away, f"{structure}/eta", eta), "eta")


def test_structure_read_write(api: Api) -> None:
    token = grant_token(api, [STRUCTURE_WRITE]).token
    structure = f"/structures/{api.structure_id}"
    assert put(api, token, structure, {"name": "Cabin"}).status_code == 200
    assert read(api, token, f"{structure}/name") == "Cabin"
    assert_no_write_permission(put(api, token, structure, {"away": "away"}), "away")
    away = grant_token(api, [AWAY_WRITE]).token
    assert_no_write_permission(put(api, away, structure, {"name": "Shed"}), "name")


def test_refusal_lists_every_field_outside_the_grant(api: Api) -> None:
    token = grant_token(api, [THERMOSTAT_READ]).token
    response = put(api, token, f"/devices/thermostats/{api.living_room}",
                   {"target_temperature_f": 72, "hvac_mode": "heat", "fan_timer_active": True})
    assert_no_write_permission(response, "target_temperature_f", "hvac_mode", "fan_timer_active")


def test_a_grant_of_nothing_sees_only_its_metadata(api: Api) -> None:
    """Roost's choice for a token that can read nothing: ``/`` is its metadata alone, and
    every other location is absent (404), as a field the token may not read is."""
    granted = grant_token(api, [])
    token = granted.token
    tree = read(api, token, "/")
    assert set(tree) == {"metadata"}
    assert tree["metadata"]["client_version"] == 1
    assert read(api, token, "/metadata") == tree["metadata"]
    for path in ("/devices", "/structures", f"/structures/{api.structure_id}",
                 f"/devices/thermostats/{api.living_room}/target_temperature_f"):
        assert_not_found(get(api, token, path), path)
    assert first_put(api, token, "/") == tree
    with pytest.raises(errors.ApiError) as refused:
        subscribe(api, token, "/structures")
    assert refused.value.status == 404


# -- grants that change ----------------------------------------------------------------------


def test_product_update_waits_for_the_user_then_reaches_open_streams(api: Api) -> None:
    granted = grant_token(api, [THERMOSTAT_READ])
    token, second = granted.token, another_token(api, granted)
    root = subscribe(api, token, "/")
    thermostats = subscribe(api, token, "/devices/thermostats")
    metadata = subscribe(api, second, "/metadata")
    demo = subscribe(api, api.token, "/")
    for stream in (root, thermostats, metadata, demo):
        assert next_event(api, stream) is not None

    product = update_product(api, granted.product.id, [CAMERA_READ])
    assert product.version == 2
    # Not accepted yet: the token keeps what the user accepted, at version 1.
    tree = read(api, token, "/")
    assert set(tree["devices"]) == {"thermostats"}
    assert tree["metadata"]["client_version"] == 1
    api.device_write(f"/devices/thermostats/{api.living_room}", {"ambient_temperature_f": 66})
    event = next_event(api, root)
    assert event is not None and event[0] == "put"
    assert event[1]["devices"]["thermostats"][api.living_room]["ambient_temperature_f"] == 66
    assert set(event[1]["devices"]) == {"thermostats"}
    assert event[1]["metadata"]["client_version"] == 1
    assert next_event(api, thermostats) is not None
    assert next_event(api, demo) is not None

    grant = accept_update(api, granted)
    assert grant.client_version == 2 and grant.permissions == {CAMERA_READ}
    event = next_event(api, root)
    assert event is not None and event[0] == "put"
    assert set(event[1]["devices"]) == {"cameras"}
    assert "snapshot_url" not in event[1]["devices"]["cameras"][api.camera]
    assert event[1]["metadata"] == {**tree["metadata"], "client_version": 2}
    assert event[1] == read(api, token, "/")
    assert next_event(api, thermostats) == ("put", None)  # no longer readable
    assert next_event(api, metadata) == ("put", read(api, second, "/metadata"))
    assert read(api, second, "/metadata")["client_version"] == 2

    # Every stream is filtered for its own token: the first-party stream is unchanged.
    api.device_write(f"/devices/cameras/{api.camera}", {"is_streaming": False})
    event = next_event(api, demo)
    assert event is not None and event[1]["devices"]["cameras"][api.camera]["is_streaming"] is False
    assert set(event[1]["devices"]) == {"thermostats", "smoke_co_alarms", "cameras"}
    assert event[1]["metadata"]["access_token"] == api.token
    event = next_event(api, root)
    assert event is not None and event[1]["devices"]["cameras"][api.camera]["is_streaming"] is False
    assert event[1]["metadata"]["access_token"] == token


def test_an_extended_product_needs_acceptance_to_write(api: Api) -> None:
    granted = grant_token(api, [AWAY_READ])
    token = granted.token
    stream = subscribe(api, token, f"/structures/{api.structure_id}")
    first = next_event(api, stream)
    assert first is not None and "postal_code" not in first[1]
    update_product(api, granted.product.id, [AWAY_WRITE, POSTAL_CODE_READ])
    away = f"/structures/{api.structure_id}/away"
    assert_no_write_permission(put(api, token, away, "away"), "away")
    postal_code = f"/structures/{api.structure_id}/postal_code"
    assert_not_found(get(api, token, postal_code), postal_code)

    accept_update(api, granted)
    event = next_event(api, stream)
    assert event is not None and event[1]["postal_code"] == "94043"
    assert put(api, token, away, "away").status_code == 200
    assert next_event(api, stream) == ("put", read(api, token, f"/structures/{api.structure_id}"))
    assert read(api, token, away) == "away"
    assert read(api, token, "/metadata")["client_version"] == 2


def test_narrowed_then_accepted_takes_fields_away(api: Api) -> None:
    granted = grant_token(api, [CAMERA_READ_IMAGES, THERMOSTAT_WRITE])
    token = granted.token
    stream = subscribe(api, token, f"/devices/cameras/{api.camera}")
    first = next_event(api, stream)
    assert first is not None and "snapshot_url" in first[1]
    update_product(api, granted.product.id, [CAMERA_READ])
    path = f"/devices/thermostats/{api.living_room}"
    assert put(api, token, path, {"target_temperature_f": 71}).status_code == 200
    assert "snapshot_url" in read(api, token, f"/devices/cameras/{api.camera}")

    accept_update(api, granted)
    event = next_event(api, stream)
    assert event is not None and "snapshot_url" not in event[1]
    assert event[1] == read(api, token, f"/devices/cameras/{api.camera}")
    assert_not_found(get(api, token, path), path)
    assert_no_write_permission(put(api, token, path, {"target_temperature_f": 72}),
                               "target_temperature_f")


def test_deleting_a_product_ends_its_streams(api: Api) -> None:
    doomed, kept = grant_token(api, [THERMOSTAT_READ]), grant_token(api, [THERMOSTAT_READ])
    stream = subscribe(api, doomed.token, "/")
    survivor = subscribe(api, kept.token, "/")
    for open_stream in (stream, survivor):
        assert next_event(api, open_stream) is not None

    assert api.client.portal.call(api.service.delete_client, doomed.product.id) is True
    assert next_event(api, stream) == ("auth_revoked", None)
    assert next_event(api, stream) is None
    response = get(api, doomed.token, "/")
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"
    assert read(api, kept.token, "/metadata")["client_version"] == 1
    api.device_write(f"/devices/thermostats/{api.living_room}", {"ambient_temperature_f": 65})
    event = next_event(api, survivor)
    assert event is not None and event[0] == "put"
    assert api.client.portal.call(api.service.delete_client, doomed.product.id) is False


# -- real streams, against a real server -----------------------------------------------------


def real_get(server: RoostProcess, token: str, path: str) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=10, headers=auth(token)) as client:
        return client.get(path)


def test_each_real_stream_is_filtered_for_its_token(roost_server: RoostProcess,
                                                    streams: list[Stream]) -> None:
    server = roost_server
    tokens = {
        "thermostat": grant_token_in(server.db, [THERMOSTAT_READ], "Thermostat app").token,
        "camera": grant_token_in(server.db, [CAMERA_READ], "Camera app").token,
        "demo": server.token,
    }
    opened = {name: Stream(f"{server.url}/", token) for name, token in tokens.items()}
    streams.extend(opened.values())
    for name, stream in opened.items():
        assert stream.next_put() == real_get(server, tokens[name], "/").json()

    full = real_get(server, server.token, "/").json()
    structure_id = next(iter(full["structures"]))
    camera_id = next(iter(full["devices"]["cameras"]))
    thermostat_id = next(iter(full["devices"]["thermostats"]))

    def check(name: str, data: dict[str, Any]) -> None:
        assert data == real_get(server, tokens[name], "/").json()
        assert data["metadata"]["access_token"] == tokens[name]
        devices = {"thermostat": {"thermostats"}, "camera": {"cameras"},
                   "demo": {"thermostats", "smoke_co_alarms", "cameras"}}[name]
        assert set(data["devices"]) == devices
        if name == "camera":
            assert "snapshot_url" not in data["devices"]["cameras"][camera_id]
            assert "image_url" not in data["devices"]["cameras"][camera_id]["last_event"]

    with server.client() as client:
        # Structure basics: every stream gets the new name, each filtered for its own token.
        assert client.put(f"/structures/{structure_id}", json={"name": "Cabin"}).status_code \
            == 200
        for name, stream in opened.items():
            data = stream.next_put()
            check(name, data)
            assert data["structures"][structure_id]["name"] == "Cabin"
        # A camera change reaches the streams that can see cameras, and only them.
        response = client.put(f"/devices/cameras/{camera_id}", json={"is_streaming": False})
        assert response.status_code == 200
        for name in ("camera", "demo"):
            data = opened[name].next_put()
            check(name, data)
            assert data["devices"]["cameras"][camera_id]["is_streaming"] is False
        # The thermostat stream skipped that change: its next event is the next change it
        # can see.
        response = client.put(f"/devices/thermostats/{thermostat_id}", json={"label": "den"})
        assert response.status_code == 200
        data = opened["thermostat"].next_put()
        check("thermostat", data)
        assert data["devices"]["thermostats"][thermostat_id]["label"] == "den"


def test_a_real_stream_at_an_unreadable_location_is_404(roost_server: RoostProcess,
                                                        streams: list[Stream]) -> None:
    server = roost_server
    token = grant_token_in(server.db, [THERMOSTAT_READ]).token
    stream = Stream(f"{server.url}/devices/cameras", token)
    streams.append(stream)
    assert stream.status_code == 404
    response = real_get(server, token, "/devices/cameras")
    assert_not_found(response, "/devices/cameras")
    assert "cameras" not in real_get(server, token, "/devices").json()


# -- permission versions -------------------------------------------------------------------


@pytest.mark.parametrize(("entry", "scale_writable"), [
    ("Thermostat read/write v4", False),
    ("Thermostat read/write v5", True),
    ("Thermostat read/write", True),  # the newest version, 6
])
def test_temperature_scale_and_label_need_thermostat_read_write_v5(
        api: Api, entry: str, scale_writable: bool) -> None:
    token = grant_token(api, [entry]).token
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/devices/thermostats/{api.living_room}"
    device = api.client.get(path, headers=headers).json()
    assert device["temperature_scale"] == "F" and "label" in device  # readable at any version
    assert api.client.put(path, json={"target_temperature_f": 71},
                          headers=headers).status_code == 200
    for body in ({"temperature_scale": "C"}, {"label": "den"}):
        response = api.client.put(path, json=body, headers=headers)
        if scale_writable:
            assert response.status_code == 200, response.text
        else:
            assert response.status_code == 400
            assert response.json()["details"] == {"fields": next(iter(body))}


@pytest.mark.parametrize("entry", ["Thermostat read/write v7", "Thermostat read/write v0",
                                   "Structure read/write v2", "Thermostat read/write vX"])
def test_a_version_a_permission_never_had_is_refused(api: Api, entry: str) -> None:
    response = api.client.post("/api/v1/clients", json={"name": "Old App",
                                                        "permissions": [entry]})
    assert response.status_code == 400
    assert entry in response.json()["message"]


def test_a_permission_named_twice_is_refused(api: Api) -> None:
    response = api.client.post("/api/v1/clients", json={
        "name": "Twice", "permissions": ["Thermostat read", "Thermostat read v2"]})
    assert response.status_code == 400
    assert "once" in response.json()["message"]
