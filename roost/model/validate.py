"""The first check of every write: may these fields be written, and are the values well formed.

Meaning (modes, ranges against each other, safety) is the rules' business; this only needs
the field table.
"""

from __future__ import annotations

from typing import Any

from roost import errors
from roost.model import units
from roost.model.numbers import is_number
from roost.model.schema import FIELDS, Field

TEMPERATURE_LIMIT = 1e6  # beyond any range of the table, in either scale


def may_write(f: Field | None, permissions: frozenset[str], system: bool) -> bool:
    if f is None:
        return False
    if system:  # devices and Nest's own logic write every stored field but identities
        return (f.derive is None or f.reported) and not f.identity
    return not f.write.isdisjoint(permissions)


def check(kind: str, values: dict[str, Any], permissions: frozenset[str],
          system: bool = False) -> dict[str, Any]:
    """The values as the rules get them (whole numbers as ints), or the first error: every
    field that may not be written, before any value."""
    fields = FIELDS[kind]
    for name in values:
        if not may_write(fields.get(name), permissions, system):
            raise errors.no_write_permission(
                [n for n in values if not may_write(fields.get(n), permissions, system)])
    checked = {}
    for name, value in values.items():
        f = fields[name]
        check_value(f, value, system)
        checked[name] = int(value) if f.type == "integer" and f.scale is None else value
    return checked


def check_value(f: Field, value: Any, system: bool = False) -> None:
    if value is None and system and f.optional:
        return  # Nest's logic clears it: the field is absent again
    if f.scale is not None:
        if not is_number(value):
            raise errors.wrong_format(f.name, value)
        if not -TEMPERATURE_LIMIT <= value <= TEMPERATURE_LIMIT:
            # No scale's arithmetic is asked about a value no thermometer reads: 1e308 °F
            # overflows the rounding.
            raise errors.out_of_range(f.scale, value, too_high=value > 0)
        shown = units.half_up(value, units.STEP[f.scale])  # as it reads back once stored
        if f.maximum is not None and shown > f.maximum:
            raise errors.out_of_range(f.scale, value, too_high=True)
        if f.minimum is not None and shown < f.minimum:
            raise errors.out_of_range(f.scale, value, too_high=False)
        return
    allowed = f.enum if system else (f.settable or f.enum)
    if allowed is not None:
        if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
            raise errors.invalid_value(f.name, value, allowed)
        return
    ok = {
        "boolean": lambda v: isinstance(v, bool),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: is_number(v) and float(v).is_integer(),
        "number": is_number,
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
    }[f.type](value)
    if ok and f.type in ("integer", "number"):
        ok = (f.minimum is None or value >= f.minimum) and (
            f.maximum is None or value <= f.maximum)
    if not ok:
        raise errors.invalid_value(f.name, value)
    if f.length is not None and not fits(f, value):
        raise errors.invalid_name(f.name, *f.length)
    if f.entries:
        _check_entries(f, value)


def fits(f: Field, text: str) -> bool:
    """Within the field's length, surrounding spaces uncounted where it is stored trimmed."""
    assert f.length is not None
    shortest, longest = f.length
    return shortest <= len(text.strip() if f.trim else text) <= longest


def _check_entries(f: Field, value: dict[str, Any]) -> None:
    """Each entry of an object by id (a structure's rooms) has its fields, well formed, and
    repeats its own id."""
    for id, entry in value.items():
        whole = bool(id) and isinstance(entry, dict) and all(
            entry.get(e.name, id) == id if e.identity else _valid(e, entry.get(e.name))
            for e in f.entries)
        if not whole:
            needs = " and ".join(
                f"a {e.name}" + (f" of {e.length[0]} to {e.length[1]} characters"
                                 if e.length else "") for e in f.entries)
            noun = f.entries[0].kind.removesuffix("s")  # "rooms": a room
            raise errors.invalid_field(f.name, f"{noun} {id!r} needs {needs}")


def _valid(f: Field, value: Any) -> bool:
    try:
        check_value(f, value)
    except errors.ApiError:
        return False
    return True
