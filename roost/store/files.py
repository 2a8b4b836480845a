"""Whether a path can hold Roost's store, asked before anything opens it.

Every command checks its database first, so a wrong path gets one line naming the file and
the problem instead of a traceback, and the file is left exactly as it was: the checks only
read it (SQLite's ``immutable`` mode takes no lock and writes no journal).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from roost.store import schema
from roost.store.base import StoreError

HEADER = b"SQLite format 3\x00"


class Unusable(StoreError):
    """The path cannot be Roost's store; the message names it and says why."""


def check(path: str, create: bool = True) -> None:
    """Unusable unless ``path`` is a Roost database this Roost can open and write, or (with
    ``create``) a new file in an existing directory."""
    file = Path(path)
    if not file.parent.is_dir():
        raise Unusable(f"{path}: the directory {file.parent} does not exist")
    if not file.exists():
        if create:
            return
        raise Unusable(f"{path}: no such database (`roost serve` or `roost user create` "
                       "makes one)")
    if not file.is_file():
        raise Unusable(f"{path}: is not a file")
    if not os.access(file, os.R_OK):
        raise Unusable(f"{path}: cannot be read (permission denied)")
    if not os.access(file, os.W_OK):
        raise Unusable(f"{path}: is read-only; Roost writes to its database")
    with file.open("rb") as f:
        head = f.read(len(HEADER))
    if not head:
        return  # empty: SQLite takes it for a new database
    if head != HEADER:
        raise Unusable(f"{path}: is not a Roost database (not SQLite at all)")
    try:
        conn = sqlite3.connect(f"file:{quote(str(file.resolve()))}?immutable=1", uri=True)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            verdict = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise Unusable(f"{path}: is corrupt ({exc})") from None
    if verdict != "ok":
        first = verdict.replace("*** in database main ***", "").split()
        raise Unusable(f"{path}: is corrupt ({' '.join(first)})")
    if version > schema.latest():
        raise Unusable(schema.newer(f"{path}:", version))
    if tables and (version == 0 or "meta" not in tables):
        raise Unusable(f"{path}: is not a Roost database (an SQLite file with other tables)")
