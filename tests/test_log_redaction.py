"""No token, code, PIN, secret or password reaches the server's log, wherever a client puts
it: the path (the revocation route), the query string, a form body or a header."""

from __future__ import annotations

import time

from conftest import RoostProcess

from roost import demo

SECRETS = {"code": "c0de-not-for-logs", "pin": "PIN4L0GS", "client_secret": "shh-secret-value",
           "password": "pa55-not-for-logs", "refresh_token": "refresh-not-for-logs"}


def test_no_secret_reaches_the_log(roost_server: RoostProcess) -> None:
    token = roost_server.token
    with roost_server.client() as client:
        assert client.get("/", params={"auth": token}).status_code == 200
        client.post("/oauth2/access_token", params={**SECRETS, "client_id": "x",
                                                    "grant_type": "authorization_code"})
        client.post("/oauth2/access_token", data={**SECRETS, "client_id": "x",
                                                  "grant_type": "authorization_code"})
        client.post("/user/login", data={"username": demo.EMAIL, "password": SECRETS["password"]})
        client.get("/login/oauth2", params={"client_id": "x", "code": SECRETS["code"]},
                   headers={"Cookie": f"roost_session={SECRETS['refresh_token']}"})
        # Last: the revocation route carries the token in its path.
        assert client.delete(f"/oauth2/access_tokens/{token}").status_code == 204
    deadline = time.monotonic() + 5
    while "/oauth2/access_tokens/" not in "".join(roost_server.output):
        assert time.monotonic() < deadline, "".join(roost_server.output)
        time.sleep(0.05)
    # `serve --demo` hands the demo's credentials to the operator once, before it serves;
    # what it logs of requests comes after.
    log = "".join(roost_server.output).partition("Application startup complete")[2]
    assert "access_tokens/[redacted]" in log  # the request is logged, its token not
    assert "auth=[redacted]" in log
    for secret in (token, *SECRETS.values()):
        assert secret not in log, f"{secret!r} in the log:\n{log}"
