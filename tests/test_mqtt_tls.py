"""The MQTT bridge over TLS (``mqtts://``) to a Mosquitto of the test's own, whose certificate
is a throwaway self-signed one: trusted when given with ``--mqtt-cafile``, refused otherwise
(the system's trusted CAs do not know it)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mqtt_helpers import OwnBroker, Watcher, unique_prefixes
from test_legacy_tls import self_signed
from test_mqtt import demo_ids


def test_state_arrives_over_tls_from_a_broker_the_cafile_trusts(make_server: Any,
                                                                tmp_path: Path) -> None:
    certfile, keyfile = self_signed(tmp_path)
    broker = OwnBroker(tmp_path, tls=(certfile, keyfile)).start()
    prefix, discovery = unique_prefixes()
    try:
        server = make_server("--mqtt", f"mqtts://127.0.0.1:{broker.tls_port}",
                             "--mqtt-cafile", str(certfile), "--mqtt-prefix", prefix,
                             "--mqtt-discovery-prefix", discovery)
        with server.client() as client:
            living_room = demo_ids(client.get("/").json())["living_room"]
        # Read on the broker's plain listener: what the bridge sent over TLS.
        watcher = Watcher([prefix], broker.port)
        watcher.wait_value(f"{prefix}/status", "online")
        watcher.wait_value(f"{prefix}/{living_room}/target", "21.0")
        mark = watcher.mark
        with server.client() as client:
            response = client.put(f"/devices/thermostats/{living_room}",
                                  json={"target_temperature_c": 23.5})
        assert response.status_code == 200, response.text
        watcher.wait_value(f"{prefix}/{living_room}/target", "23.5", after=mark)
        watcher.close()

        # Without the CA file the system's trust store is used, which does not know it.
        untrusting = make_server("--mqtt", f"mqtts://127.0.0.1:{broker.tls_port}",
                                 "--mqtt-prefix", prefix + "-x",
                                 "--mqtt-discovery-prefix", discovery + "-x",
                                 db=tmp_path / "other.db")
        deadline = time.monotonic() + 10
        while not any("CERTIFICATE_VERIFY_FAILED" in line or "certificate verify failed"
                      in line for line in untrusting.output) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any("certificate verify failed" in line.lower() for line in untrusting.output), \
            "".join(untrusting.output)
    finally:
        broker.remove()
