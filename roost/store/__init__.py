"""Persistence: versioned home objects, one change row per commit, and accounts."""

from roost.store.base import Store, StoreError, StoreInUse
from roost.store.sqlite import SQLiteStore

__all__ = ["SQLiteStore", "Store", "StoreInUse", "is_database_url", "open_store"]


def is_database_url(db: str) -> bool:
    """Whether ``db`` names a PostgreSQL database rather than a SQLite file."""
    return db.startswith(("postgresql://", "postgres://"))


def open_store(url: str, synchronous: str = "FULL") -> Store:
    """A store for ``url``: a ``postgresql://`` URL (roost[postgres]), or a SQLite file path
    (the default kind of store)."""
    if is_database_url(url):
        try:  # only with the postgres extra
            from roost.store.postgres import PostgresStore
        except ImportError:
            raise StoreError("a postgresql:// database needs psycopg: "
                             "pip install 'roost[postgres]'") from None
        return PostgresStore(url)
    return SQLiteStore(url, synchronous=synchronous)
