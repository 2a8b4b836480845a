"""The legacy mobile API as its clients use it, over the in-process app: sign in with the
demo account, read ``/v2/mobile``, write ``/v2/put`` and ``/v5/put``."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from argon2 import PasswordHasher
from conftest import Api

from roost import demo
from roost.auth import passwords
from roost.clock import millis


def assert_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """A refusal in the legacy shape; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error, body
    return body


def ms(api: Api) -> int:
    """The service clock now, as bucket timestamps count it."""
    return millis(api.clock())


class Legacy:
    """A signed-in legacy client of the demo home."""

    def __init__(self, api: Api) -> None:
        self.api = api
        response = api.client.post("/user/login", data={"username": demo.EMAIL,
                                                         "password": demo.PASSWORD})
        assert response.status_code == 200, response.text
        session = response.json()
        self.token: str = session["access_token"]
        self.user: str = session["user"]
        self.user_id: str = session["userid"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Basic {self.token}"}

    def get(self, path: str) -> httpx.Response:
        return self.api.client.get(path, headers=self.headers)

    def mobile(self, version: int = 2) -> dict[str, Any]:
        response = self.get(f"/v{version}/mobile/{self.user}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        return response.json()

    def bucket(self, key: str) -> dict[str, Any]:
        kind, _, id = key.partition(".")
        return self.mobile()[kind][id]

    def put(self, key: str, body: Any, headers: dict[str, str] | None = None,
            version: int = 2) -> httpx.Response:
        """As python-nest sends it: a JSON string body and no Content-Type."""
        return self.api.client.post(f"/v{version}/put/{key}", content=orjson.dumps(body),
                                    headers={**self.headers, **(headers or {})})

    def put_objects(self, objects: list[dict[str, Any]], version: int = 5) -> httpx.Response:
        return self.api.client.post(f"/v{version}/put", json={"objects": objects},
                                    headers=self.headers)


def sign_in(api: Api, monkeypatch: pytest.MonkeyPatch) -> Legacy:
    """The demo user signed in (see :func:`cheap_hashes`)."""
    cheap_hashes(api, monkeypatch)
    return Legacy(api)


def cheap_hashes(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its lowest cost for the demo user: every sign-in still verifies a real
    hash, in a millisecond rather than half a second."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)
    hashed = cheap.hash(demo.PASSWORD)

    async def go() -> None:
        user = await api.service.store.user_by_email(demo.EMAIL)
        assert user is not None
        await api.service.store.set_password_hash(user.id, hashed)

    api.client.portal.call(go)
