"""Data locations: parsing a URL path, and finding which object a write is aimed at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from roost import errors
from roost.model.home import DEVICE_KINDS

Path = tuple[str, ...]


# Paths parsed so far: every read and write parses its path, and a home's locations are
# parsed once each. A plain dict, not functools.lru_cache, whose reordering on every hit
# costs cache misses over 10,000 homes; when full it is emptied (a path parses in well under
# a microsecond). A path longer than any of Roost's is never kept, so none fills the memory.
_parsed: dict[str, Path] = {}
PARSED = 16_384


def parse(raw: str) -> Path:
    """``/devices/thermostats/`` and ``/devices/thermostats.json`` are the same location."""
    path = _parsed.get(raw)
    if path is None:
        path = _parse(raw)
        if len(raw) <= 256:
            if len(_parsed) >= PARSED:
                _parsed.clear()
            _parsed[raw] = path
    return path


def _parse(raw: str) -> Path:
    raw = raw.strip("/")
    if raw.endswith(".json"):
        raw = raw[: -len(".json")].rstrip("/")
    return tuple(raw.split("/")) if raw else ()


def text(path: Path) -> str:
    return "/" + "/".join(path)


def object_path(kind: str, id: str) -> str:
    return f"/structures/{id}" if kind == "structures" else f"/devices/{kind}/{id}"


def navigate(tree: Any, path: Path, start: int = 0) -> Any:
    """The value at ``path`` in a projected tree, or from ``start`` on in the projection of
    what ``path[:start]`` names; a location that is absent is a 404 naming all of ``path``."""
    node = tree
    for segment in path[start:]:
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            raise errors.not_found(text(path))
    return node


def object_at(path: Path) -> tuple[str, str, int] | None:
    """The kind and id of the one device or structure a location is at or below, and how
    many segments name it; None for the root, a collection and metadata."""
    if len(path) >= 3 and path[0] == "devices" and path[1] in DEVICE_KINDS:
        return path[1], path[2], 3
    if len(path) >= 2 and path[0] == "structures":
        return "structures", path[1], 2
    return None


@dataclass(slots=True)  # not frozen: built for every write (see Obj)
class Target:
    """One object and the fields a write sets on it."""

    kind: str
    id: str
    values: dict[str, Any]


def write_target(path: Path, body: Any) -> Target:
    """Resolve a write at any location into a write to exactly one device or structure.

    A write at a container (``/``, ``/devices``, ``/structures``…) is accepted when its body
    names a single object; Nest did not support bundled writes, and applying part of one
    silently would surprise, so naming several is refused.
    """
    found: list[Target] = []
    _collect(path, body, found)
    if not found:
        raise errors.not_an_object(text(path))
    if len(found) > 1:
        raise errors.bundled_write()
    return found[0]


def _collect(path: Path, body: Any, found: list[Target]) -> None:
    if not path:
        _descend(path, body, found, ("devices", "structures", "metadata"))
    elif path[0] == "metadata":
        names = ([text(path)[1:]] if len(path) > 1
                 else sorted(body) if isinstance(body, dict) else [])
        raise errors.no_write_permission(names or ["metadata"])
    elif path[0] == "devices":
        if len(path) == 1:
            _descend(path, body, found, DEVICE_KINDS)
        elif path[1] not in DEVICE_KINDS:
            raise errors.not_found(text(path))
        else:
            _object(path[1], path[2:], path, body, found)
    elif path[0] == "structures":
        _object("structures", path[1:], path, body, found)
    else:
        raise errors.not_found(text(path))


def _descend(path: Path, body: Any, found: list[Target], allowed: tuple[str, ...]) -> None:
    if not isinstance(body, dict):
        raise errors.not_an_object(text(path))
    for key, value in body.items():
        if key not in allowed:
            raise errors.no_write_permission([key])
        _collect((*path, key), value, found)


def _object(kind: str, rest: Path, path: Path, body: Any, found: list[Target]) -> None:
    if not rest:  # a collection: {id: {field: value}}
        if not isinstance(body, dict):
            raise errors.not_an_object(text(path))
        for id, fields in body.items():
            _object(kind, (id,), (*path, id), fields, found)
    elif len(rest) == 1:
        if not isinstance(body, dict):
            raise errors.not_an_object(text(path))
        found.append(Target(kind, rest[0], dict(body)))
    elif len(rest) == 2:
        found.append(Target(kind, rest[0], {rest[1]: body}))
    else:  # inside a field's value: no field is writable piecewise
        raise errors.no_write_permission(["/".join(rest[1:])])
