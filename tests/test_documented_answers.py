"""Answers the document and the envelopes promise, on the whole app: a method an endpoint
lacks is its API's 405, a path no route takes is the data API's JSON 404 (ids with control
characters), and an oversize form is a 413 in the form endpoint's envelope."""

from __future__ import annotations

import pytest
from conftest import Api

BIG_FORM = "a=" + "x" * (2 * 1024 * 1024)


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("GET", "/oauth2/access_token", "POST"),
    ("PUT", "/oauth2/access_token", "POST"),
    ("PUT", "/oauth2/access_tokens/abc", "DELETE"),
    ("DELETE", "/login/oauth2", "GET, POST"),
    ("PUT", "/login", "POST"),
])
def test_oauth_and_sign_in_refuse_other_methods_in_their_envelope(
        api: Api, method: str, path: str, allow: str) -> None:
    response = api.client.request(method, path)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == allow
    body = response.json()
    assert body["error"] == "oauth2_error" and method in body["error_description"]


@pytest.mark.parametrize("id", ["%0A", "a%0Ab", "%0D%0Ax", "%00", "%1B%5B2J", "%7F"])
@pytest.mark.parametrize("suffix", ["", "/label", "/target_temperature_f"])
def test_ids_with_control_characters_get_the_json_404(api: Api, id: str, suffix: str) -> None:
    for method in ("GET", "PUT"):
        body = 1 if suffix else {"label": "Den"}
        response = api.client.request(method, f"/devices/thermostats/{id}{suffix}", json=body)
        assert response.status_code == 404, (method, response.text)
        assert response.headers["content-type"] == "application/json"
        assert response.json()["type"].endswith("#not-found")


@pytest.mark.parametrize("path", ["/oauth2/access_token", "/login", "/login/oauth2"])
def test_oversize_forms_are_413(api: Api, path: str) -> None:
    response = api.client.post(path, content=BIG_FORM,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413, response.text
    assert response.json()["error_description"] == "Request body is larger than 65536 bytes"
