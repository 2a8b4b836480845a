"""The developer API: users manage their own products (OAuth clients), as the web console will.

::

    GET    /api/v1/clients        the caller's products
    POST   /api/v1/clients        create one; 201, the only answer that carries client_secret
    GET    /api/v1/clients/<id>   one of them
    PATCH  /api/v1/clients/<id>   edit name, description, redirect_uri, permissions
    DELETE /api/v1/clients/<id>   delete it; its tokens stop working, their streams end

Only a first-party token (Roost's own product: ``roost token create``, the demo, the
dashboard) may call it: a product must not be able to rewrite its own permissions. Another
user's product answers 404, exactly like a missing one, so ids cannot be probed. Errors are
``{"error": <code>, "message": <text>}``, not the data API's Nest envelope.
"""

from __future__ import annotations

from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from roost import errors
from roost.auth import clients, tokens
from roost.http.body import NotJson, TooLarge, read_body
from roost.http.errors import HttpError, Translations
from roost.http.guard import guarded
from roost.service import Service
from roost.store.records import Client

FIELDS = ("name", "description", "redirect_uri", "permissions")
# Secrets travel in these answers; nothing on the way may keep a copy.
NO_STORE = {"Cache-Control": "no-store"}


class DeveloperError(HttpError):
    logger = "roost.api"
    translations: ClassVar[Translations] = {
        TooLarge: lambda exc: DeveloperError(413, "too_large",
                                             f"the body exceeds {exc.limit} bytes"),
        NotJson: lambda exc: invalid("the body is not valid JSON"),
    }

    def __init__(self, status: int, error: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status, message, {**NO_STORE, **(headers or {})})
        self.error = error
        self.message = message

    def body(self) -> dict[str, str]:
        return {"error": self.error, "message": self.message}

    @classmethod
    def internal(cls) -> DeveloperError:
        return DeveloperError(500, "internal", "internal error")

    @classmethod
    def method_not_allowed(cls, method: str, allowed: str) -> DeveloperError:
        return DeveloperError(405, "method_not_allowed", f"{method} is not supported here",
                              {"Allow": allowed})


def invalid(message: str) -> DeveloperError:
    return DeveloperError(400, "invalid_request", message)


def not_found(client_id: str) -> DeveloperError:
    return DeveloperError(404, "not_found", f"no product {client_id}")


def product_json(product: Client) -> dict[str, Any]:
    """A product as the API shows it: never its secret, nor the secret's digest."""
    return {
        "client_id": product.id,
        "name": product.name,
        "description": product.description,
        "redirect_uri": product.redirect_uri,  # null: the PIN flow
        "permissions": clients.ordered(product.permissions),
        "client_version": product.version,
    }


def parse_fields(body: Any, partial: bool) -> dict[str, Any]:
    """The checked fields of a POST (all but description and redirect_uri required) or a
    PATCH (any). Unknown keys are refused so that a misspelt one is not silently ignored."""
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise invalid(f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                      f"a product has {', '.join(FIELDS)}")
    if not partial:
        missing = [name for name in ("name", "permissions") if name not in body]
        if missing:
            raise invalid(f"missing {' and '.join(missing)}")
    fields: dict[str, Any] = {}
    try:
        for name in ("name", "description"):
            if name in body:
                if not isinstance(body[name], str):
                    raise invalid(f"{name} must be a string")
                check = clients.check_name if name == "name" else clients.check_description
                fields[name] = check(body[name])
        if "redirect_uri" in body:
            uri = body["redirect_uri"]
            if uri is not None and not isinstance(uri, str):
                raise invalid("redirect_uri must be a string, or null for the PIN flow")
            fields["redirect_uri"] = None if uri is None else clients.check_redirect_uri(uri)
        if "permissions" in body:
            names = body["permissions"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise invalid("permissions must be a list of Nest permission names")
            fields["permissions"] = clients.check_permissions(names)
    except clients.InvalidProduct as exc:
        raise invalid(str(exc)) from None
    return fields


class DeveloperApi:
    """Both ``/api/v1/clients`` routes; ``client_id`` in the path selects one product."""

    def __init__(self, service: Service, max_body: int, session_control: bool = False) -> None:
        self.service = service
        self.max_body = max_body
        self.session_control = session_control  # password sessions may manage products
        self.guarded = guarded(DeveloperError)(self.handle)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.guarded(Request(scope, receive))
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        user_id = await self.caller(request)
        client_id: str | None = request.path_params.get("client_id")
        method = request.method
        if client_id is None:
            if method == "GET":
                return await self.list(user_id)
            if method == "POST":
                return await self.create(user_id, await self.body(request))
            allowed = "GET, POST"
        else:
            if method == "GET":
                return answer(await self.owned(user_id, client_id))
            if method == "PATCH":
                return await self.update(user_id, client_id, await self.body(request))
            if method == "DELETE":
                return await self.delete(user_id, client_id)
            allowed = "GET, PATCH, DELETE"
        raise DeveloperError.method_not_allowed(method, allowed)

    async def caller(self, request: Request) -> str:
        """The user behind a first-party bearer token. Only the header is accepted: a token in
        the query string ends up in access logs."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        challenge = {"WWW-Authenticate": "Bearer"}
        if scheme.lower() != "bearer" or not token.strip():
            raise DeveloperError(401, "unauthorized", "an Authorization: Bearer token is "
                                 "required", challenge)
        try:
            # Products are the account's, not a home's: any server manages them.
            principal = await self.service.authenticate(token.strip(), here=False)
        except errors.ApiError:
            raise DeveloperError(401, "unauthorized", "the token is unknown or revoked",
                                 challenge) from None
        if principal.client_id != tokens.FIRST_PARTY_CLIENT or (
                tokens.is_password_session(principal.token) and not self.session_control):
            raise DeveloperError(403, "forbidden", "only Roost's own tokens (from `roost token "
                                 "create` or the dashboard) can manage products")
        return principal.user_id

    async def body(self, request: Request) -> Any:
        """The body as JSON, read as the data API reads it; its refusals are translated into
        this API's shape by :class:`DeveloperError`."""
        return await read_body(request, self.max_body)

    async def owned(self, user_id: str, client_id: str) -> Client:
        product = await self.service.store.client(client_id)
        if product is None or product.owner_id != user_id:
            raise not_found(client_id)
        return product

    async def list(self, user_id: str) -> Response:
        products = await self.service.store.clients()
        return JSONResponse([product_json(c) for c in products if c.owner_id == user_id],
                            headers=NO_STORE)

    async def create(self, user_id: str, body: Any) -> Response:
        fields = parse_fields(body, partial=False)
        secret = clients.new_secret()
        digest = tokens.digest(secret)
        product = await self.service.store.create_client(
            fields["name"], fields.get("description", ""), digest,
            fields.get("redirect_uri"), fields["permissions"], user_id)
        return JSONResponse({**product_json(product), "client_secret": secret},
                            status_code=201,
                            headers={**NO_STORE, "Location": f"/api/v1/clients/{product.id}"})

    async def update(self, user_id: str, client_id: str, body: Any) -> Response:
        fields = parse_fields(body, partial=True)
        uri = fields.get("redirect_uri")
        # Ownership is checked in the same transaction as the edit.
        product = await self.service.store.update_client(
            client_id, name=fields.get("name"), description=fields.get("description"),
            redirect_uri=uri, clear_redirect_uri="redirect_uri" in fields and uri is None,
            permissions=fields.get("permissions"), owner_id=user_id)
        if product is None:
            raise not_found(client_id)
        return answer(product)

    async def delete(self, user_id: str, client_id: str) -> Response:
        await self.owned(user_id, client_id)
        # Through the service, so the tokens it has cached stop working and streams end.
        if not await self.service.delete_client(client_id):
            raise not_found(client_id)  # deleted meanwhile by another request
        return Response(status_code=204, headers=NO_STORE)


def answer(product: Client) -> Response:
    return JSONResponse(product_json(product), headers=NO_STORE)
