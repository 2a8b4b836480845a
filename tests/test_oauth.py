"""The OAuth flow over HTTP: sign in, consent, PIN or redirect, token exchange, and the ways
each step refuses. In-process (real ASGI, real SQLite file) with a manual clock for expiry."""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from argon2 import PasswordHasher

from roost.auth import tokens
from roost.auth.principal import system
from roost.model.schema import PERMISSIONS, THERMOSTAT_READ, THERMOSTAT_WRITE

REDIRECT = "https://app.example/nest/callback"


def make_product(api: Any, permissions: list[str], redirect_uri: str | None = None,
                 name: str = "Heat Helper") -> tuple[str, str]:
    secret = "s3cret-" + name.replace(" ", "-")
    product = api.client.portal.call(api.service.store.create_client, name, "Keeps you warm",
                                     tokens.digest(secret), redirect_uri, permissions)
    return product.id, secret


def sign_in(api: Any, email: str = "demo@example.com", password: str = "demo") -> Any:
    return api.client.post("/login", data={"email": email, "password": password,
                                           "next": "/login/oauth2?x=1"},
                           follow_redirects=False)


def consent(api: Any, client_id: str, state: str = "st8", **extra: str) -> Any:
    return api.client.get("/login/oauth2", params={"client_id": client_id, "state": state,
                                                   **extra})


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def decide(api: Any, client_id: str, decision: str = "allow", state: str = "st8",
           csrf: str | None = None) -> Any:
    page = consent(api, client_id, state).text
    return api.client.post("/login/oauth2", data={
        "csrf": csrf_of(page) if csrf is None else csrf, "client_id": client_id,
        "state": state, "decision": decision}, follow_redirects=False)


def pin_of(page: str) -> str:
    match = re.search(r'id="pin">([A-Z0-9]{8})<', page)
    assert match, page
    return match.group(1)


def exchange(api: Any, client_id: str, secret: str, code: str, in_query: bool = False) -> Any:
    params = {"client_id": client_id, "client_secret": secret, "code": code,
              "grant_type": "authorization_code"}
    if in_query:
        return api.client.post("/oauth2/access_token", params=params)
    return api.client.post("/oauth2/access_token", data=params)


def read_with(api: Any, token: str, path: str = "/") -> Any:
    return api.client.get(path, headers={"Authorization": f"Bearer {token}"})


def pin_token(api: Any, permissions: list[str]) -> tuple[str, str, str]:
    client_id, secret = make_product(api, permissions)
    assert sign_in(api).status_code == 303
    pin = pin_of(decide(api, client_id).text)
    response = exchange(api, client_id, secret, pin)
    assert response.status_code == 200, response.text
    return client_id, secret, response.json()["access_token"]


# -- the PIN flow ----------------------------------------------------------------------------


def test_pin_flow_from_sign_in_to_data(api: Any) -> None:
    client_id, secret = make_product(api, [THERMOSTAT_READ])
    login = consent(api, client_id)
    assert login.status_code == 200 and 'action="/login"' in login.text
    assert "Heat Helper" in login.text
    signed = sign_in(api)
    assert signed.status_code == 303 and signed.headers["location"].startswith("/login/oauth2")
    page = consent(api, client_id).text
    assert "Allow Heat Helper into your home?" in page
    assert "See your thermostats" in page and "change" not in page.split("<ul")[1].split("</ul>")[0]
    pin = pin_of(decide(api, client_id).text)
    response = exchange(api, client_id, secret, pin.lower())  # typed as the user likes
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["expires_in"] == 315360000 and body["access_token"].startswith("c.")
    token = body["access_token"]
    meta = read_with(api, token, "/metadata").json()
    assert meta["client_version"] == 1 and meta["access_token"] == token
    first_party = read_with(api, api.token, "/metadata").json()["user_id"]
    assert meta["user_id"].startswith("z.1.1.") and meta["user_id"] != first_party
    assert "thermostats" in read_with(api, token, "/devices").json()
    refused = api.client.put(f"/devices/thermostats/{api.living_room}",
                             json={"target_temperature_f": 72},
                             headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 400
    assert refused.json()["error"] == "No write permission(s) for field(s): target_temperature_f"


def test_pin_lasts_48_hours(api: Any) -> None:
    client_id, secret = make_product(api, [THERMOSTAT_READ])
    sign_in(api)
    early, late = pin_of(decide(api, client_id).text), pin_of(decide(api, client_id).text)
    api.clock.advance(hours=47)
    assert exchange(api, client_id, secret, early).status_code == 200
    api.clock.advance(hours=2)
    expired = exchange(api, client_id, secret, late)
    assert expired.status_code == 400
    assert expired.json()["error_description"] == "authorization code expired"


# -- the redirect flow ---------------------------------------------------------------------


def test_redirect_flow_with_parameters_in_the_query(api: Any) -> None:
    client_id, secret = make_product(api, [THERMOSTAT_WRITE], REDIRECT)
    sign_in(api)
    allowed = decide(api, client_id, state="a b&c")
    assert allowed.status_code == 303
    location = urlsplit(allowed.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["a b&c"]  # echoed unchanged
    response = exchange(api, client_id, secret, query["code"][0], in_query=True)
    assert response.status_code == 200
    token = response.json()["access_token"]
    written = api.client.put(f"/devices/thermostats/{api.living_room}",
                             json={"target_temperature_f": 72},
                             headers={"Authorization": f"Bearer {token}"})
    assert written.status_code == 200


def test_code_expires_after_ten_minutes(api: Any) -> None:
    client_id, secret = make_product(api, [THERMOSTAT_READ], REDIRECT)
    sign_in(api)
    code = parse_qs(urlsplit(decide(api, client_id).headers["location"]).query)["code"][0]
    api.clock.advance(minutes=10, seconds=1)
    response = exchange(api, client_id, secret, code)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "oauth2_error"
    assert body["error_description"] == "authorization code expired"
    assert body["instance_id"]


def test_deny_redirects_with_access_denied(api: Any) -> None:
    client_id, _ = make_product(api, [THERMOSTAT_READ], REDIRECT)
    sign_in(api)
    denied = decide(api, client_id, "deny", state="keep-me")
    assert denied.status_code == 303
    query = parse_qs(urlsplit(denied.headers["location"]).query)
    assert query == {"error": ["access_denied"], "state": ["keep-me"]}


def test_deny_in_the_pin_flow_issues_nothing(api: Any) -> None:
    client_id, _ = make_product(api, [THERMOSTAT_READ])
    sign_in(api)
    denied = decide(api, client_id, "deny")
    assert denied.status_code == 200 and "was not allowed" in denied.text
    assert 'id="pin"' not in denied.text


def test_wrong_redirect_uri_is_refused_without_redirecting(api: Any) -> None:
    client_id, _ = make_product(api, [THERMOSTAT_READ], REDIRECT)
    sign_in(api)
    for wrong in (REDIRECT + "/", REDIRECT.upper(), REDIRECT + "?x=1", "https://evil.example/cb"):
        response = consent(api, client_id, redirect_uri=wrong)
        assert response.status_code == 400
        assert "location" not in response.headers
        assert response.json()["error"] == "oauth2_error"
    assert consent(api, client_id, redirect_uri=REDIRECT).status_code == 200


# -- the token endpoint refuses ------------------------------------------------------------


def redirect_code(api: Any, client_id: str, named: str | None) -> str:
    """A code from the redirect flow, the authorization request naming ``named`` or none."""
    extra = {"redirect_uri": named} if named else {}
    page = consent(api, client_id, **extra).text
    allowed = api.client.post("/login/oauth2", data={
        "csrf": csrf_of(page), "client_id": client_id, "state": "st8", "decision": "allow",
        **extra}, follow_redirects=False)
    assert allowed.status_code == 303, allowed.text
    return parse_qs(urlsplit(allowed.headers["location"]).query)["code"][0]


@pytest.mark.parametrize(("named", "given", "ok"), [
    (REDIRECT, REDIRECT, True),
    (REDIRECT, None, False),  # named in the authorization request: must be repeated
    (REDIRECT, "https://evil.example/cb", False),
    (None, None, True),  # Nest's clients never sent it
    (None, REDIRECT, True),  # the one the code was sent to
    (None, REDIRECT + "/", False),
])
def test_token_endpoint_checks_the_redirect_uri(api: Any, named: str | None,
                                                given: str | None, ok: bool) -> None:
    client_id, secret = make_product(api, [THERMOSTAT_READ], REDIRECT)
    sign_in(api)
    code = redirect_code(api, client_id, named)
    params = {"client_id": client_id, "client_secret": secret, "code": code,
              "grant_type": "authorization_code"}
    if given is not None:
        params["redirect_uri"] = given
    response = api.client.post("/oauth2/access_token", data=params)
    if ok:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 400
        body = response.json()
        assert (body["error"], body["error_description"]) == ("oauth2_error",
                                                               "redirect_uri mismatch")


def test_a_second_use_of_a_code_fails_and_revokes_what_it_issued(api: Any) -> None:
    client_id, secret = make_product(api, [THERMOSTAT_READ], REDIRECT)
    sign_in(api)
    code = parse_qs(urlsplit(decide(api, client_id).headers["location"]).query)["code"][0]
    token = exchange(api, client_id, secret, code).json()["access_token"]
    assert read_with(api, token).status_code == 200
    again = exchange(api, client_id, secret, code)
    assert again.status_code == 400
    assert again.json()["error_description"] == "authorization code has already been used"
    assert read_with(api, token).status_code == 401


@pytest.mark.parametrize(("change", "description"), [
    ({"client_secret": "wrong"}, "client secret not found"),
    ({"client_id": "no-such-product"}, "client secret not found"),
    ({"code": "NOTACODE"}, "authorization code not found"),
    ({"code": ""}, "missing required parameters: code"),
    ({"grant_type": "password"}, "unsupported grant type"),
])
def test_token_endpoint_errors(api: Any, change: dict[str, str], description: str) -> None:
    client_id, secret = make_product(api, [THERMOSTAT_READ])
    sign_in(api)
    pin = pin_of(decide(api, client_id).text)
    params = {"client_id": client_id, "client_secret": secret, "code": pin,
              "grant_type": "authorization_code", **change}
    response = api.client.post("/oauth2/access_token", data=params)
    assert response.status_code == 400
    assert response.json()["error_description"] == description
    assert response.headers["cache-control"] == "no-store"
    # Nothing was spent: the right request still works.
    assert exchange(api, client_id, secret, pin).status_code == 200


def test_a_code_for_another_product_is_not_found(api: Any) -> None:
    first, _ = make_product(api, [THERMOSTAT_READ], name="First")
    second, second_secret = make_product(api, [THERMOSTAT_READ], name="Second")
    sign_in(api)
    pin = pin_of(decide(api, first).text)
    response = exchange(api, second, second_secret, pin)
    assert response.json()["error_description"] == "authorization code not found"


# -- the pages protect the user ------------------------------------------------------------


def test_consent_needs_a_valid_csrf_token(api: Any) -> None:
    client_id, _ = make_product(api, [THERMOSTAT_READ], REDIRECT)
    sign_in(api)
    for forged in ("", "0" * 64):
        response = decide(api, client_id, csrf=forged)
        assert response.status_code == 403
        assert "location" not in response.headers


def test_consent_pages_cannot_be_framed(api: Any) -> None:
    client_id, _ = make_product(api, [THERMOSTAT_READ])
    for response in (consent(api, client_id), sign_in(api)):
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"


def test_missing_or_unknown_product(api: Any) -> None:
    missing = api.client.get("/login/oauth2", params={"client_id": "x"})
    assert missing.status_code == 400 and "Missing client ID or state parameters." in missing.text
    unknown = consent(api, "no-such-product")
    assert unknown.status_code == 400
    assert "Oops! We&#39;ve encountered an error. Please try again." in unknown.text


def test_wrong_password_and_unknown_user_look_the_same(api: Any) -> None:
    wrong = sign_in(api, "demo@example.com", "not-it")
    unknown = sign_in(api, "nobody@example.com", "not-it")
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.text.replace("demo@example.com", "E") == unknown.text.replace(
        "nobody@example.com", "E")
    assert "roost_session" not in wrong.headers.get("set-cookie", "")


def test_login_is_throttled_per_account(api: Any) -> None:
    for _ in range(5):
        assert sign_in(api, password="wrong").status_code == 400
    assert sign_in(api).status_code == 429  # even the right password waits
    api.clock.advance(minutes=16)
    assert sign_in(api).status_code == 303


def test_sign_in_never_redirects_off_site(api: Any) -> None:
    response = api.client.post("/login", data={"email": "demo@example.com", "password": "demo",
                                                "next": "https://evil.example/"},
                               follow_redirects=False)
    assert response.headers["location"] == "/login/oauth2"


# -- product updates and re-consent --------------------------------------------------------


def test_client_version_bump_needs_re_consent(api: Any) -> None:
    client_id, _, token = pin_token(api, [THERMOSTAT_READ])
    assert "structures" in read_with(api, token).json()
    api.client.portal.call(functools.partial(api.service.store.update_client, client_id,
                                             permissions=[*PERMISSIONS]))
    # Until the user accepts the update, the token keeps what was accepted.
    meta = read_with(api, token, "/metadata").json()
    assert meta["client_version"] == 1
    assert read_with(api, token, f"/structures/{api.structure_id}/postal_code").status_code == 404
    page = consent(api, client_id).text
    assert "has been updated" in page
    decide(api, client_id)
    assert read_with(api, token, "/metadata").json()["client_version"] == 2
    postal = read_with(api, token, f"/structures/{api.structure_id}/postal_code")
    assert postal.status_code == 200 and postal.json() == "94043"


# -- a user with several homes picks which ones a product sees -----------------------------


def add_cabin(api: Any) -> str:
    """A second home with one thermostat, created as the simulator adds homes."""
    user_id = api.service.home.get("structures", api.structure_id).user_id
    sid, tid = "cabin", "cabin-thermostat"
    api.client.portal.call(api.service.create_many, system(user_id), [
        ("structures", {"structure_id": sid, "name": "Cabin"}),
        ("thermostats", {"structure_id": sid, "device_id": tid, "where_name": "Living Room"}),
    ])
    return sid


def test_structure_picker_limits_what_the_token_reaches(api: Any) -> None:
    cabin = add_cabin(api)
    client_id, secret = make_product(api, [THERMOSTAT_WRITE])
    sign_in(api)
    page = consent(api, client_id).text
    assert "Which homes may Heat Helper see?" in page
    assert f'value="{cabin}"' in page and f'value="{api.structure_id}"' in page
    allowed = api.client.post("/login/oauth2", data={
        "csrf": csrf_of(page), "client_id": client_id, "state": "s", "decision": "allow",
        "structure": cabin}, follow_redirects=False)
    token = exchange(api, client_id, secret, pin_of(allowed.text)).json()["access_token"]
    tree = read_with(api, token).json()
    assert list(tree["structures"]) == [cabin]
    assert list(tree["devices"]["thermostats"]) == ["cabin-thermostat"]
    assert read_with(api, token, f"/structures/{api.structure_id}").status_code == 404
    other_home = api.client.put(f"/devices/thermostats/{api.living_room}",
                                json={"target_temperature_f": 72},
                                headers={"Authorization": f"Bearer {token}"})
    assert other_home.status_code == 404
    mine = api.client.put("/devices/thermostats/cabin-thermostat",
                          json={"target_temperature_f": 72},
                          headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200


def test_picking_no_home_connects_nothing(api: Any) -> None:
    add_cabin(api)
    client_id, _ = make_product(api, [THERMOSTAT_READ])
    sign_in(api)
    page = consent(api, client_id).text
    refused = api.client.post("/login/oauth2", data={
        "csrf": csrf_of(page), "client_id": client_id, "state": "s", "decision": "allow",
        "structure": "not-mine"}, follow_redirects=False)
    assert refused.status_code == 400 and 'id="pin"' not in refused.text


def test_one_home_needs_no_picker(api: Any) -> None:
    client_id, _ = make_product(api, [THERMOSTAT_READ])
    sign_in(api)
    assert "Which homes" not in consent(api, client_id).text


def test_a_weak_password_hash_is_upgraded_at_sign_in(api: Any) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("demo")
    user_id = api.service.home.get("structures", api.structure_id).user_id
    api.client.portal.call(api.service.store.set_password_hash, user_id, weak)
    assert sign_in(api).status_code == 303
    stored = api.client.portal.call(api.service.store.user_by_id, user_id).password_hash
    assert stored != weak and stored.startswith("$argon2id$")
    params = dict(p.split("=") for p in stored.split("$")[3].split(","))
    assert int(params["m"]) >= 19456 and int(params["t"]) >= 2
    assert sign_in(api).status_code == 303
