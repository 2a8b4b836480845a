"""Revoking a token (``DELETE /oauth2/access_tokens/<token>``) against a real server: later
requests get 401, its open streams get ``auth_revoked`` and end, other tokens are untouched.
On SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import httpx
from conftest import BOTH_STORES, RoostProcess

pytestmark = BOTH_STORES


def new_token(server: RoostProcess) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "roost", "token", "create", "--user", "demo@example.com",
         "--db", str(server.db)], capture_output=True, text=True, check=True, timeout=30)
    return out.stdout.strip()


class Stream:
    """An open SSE stream read on a thread: its events, and whether it has ended."""

    def __init__(self, server: RoostProcess, token: str) -> None:
        self.events: list[tuple[str, str]] = []
        self.ended = threading.Event()
        self.opened = threading.Event()
        self._client = httpx.Client(base_url=server.url, timeout=15)
        self._thread = threading.Thread(target=self._read, args=(token,), daemon=True)
        self._thread.start()
        assert self.opened.wait(10), "stream did not open"

    def _read(self, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        try:
            with self._client.stream("GET", "/", headers=headers) as response:
                event = ""
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line[len("event: "):]
                    elif line.startswith("data: "):
                        self.events.append((event, line[len("data: "):]))
                        self.opened.set()
        except httpx.HTTPError:
            pass  # cut off when the server stops at the end of the test
        finally:
            self.ended.set()
            self._client.close()

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


def test_revoke_ends_streams_and_later_requests(roost_server: RoostProcess) -> None:
    server = roost_server
    revoked, kept = new_token(server), new_token(server)
    doomed = [Stream(server, revoked), Stream(server, revoked)]
    survivor = Stream(server, kept)

    with httpx.Client(base_url=server.url, timeout=10) as client:
        response = client.delete(f"/oauth2/access_tokens/{revoked}")
        assert response.status_code == 204
        for stream in doomed:
            assert stream.ended.wait(5), "a revoked token's stream stayed open"
            assert stream.names() == ["put", "auth_revoked"]
            assert stream.events[-1][1] == "null"

        denied = client.get("/", headers={"Authorization": f"Bearer {revoked}"})
        assert denied.status_code == 401 and denied.json()["error"] == "unauthorized"
        assert client.get(f"/structures?auth={revoked}").status_code == 401

        again = client.delete(f"/oauth2/access_tokens/{revoked}")
        assert again.status_code == 404
        assert again.json()["error"] == "oauth2_error"
        unknown = client.delete("/oauth2/access_tokens/c.not-a-token")
        assert unknown.status_code == 404

        # The other token still reads, writes and streams.
        auth = {"Authorization": f"Bearer {kept}"}
        tree: dict[str, Any] = client.get("/", headers=auth).json()
        structure = next(iter(tree["structures"]))
        assert client.put(f"/structures/{structure}", json={"name": "Still here"},
                          headers=auth).status_code == 200
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any('"Still here"' in d for _, d in survivor.events):
        time.sleep(0.05)
    assert any('"Still here"' in data for _, data in survivor.events)
    assert not survivor.ended.is_set()
    assert "auth_revoked" not in survivor.names()


def test_revoke_survives_restart(roost_server: RoostProcess) -> None:
    server = roost_server
    token = new_token(server)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/metadata", headers={"Authorization": f"Bearer {token}"}).is_success
        assert client.delete(f"/oauth2/access_tokens/{token}").status_code == 204
    server.restart()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/metadata", headers={"Authorization": f"Bearer {token}"}
                          ).status_code == 401
