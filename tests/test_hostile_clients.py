"""Hostile clients against a real server process: a stranger guessing the owner's password,
a stranger naming other addresses in X-Forwarded-For, and connections that send their
headers slowly or not at all."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx
import pytest
from conftest import RoostProcess

from roost import demo

STRANGER = "127.0.0.2"  # another address of the loopback network
OWNER = "127.0.0.1"


def login(server: RoostProcess, source: str, password: str,
          forwarded_for: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=30) as client:
        return client.post(f"http://127.0.0.1:{server.port}/user/login", headers=headers,
                           data={"username": demo.EMAIL, "password": password})


def test_a_stranger_cannot_lock_the_owner_out(
        make_server: Callable[..., RoostProcess]) -> None:
    server = make_server()
    for _ in range(5):
        assert login(server, STRANGER, "guess").status_code == 400
    # The stranger's address is refused for this account, even with the right password...
    refused = login(server, STRANGER, demo.PASSWORD)
    assert refused.status_code == 429
    assert refused.json()["error"] == "too_many_requests"
    # ...and the owner, elsewhere, signs in: slowed while the account is under attack, not
    # refused.
    assert login(server, OWNER, demo.PASSWORD).status_code == 200
    assert login(server, OWNER, "typo").status_code == 400


def test_forwarded_for_is_not_believed_by_default(
        make_server: Callable[..., RoostProcess]) -> None:
    server = make_server()
    for n in range(5):
        assert login(server, STRANGER, "guess", f"198.51.100.{n}").status_code == 400
    # A new address in the header is not a new source: the connection's address counts.
    assert login(server, STRANGER, "guess", "198.51.100.99").status_code == 429


def test_forwarded_for_is_believed_from_a_named_proxy(
        make_server: Callable[..., RoostProcess]) -> None:
    server = make_server("--forwarded-allow-ips", STRANGER)
    for _ in range(5):
        assert login(server, STRANGER, "guess", "198.51.100.1").status_code == 400
    assert login(server, STRANGER, "guess", "198.51.100.1").status_code == 429
    # Behind the proxy, another client is another source.
    assert login(server, STRANGER, demo.PASSWORD, "198.51.100.2").status_code == 200


def closed(sock: socket.socket) -> bool:
    """The server has closed the connection (end of stream or reset), waiting up to 5 s."""
    sock.settimeout(5)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.parametrize("keep_alive_first", [False, True])
def test_slow_headers_are_cut_off_while_others_are_served(
        make_server: Callable[..., RoostProcess], keep_alive_first: bool) -> None:
    server = make_server("--header-timeout", "1.5")
    silent = socket.create_connection(("127.0.0.1", server.port))
    slow = socket.create_connection(("127.0.0.1", server.port))
    if keep_alive_first:  # a whole request first: the deadline applies to the next one too
        slow.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        slow.settimeout(5)
        assert slow.recv(65536).startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 40
    cut = False
    with server.client() as client:
        for byte in request:
            try:
                slow.sendall(bytes([byte]))
            except OSError:  # broken pipe or reset: the server closed it
                cut = True
                break
            assert client.get("/").status_code == 200  # others are served meanwhile
            if time.monotonic() - started > 4:
                break
            time.sleep(0.05)
    try:
        assert closed(silent)
        assert cut or closed(slow)
    finally:
        silent.close()
        slow.close()


def test_a_request_with_complete_headers_is_not_cut(
        make_server: Callable[..., RoostProcess]) -> None:
    server = make_server("--header-timeout", "1")
    body = b'{"target_temperature_f": 70}'
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        thermostats = server.client().get("/devices/thermostats").json()
        living = next(i for i, t in thermostats.items() if t["hvac_mode"] == "heat")
        sock.sendall(f"PUT /devices/thermostats/{living} HTTP/1.1\r\nHost: x\r\n"
                     f"Authorization: Bearer {server.token}\r\nContent-Type: application/json"
                     f"\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        time.sleep(1.5)  # the body comes after the deadline: the headers did not
        sock.sendall(body)
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
