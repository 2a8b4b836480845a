"""Time for the rules: a clock is passed in (real by default, manual in tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]
EPOCH = "1970-01-01T00:00:00.000Z"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def system_clock() -> datetime:
    return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to, so tests never sleep."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def millis(moment: datetime) -> int:
    """A time as Unix milliseconds (the legacy API's and the devices' timestamps), in whole
    numbers throughout: a third cheaper than ``int(moment.timestamp() * 1000)``, and every
    write stamps its objects with it."""
    return (moment - _EPOCH) // _MILLISECOND


def iso(moment: datetime) -> str:
    """Nest's timestamp form: UTC with milliseconds, ``2016-10-31T23:59:59.000Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse(value: object) -> datetime | None:
    """An ISO 8601 time; one without a zone is taken as UTC, as python-nest sends them."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
