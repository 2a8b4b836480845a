"""``roost serve --mqtt-all-users``: every user's homes on one broker connection, each under
a prefix of their own, and commands there acting as that user only (docs/mqtt.md)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from conftest import RoostProcess
from mqtt_helpers import PORT, Watcher, clear_retained, unique_prefixes
from test_mqtt import demo_ids

from roost import demo

SECOND = "second@example.com"


def logged_prefix(server: RoostProcess, who: str) -> str:
    """The prefix the server says a user's homes are under."""
    pattern = re.compile(rf"MQTT: the homes of {re.escape(who)} are under (\S+)/$")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in list(server.output):
            if found := pattern.search(line.rstrip()):
                return found.group(1)
        time.sleep(0.05)
    raise AssertionError(f"no prefix logged for {who}:\n" + "".join(server.output))


def roost(db: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "roost", *args, "--db", str(db)],
                          capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.strip()


def test_each_user_under_their_own_prefix_and_only_their_own(make_server: Any,
                                                            tmp_path: Path) -> None:
    prefix, discovery = unique_prefixes()
    db = tmp_path / "roost.db"
    server = make_server("--mqtt", f"mqtt://127.0.0.1:{PORT}", "--mqtt-all-users",
                         "--mqtt-prefix", prefix, "--mqtt-discovery-prefix", discovery, db=db)
    watcher = Watcher([prefix, discovery])
    try:
        with server.client() as client:
            ids = demo_ids(client.get("/").json())
        first = logged_prefix(server, demo.EMAIL)
        assert first.startswith(prefix + "/") and "example" not in first
        watcher.wait_value(f"{prefix}/status", "online")
        watcher.wait_value(f"{first}/{ids['living_room']}/target", "21.0")

        # A user created while serving, whose home is made then: picked up on its first change.
        created = roost(db, "user", "create", "--email", SECOND, "--password", "second-pass")
        user_id = re.search(r"\((\w+)\)", created).group(1)  # type: ignore[union-attr]
        token = roost(db, "token", "create", "--user", SECOND)
        theirs = httpx.Client(base_url=server.url, timeout=10,
                              headers={"Authorization": f"Bearer {token}"})
        made = theirs.post("/api/v1/sim/structures", json={"name": "Cabin"})
        assert made.status_code == 201, made.text
        cabin = made.json()["structure_id"]
        made = theirs.post("/api/v1/sim/devices",
                           json={"kind": "thermostat", "structure_id": cabin})
        assert made.status_code == 201, made.text
        thermostat = made.json()["device_id"]
        second = logged_prefix(server, f"user {user_id}")
        assert second.startswith(prefix + "/") and second != first
        watcher.wait(lambda m: m.topic == f"{second}/{cabin}/away")
        watcher.wait(lambda m: m.topic == f"{second}/{thermostat}/mode")

        # Each user's states and discovery name only their own home.
        mine = {first: set(ids.values()), second: {cabin, thermostat}}
        time.sleep(0.5)
        states = [m.topic for m in watcher.messages
                  if m.topic.startswith(prefix + "/") and m.topic != f"{prefix}/status"]
        for topic in states:
            owner = next(p for p in mine if topic.startswith(p + "/"))
            assert topic.removeprefix(owner + "/").split("/")[0] in mine[owner], topic
        assert {t.removeprefix(second + "/").split("/")[0] for t in states
                if t.startswith(second + "/")} == mine[second]
        configs = {m.topic: json.loads(m.payload) for m in watcher.messages
                   if m.topic.startswith(discovery + "/") and m.payload}
        unique_ids = [c["unique_id"] for c in configs.values()]
        assert len(unique_ids) == len(set(unique_ids))
        for config in configs.values():
            device = config["device"]["identifiers"][0].removeprefix("roost_")
            owner = first if device in mine[first] else second
            assert device in mine[owner]
            for key, topic in config.items():
                if key.endswith("_topic"):
                    assert topic.startswith(owner + "/"), (key, topic)
        assert any(f"roost_{thermostat}_" in u for u in unique_ids)

        # A command under the second user's prefix for the first user's device is ignored;
        # one for their own home changes only it.
        before = server.client().get(f"/devices/thermostats/{ids['living_room']}").json()
        watcher.publish(f"{second}/{ids['living_room']}/target/set", "25")
        watcher.publish(f"{second}/{ids['structure']}/away/set", "away")
        watcher.publish(f"{second}/{cabin}/away/set", "away")
        mark = watcher.mark
        watcher.wait_value(f"{second}/{cabin}/away", "away", after=0)
        assert theirs.get(f"/structures/{cabin}").json()["away"] == "away"
        time.sleep(0.5)  # the ignored ones were gathered in the same window
        with server.client() as client:
            assert client.get(f"/structures/{ids['structure']}").json()["away"] == "home"
            after = client.get(f"/devices/thermostats/{ids['living_room']}").json()
        assert after["target_temperature_c"] == before["target_temperature_c"]
        assert not [m for m in watcher.messages[mark:] if m.topic.startswith(first + "/")]
        assert sum("ignored commands for" in line for line in server.output) == 2
        # And the first user's commands still work under their own prefix.
        watcher.publish(f"{first}/{ids['structure']}/away/set", "away")
        watcher.wait_value(f"{first}/{ids['structure']}/away", "away")
        theirs.close()
    finally:
        server.kill()
        watcher.close()
        clear_retained([prefix, discovery])


def test_all_users_and_one_user_do_not_go_together(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "roost", "serve", "--db",
                           str(tmp_path / "r.db"), "--mqtt", f"mqtt://127.0.0.1:{PORT}",
                           "--mqtt-all-users", "--mqtt-user", demo.EMAIL],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "--mqtt-user and --mqtt-all-users do not go together" in done.stderr
