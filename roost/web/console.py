"""The developer console: a user's own products (OAuth clients), registered, edited and
deleted with the same checks as the command line and the developer API. A new product's
secret is shown once; only its digest is stored."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.auth import clients, tokens
from roost.model.schema import PERMISSION_TEXT, PERMISSIONS
from roost.store.records import Client
from roost.web.visitor import PREFIX, Visitor, back, form_of, page, service_of, to_sign_in, visitor


def _fields(form: Any) -> dict[str, Any]:
    """The checked fields of the form; InvalidProduct says what is wrong."""
    uri = str(form.get("redirect_uri", "")).strip()
    return {
        "name": clients.check_name(str(form.get("name", ""))),
        "description": clients.check_description(str(form.get("description", "")).strip()),
        "redirect_uri": clients.check_redirect_uri(uri) if uri else None,
        "permissions": clients.check_permissions(str(p) for p in form.getlist("permission")),
    }


def _draft(form: Any) -> dict[str, Any]:
    """What was typed, to show again beside the error."""
    return {"name": form.get("name", ""), "description": form.get("description", ""),
            "redirect_uri": form.get("redirect_uri", ""),
            "permissions": set(form.getlist("permission"))}


def _choices() -> list[tuple[str, str]]:
    return [(name, PERMISSION_TEXT[name]) for name in PERMISSIONS]


async def _owned(request: Request, who: Visitor) -> list[tuple[Client, int]]:
    store = service_of(request).store
    return [(c, await store.users_of(c.id)) for c in await store.clients()
            if c.owner_id == who.user_id]


async def show(request: Request, who: Visitor | None = None, status: int = 200,
               **context: Any) -> Response:
    who = who or await visitor(request)
    if who is None:
        return to_sign_in()
    context.setdefault("draft", {"permissions": set()})
    return page(request, "app/developer.html", who, status, nav="developer",
                products=await _owned(request, who), choices=_choices(), **context)


async def create(request: Request) -> Response:
    who = await visitor(request)
    if who is None:
        return to_sign_in()
    form = await form_of(request, who)
    if form is None:
        return back("/developer")
    try:
        fields = _fields(form)
    except clients.InvalidProduct as exc:
        return await show(request, who, 400, error=str(exc), draft=_draft(form))
    secret = clients.new_secret()
    product = await service_of(request).store.create_client(
        fields["name"], fields["description"], tokens.digest(secret), fields["redirect_uri"],
        fields["permissions"], who.user_id)
    return await show(request, who, created=product, secret=secret)


async def _mine(request: Request, who: Visitor) -> Client | None:
    product = await service_of(request).store.client(request.path_params["client_id"])
    return product if product is not None and product.owner_id == who.user_id else None


async def edit_page(request: Request) -> Response:
    who = await visitor(request)
    if who is None:
        return to_sign_in()
    product = await _mine(request, who)
    if product is None:
        return page(request, "app/message.html", who, 404, title="No such product",
                    text="You have no product with that id.")
    draft = {"name": product.name, "description": product.description,
             "redirect_uri": product.redirect_uri or "", "permissions": set(
                 product.permissions)}
    return page(request, "app/product.html", who, nav="developer", product=product,
                draft=draft, choices=_choices(), error="")


async def edit(request: Request) -> Response:
    who = await visitor(request)
    if who is None:
        return to_sign_in()
    form = await form_of(request, who)
    product = await _mine(request, who)
    if form is None or product is None:
        return back("/developer")
    try:
        fields = _fields(form)
    except clients.InvalidProduct as exc:
        return page(request, "app/product.html", who, 400, nav="developer", product=product,
                    draft=_draft(form), choices=_choices(), error=str(exc))
    await service_of(request).store.update_client(
        product.id, name=fields["name"], description=fields["description"],
        redirect_uri=fields["redirect_uri"], clear_redirect_uri=fields["redirect_uri"] is None,
        permissions=fields["permissions"], owner_id=who.user_id)
    return back("/developer")


async def delete(request: Request) -> Response:
    who = await visitor(request)
    if who is None:
        return to_sign_in()
    form = await form_of(request, who)
    product = await _mine(request, who)
    if form is not None and product is not None:
        # Through the service, so its tokens stop working and their streams end.
        await service_of(request).delete_client(product.id)
    return back("/developer")


def routes() -> list[Route]:
    return [
        Route(PREFIX + "/developer", show, methods=["GET"]),
        Route(PREFIX + "/developer", create, methods=["POST"]),
        Route(PREFIX + "/developer/{client_id}", edit_page, methods=["GET"]),
        Route(PREFIX + "/developer/{client_id}", edit, methods=["POST"]),
        Route(PREFIX + "/developer/{client_id}/delete", delete, methods=["POST"]),
    ]
