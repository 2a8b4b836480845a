"""Signing in to the legacy API: ``/user/login``, ``/session`` and ``/user/service_urls``.

A session is a first-party token (``b.`` and 384 random bits, stored as a digest like every
token) that ends 30 days after sign-in, as Nest's did. Both sign-in routes take the email and
password as a form (``username``, as the 2012-2016 clients send it) or as JSON (``email``,
as the 2019 web app did), decided by the body itself: clients label bodies loosely.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from roost import clock
from roost.auth import signin, tokens
from roost.auth.principal import Principal
from roost.auth.throttle import LoginThrottle
from roost.http.body import read_raw
from roost.legacy import auth, urls
from roost.legacy.errors import LegacyError, invalid_request, unauthorized
from roost.service import Service
from roost.settings import Settings
from roost.store.records import User

LIFETIME = timedelta(days=30)
# Roost enforces none of these; clients only show them (one .NET client reads three).
LIMITS = {"thermostats_per_structure": 20, "structures": 5, "smoke_detectors_per_structure": 18,
          "smoke_detectors": 54, "thermostats": 60}
# Weave pairs devices over Nest's own fabric, which Roost does not run; python-nest 2.x reads
# the object unguarded, so it is there, with nothing in it.
WEAVE = {"service_config": "", "pairing_token": "", "access_token": ""}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
NO_STORE = {"Cache-Control": "no-store"}


def new_token() -> str:
    return tokens.SESSION_PREFIX + secrets.token_urlsafe(48)


def cookie_date(moment: datetime) -> str:
    """``Wed, 07-Oct-2012 12:08:00 GMT``: clients parse exactly this, so the names are fixed
    rather than left to the process's locale."""
    moment = moment.astimezone(UTC)
    return (f"{_DAYS[moment.weekday()]}, {moment.day:02d}-{_MONTHS[moment.month - 1]}-"
            f"{moment.year:04d} {moment:%H:%M:%S} GMT")


def service_urls(origin: str) -> dict[str, Any]:
    """What ``/user/service_urls`` answers, and a session includes."""
    return {"urls": urls.urls(origin), "limits": LIMITS}


def session_object(user: User, token: str, expires: datetime,
                   origin: str) -> dict[str, Any]:
    """The session object of a sign-in and of ``GET /session``. ``userid`` is Roost's user id
    as stored (hex, where Nest's were digits): clients only echo it, and ``user`` is always
    ``"user." + userid``."""
    return {
        "access_token": token,
        "userid": user.id,
        "user": "user." + user.id,
        "email": user.email,
        "expires_in": cookie_date(expires),
        **service_urls(origin),
        "weave": WEAVE,
        "is_staff": False,
        "is_superuser": False,
        "language": "en_US",
        "2fa_state": "not_enrolled",
        "2fa_enabled": False,
    }


class Sessions:
    def __init__(self, service: Service, settings: Settings) -> None:
        self.service = service
        self.settings = settings

    async def login(self, request: Request) -> Response:
        """``POST /user/login`` and ``POST /session``: a new session."""
        email, password = await self._credentials(request)
        user = await self._check(request, email, password)
        token = new_token()
        expires = self.service.clock() + LIFETIME
        await self.service.store.add_token(tokens.digest(token), user.id,
                                           tokens.FIRST_PARTY_CLIENT, expires=clock.iso(expires))
        return _json(session_object(user, token, expires, await self._home(request, user.id)))

    async def current(self, request: Request) -> Response:
        """``GET /session``: the session of the presented token, the token echoed."""
        principal = await self._principal(request)
        user = await self.service.store.user_by_id(principal.user_id)
        if user is None:  # deleted since its token was cached
            raise unauthorized()
        # Roost's own command-line tokens never end; a month ahead keeps clients that
        # re-sign-in before expires_in from doing so at once.
        expires = principal.expires or self.service.clock() + LIFETIME
        return _json(session_object(user, principal.token, expires,
                                    await self._home(request, user.id)))

    async def service_urls(self, request: Request) -> Response:
        """``POST /user/service_urls``: where the transport is, for an existing session."""
        principal = await self._principal(request)
        return _json(service_urls(await self._home(request, principal.user_id)))

    async def session(self, request: Request) -> Response:
        return await (self.current(request) if request.method == "GET" else self.login(request))

    async def _home(self, request: Request, user_id: str) -> str:
        return await urls.home_origin(self.service, self.settings, request, user_id)

    async def _principal(self, request: Request) -> Principal:
        if auth.token_of(request) is None:
            # What Nest answered a GET /session without credentials (ha-nest-protect#248).
            raise invalid_request("missing user credentials")
        return await auth.principal(self.service, request)

    async def _credentials(self, request: Request) -> tuple[str, str]:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            fields = await _multipart(request, self.settings.max_body)
        else:
            fields = _fields(await read_raw(request, self.settings.max_body))
        email = fields.get("email", fields.get("username"))
        password = fields.get("password")
        if not isinstance(email, str) or not isinstance(password, str) or not email.strip() \
                or not password:
            raise invalid_request("missing user credentials")
        return email.strip(), password

    async def _check(self, request: Request, email: str, password: str) -> User:
        """The user with these credentials, as the web sign-in checks them: throttled per
        account and per address, a dummy hash for unknown emails, rehashed when weak."""
        throttle: LoginThrottle = request.app.state.login_throttle
        address = request.client.host if request.client else ""
        try:
            user = await signin.check(self.service.store, throttle, email, password, address)
        except signin.Throttled:
            raise LegacyError(429, "too_many_requests",
                              "too many failed sign-ins; try again in 15 minutes",
                              {"Retry-After": "900"}) from None
        if user is None:
            raise LegacyError(400, "access_denied", "invalid user credentials")
        return user


def _fields(raw: bytes) -> dict[str, Any]:
    """A JSON object or a urlencoded form, told apart by the body itself."""
    if raw.lstrip()[:1] == b"{":
        try:
            fields = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise invalid_request("malformed JSON body") from None
        return fields if isinstance(fields, dict) else {}
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise invalid_request("the body is not UTF-8") from None
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


async def _multipart(request: Request, limit: int) -> dict[str, Any]:
    """A multipart form (what curl sends for an array of fields); only its text fields."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        raise LegacyError(411, "length_required", "a multipart body needs a Content-Length")
    if int(declared) > limit:
        raise LegacyError(413, "request_too_large", f"the body is larger than {limit} bytes")
    try:
        form = await request.form(max_files=0, max_fields=16)
    except HTTPException as exc:
        raise invalid_request(f"malformed form: {exc.detail}") from None
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _json(value: Any) -> Response:
    return Response(orjson.dumps(value), media_type="application/json", headers=NO_STORE)
