"""Signing in and out of the web app, and creating an account where the server allows it
(``roost serve --open-signup``). The same sessions, throttle and password checks as the
OAuth consent pages."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from roost.auth import passwords, sessions, signin
from roost.store.base import Duplicate
from roost.web.visitor import HEADERS, PREFIX, form_of, page, service_of, settings_of, visitor

MIN_PASSWORD = 8


def _signed_in(request: Request, cookie: str) -> Response:
    response = RedirectResponse(PREFIX, status_code=303, headers=HEADERS)
    response.set_cookie(sessions.COOKIE, cookie, max_age=int(sessions.LIFETIME.total_seconds()),
                        httponly=True, samesite="lax", secure=request.url.scheme == "https")
    return response


async def sign_in_page(request: Request) -> Response:
    if await visitor(request) is not None:
        return RedirectResponse(PREFIX, status_code=303, headers=HEADERS)
    return page(request, "app/signin.html", None, email="", error="",
                signup=settings_of(request).open_signup)


async def sign_in(request: Request) -> Response:
    form = await request.form()
    email, password = str(form.get("email", "")).strip(), str(form.get("password", ""))
    address = request.client.host if request.client else ""
    service = service_of(request)
    signup = settings_of(request).open_signup
    try:
        user = await signin.check(service.store, request.app.state.login_throttle, email,
                                  password, address)
    except signin.Throttled:
        return page(request, "app/signin.html", None, 429, email=email, signup=signup,
                    error="Too many attempts. Try again in 15 minutes.")
    if user is None:
        return page(request, "app/signin.html", None, 400, email=email, signup=signup,
                    error="Wrong email or password.")
    return _signed_in(request, await sessions.start(service, user.id))


async def sign_out(request: Request) -> Response:
    who = await visitor(request)
    cookie = request.cookies.get(sessions.COOKIE)
    if who is not None and cookie and await form_of(request, who) is not None:
        await sessions.end(service_of(request), cookie)
    response = RedirectResponse(PREFIX + "/signin", status_code=303, headers=HEADERS)
    response.delete_cookie(sessions.COOKIE)
    return response


async def sign_up_page(request: Request) -> Response:
    if not settings_of(request).open_signup:
        return page(request, "app/message.html", None, 404, title="No sign-up here",
                    text="This Roost does not let visitors create accounts. Ask its owner "
                         "to run `roost user create`.")
    return page(request, "app/signup.html", None, email="", error="")


async def sign_up(request: Request) -> Response:
    if not settings_of(request).open_signup:
        return await sign_up_page(request)
    form = await request.form()
    email, password = str(form.get("email", "")).strip(), str(form.get("password", ""))
    error = ""
    if "@" not in email or len(email) > 254:
        error = "Enter an email address."
    elif len(password) < MIN_PASSWORD:
        error = f"A password has at least {MIN_PASSWORD} characters."
    if not error:
        service = service_of(request)
        hashed = await asyncio.to_thread(passwords.hash_password, password)
        try:
            user = await service.store.create_user(email, hashed)
        except Duplicate:
            error = "An account with this email exists. Sign in instead."
        else:
            return _signed_in(request, await sessions.start(service, user.id))
    return page(request, "app/signup.html", None, 400, email=email, error=error)
