"""Who is at the browser: the signed-in user behind the session cookie, acting through the
session's own first-party token (``roost.auth.sessions.access_token``) like any API client.

Every page and call of the web app starts here. A session whose token was revoked (signed
out elsewhere, or revoked on the Access page) counts as signed out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from roost import errors
from roost.auth import sessions, tokens
from roost.auth.principal import Principal
from roost.service import Service
from roost.settings import Settings

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

PREFIX = "/app"
# The app's own scripts and styles only: nothing inline, nothing from another site.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; connect-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}


@dataclass(frozen=True)
class Visitor:
    principal: Principal
    email: str
    csrf: str
    token_digest: str  # the session token's digest: "this browser" among the user's tokens

    @property
    def user_id(self) -> str:
        return self.principal.user_id


def service_of(request: Request) -> Service:
    return request.app.state.service


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


async def visitor(request: Request) -> Visitor | None:
    """The signed-in visitor, or None."""
    service = service_of(request)
    cookie = request.cookies.get(sessions.COOKIE)
    session = await sessions.find(service, cookie)
    if session is None or cookie is None:
        return None
    token = sessions.access_token(service, cookie)
    try:
        principal = await service.authenticate(token)
    except errors.ApiError as exc:
        if exc.status != 401:  # the home between servers (503): not the session's fault
            raise
        return None
    user = await service.store.user_by_id(session.user_id)
    if user is None:
        return None

    return Visitor(principal, user.email, session.csrf, tokens.digest(token))


def page(request: Request, template: str, who: Visitor | None, status: int = 200,
         **context: Any) -> Response:
    return templates.TemplateResponse(
        request, template, {"who": who, "prefix": PREFIX,
                            "simulator": request.app.state.web_sim is not None, **context},
        status_code=status, headers=HEADERS)


def to_sign_in() -> Response:
    return RedirectResponse(PREFIX + "/signin", status_code=303, headers=HEADERS)


def back(path: str) -> Response:
    """After a form: the page it came from (POST, then GET)."""
    return RedirectResponse(PREFIX + path, status_code=303, headers=HEADERS)


async def form_of(request: Request, who: Visitor) -> Any | None:
    """A posted form whose CSRF token matches the session; None otherwise."""
    form = await request.form()
    if not who.csrf or not sessions.Session(who.user_id, who.csrf).csrf_ok(
            str(form.get("csrf", ""))):
        return None
    return form
