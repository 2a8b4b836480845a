"""Where a field appears in the home's other projections, and how its value is converted.

A :class:`Wire` places one stored value at one key of one bucket of a projection other than
the Works with Nest JSON: the legacy mobile API's buckets today (``shared.name`` is a
thermostat's ``label``), the device protocol's later. A field may appear at several keys
(``where_id`` is both ``where_id`` and ``spoken_where_id`` of a Protect's ``topaz`` bucket).

A wire reads the value as stored (°C at full precision, humidity unrounded), never the
field's WWN view. It converts it with ``show`` (stored → wire); a wire with ``store``
(wire → stored) is writable, and a bucket write of its key is a write of the field, judged by
validation and the rules like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roost import clock, errors
from roost.model.numbers import is_number

if TYPE_CHECKING:
    from roost.model.schema import Field

LEGACY = "legacy"  # the Nest mobile apps' buckets (/v2/mobile, /v5/subscribe)
DEVICE = "device"  # a real thermostat's own buckets (the device protocol, roost/device/)

Convert = Callable[[Any], Any]


class Unfit(ValueError):
    """A wire value no stored value stands for; ``allowed`` lists the ones that are."""

    def __init__(self, allowed: tuple[Any, ...] | None = None) -> None:
        super().__init__(allowed)
        self.allowed = allowed


def same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Wire:
    projection: str
    bucket: str  # the bucket type, e.g. "shared"
    key: str
    # The stored value assumed while the field is not stored; a value shown as None is left
    # out of the bucket.
    default: Any = None
    show: Convert = same
    store: Convert | None = None  # None: the projection cannot write it
    # The device reports it (a reading): only the device writes it, and it is never sent back
    # to the device. Device wires only; every other wire a device may be sent.
    reported: bool = False


def legacy(bucket: str, key: str, default: Any = None, show: Convert = same,
           store: Convert | None = None) -> Wire:
    return Wire(LEGACY, bucket, key, default, show, store)


def device(bucket: str, key: str, default: Any = None, show: Convert = same,
           store: Convert | None = same, *, reported: bool = False) -> Wire:
    return Wire(DEVICE, bucket, key, default, show, store, reported)


def shown(wires: Iterable[tuple[Field, Wire]], data: Mapping[str, Any]) -> dict[str, Any]:
    """A bucket's keys that the table declares (``schema.wired``), from one object's stored
    data."""
    out: dict[str, Any] = {}
    for f, w in wires:
        value = w.show(data.get(f.key, w.default))
        if value is not None:
            out[w.key] = value
    return out


def writable(wires: Iterable[tuple[Field, Wire]]) -> frozenset[str]:
    """The keys of a bucket that a write of it may change."""
    return frozenset(w.key for _, w in wires if w.store is not None)


def stored(wires: Iterable[tuple[Field, Wire]], given: Mapping[str, Any]) -> dict[str, Any]:
    """The field values (by field name) a bucket write stands for, converted from the keys
    given; ApiError (invalid-value) for a value that stands for none. Validation and the
    rules judge the fields as they do every write."""
    values: dict[str, Any] = {}
    for f, w in wires:
        if w.store is not None and w.key in given:
            try:
                values[f.name] = w.store(given[w.key])
            except Unfit as unfit:
                raise errors.invalid_value(w.key, given[w.key], unfit.allowed) from None
    return values


# -- conversions ---------------------------------------------------------------------------


def boolean(value: Any) -> bool:
    return bool(value)


def milliseconds(value: Any) -> int:
    """An ISO 8601 time as Unix milliseconds; 0 for none."""
    moment = clock.parse(value)
    return clock.millis(moment) if moment else 0


def seconds(value: Any) -> int:
    """An ISO 8601 time as Unix seconds; 0 for none."""
    return milliseconds(value) // 1000


def locale(value: Any) -> str:
    """``en-US`` as the apps spell it: ``en_US``."""
    return str(value).replace("-", "_")


def mapped(table: Mapping[Any, Any], otherwise: Any) -> Convert:
    """A stored value looked up in ``table``; ``otherwise`` for any other."""
    return lambda value: table.get(value, otherwise)


def minutes_as_seconds(allowed_minutes: tuple[int, ...]) -> tuple[Convert, Convert]:
    """(show, store) of a duration stored in minutes and sent in seconds, where only the
    listed durations may be written."""
    allowed = tuple(m * 60 for m in allowed_minutes)

    def store(value: Any) -> int:
        if not is_number(value) or value not in allowed:
            raise Unfit(allowed)
        return int(value) // 60

    return (lambda value: int(value) * 60), store


def flag(true: str, false: str) -> tuple[Convert, Convert]:
    """(show, store) of a two-valued stored string sent as a boolean."""

    def store(value: Any) -> str:
        if not isinstance(value, bool):
            raise Unfit(("true", "false"))
        return true if value else false

    return (lambda value: value == true), store
