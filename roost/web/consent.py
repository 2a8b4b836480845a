"""``home.nest.com/login/oauth2``: sign in, then allow or deny a product.

A product with a redirect URI gets the user back with ``code`` and ``state`` (or
``error=access_denied``); one without shows the user a PIN to type into it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from roost.auth import clients, oauth, sessions, signin
from roost.auth.throttle import LoginThrottle
from roost.http.body import read_form
from roost.model.schema import PERMISSION_TEXT, parse_permission
from roost.service import Service
from roost.store.records import Client

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

# Browsers must not frame these pages (clickjacking the Allow button), cache them, or leak
# the query (state, codes) to other sites.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
# Verifying against this when the email is unknown makes both failures take as long.
def _service(request: Request) -> Service:
    return request.app.state.service


def _throttle(request: Request) -> LoginThrottle:
    return request.app.state.login_throttle


def page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(request, template, context, status_code=status,
                                      headers=SECURITY_HEADERS)


def message(request: Request, title: str, text: str, status: int = 400) -> Response:
    return page(request, "message.html", status, title=title, message=text, error=status >= 400)


def _redirect(uri: str, **params: str) -> Response:
    separator = "&" if "?" in uri else "?"
    return RedirectResponse(uri + separator + urlencode(params), status_code=303,
                            headers=SECURITY_HEADERS)


def _product_error(request: Request, product: Client | None, status: int,
                   description: str, text: str) -> Response:
    """Redirect-flow products get Nest's JSON error; PIN-flow users get a page."""
    if product is not None and product.redirect_uri is not None:
        return oauth.OAuthError(description, status).response()
    return message(request, "Can't connect", text, status)


async def _check(request: Request, params: Any) -> tuple[Client | None, Response | None]:
    client_id, state = params.get("client_id", ""), params.get("state", "")
    if not client_id or not state:
        return None, message(request, "Can't connect", "Missing client ID or state parameters.")
    product = await _service(request).store.client(client_id)
    if product is None:
        return None, message(request, "Can't connect",
                             "Oops! We've encountered an error. Please try again.")
    asked = params.get("redirect_uri")
    if asked and asked != product.redirect_uri:  # exact match only; never redirect to it
        return product, _product_error(request, product, 400, "redirect_uri mismatch",
                                       "The product's redirect address is not registered.")
    return product, None


async def authorize(request: Request) -> Response:
    product, refused = await _check(request, request.query_params)
    if refused is not None:
        return refused
    assert product is not None
    service = _service(request)
    session = await sessions.find(service, request.cookies.get(sessions.COOKIE))
    if session is None:
        return page(request, "login.html", product=product, email="", error="",
                    next=str(request.url.path) + "?" + request.url.query)
    user = await service.store.user_by_id(session.user_id)
    homes = _structures(service, session.user_id)
    accepted = await service.store.grant(session.user_id, product.id)
    return page(
        request, "consent.html", product=product, email=user.email if user else "",
        permissions=[PERMISSION_TEXT[parse_permission(p)[0]]
                     for p in clients.ordered(product.permissions)],
        updated=accepted is not None and accepted.client_version < product.version,
        csrf=session.csrf, state=request.query_params["state"],
        structures=homes if len(homes) > 1 else [],
        redirect_uri=request.query_params.get("redirect_uri", ""))


async def decide(request: Request) -> Response:
    form = await read_form(request, request.app.state.settings.max_body)
    product, refused = await _check(request, form)
    if refused is not None:
        return refused
    assert product is not None
    service = _service(request)
    session = await sessions.find(service, request.cookies.get(sessions.COOKIE))
    if session is None or not session.csrf_ok(str(form.get("csrf", ""))):
        return message(request, "Can't connect",
                       "This form has expired. Start again from the product.", 403)
    state = str(form["state"])
    if form.get("decision") != "allow":
        if product.redirect_uri is not None:
            return _redirect(product.redirect_uri, error="access_denied", state=state)
        return message(request, "Not connected",
                       f"{product.name} was not allowed into your home.", 200)
    homes = {id for id, _ in _structures(service, session.user_id)}
    chosen: frozenset[str] | None = None
    if len(homes) > 1:  # the user picked homes on the consent page
        chosen = frozenset(str(s) for s in form.getlist("structure")) & homes
        if not chosen:
            return message(request, "Not connected",
                           "Choose at least one home to connect, then try again.")
    code = await oauth.issue_code(service, session.user_id, product, chosen,
                                  str(form.get("redirect_uri") or "") or None)
    if product.redirect_uri is not None:
        return _redirect(product.redirect_uri, code=code, state=state)
    return page(request, "pin.html", product=product, pin=code)


def _structures(service: Service, user_id: str) -> list[tuple[str, str]]:
    return [(s.id, s.data.get("name", "")) for s in service.home.of_user(user_id, "structures")]


def _safe_next(value: str) -> str:
    # Only back into the consent flow: never an open redirect to another site.
    return value if value.startswith("/login/oauth2?") else "/login/oauth2"


async def sign_in(request: Request) -> Response:
    form = await read_form(request, request.app.state.settings.max_body)
    email, password = str(form.get("email", "")).strip(), str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "")))
    address = request.client.host if request.client else ""
    service, throttle = _service(request), _throttle(request)
    try:
        user = await signin.check(service.store, throttle, email, password, address)
    except signin.Throttled:
        return page(request, "login.html", 429, product=None, email=email, next=next_url,
                    error="Too many attempts. Try again in 15 minutes.")
    if user is None:
        return page(request, "login.html", 400, product=None, email=email, next=next_url,
                    error="Wrong email or password.")
    cookie = await sessions.start(service, user.id)
    response = RedirectResponse(next_url, status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(sessions.COOKIE, cookie, max_age=int(sessions.LIFETIME.total_seconds()),
                        httponly=True, samesite="lax", secure=request.url.scheme == "https")
    return response

