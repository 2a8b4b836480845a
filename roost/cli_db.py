"""The database a command works on: one option for every command, and a file this Roost
cannot use refused in one line before anything touches it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from roost.store import files, is_database_url, open_store
from roost.store.base import Store, StoreError

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
