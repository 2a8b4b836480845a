"""The web app in Chromium against a real server: signing in, the demo home with live
values, controls and their refusals, the simulator panel, the Access page and the developer
console, with the OAuth PIN flow of a product registered there."""

from __future__ import annotations

import http.server
import re
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import RoostProcess
from playwright.sync_api import Page, expect
from sse import EOF, Stream
from thermostat import Thermostat

from roost import demo

pytest_plugins = ["web_browser"]  # the browser and shots fixtures

WAIT = 10_000  # ms
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def demo_ids(server: RoostProcess) -> dict[str, str]:
    with server.client() as client:
        tree = client.get("/").json()
    thermostats = tree["devices"]["thermostats"]
    ids = {t["where_name"]: t["device_id"] for t in thermostats.values()}
    ids["structure"] = next(iter(tree["structures"]))
    ids["camera"] = next(iter(tree["devices"]["cameras"]))
    ids["alarm"] = next(iter(tree["devices"]["smoke_co_alarms"]))
    return ids


def sign_in(page: Page, server: RoostProcess, email: str = demo.EMAIL,
            password: str = demo.PASSWORD) -> None:
    page.goto(server.url + "/", wait_until="domcontentloaded")  # the front door sends it on
    expect(page).to_have_url(re.compile(r"/app/signin$"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/app$"))
    expect(page.locator("#live")).to_have_text("Live", timeout=WAIT)


@pytest.fixture
def server(make_server: Any) -> RoostProcess:
    return make_server()


@pytest.fixture
def page(browser: Any) -> Any:
    context = browser.new_context(viewport=DESKTOP)
    opened = context.new_page()
    yield opened
    context.close()


def test_sign_in_shows_the_demo_home_and_api_writes_arrive_live(
        page: Page, server: RoostProcess, shots: Path) -> None:
    ids = demo_ids(server)
    sign_in(page, server)
    expect(page.get_by_role("heading", name="Living Room", exact=True)).to_be_visible()
    target = page.locator(f'[data-f="devices/thermostats/{ids["Living Room"]}/'
                          'target_temperature_f"]').first
    # Another client writes through the API: the page shows it without a reload.
    page.evaluate("window.notReloaded = true")
    with server.client() as client:
        assert client.put(f"/devices/thermostats/{ids['Living Room']}",
                          json={"target_temperature_f": 64}).status_code == 200
    expect(target).to_have_text("64", timeout=WAIT)
    assert page.evaluate("window.notReloaded") is True
    page.screenshot(path=shots / "home.png", full_page=True)


def test_a_target_set_on_the_page_is_stored_and_streamed(
        page: Page, server: RoostProcess, streams: list[Stream]) -> None:
    ids = demo_ids(server)
    stream = Stream(f"{server.url}/devices/thermostats/{ids['Living Room']}", server.token)
    streams.append(stream)
    assert stream.next_put()["target_temperature_f"] != 73
    sign_in(page, server)
    field = page.locator(f"#t-{ids['Living Room']}")
    field.fill("73")
    field.press("Enter")  # the keyboard alone sends it
    assert stream.next_put()["target_temperature_f"] == 73
    with server.client() as client:
        stored = client.get(f"/devices/thermostats/{ids['Living Room']}").json()
    assert stored["target_temperature_f"] == 73


def test_a_refused_change_shows_nests_reason_next_to_the_control(
        page: Page, server: RoostProcess) -> None:
    ids = demo_ids(server)
    sign_in(page, server)
    bedroom = ids["Bedroom"]  # locked to 66-78 °F, in heat-cool
    page.locator(f"#lo-{bedroom}").fill("60")
    page.locator(f"#lo-{bedroom}").press("Enter")
    refusal = page.locator(f"#err-r-{bedroom}")
    expect(refusal).to_have_text("Temperature F '60.0' is too low for lock temperature '66.0'",
                                 timeout=WAIT)
    with server.client() as client:
        assert client.get(f"/devices/thermostats/{bedroom}").json()[
            "target_temperature_low_f"] == 68


def test_away_and_camera_controls_write_through(page: Page, server: RoostProcess) -> None:
    ids = demo_ids(server)
    sign_in(page, server)
    page.get_by_label("Home or away").select_option("away")
    page.get_by_role("button", name="Set", exact=True).first.click()
    page.get_by_role("button", name="Turn off").click()
    with server.client() as client:
        expect(page.locator(f'[data-f="structures/{ids["structure"]}/away"]').first
               ).to_have_text("away", timeout=WAIT)
        assert client.get(f"/structures/{ids['structure']}/away").json() == "away"
        expect(page.locator(f'[data-f="devices/cameras/{ids["camera"]}/is_streaming"]')
               ).to_have_text("Not streaming", timeout=WAIT)
        assert client.get(f"/devices/cameras/{ids['camera']}/is_streaming").json() is False


def test_register_a_product_connect_it_by_pin_and_revoke_it(
        page: Page, server: RoostProcess, streams: list[Stream], shots: Path) -> None:
    sign_in(page, server)
    page.get_by_role("link", name="Developer").click()
    page.get_by_label("Name", exact=True).fill("Thermo Graph")
    page.get_by_label(re.compile("^Description")).fill("Charts of your home's temperatures")
    page.get_by_role("checkbox", name=re.compile(r"^Thermostat read ")).check()
    page.get_by_role("button", name="Register").click()
    client_id = page.locator("#client-id").inner_text()
    secret = page.locator("#client-secret").inner_text()
    expect(page.get_by_role("cell", name="Thermo Graph PIN flow")).to_be_visible()
    page.screenshot(path=shots / "developer.png", full_page=True)

    # The PIN flow, signed in already: allow, read the PIN, exchange it.
    page.goto(f"{server.url}/login/oauth2?client_id={client_id}&state=s1")
    page.get_by_role("button", name="Allow").click()
    pin = page.locator("#pin").inner_text()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        answer = client.post("/oauth2/access_token", data={
            "client_id": client_id, "client_secret": secret, "code": pin,
            "grant_type": "authorization_code"})
        token = answer.json()["access_token"]
        stream = Stream(server.url + "/", token)
        streams.append(stream)
        assert "thermostats" in stream.next_put()["devices"]

        page.goto(server.url + "/app/access")
        expect(page.get_by_role("button", name="Revoke Thermo Graph")).to_be_visible()
        page.screenshot(path=shots / "access.png", full_page=True)
        page.get_by_role("button", name="Revoke Thermo Graph").click()
        expect(page.get_by_text("No product is connected to your homes.")).to_be_visible()
        ended = [stream.next(), stream.next()]
        assert ended[0] is not EOF and ended[0].event == "auth_revoked"  # type: ignore[union-attr]
        assert ended[1] is EOF
        assert client.get("/", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_signing_out_ends_the_pages_stream_and_its_token(
        page: Page, server: RoostProcess) -> None:
    sign_in(page, server)
    cookie = next(c for c in page.context.cookies() if c["name"] == "roost_session")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/app/signin$"))
    # The old cookie opens nothing any more.
    with httpx.Client(base_url=server.url, timeout=10,
                      cookies={"roost_session": cookie["value"]}) as client:
        assert client.get("/app/events").status_code == 401
        assert client.get("/app").headers["location"] == "/app/signin"


def test_the_simulator_panel_drives_the_users_home(page: Page, make_server: Any,
                                                   shots: Path) -> None:
    server = make_server("--simulate")
    ids = demo_ids(server)
    sign_in(page, server)
    page.get_by_role("link", name="Simulator").click()
    page.get_by_label("Alarm").select_option("smoke-emergency")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_text("Alarm smoke-emergency started.")).to_be_visible()
    with server.client() as client:
        alarm = client.get(f"/devices/smoke_co_alarms/{ids['alarm']}").json()
    assert alarm["smoke_alarm_state"] == "emergency"
    page.screenshot(path=shots / "simulator.png", full_page=True)
    page.goto(server.url + "/app")
    expect(page.locator(f'[data-f="devices/smoke_co_alarms/{ids["alarm"]}/smoke_alarm_state"]')
           ).to_have_text("emergency", timeout=WAIT)


def test_keyboard_and_labels_on_a_phone(browser: Any, server: RoostProcess,
                                        shots: Path) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    try:
        page.goto(server.url + "/app/signin")
        # The form takes the keyboard at once, and Tab walks it in order.
        focused = "document.activeElement.id || document.activeElement.textContent"
        assert page.evaluate(focused) == "email"
        page.keyboard.type(demo.EMAIL)
        page.keyboard.press("Tab")
        assert page.evaluate(focused) == "password"
        page.keyboard.type(demo.PASSWORD)
        page.keyboard.press("Tab")
        assert page.evaluate(focused) == "Sign in"
        page.keyboard.press("Enter")
        expect(page.locator("#live")).to_have_text("Live", timeout=WAIT)
        # Every control of the home page has a label or an accessible name.
        unlabeled = page.evaluate("""() => [...document.querySelectorAll(
            'main input:not([type=hidden]), main select')].filter(
            el => !el.labels || el.labels.length === 0).map(el => el.id)""")
        assert unlabeled == []
        page.screenshot(path=shots / "home-phone.png", full_page=True)
    finally:
        context.close()


CROSS_ORIGIN_PAGE = """<!doctype html><title>Graphs</title><ul id="log"></ul>
<script>
const api = "%(api)s", token = "%(token)s";
const log = (text) => { const li = document.createElement("li"); li.textContent = text;
                        document.getElementById("log").append(li); };
const source = new EventSource(api + "/?auth=" + token);
source.addEventListener("put", (e) => {
  const data = JSON.parse(e.data).data;
  for (const t of Object.values(data.devices.thermostats)) {
    log(t.where_name + " " + t.target_temperature_f);
  }
});
window.put = (path, body) => fetch(api + path, {method: "PUT", body: JSON.stringify(body),
  headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"}})
  .then((r) => r.status);
</script>"""


@pytest.fixture
def other_origin() -> Any:
    """A second web server on loopback, serving one page: another origin than Roost's."""
    pages: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # "localhost" rather than 127.0.0.1: another origin on the same loopback.
    yield f"http://localhost:{server.server_address[1]}", pages
    server.shutdown()
    server.server_close()


def test_a_page_of_another_origin_streams_and_writes_with_a_token(
        page: Page, server: RoostProcess, other_origin: Any) -> None:
    ids = demo_ids(server)
    origin, pages = other_origin
    pages["/graphs"] = CROSS_ORIGIN_PAGE % {"api": server.url, "token": server.token}
    page.goto(origin + "/graphs")
    expect(page.get_by_text(re.compile(r"^Living Room \d+$"))).to_be_visible(timeout=WAIT)
    # A JSON PUT with a Bearer token: preflighted, then written.
    status = page.evaluate(f"put('/devices/thermostats/{ids['Living Room']}', "
                           "{target_temperature_f: 66})")
    assert status == 200
    expect(page.get_by_text("Living Room 66")).to_be_visible(timeout=WAIT)


def test_the_api_docs_page_loads_nothing_from_other_sites(
        page: Page, server: RoostProcess, shots: Path) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(server.url + "/app/api-docs")
    expect(page.get_by_text("/devices/thermostats/{device_id}").first).to_be_visible(
        timeout=WAIT)
    page.screenshot(path=shots / "api-docs.png")
    assert asked and all(url.startswith(server.url) for url in asked), asked


def test_a_real_thermostat_is_claimed_by_its_entry_key(page: Page, server: RoostProcess) -> None:
    device = Thermostat("127.0.0.1", server.port, "02AA01AC171401WC")
    key = device.passphrase(device.entry()["passphrase_url"])["value"]
    device.put([{"object_key": "shared.02AA01AC171401WC", "value": {
        "current_temperature": 16.5, "target_temperature": 19.0, "can_heat": True,
        "target_temperature_type": "heat"}}])
    sign_in(page, server)
    page.get_by_role("link", name="Access → Add a real thermostat").click()
    page.get_by_label("Entry key").fill("000-AAAA")
    page.get_by_role("button", name="Add thermostat").click()
    expect(page.get_by_role("alert")).to_contain_text("No device shows that entry key")
    page.get_by_label("Entry key").fill(key)
    page.get_by_label("Entry key").press("Enter")  # the keyboard alone sends it
    expect(page.get_by_role("status")).to_have_text("The thermostat is now in Home.",
                                                    timeout=WAIT)
    page.goto(server.url + "/app", wait_until="domcontentloaded")
    expect(page.get_by_role("heading", name="Hallway", exact=True)).to_be_visible(timeout=WAIT)
