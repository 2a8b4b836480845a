"""The first five minutes with the `roost` command: databases it cannot use, ports, Ctrl-C,
the environment, and what it prints."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import RoostProcess, free_port

from roost.cli import main
from roost.model import defaults
from roost.store import schema

ROOT = os.geteuid() == 0  # root reads and writes any file: permissions cannot be tested


def roost(*args: str, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roost", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})}, cwd=cwd)


def one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def sqlite_file(path: Path, *statements: str) -> Path:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return path


def roost_db(path: Path) -> Path:
    assert roost("user", "create", "--email", "a@example.com", "--password", "password1",
                 "--db", str(path)).returncode == 0
    return path


def bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    newer = roost_db(tmp / "newer.db")
    sqlite_file(newer, f"PRAGMA user_version = {schema.latest() + 1}")
    corrupt = roost_db(tmp / "corrupt.db")
    conn = sqlite3.connect(corrupt)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(corrupt.read_bytes())
    data[4096:8192] = b"\xde\xad\xbe\xef" * 1024  # a page of the tables overwritten
    corrupt.write_bytes(bytes(data))
    (tmp / "text.db").write_text("hello, not a database\n" * 20)
    return {
        "text": (tmp / "text.db", "not a Roost database"),
        "other sqlite": (sqlite_file(tmp / "other.db", "CREATE TABLE songs (title TEXT)"),
                         "not a Roost database"),
        "corrupt": (corrupt, "corrupt"),
        "newer": (newer, "newer Roost"),
    }


@pytest.mark.parametrize("command", [["user", "list"], ["client", "list"],
                                     ["user", "create", "--email", "b@example.com",
                                      "--password", "password2"],
                                     ["serve", "--no-simulate", "--port", "0"]])
def test_unusable_databases_are_refused_in_one_line_and_left_untouched(
        tmp_path: Path, command: list[str]) -> None:
    if command[0] == "serve":
        command = [*command[:-1], str(free_port())]
    for name, (path, problem) in bad_files(tmp_path).items():
        before = path.read_bytes()
        result = roost(*command, "--db", str(path))
        one_line_error(result, str(path), problem)
        assert path.read_bytes() == before, name
        assert not Path(str(path) + "-wal").exists(), name
    missing = tmp_path / "no" / "such" / "dir" / "roost.db"
    one_line_error(roost(*command, "--db", str(missing)), str(missing), "does not exist")
    assert not missing.parent.exists()


@pytest.mark.skipif(ROOT, reason="root reads and writes any file")
def test_unreadable_and_read_only_files_are_refused(tmp_path: Path) -> None:
    db = roost_db(tmp_path / "roost.db")
    db.chmod(0o444)
    one_line_error(roost("user", "list", "--db", str(db)), str(db), "read-only")
    db.chmod(0o000)
    one_line_error(roost("user", "list", "--db", str(db)), str(db), "cannot be read")


def test_listing_never_creates_a_database(tmp_path: Path) -> None:
    for command in (["user", "list"], ["client", "list"]):
        result = roost(*command, cwd=tmp_path)
        one_line_error(result, "roost.db", "no such database")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_ports_outside_the_range_are_refused(tmp_path: Path, port: str) -> None:
    result = roost("serve", "--port", port, "--db", str(tmp_path / "r.db"))
    assert result.returncode == 2 and "1<=x<=65535" in result.stderr
    assert not (tmp_path / "r.db").exists()


def test_a_port_in_use_is_reported_before_anything_happens(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = roost("serve", "--demo", "--port", str(port), "--db", str(tmp_path / "r.db"))
    one_line_error(result, f"127.0.0.1:{port}")
    assert result.stdout == ""  # no token, no product, no banner
    assert not (tmp_path / "r.db").exists()


def test_every_command_shares_one_default_database_and_reads_the_environment(
        tmp_path: Path) -> None:
    assert roost("user", "create", "--email", "a@example.com", "--password", "password1",
                 cwd=tmp_path).returncode == 0
    assert (tmp_path / "roost.db").exists()
    assert "a@example.com" in roost("user", "list", cwd=tmp_path).stdout
    other = tmp_path / "other.db"
    made = roost("user", "create", "--email", "b@example.com", "--password", "password1",
                 env={"ROOST_DB": str(other)}, cwd=tmp_path)
    assert made.returncode == 0 and other.exists()
    assert "b@example.com" in roost("user", "list", env={"ROOST_DB": str(other)}).stdout
    refused = roost("serve", "--db", str(other), env={"ROOST_SERVE_PORT": "70000"})
    assert refused.returncode == 2 and "70000" in refused.stderr
    demo = Path(__file__).resolve().parents[1] / "scripts" / "demo"
    assert "roost-demo.db" not in demo.read_text()
    version = roost("--version")
    assert version.returncode == 0 and version.stdout.startswith("roost, version ")


def start(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "roost", "serve", "--demo", "--no-simulate",
                             "--port", str(port), "--db", str(tmp_path / "r.db")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_ctrl_c_while_serving_exits_quietly_with_0(tmp_path: Path) -> None:
    port = free_port()
    proc = start(tmp_path, port)
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    for line in proc.stdout:
        if "Uvicorn running" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, output
    assert "Traceback" not in output and "Aborted" not in output


def test_ctrl_c_while_starting_exits_quietly_with_130(tmp_path: Path) -> None:
    proc = start(tmp_path, free_port())
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the first line comes as the start begins, before it serves
    proc.send_signal(signal.SIGINT)
    output = line + proc.communicate(timeout=30)[0]
    assert "Uvicorn running" not in output or proc.returncode == 0
    if "Uvicorn running" not in output:
        assert proc.returncode == 130, output
    assert "Traceback" not in output, output


def test_sim_devices_lists_the_ids_the_other_commands_take(roost_server: RoostProcess) -> None:
    result = CliRunner().invoke(main, ["sim", "--url", roost_server.url, "devices"],
                                env={"ROOST_TOKEN": roost_server.token})
    assert result.exit_code == 0, result.output
    with roost_server.client() as client:
        devices = client.get("/devices").json()
    for kind, found in devices.items():
        for device_id in found:
            assert f"{kind.removesuffix('s')} {device_id} " in result.stdout


def test_ids_never_start_with_a_dash() -> None:
    assert not any(defaults.new_id(kind).startswith("-")
                   for kind in defaults.ID_LENGTH for _ in range(2000))


def test_events_reach_the_server_log_at_info(roost_server: RoostProcess) -> None:
    with roost_server.client() as client:
        tree = client.get("/").json()
        alarm = next(iter(tree["devices"]["smoke_co_alarms"]))
        structure = next(iter(tree["structures"]))
        thermostat = next(iter(tree["devices"]["thermostats"]))
        assert client.post(f"/api/v1/sim/alarms/{alarm}",
                           json={"scenario": "smoke-warning"}).status_code == 200
        assert client.put(f"/structures/{structure}", json={"away": "away"}).status_code == 200
        assert client.post(f"/api/v1/sim/structures/{structure}/arrival").status_code == 200
        assert client.put(f"/devices/thermostats/{thermostat}",
                          json={"target_temperature_f": 200}).status_code == 400
    deadline = time.monotonic() + 10
    wanted = (f"alarm {alarm}: smoke-warning", f"set structure {structure} home",
              f"PUT /devices/thermostats/{thermostat} refused (400)")
    while not all(w in "".join(roost_server.output) for w in wanted):
        assert time.monotonic() < deadline, "".join(roost_server.output)
        time.sleep(0.1)
    for w in wanted:
        assert any(line.startswith("INFO:") and w in line for line in roost_server.output), w
