"""``--device-port`` (the device protocol alone, HTTP or TLS for custom-CA firmware builds)
and ``--device-origin`` (the URLs handed to thermostats)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from conftest import free_port
from test_legacy_tls import self_signed
from thermostat import Thermostat


def test_the_device_port_serves_the_protocol_alone_over_tls(make_server: Any,
                                                            tmp_path: Path) -> None:
    certfile, keyfile = self_signed(tmp_path)
    port = free_port()
    server = make_server("--device-port", str(port), "--device-certfile", str(certfile),
                         "--device-keyfile", str(keyfile))
    trusted = ssl.create_default_context(cafile=str(certfile))
    device = Thermostat("127.0.0.1", port, tls=trusted)
    urls = device.entry()
    assert urls["transport_url"] == f"https://127.0.0.1:{port}/nest/transport"
    key = device.passphrase(urls["passphrase_url"])["value"]
    answer = device.put([{"object_key": f"shared.{device.serial}",
                          "value": {"current_temperature": 20.0}}])
    assert answer.status == 200
    # Nothing of the data API there: a thermostat never sees WWN paths.
    assert device.request("GET", "/devices").status == 404
    with server.client() as api:
        assert api.post("/api/v1/pairings", json={"entry_key": key}).status_code == 201


def test_urls_come_from_the_configured_origin_with_a_port(make_server: Any) -> None:
    server = make_server("--device-origin", "http://192.168.1.5")
    urls = Thermostat("127.0.0.1", server.port).entry()
    assert urls["transport_url"] == f"http://192.168.1.5:{server.port}/nest/transport"
    server = make_server("--device-origin", "http://thermostats.home.arpa:80")
    urls = Thermostat("127.0.0.1", server.port).entry()
    assert urls["passphrase_url"] == "http://thermostats.home.arpa:80/nest/passphrase"
