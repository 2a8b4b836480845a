"""A real thermostat's protocol against a real server: tests/thermostat.py plays the device
(raw HTTP, chunked answers) and the test the user and their apps (WWN REST and SSE, the legacy
long-poll, the pairing API)."""

from __future__ import annotations

import concurrent.futures
import re
import time
from typing import Any

import httpx
import pytest
from conftest import RoostProcess
from sse import Stream
from thermostat import Bucket, Held, Thermostat

from roost import demo

SERIAL = "02AA01AC171401XF"
KEY_ORDER = re.compile(rb'\{"object_revision":\d+,"object_timestamp":\d+,"object_key":"')


@pytest.fixture
def server(make_server: Any) -> RoostProcess:
    return make_server("--device-hold", "6", "--device-offline-after", "2")


def paired(server: RoostProcess, serial: str = SERIAL) -> tuple[Thermostat, dict[str, Any]]:
    """A thermostat that booted, reported its state, and was claimed by the demo user."""
    device = Thermostat("127.0.0.1", server.port, serial)
    urls = device.entry()
    key = device.passphrase(urls["passphrase_url"])["value"]
    report(device)
    with server.client() as api:
        answer = api.post("/api/v1/pairings", json={"entry_key": f"{key[:3]}-{key[3:]}"})
    assert answer.status_code == 201, answer.text
    claimed = answer.json()
    held = device.subscribe()  # the pairing buckets, unlisted, are sent at once
    objects = held.next()
    assert objects is not None
    assert {o["object_key"].partition(".")[0] for o in objects} >= {"user", "structure"}
    held.close()
    return device, claimed


def report(device: Thermostat) -> None:
    answer = device.put([
        {"object_key": f"shared.{device.serial}", "value": {
            "current_temperature": 19.70566, "can_heat": True, "can_cool": True,
            "target_temperature": 20.0, "target_temperature_type": "heat",
            "hvac_heater_state": False, "name": "Hall"}},
        {"object_key": f"device.{device.serial}", "value": {
            "current_humidity": 41, "has_fan": True, "away_temperature_low": 12.0,
            "away_temperature_high": 28.0, "eco": {"mode": "schedule"},
            "temperature_scale": "C", "current_version": "5.9.3-5"}},
        {"object_key": f"schedule.{device.serial}", "value": {"ver": 2, "days": {}}},
    ])
    assert answer.status == 200, answer.body


def thermostat(server: RoostProcess, device_id: str) -> dict[str, Any]:
    with server.client() as api:
        answer = api.get(f"/devices/thermostats/{device_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def wwn_write(server: RoostProcess, path: str, body: dict[str, Any]) -> None:
    with server.client(follow_redirects=True) as api:
        answer = api.put(path, json=body)
    assert answer.status_code == 200, answer.text


def test_entry_hands_out_urls_with_explicit_ports(server: RoostProcess) -> None:
    device = Thermostat("127.0.0.1", server.port)
    urls = device.entry()
    assert urls["transport_url"] == f"http://127.0.0.1:{server.port}/nest/transport"
    for name, url in urls.items():
        if name.endswith("_url") and url:
            assert re.match(r"^http://127\.0\.0\.1:\d+/", url), (name, url)
    got = device.request("GET", "/entry")
    assert got.status == 200 and got.json() == urls
    assert int(got.headers["x-nl-service-timestamp"]) > 0


def test_the_entry_key_is_a_number_in_ms_and_the_same_until_it_ends(
        server: RoostProcess) -> None:
    device = Thermostat("127.0.0.1", server.port)
    urls = device.entry()
    first = device.passphrase(urls["passphrase_url"])
    assert re.fullmatch(r"[A-Z0-9]{7}", first["value"])
    assert isinstance(first["expires"], int)
    assert first["expires"] >= time.time() * 1000 + 30 * 60 * 1000
    assert device.passphrase(urls["passphrase_url"]) == first


def test_put_answers_bare_receipts_and_identical_puts_move_nothing(
        server: RoostProcess) -> None:
    device = Thermostat("127.0.0.1", server.port)
    device.entry()
    report(device)
    key = f"shared.{SERIAL}"
    first = Bucket(device.buckets[key].revision, device.buckets[key].timestamp, {})
    answer = device.put([{"object_key": key, "value": {"current_temperature": 19.70566}}])
    assert answer.body.startswith(b'{"objects":[{"object_revision":')
    (receipt,) = answer.json()["objects"]
    assert list(receipt) == ["object_revision", "object_timestamp", "object_key"]
    assert (receipt["object_revision"], receipt["object_timestamp"]) == (
        first.revision, first.timestamp)
    # Fields inline next to the metadata, as PROTO documents the form.
    changed = device.put([{"object_key": key, "value": {"current_temperature": 20.1}}],
                         inline=True)
    (receipt,) = changed.json()["objects"]
    assert receipt["object_revision"] == first.revision + 1
    assert receipt["object_timestamp"] > first.timestamp


def test_a_stale_if_object_revision_stores_nothing_of_that_bucket_only(
        server: RoostProcess) -> None:
    device = Thermostat("127.0.0.1", server.port)
    device.entry()
    report(device)
    shared, dev = (Bucket(b.revision, b.timestamp, {}) for b in (
        device.buckets[f"shared.{SERIAL}"], device.buckets[f"device.{SERIAL}"]))
    answer = device.put([
        {"object_key": f"shared.{SERIAL}", "if_object_revision": shared.revision - 1,
         "value": {"target_temperature": 25.0}},
        {"object_key": f"device.{SERIAL}", "value": {"current_humidity": 50}}])
    refused, stored = answer.json()["objects"]
    assert "value" not in refused and refused["object_revision"] == shared.revision
    assert stored["object_revision"] == dev.revision + 1
    listing = device.request("GET", f"/nest/transport/v7/device/device.{SERIAL}").json()
    stamps = {o["object_key"]: o for o in listing["objects"]}
    assert stamps[f"shared.{SERIAL}"]["object_revision"] == shared.revision
    assert all("value" not in o for o in listing["objects"])


def test_a_held_subscribe_says_nothing_until_the_claim_then_one_chunk(
        server: RoostProcess) -> None:
    device = Thermostat("127.0.0.1", server.port)
    urls = device.entry()
    key = device.passphrase(urls["passphrase_url"])["value"]
    report(device)
    held = device.subscribe()
    assert held.status == 200
    assert int(held.headers["x-nl-suspend-time-max"]) <= 350
    assert held.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in held.headers
    assert held.silent(1.0)  # headers at once, then no body at all
    with server.client() as api:
        answer = api.post("/api/v1/pairings", json={"entry_key": key})
        assert answer.status_code == 201, answer.text
        again = api.post("/api/v1/pairings", json={"entry_key": key})
        assert again.status_code == 409, again.text
    claimed = answer.json()
    started = time.monotonic()
    objects = held.next(timeout=2.0)
    assert time.monotonic() - started < 2.0
    assert objects is not None
    assert KEY_ORDER.search(held.raw[0])
    by_kind = {o["object_key"].partition(".")[0]: o for o in objects}
    assert by_kind["user"]["value"]["name"]
    assert by_kind["structure"]["object_key"] == f"structure.{claimed['structure_id']}"
    assert by_kind["structure"]["value"]["devices"] == [f"device.{SERIAL}"]
    assert held.next(timeout=5.0) is None  # the body ends 3 s after the last chunk
    held.close()
    # The device's state became the thermostat's.
    found = thermostat(server, claimed["device_id"])
    assert found["ambient_temperature_c"] == 19.5
    assert found["humidity"] == 40
    assert found["target_temperature_c"] == 20.0
    assert found["hvac_mode"] == "heat"
    assert found["label"] == "Hall"
    assert found["is_online"] is True
    assert found["structure_id"] == claimed["structure_id"]


def test_a_wwn_setpoint_reaches_the_held_subscribe_with_a_higher_revision(
        server: RoostProcess) -> None:
    device, claimed = paired(server)
    key = f"shared.{SERIAL}"
    before = device.buckets[key].revision
    held = device.subscribe()
    assert held.silent(0.5)
    started = time.monotonic()
    wwn_write(server, f"/devices/thermostats/{claimed['device_id']}",
              {"target_temperature_c": 22.5})
    objects = held.next(timeout=2.0)
    assert time.monotonic() - started < 2.0
    assert objects is not None and [o["object_key"] for o in objects] == [key]
    (pushed,) = objects
    assert KEY_ORDER.match(held.raw[0], len(b'{"objects":['))
    assert pushed["object_revision"] > before
    assert pushed["value"]["target_temperature"] == 22.5
    assert pushed["value"]["target_change_pending"] is True
    assert "current_temperature" not in pushed["value"]  # never a device-owned field
    # A second write within 3 s is a further chunk on the same connection.
    wwn_write(server, f"/devices/thermostats/{claimed['device_id']}",
              {"target_temperature_c": 23.0})
    second = held.next(timeout=3.0)
    assert second is not None and second[0]["value"]["target_temperature"] == 23.0
    assert held.next(timeout=5.0) is None
    held.close()
    # The device applies it and acknowledges; nothing is sent again, the setpoint stays.
    held = device.subscribe()
    assert held.silent(0.5)
    device.put([{"object_key": key, "if_object_revision": device.buckets[key].revision,
                 "value": {"target_change_pending": False}}])
    assert held.silent(1.5)
    held.close()
    assert thermostat(server, claimed["device_id"])["target_temperature_c"] == 23.0


def test_a_device_reading_reaches_rest_sse_and_legacy_but_not_itself(
        server: RoostProcess, streams: list[Stream]) -> None:
    device, claimed = paired(server)
    device_id = claimed["device_id"]
    stream = Stream(f"{server.url}/devices/thermostats/{device_id}", server.token)
    streams.append(stream)
    assert stream.next().put["ambient_temperature_c"] == 19.5
    login = httpx.post(f"{server.url}/user/login",
                       data={"username": demo.EMAIL, "password": demo.PASSWORD}).json()
    legacy = {"Authorization": f"Basic {login['access_token']}"}
    shared = httpx.get(f"{server.url}/v5/mobile/user.{login['userid']}",
                       headers=legacy).json()
    bucket = next(o for o in shared["objects"] if o["object_key"] == f"shared.{device_id}")
    held = device.subscribe()
    assert held.silent(0.3)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        poll = pool.submit(httpx.post, f"{server.url}/v5/subscribe", headers=legacy,
                           timeout=15, json={"timeout": 10, "objects": [
                               {"object_key": bucket["object_key"],
                                "object_revision": bucket["object_revision"],
                                "object_timestamp": bucket["object_timestamp"]}]})
        time.sleep(0.3)
        device.put([{"object_key": f"shared.{SERIAL}",
                     "value": {"current_temperature": 23.1, "hvac_heater_state": True}}])
        answered = poll.result(timeout=5).json()
    assert answered["objects"][0]["value"]["current_temperature"] == 23.1
    event = stream.next(timeout=2.0).put
    assert event["ambient_temperature_c"] == 23.0
    found = thermostat(server, device_id)
    assert (found["ambient_temperature_c"], found["hvac_state"]) == (23.0, "heating")
    assert held.silent(1.5)  # its own put never comes back to it
    held.close()


def test_a_fan_timer_started_on_the_thermostat_reaches_wwn_and_ends_there(
        server: RoostProcess) -> None:
    device, claimed = paired(server)
    device_id = claimed["device_id"]
    held = device.subscribe()
    ends = int(time.time()) + 900
    device.put([{"object_key": f"device.{SERIAL}", "value": {"fan_timer_timeout": ends}}])
    found = thermostat(server, device_id)
    assert found["fan_timer_active"] is True
    assert found["fan_timer_timeout"].startswith(
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ends)))
    # The thermostat ends its own timer, writing 0: WWN shows it off.
    device.put([{"object_key": f"device.{SERIAL}", "value": {"fan_timer_timeout": 0}}])
    found = thermostat(server, device_id)
    assert (found["fan_timer_active"], found["fan_timer_timeout"]) == (
        False, "1970-01-01T00:00:00.000Z")
    assert held.silent(1.0)  # what it wrote itself is not sent back to it
    held.close()


def test_away_reaches_the_device_as_manual_eco_all_and_home_as_schedule(
        server: RoostProcess) -> None:
    device, claimed = paired(server)
    structure = f"/structures/{claimed['structure_id']}"
    held = device.subscribe()
    wwn_write(server, structure, {"away": "away"})
    objects = held.next(timeout=2.0)
    assert objects is not None
    pushed = {o["object_key"].partition(".")[0]: o["value"] for o in objects}
    assert pushed["structure"]["manual_eco_all"] is True
    assert abs(pushed["structure"]["manual_eco_timestamp"] - time.time()) < 600
    assert pushed["device"]["eco"]["mode"] == "manual-eco"
    assert held.next(timeout=5.0) is None
    held.close()
    held = device.subscribe()
    assert held.silent(0.3)
    wwn_write(server, structure, {"away": "home"})
    objects = held.next(timeout=2.0)
    assert objects is not None  # both in the same answer
    pushed = {o["object_key"].partition(".")[0]: o["value"] for o in objects}
    assert pushed["structure"]["manual_eco_all"] is False
    assert pushed["structure"]["away"] is False
    assert abs(pushed["structure"]["manual_eco_timestamp"] - time.time()) < 600
    assert pushed["device"]["eco"]["mode"] == "schedule"
    held.close()
    # The device's own Eco button reaches WWN.
    device.put([{"object_key": f"device.{SERIAL}", "value": {"eco": {"mode": "manual-eco"}}}])
    assert thermostat(server, claimed["device_id"])["hvac_mode"] == "eco"


def test_a_device_that_stops_calling_goes_offline_and_comes_back(
        server: RoostProcess) -> None:
    device, claimed = paired(server)
    deadline = time.monotonic() + 10
    while thermostat(server, claimed["device_id"])["is_online"]:
        assert time.monotonic() < deadline, "still online"
        time.sleep(0.3)
    held = device.subscribe()
    assert thermostat(server, claimed["device_id"])["is_online"] is True
    held.close()


def test_a_stale_or_rebooted_listing_is_answered_at_once_whole(server: RoostProcess) -> None:
    device, _ = paired(server)
    rebooted = [{"object_key": k, "object_revision": 0, "object_timestamp": 0}
                for k in (f"device.{SERIAL}", f"shared.{SERIAL}")]
    held = device.subscribe(rebooted)
    objects = held.next(timeout=2.0)
    assert objects is not None
    shared = next(o for o in objects if o["object_key"] == f"shared.{SERIAL}")
    assert shared["value"]["current_temperature"] == 19.70566
    assert held.next(timeout=1.0) is None  # an immediate answer ends the body
    held.close()
    answer = device.subscribe(rebooted, chunked=False)
    assert answer.status == 200
    answer.close()


def test_overlapping_subscribes_of_one_device_both_get_the_push(server: RoostProcess) -> None:
    device, claimed = paired(server)
    first, second = device.subscribe(), device.subscribe()
    wwn_write(server, f"/devices/thermostats/{claimed['device_id']}",
              {"target_temperature_c": 21.0})
    for held in (first, second):
        objects = held.next(timeout=2.0)
        assert objects is not None and objects[0]["value"]["target_temperature"] == 21.0
        held.close()


def test_restart_keeps_buckets_revisions_and_ownership(server: RoostProcess) -> None:
    device, claimed = paired(server)
    stamps = {k: (b.revision, b.timestamp) for k, b in device.buckets.items()}
    server.restart()
    held: Held = device.subscribe()
    assert held.silent(1.0)  # every listed copy is current: nothing to say
    wwn_write(server, f"/devices/thermostats/{claimed['device_id']}",
              {"target_temperature_c": 21.5})
    objects = held.next(timeout=2.0)
    assert objects is not None
    assert objects[0]["object_revision"] > stamps[f"shared.{SERIAL}"][0]
    held.close()


def test_a_quiet_hold_ends_empty_at_its_end(server: RoostProcess) -> None:
    """The server's close drives the device's cycle: at suspend-time-max − 10 s the body
    ends with no JSON, and no byte comes before it."""
    device, _ = paired(server)
    held = device.subscribe()
    assert held.headers["x-nl-suspend-time-max"] == "16"  # --device-hold 6, plus 10
    started = time.monotonic()
    assert held.next(timeout=10.0) is None
    assert 5.0 <= time.monotonic() - started < 8.0
    assert held.raw == []
    held.close()
