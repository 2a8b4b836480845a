"""Products with chosen permissions, accepted by the demo user, with tokens issued for them;
and the field table turned into facts (who may read and write what) that tests check and
``docs/permissions.md`` shows.

Run as a script (``python tests/permissions_helpers.py``) it rewrites the generated part of
``docs/permissions.md`` from the field table; ``test_permissions.py`` fails while it is stale.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from roost.auth import tokens
from roost.hub import Subscriber
from roost.model import paths
from roost.model.schema import FIELDS, PERMISSIONS, effective
from roost.store import open_store
from roost.store.base import Store
from roost.store.records import Client, Grant

if TYPE_CHECKING:
    from conftest import Api

DEMO_EMAIL = "demo@example.com"
WAIT = 10.0  # the longest a stream may take to produce an event that is already due


# -- the field table as facts ----------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """One readable or writable location inside an object: a field, or a key of a field's
    value that needs more permissions than the field (a camera's ``last_event/image_url``)."""

    kind: str
    path: paths.Path
    read: frozenset[str]
    write: frozenset[str]

    @property
    def name(self) -> str:
        return "/".join(self.path)


def granting(needs: frozenset[str]) -> frozenset[str]:
    """The permissions that, granted at their newest version, satisfy a field's set (which
    may name a version, "Thermostat read/write@5")."""
    return frozenset(p for p in PERMISSIONS if effective(frozenset({p})) & needs)


def facts() -> list[Fact]:
    found = []
    for kind, fields in FIELDS.items():
        for f in fields.values():
            if not f.readable and not f.writable:
                continue  # no product reaches it (a thermostat's schedule): not a WWN field
            read = granting(f.read) if f.readable else frozenset()
            found.append(Fact(kind, (f.name,), read, granting(f.write)))
            found.extend(Fact(kind, (f.name, key), read & needs, frozenset())
                         for key, needs in f.restricted)
    return found


# -- products, grants and tokens -------------------------------------------------------------


@dataclass(frozen=True)
class Granted:
    """A product the demo user accepted, and a token under that grant."""

    token: str
    product: Client
    grant: Grant


async def _grant(store: Store, permissions: Iterable[str], name: str, email: str) -> Granted:
    user = await store.user_by_email(email)
    assert user is not None, f"no user {email}"
    secret_hash = tokens.digest(tokens.new_token())
    product = await store.create_client(name, "", secret_hash, None, frozenset(permissions))
    grant = await store.accept(user.id, product)
    token = tokens.new_token()
    await store.add_token(tokens.digest(token), grant.user_id, product.id)
    return Granted(token, product, grant)


async def _another(store: Store, granted: Granted) -> str:
    token = tokens.new_token()
    await store.add_token(tokens.digest(token), granted.grant.user_id, granted.product.id)
    return token


def grant_token(api: Api, permissions: Iterable[str], name: str = "Test product",
                email: str = DEMO_EMAIL) -> Granted:
    """A new product with these permissions, accepted by the user, and a token for it; made
    by the in-process app's own store."""
    return api.client.portal.call(_grant, api.service.store, permissions, name, email)


def another_token(api: Api, granted: Granted) -> str:
    """A second token under the same grant."""
    return api.client.portal.call(_another, api.service.store, granted)


def grant_token_in(db: Path, permissions: Iterable[str], name: str = "Test product",
                   email: str = DEMO_EMAIL) -> Granted:
    """The same, written straight to a running server's database, as ``roost token create``
    does (the server reads a token's grant on its first use)."""
    store = open_store(str(db))
    store.open()
    try:
        return asyncio.run(_grant(store, permissions, name, email))
    finally:
        store.close()


def update_product(api: Api, product_id: str, permissions: Iterable[str]) -> Client:
    """The developer edits the product's permissions (its version goes up)."""
    chosen = list(permissions)

    async def go() -> Client | None:
        return await api.service.store.update_client(product_id, permissions=chosen)

    updated = api.client.portal.call(go)
    assert updated is not None
    return updated


def accept_update(api: Api, granted: Granted) -> Grant:
    """The user accepts the product as it is now, as the consent page does."""
    async def go() -> Grant:
        store = api.service.store
        product = await store.client(granted.product.id)
        assert product is not None
        return await store.accept(granted.grant.user_id, product)

    return api.client.portal.call(go)


# -- streams in-process ----------------------------------------------------------------------


def subscribe(api: Api, token: str, path: str) -> Subscriber:
    """An open stream for ``token`` at ``path``, on the app's loop, as ``GET`` with
    ``Accept: text/event-stream`` opens one (an ``ApiError`` if it cannot)."""
    async def go() -> Subscriber:
        service = api.service
        return service.subscribe(await service.authenticate(token), paths.parse(path))

    return api.client.portal.call(go)


async def _next_chunk(subscriber: Subscriber) -> bytes | None:
    never = asyncio.get_running_loop().create_future()  # the client stays connected
    try:
        return await subscriber.next(WAIT, never)
    finally:
        never.cancel()


def next_event(api: Api, subscriber: Subscriber) -> tuple[str, Any] | None:
    """The next event the stream sends, as (name, data), ``put`` data unwrapped from its
    envelope; None once the stream has ended. Waits at most ``WAIT`` (then a keep-alive)."""
    chunk = api.client.portal.call(_next_chunk, subscriber)
    return None if chunk is None else parse_event(chunk)


def parse_event(chunk: bytes) -> tuple[str, Any]:
    lines = chunk.decode().rstrip("\n").split("\n")
    assert len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: ")
    name, data = lines[0][len("event: "):], orjson.loads(lines[1][len("data: "):])
    if name == "put":
        assert set(data) == {"path", "data"} and data["path"] == "/", data
        data = data["data"]
    return name, data


def first_put(api: Api, token: str, path: str) -> Any:
    """The data of the ``put`` a new stream at ``path`` starts with."""
    async def go() -> bytes | None:
        service = api.service
        subscriber = service.subscribe(await service.authenticate(token), paths.parse(path))
        try:
            return await _next_chunk(subscriber)
        finally:
            service.hub.unsubscribe(subscriber)

    chunk = api.client.portal.call(go)
    assert chunk is not None
    name, data = parse_event(chunk)
    assert name == "put", (name, data)
    return data


# -- docs/permissions.md ---------------------------------------------------------------------

DOC = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"
BEGIN = ("<!-- generated from roost/model/schema.py by `python tests/permissions_helpers.py`; "
         "do not edit by hand -->")
END = "<!-- end of generated part -->"


def _listing(kind: str, names: list[str]) -> str:
    every = [f.name for f in FIELDS[kind].values() if f.readable]
    if names == every:
        return "all"
    missing = [n for n in every if n not in names]
    if len(missing) <= 4:  # a short list of exceptions reads better than a long list
        return "all but " + ", ".join(f"`{n}`" for n in missing)
    return ", ".join(f"`{n}`" for n in names)


def permission_table() -> str:
    """What each permission reads and writes, from the field table."""
    rows = ["| Permission | Reads | Writes |", "|---|---|---|"]
    all_facts = facts()
    for permission in PERMISSIONS:
        reads, writes = [], []
        for kind in FIELDS:
            mine = [f for f in all_facts if f.kind == kind and permission in f.read]
            fields = [f.name for f in mine if len(f.path) == 1]
            if fields:
                text = _listing(kind, fields)
                hidden = [f"`{x.name}`" for x in all_facts if x.kind == kind
                          and len(x.path) > 1 and x.path[0] in fields and x not in mine]
                if hidden:
                    text += " (without " + ", ".join(hidden) + ")"
                reads.append(f"{kind}: {text}")
            writable = [f"`{f.name}`" for f in all_facts
                        if f.kind == kind and permission in f.write]
            if writable:
                writes.append(f"{kind}: {', '.join(writable)}")
        rows.append(f"| {permission} | {'; '.join(reads) or '—'} | "
                    f"{'; '.join(writes) or '—'} |")
    return "\n".join(rows)


def generated_doc(text: str) -> str:
    """``text`` with its generated part replaced by the current table."""
    pattern = re.compile(re.escape(BEGIN) + r"\n.*?" + re.escape(END), re.S)
    assert pattern.search(text), f"{DOC} lacks its generated part"
    return pattern.sub(lambda _: f"{BEGIN}\n{permission_table()}\n{END}", text)


if __name__ == "__main__":
    current = DOC.read_text()
    updated = generated_doc(current)
    if updated != current:
        DOC.write_text(updated)
        print(f"rewrote {DOC}", file=sys.stderr)
