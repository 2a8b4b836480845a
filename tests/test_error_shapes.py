"""The one request guard and each API's error shape, on a small app of its own: what a
handler raises (its API's error, a refusal of the home's rules, the body reader's refusals, a
fault in Roost) is answered in that API's envelope, byte for byte as its clients read it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from roost import errors
from roost.api.developer import DeveloperError
from roost.auth.oauth import OAuthError
from roost.http.body import read_body
from roost.http.errors import HttpError
from roost.http.guard import guarded
from roost.legacy.errors import LegacyError

LIMIT = 16
SHAPES: dict[str, type[HttpError]] = {
    "data": errors.ApiError, "legacy": LegacyError, "oauth": OAuthError,
    "developer": DeveloperError,
}


class Fault(RuntimeError):
    pass


class Gone(LookupError):
    """Something only one handler's callees raise."""


class SoonGone(Gone):
    pass


async def fault(request: Request) -> Response:
    raise Fault("a bug in Roost")


async def eco_refusal(request: Request) -> Response:
    raise errors.eco_mode()


async def echo(request: Request) -> Response:
    return Response(repr(await read_body(request, LIMIT)))


async def malformed_form(request: Request) -> Response:
    raise HTTPException(400, "malformed form")


async def soon_gone(request: Request) -> Response:
    raise SoonGone("no such thing")


def app() -> Starlette:
    routes = []
    for name, shape in SHAPES.items():
        for what, handler in (("fault", fault), ("refusal", eco_refusal), ("echo", echo),
                              ("form", malformed_form)):
            routes.append(Route(f"/{name}/{what}", guarded(shape)(handler), methods=["POST"]))
    routes.append(Route("/legacy/post-only", guarded(LegacyError, ("POST",))(echo),
                        methods=["GET", "POST"]))
    gone: Callable[[Any], HttpError] = lambda exc: errors.not_found(f"/{exc}")  # noqa: E731
    routes.append(Route("/data/gone", guarded(errors.ApiError, extra={Gone: gone})(soon_gone),
                        methods=["POST"]))
    return Starlette(routes=routes)


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(app()) as client:
        yield client


def test_a_fault_is_logged_and_answered_500_in_each_envelope(
        client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    data = client.post("/data/fault")
    assert data.status_code == 500
    body = data.json()
    assert body["error"] == body["message"] == "Internal server error"
    assert body["type"] == errors.TYPE_BASE + "internal-error"
    uuid.UUID(body["instance"])

    legacy = client.post("/legacy/fault")
    assert (legacy.status_code, legacy.headers["content-type"]) == (500, "application/json")
    assert legacy.content == \
        b'{"error":"internal_error","error_description":"Internal server error"}'

    oauth = client.post("/oauth/fault")
    assert oauth.status_code == 500 and oauth.headers["cache-control"] == "no-store"
    assert oauth.json()["error"] == "oauth2_error"
    assert oauth.json()["error_description"] == "internal server error"

    developer = client.post("/developer/fault")
    assert developer.status_code == 500 and developer.headers["cache-control"] == "no-store"
    assert developer.content == b'{"error":"internal","message":"internal error"}'

    faults = [(r.name, r.getMessage()) for r in caplog.records if r.exc_info]
    assert faults == [("roost.api", "POST /data/fault failed"),
                      ("roost.legacy", "POST /legacy/fault failed"),
                      ("roost.api", "POST /oauth/fault failed"),
                      ("roost.api", "POST /developer/fault failed")]
    assert all(r.exc_info and r.exc_info[0] is Fault for r in caplog.records)


def test_a_refusal_of_the_rules_keeps_its_text_in_the_legacy_shape(client: TestClient) -> None:
    data = client.post("/data/refusal")
    assert data.status_code == 400
    assert data.json()["type"] == errors.TYPE_BASE + "eco-mode"
    legacy = client.post("/legacy/refusal")
    assert legacy.status_code == 400
    assert legacy.json() == {"error": "eco_mode", "error_description":
                             "Cannot change target temperature while mode is eco"}


def test_the_body_readers_refusals_in_each_shape(client: TestClient) -> None:
    big = b'{"a": "' + b"x" * LIMIT + b'"}'
    assert client.post("/data/echo", content=b'{"a": 1}').text == "{'a': 1}"

    data = client.post("/data/echo", content=big)
    assert data.status_code == 413
    assert data.json()["message"] == f"Request body is larger than {LIMIT} bytes"
    assert data.json()["type"] == errors.TYPE_BASE + "request-too-large"
    assert client.post("/data/echo", content=b"{").json()["type"] == \
        errors.TYPE_BASE + "invalid-json"

    assert client.post("/legacy/echo", content=big).json() == {
        "error": "request_too_large",
        "error_description": f"Request body is larger than {LIMIT} bytes"}
    assert client.post("/legacy/echo", content=b"{").json() == {
        "error": "invalid_json", "error_description": "Invalid JSON in request body"}

    assert client.post("/developer/echo", content=big).json() == {
        "error": "too_large", "message": f"the body exceeds {LIMIT} bytes"}
    assert client.post("/developer/echo", content=b"{").json() == {
        "error": "invalid_request", "message": "the body is not valid JSON"}


def test_the_guard_refuses_other_methods_in_the_apis_shape(client: TestClient) -> None:
    refused = client.get("/legacy/post-only")
    assert refused.status_code == 405 and refused.headers["allow"] == "POST"
    assert refused.json() == {"error": "method_not_allowed",
                              "error_description": "GET is not supported here"}
    assert client.post("/legacy/post-only", content=b"[1]").text == "[1]"


def test_translations_follow_the_raised_class_and_its_bases(client: TestClient) -> None:
    gone = client.post("/data/gone")
    assert gone.status_code == 404
    assert gone.json()["details"] == {"path": "/no such thing"}


def test_starlettes_own_http_errors_are_left_to_starlette(client: TestClient) -> None:
    for name in SHAPES:
        answer = client.post(f"/{name}/form")
        assert (answer.status_code, answer.text) == (400, "malformed form")
