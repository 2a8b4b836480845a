"""The database a command works on: one option for every command, and a file this Roost
cannot use refused in one line before anything touches it. And ``roost db``, for the
database as a whole."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from roost.auth import tokens
from roost.store import copy, files, is_database_url, open_store
from roost.store.base import Store, StoreError
from roost.store.sqlite import SQLiteStore

db_option = click.option("--db", default="roost.db", show_default=True, envvar="ROOST_DB",
                         show_envvar=True, type=click.Path(dir_okay=False),
                         help="SQLite file (created if missing), or a postgresql:// URL "
                         "(roost[postgres]).")


def usable(db: str, create: bool = True) -> None:
    """Refuse a database this Roost cannot use, in one line, before anything touches it
    (a PostgreSQL database is opened once: reachable, and of a schema this Roost knows)."""
    try:
        if is_database_url(db):
            store = open_store(db)
            store.open()
            store.close()
        else:
            files.check(db, create)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def opened(db: str, create: bool = True) -> Iterator[Store]:
    """The store for one command, closed when it ends; without ``create``, a database that
    does not exist is refused rather than made."""
    usable(db, create)
    store = open_store(db)
    store.open()
    try:
        yield store
    finally:
        store.close()


@click.group("db")
def db_group() -> None:
    """The database as a whole: copy it to SQLite or PostgreSQL."""


@db_group.command("copy")
@click.option("--from", "source", required=True, metavar="DB",
              help="The database to copy: a SQLite file or a postgresql:// URL.")
@click.option("--to", "destination", required=True, metavar="DB",
              help="A new database to copy it into: a SQLite file (created if missing) or "
              "a postgresql:// URL of an existing, empty database.")
def db_copy(source: str, destination: str) -> None:
    """Copy a whole database into a new one.

    Everything moves: homes, users, products, grants, tokens, codes, web sessions,
    thermostats and account events. Tokens, signed-in sessions and products' client secrets
    keep working against the copy (docs/scale-out.md).

    Neither database may be served meanwhile: stop the server first. The destination is
    written in one transaction, and refused unless it holds no users, products, homes or
    thermostats. Prints one line with the rows copied of each table.
    """
    if _same(source, destination):
        raise click.ClickException("--from and --to name the same database")
    stores: list[Store] = []
    try:
        for option, db, create in (("--from", source, False), ("--to", destination, True)):
            try:
                if not is_database_url(db):
                    files.check(db, create)
                store = open_store(db)
                stores.append(store)
                store.claim()  # first: a server on either would drift apart from the copy
                store.open()
            except StoreError as exc:
                raise click.ClickException(f"{option}: {exc}") from None
        from_store, to_store = stores
        assert isinstance(from_store, SQLiteStore) and isinstance(to_store, SQLiteStore)
        try:
            counts = copy.copy(from_store, to_store, tokens.FIRST_PARTY_CLIENT)
        except copy.NotEmpty as exc:
            raise click.ClickException(f"--to: {shown(destination)} {exc}") from None
        except StoreError as exc:
            raise click.ClickException(f"nothing copied: {exc}") from None
    finally:
        for store in stores:
            store.close()
    click.echo(f"copied {shown(source)} to {shown(destination)}: "
               + ", ".join(f"{table} {n}" for table, n in counts.items()))


def _same(one: str, other: str) -> bool:
    if is_database_url(one) or is_database_url(other):
        return one == other
    return Path(one).resolve() == Path(other).resolve()


def shown(db: str) -> str:
    """A database as printed: a URL without its password."""
    return re.sub(r"^(\w+://[^:/@]*):[^@/]*@", r"\1:***@", db)
