"""Record what a streaming client sees of the demo home at ``--speed 60``.

Starts ``roost serve --demo --speed 60`` on a fresh SQLite file, opens a Works with Nest
stream at ``/`` with the demo token, then plays a short story through the public APIs: a new
set point (the room heats up to it and the heating stops), a departure (away, then eco), an
arrival (home, the previous mode back) and a smoke alarm that sounds and clears. Every field
that changes in the stream is written, with the simulated time, to ``docs/demo/stream.txt``.

    .venv/bin/python scripts/record_demo.py [--out docs/demo/stream.txt]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from roost.client import Roost, Unreachable

ROOT = Path(__file__).resolve().parent.parent
SPEED = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            yield from flatten(inner, f"{prefix}/{key}")
    else:
        yield prefix, value


class Recorder:
    """Reads the stream on a thread and keeps one line per changed field."""

    def __init__(self, base: str, token: str, names: dict[str, str]) -> None:
        self.base, self.token, self.names = base, token, names
        self.lines: list[str] = []
        self.state: dict[str, Any] = {}
        # Simulated time runs SPEED times faster than ours from a moment the server told us.
        self.origin = (datetime.now(UTC), time.monotonic())
        self._seen = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._stop = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop = True

    def _run(self) -> None:
        with Roost(self.base, self.token) as roost:
            for event in roost.stream("/", read_timeout=3600):
                if self._stop:
                    return
                self._put(event.data)

    def now(self) -> str:
        simulated, at = self.origin
        return (simulated + timedelta(seconds=(time.monotonic() - at) * SPEED)
                ).strftime("%a %H:%M")

    def _label(self, path: str) -> str:
        for id, name in self.names.items():
            path = path.replace(id, name)
        return path.removeprefix("/")

    def _put(self, tree: dict[str, Any]) -> None:
        flat = dict(flatten({k: v for k, v in tree.items() if k != "metadata"}))
        first = not self.state
        with self._seen:
            for path, value in flat.items():
                if not first and self.state.get(path) != value and self._interesting(path):
                    self.lines.append(f"{self.now()}  {self._label(path)}: "
                                      f"{json.dumps(self.state.get(path))} -> "
                                      f"{json.dumps(value)}")
            self.state = flat
            self._seen.notify_all()

    @staticmethod
    def _interesting(path: str) -> bool:
        # The heartbeat's last_connection moves every ten simulated minutes: noise here.
        return not path.endswith(("/last_connection", "/urls_expire_time"))

    def wait(self, what: str, test: Callable[[dict[str, Any]], bool],
             timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        with self._seen:
            while not test(self.state):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SystemExit(f"timed out waiting for {what}")
                self._seen.wait(left)
        self.note(f"-- seen: {what}")

    def note(self, text: str) -> None:
        with self._seen:
            self.lines.append(f"{self.now()}  {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "demo" / "stream.txt"))
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "roost"), "serve", "--demo", "--speed", str(SPEED),
             "--port", str(port), "--db", os.path.join(tmp, "demo.db")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        )
        try:
            record(server, base, Path(args.out))
        finally:
            server.terminate()
            server.wait(10)


def record(server: subprocess.Popen[str], base: str, out: Path) -> None:
    assert server.stdout is not None
    token = ""
    for line in server.stdout:
        if match := re.search(r"access token: (\S+)", line):
            token = match.group(1)
        if "Roost serving" in line:
            break
    if not token:
        sys.exit("the server printed no demo token")
    threading.Thread(target=server.stdout.read, daemon=True).start()  # keep the pipe empty
    client = Roost(base, token)
    for _ in range(100):
        try:
            client.get("/openapi.json")
            break
        except Unreachable:
            time.sleep(0.1)
    home = client.get("/")
    structure_id, structure = next(iter(home["structures"].items()))
    thermostats = home["devices"]["thermostats"]
    living = next(i for i, t in thermostats.items() if t["name"].startswith("Living Room"))
    alarm = next(iter(home["devices"]["smoke_co_alarms"]))
    names = {structure_id: structure["name"],
             **{i: d["name"] for kind in home["devices"].values() for i, d in kind.items()}}
    rec = Recorder(base, token, names)
    rec.start()
    rec.wait("the first event", lambda s: bool(s))
    thermostat = f"devices/thermostats/{living}"

    def field(path: str) -> Callable[[dict[str, Any]], Any]:
        return lambda state: state.get("/" + path)

    def status() -> None:
        simulated = client.sim.status().time
        rec.origin = (datetime.fromisoformat(simulated.replace("Z", "+00:00")), time.monotonic())

    status()
    start = field(f"{thermostat}/ambient_temperature_f")(rec.state)
    target = int(start) + 4
    rec.note(f"-- PUT {names[living]} target_temperature_f {target} (room at {start} °F)")
    client.put(thermostat, {"target_temperature_f": target})
    rec.wait("hvac_state heating", lambda s: field(f"{thermostat}/hvac_state")(s) == "heating")
    rec.wait("the room at the set point",
             lambda s: field(f"{thermostat}/ambient_temperature_f")(s) >= target)
    rec.wait("hvac_state off", lambda s: field(f"{thermostat}/hvac_state")(s) == "off")
    status()
    rec.note("-- simulator: everyone leaves")
    client.sim.depart(structure_id)
    rec.wait("away", lambda s: field(f"structures/{structure_id}/away")(s) == "away")
    rec.wait("eco", lambda s: field(f"{thermostat}/hvac_mode")(s) == "eco")
    status()
    rec.note("-- simulator: someone comes home")
    client.sim.arrive(structure_id)
    rec.wait("home", lambda s: field(f"structures/{structure_id}/away")(s) == "home")
    rec.wait("heat again", lambda s: field(f"{thermostat}/hvac_mode")(s) == "heat")
    status()
    rec.note("-- simulator: smoke in the hallway")
    client.sim.alarm(alarm, "smoke-emergency")
    rec.wait("smoke emergency",
             lambda s: field(f"structures/{structure_id}/smoke_alarm_state")(s) == "emergency")
    status()
    rec.note("-- simulator: the smoke clears")
    client.sim.alarm(alarm, "clear")
    rec.wait("all clear", lambda s: field(f"structures/{structure_id}/smoke_alarm_state")(s)
             == "ok")
    rec.stop()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(rec.lines) + "\n")
    print(f"{len(rec.lines)} lines written to {out}")


if __name__ == "__main__":
    main()
