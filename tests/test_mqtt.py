"""The MQTT bridge against a real Mosquitto: Home Assistant's discovery, state out, commands in
(docs/mqtt.md). Each test publishes under prefixes of its own and removes its retained
messages afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import RoostProcess
from mqtt_helpers import PORT, Message, OwnBroker, Watcher, clear_retained, unique_prefixes

GOLDEN = Path(__file__).parent / "golden" / "mqtt" / "discovery.json"
CONFIGS = 17  # the demo home's entities: 5 refusal events, 2 climates, 6 binary sensors, …


@dataclass
class Bridged:
    server: RoostProcess
    watcher: Watcher
    prefix: str
    discovery: str
    ids: dict[str, str]  # placeholder name -> id

    def state(self, name: str, topic: str) -> str:
        return f"{self.prefix}/{self.ids[name]}/{topic}"

    def command(self, name: str, topic: str, payload: str | bytes, retain: bool = False) -> None:
        self.watcher.publish(f"{self.prefix}/{self.ids[name]}/{topic}/set", payload, retain)

    def get(self, path: str) -> Any:
        with self.server.client() as client:
            response = client.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    def put(self, path: str, body: Any) -> Any:
        with self.server.client() as client:
            return client.put(path, json=body)

    def thermostat(self, name: str) -> dict[str, Any]:
        return self.get(f"/devices/thermostats/{self.ids[name]}")

    def configs(self, after: int = 0) -> dict[str, Message]:
        found: dict[str, Message] = {}
        for message in self.watcher.messages[after:]:
            if message.topic.startswith(self.discovery + "/") and \
                    message.topic.endswith("/config"):
                found[message.topic] = message
        return found

    def wait_configs(self, after: int = 0) -> dict[str, Message]:
        deadline = time.monotonic() + 10
        while len(self.configs(after)) < CONFIGS and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.configs(after)


def demo_ids(tree: dict[str, Any]) -> dict[str, str]:
    by_where = {t["where_name"]: i for i, t in tree["devices"]["thermostats"].items()}
    return {"living_room": by_where["Living Room"], "bedroom": by_where["Bedroom"],
            "alarm": next(iter(tree["devices"]["smoke_co_alarms"])),
            "camera": next(iter(tree["devices"]["cameras"])),
            "structure": next(iter(tree["structures"]))}


def start(make_server: Any, url: str = f"mqtt://127.0.0.1:{PORT}",
          db: Path | None = None) -> Bridged:
    prefix, discovery = unique_prefixes()
    server = make_server("--mqtt", url, "--mqtt-prefix", prefix,
                         "--mqtt-discovery-prefix", discovery, db=db)
    port = int(url.rsplit(":", 1)[1])
    watcher = Watcher([prefix, discovery], port)
    bridged = Bridged(server, watcher, prefix, discovery, {})
    bridged.ids = demo_ids(bridged.get("/"))
    watcher.wait_value(f"{prefix}/status", "online")
    return bridged


@pytest.fixture
def bridged(make_server: Any) -> Iterator[Bridged]:
    home = start(make_server)
    yield home
    home.server.kill()
    home.watcher.close()
    clear_retained([home.prefix, home.discovery])


def test_discovery_payloads_match_the_golden_files(bridged: Bridged) -> None:
    configs = bridged.wait_configs()
    assert len(configs) == CONFIGS
    # Retained: a Home Assistant that subscribes later gets every one.
    late = Watcher([bridged.discovery])
    deadline = time.monotonic() + 5
    while len(late.messages) < CONFIGS and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {m.topic for m in late.messages if m.retain} == set(configs)
    late.close()
    text = json.dumps({t: json.loads(m.payload) for t, m in configs.items()},
                      indent=1, sort_keys=True)
    for name, id in bridged.ids.items():
        text = text.replace(id, f"<{name}>")
    text = text.replace(bridged.discovery, "homeassistant").replace(bridged.prefix, "roost")
    version = json.loads(next(iter(configs.values())).payload)["origin"]["sw_version"]
    text = text.replace(f'"sw_version": "{version}"', '"sw_version": "<version>"')
    if os.environ.get("ROOST_UPDATE_GOLDEN"):
        GOLDEN.write_text(text + "\n")
    assert json.loads(text) == json.loads(GOLDEN.read_text())


def test_state_topics_carry_the_home_and_a_wwn_write_reaches_them(bridged: Bridged) -> None:
    living = bridged.state("living_room", "target")
    bridged.watcher.wait_value(living, "21.0")
    assert bridged.watcher.latest(bridged.state("bedroom", "mode")) == "heat_cool"
    assert bridged.watcher.latest(bridged.state("structure", "away")) == "home"
    assert bridged.watcher.latest(bridged.state("alarm", "smoke_state")) == "ok"
    mark = bridged.watcher.mark
    response = bridged.put(f"/devices/thermostats/{bridged.ids['living_room']}",
                           {"target_temperature_c": 22.5})
    assert response.status_code == 200, response.text
    message = bridged.watcher.wait_value(living, "22.5", after=mark)
    assert message.retain is False  # live delivery; the broker keeps it retained
    # Only what changed is published again.
    time.sleep(0.3)
    assert {m.topic for m in bridged.watcher.messages[mark:]} == {living}


def test_each_command_reaches_the_home(bridged: Bridged) -> None:
    living = bridged.ids["living_room"]
    bridged.command("living_room", "mode", "cool")
    bridged.watcher.wait_value(bridged.state("living_room", "mode"), "cool")
    assert bridged.thermostat("living_room")["hvac_mode"] == "cool"

    bridged.command("living_room", "target", "23.4")  # to half a degree, half up
    bridged.watcher.wait_value(bridged.state("living_room", "target"), "23.5")
    assert bridged.thermostat("living_room")["target_temperature_c"] == 23.5

    bridged.command("living_room", "fan_mode", "on")
    bridged.watcher.wait_value(bridged.state("living_room", "fan_mode"), "on")
    assert bridged.thermostat("living_room")["fan_timer_active"] is True

    bridged.command("living_room", "preset", "eco")
    bridged.watcher.wait_value(bridged.state("living_room", "preset"), "eco")
    assert bridged.thermostat("living_room")["hvac_mode"] == "eco"
    assert bridged.watcher.latest(bridged.state("living_room", "mode")) == "cool"
    bridged.command("living_room", "preset", "none")
    bridged.watcher.wait_value(bridged.state("living_room", "preset"), "none",
                               after=bridged.watcher.mark - 1)
    assert bridged.thermostat("living_room")["hvac_mode"] == "cool"

    bridged.command("structure", "away", "away")
    bridged.watcher.wait_value(bridged.state("structure", "away"), "away")
    bridged.watcher.wait_value(bridged.state("living_room", "preset"), "away")
    assert bridged.get(f"/structures/{bridged.ids['structure']}/away") == "away"
    bridged.command("living_room", "preset", "none")  # home again
    bridged.watcher.wait_value(bridged.state("structure", "away"), "home")

    bridged.command("camera", "streaming", "OFF")
    bridged.watcher.wait_value(bridged.state("camera", "streaming"), "OFF")
    assert bridged.get(f"/devices/cameras/{bridged.ids['camera']}/is_streaming") is False
    assert living  # and nothing was refused on the way
    assert not [m for m in bridged.watcher.messages if m.topic.endswith("/refused")]


def test_a_refused_command_republishes_the_truth_and_says_why(bridged: Bridged) -> None:
    # The bedroom is locked to 66–78 °F (19–25.5 °C).
    topic = bridged.state("bedroom", "target_high")
    bridged.watcher.wait_value(topic, "24.0")
    rest = bridged.put(f"/devices/thermostats/{bridged.ids['bedroom']}",
                       {"target_temperature_high_c": 30})
    assert rest.status_code == 400
    mark = bridged.watcher.mark
    bridged.command("bedroom", "target_high", "30")
    refused = bridged.watcher.wait(lambda m: m.topic.endswith("/refused"), after=mark)
    assert refused.topic == bridged.state("bedroom", "refused")
    assert refused.retain is False
    event = json.loads(refused.payload)
    expected = rest.json()
    assert event == {"event_type": "refused", "command": "target_high", "payload": "30",
                     "error": expected["error"], "type": expected["type"],
                     **({"details": expected["details"]} if "details" in expected else {})}
    # Before the event, every state topic of the device again, with the true values.
    before = bridged.watcher.messages[mark:bridged.watcher.messages.index(refused)]
    assert [m.payload for m in before if m.topic == topic] == ["24.0"]
    assert {m.topic for m in before} >= {bridged.state("bedroom", t) for t in
                                          ("mode", "target", "target_low", "preset")}
    assert bridged.thermostat("bedroom")["target_temperature_high_c"] == 24.0


def test_low_and_high_sent_apart_are_one_write(bridged: Bridged) -> None:
    living = bridged.ids["living_room"]
    assert bridged.put(f"/devices/thermostats/{living}",
                       {"hvac_mode": "heat-cool"}).status_code == 200
    bridged.watcher.wait_value(bridged.state("living_room", "target_high"), "24.5")
    # One at a time, low 25 above high 24.5 would be refused; together it is a valid move.
    bridged.command("living_room", "target_low", "25")
    bridged.command("living_room", "target_high", "28")
    bridged.watcher.wait_value(bridged.state("living_room", "target_high"), "28.0")
    bridged.watcher.wait_value(bridged.state("living_room", "target_low"), "25.0")
    thermostat = bridged.thermostat("living_room")
    assert (thermostat["target_temperature_low_c"],
            thermostat["target_temperature_high_c"]) == (25.0, 28.0)
    assert not [m for m in bridged.watcher.messages if m.topic.endswith("/refused")]


def test_home_assistant_coming_online_gets_discovery_again(bridged: Bridged) -> None:
    bridged.wait_configs()
    mark = bridged.watcher.mark
    bridged.watcher.publish(f"{bridged.discovery}/status", "online")
    assert len(bridged.wait_configs(after=mark)) == CONFIGS


def test_bad_commands_never_stop_the_bridge(bridged: Bridged) -> None:
    mark = bridged.watcher.mark
    bridged.command("living_room", "target", "warm")
    event = json.loads(bridged.watcher.wait(
        lambda m: m.topic == bridged.state("living_room", "refused"), after=mark).payload)
    assert event["event_type"] == "refused" and event["payload"] == "warm"
    mark = bridged.watcher.mark
    bridged.command("living_room", "mode", "turbo")
    event = json.loads(bridged.watcher.wait(
        lambda m: m.topic == bridged.state("living_room", "refused"), after=mark).payload)
    assert event["command"] == "mode" and "turbo" in event["error"]
    bridged.command("living_room", "target", "2" * 100_000)  # ignored with a log line
    bridged.command("living_room", "target", b"\xff\xfe")
    bridged.command("alarm", "mode", "off")  # a Protect takes no commands
    bridged.watcher.publish(f"{bridged.prefix}/no-such-device/mode/set", "off")
    bridged.watcher.publish(f"{bridged.prefix}/a/b/c/set", "off")
    # Still working: a good command goes through.
    bridged.command("living_room", "target", "20")
    bridged.watcher.wait_value(bridged.state("living_room", "target"), "20.0")
    assert bridged.thermostat("living_room")["target_temperature_c"] == 20.0


def test_another_users_device_is_out_of_reach(bridged: Bridged) -> None:
    db = str(bridged.server.db)
    roost = [sys.executable, "-m", "roost"]
    subprocess.run([*roost, "user", "create", "--email", "other@example.com",
                    "--password", "other-password", "--db", db], check=True,
                   capture_output=True)
    token = subprocess.run([*roost, "token", "create", "--user", "other@example.com",
                            "--db", db], check=True, capture_output=True,
                           text=True).stdout.strip()
    with httpx.Client(base_url=bridged.server.url, timeout=10,
                      headers={"Authorization": f"Bearer {token}"}) as other:
        structure = other.post("/api/v1/sim/structures", json={}).json()["structure_id"]
        theirs = other.post("/api/v1/sim/devices", json={
            "kind": "thermostat", "structure_id": structure}).json()["device_id"]
        before = other.get(f"/devices/thermostats/{theirs}").json()
        mark = bridged.watcher.mark
        bridged.watcher.publish(f"{bridged.prefix}/{theirs}/mode/set", "off")
        bridged.watcher.publish(f"{bridged.prefix}/{structure}/away/set", "away")
        bridged.command("living_room", "target", "19.5")  # sent after: done once they are
        bridged.watcher.wait_value(bridged.state("living_room", "target"), "19.5")
        time.sleep(0.3)
        assert other.get(f"/devices/thermostats/{theirs}").json() == before
        assert other.get(f"/structures/{structure}/away").json() == "home"
    # Nothing is published about the other user's home, not even a refusal.
    assert not [m for m in bridged.watcher.messages[mark:]
                if (theirs in m.topic or structure in m.topic) and not m.topic.endswith("/set")]


def test_a_retained_command_is_ignored(make_server: Any, tmp_path: Path) -> None:
    db = tmp_path / "home.db"
    home = start(make_server, db=db)
    try:
        home.server.terminate()
        # Left on the broker by someone, replayed to every new subscriber: never carried out.
        home.command("living_room", "mode", "off", retain=True)
        mark = home.watcher.mark  # before starting: the bridge may be online before start returns
        home.server.start()
        home.watcher.wait_value(f"{home.prefix}/status", "online", after=mark)
        home.command("living_room", "target", "22")  # after the replay: done once it is
        home.watcher.wait_value(home.state("living_room", "target"), "22.0")
        assert home.thermostat("living_room")["hvac_mode"] == "heat"
    finally:
        home.server.kill()
        home.watcher.close()
        clear_retained([home.prefix, home.discovery])


def test_a_broker_restart_is_survived(make_server: Any, tmp_path: Path) -> None:
    broker = OwnBroker(tmp_path).start()
    try:
        home = start(make_server, url=f"mqtt://127.0.0.1:{broker.port}")
        home.watcher.wait_value(home.state("living_room", "target"), "21.0")
        home.watcher.close()
        broker.stop()
        # The server goes on as before while the broker is away.
        started = time.monotonic()
        response = home.put(f"/devices/thermostats/{home.ids['living_room']}",
                            {"target_temperature_c": 23})
        assert response.status_code == 200
        assert time.monotonic() - started < 5
        broker.start()  # it kept nothing: the bridge publishes everything again
        watcher = Watcher([home.prefix, home.discovery], broker.port)
        watcher.wait_value(f"{home.prefix}/status", "online", timeout=30)
        watcher.wait_value(home.state("living_room", "target"), "23.0")
        home.watcher = watcher
        assert len(home.wait_configs()) == CONFIGS
        # And commands work again.
        home.command("living_room", "target", "19")
        watcher.wait_value(home.state("living_room", "target"), "19.0")
        # A bridge that dies leaves its last will.
        home.server.kill()
        watcher.wait_value(f"{home.prefix}/status", "offline")
        watcher.close()
    finally:
        broker.stop()


def test_availability_and_deletion(bridged: Bridged) -> None:
    camera = bridged.ids["camera"]
    topic = bridged.state("camera", "availability")
    bridged.watcher.wait_value(topic, "online")
    with bridged.server.client() as client:
        assert client.put(f"/api/v1/sim/devices/{camera}/online",
                          json={"online": False}).status_code == 200
        bridged.watcher.wait_value(topic, "offline")
        configs = [t for t in bridged.wait_configs() if f"roost_{camera}/" in t]
        assert len(configs) == 5  # motion, sound, person, streaming, refused
        mark = bridged.watcher.mark
        assert client.delete(f"/api/v1/sim/devices/{camera}").status_code == 204
    # Each of its entities is removed by an empty retained config; its state goes too.
    for config in configs:
        bridged.watcher.wait_value(config, "", after=mark)
    bridged.watcher.wait_value(bridged.state("camera", "streaming"), "", after=mark)


def test_a_homes_away_follows_its_first_device(bridged: Bridged) -> None:
    with bridged.server.client() as client:
        added = client.post("/api/v1/sim/structures", json={"name": "Cabin"})
        assert added.status_code == 201, added.text
        cabin = added.json()["structure_id"]
        away = f"{bridged.prefix}/{cabin}/away"
        bridged.watcher.wait_value(away, "None")  # no device: Nest's "unknown"
        mark = bridged.watcher.mark
        device = client.post("/api/v1/sim/devices", json={"kind": "thermostat",
                                                          "structure_id": cabin})
        assert device.status_code == 201, device.text
    bridged.watcher.wait_value(away, "home", after=mark)


def test_a_clean_stop_says_offline(bridged: Bridged) -> None:
    bridged.server.terminate()
    bridged.watcher.wait_value(f"{bridged.prefix}/status", "offline")


@pytest.mark.parametrize(("args", "said"), [
    (["--mqtt", "http://broker"], "mqtt:// or mqtts://"),
    (["--mqtt", "mqtt://broker:99999"], "port"),
    (["--mqtt-user", "a@example.com"], "--mqtt-user needs --mqtt"),
    (["--mqtt", "mqtt://broker", "--mqtt-prefix", "roost/#"], "+ or #"),
    (["--mqtt-all-users"], "--mqtt-all-users needs --mqtt"),
    (["--mqtt", "mqtt://broker", "--mqtt-cafile", __file__], "needs an mqtts:// broker"),
])
def test_serve_refuses_bad_mqtt_options(tmp_path: Path, args: list[str], said: str) -> None:
    done = subprocess.run([sys.executable, "-m", "roost", "serve", "--db",
                           str(tmp_path / "r.db"), *args], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 2
    assert said in done.stderr
