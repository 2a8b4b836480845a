"""Persistence: versioned home objects, one change row per commit, and accounts."""

from roost.store.base import Store, StoreInUse
from roost.store.sqlite import SQLiteStore

__all__ = ["SQLiteStore", "Store", "StoreInUse", "open_store"]


def open_store(url: str, synchronous: str = "FULL") -> Store:
    """A store for ``url``: a SQLite file path (the default kind of store)."""
    return SQLiteStore(url, synchronous=synchronous)
