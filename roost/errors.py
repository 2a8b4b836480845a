"""Errors in the Works with Nest envelope, and the catalogue of the ones Nest is known to send.

Every data-API error body is ``{"error", "type", "message", "instance", "details"?}``; Nest's
``error`` and ``message`` were identical in every observed response, so one text fills both.
Texts and ``details`` keys copy what real traffic showed (``docs/write-rules.md`` lists which
were observed and which are Roost's choice where Nest's text was never seen). ``ApiError`` is
one branch of Roost's HTTP error tree (:mod:`roost.http.errors`)::

    ApiError
     ├── 400  refusals from validation and the write rules
     ├── 401  unauthorized
     ├── 404  not found
     ├── 405  method not allowed
     ├── 413  request too large
     ├── 500  a fault in Roost (logged with its traceback)
     └── 503  storage unavailable
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from typing import Any, ClassVar

from roost.http.body import NotJson, TooLarge
from roost.http.errors import HttpError, Translations

TYPE_BASE = "https://developer.nest.com/documentation/cloud/error-messages#"


class StorageUnavailable(Exception):
    """The database cannot be reached now: what was asked was not done, or, for a write whose
    commit was cut off, may have been (the store settles which once the database is back).
    Every API answers it 503 in its own shape."""


class ApiError(HttpError):
    logger = "roost.api"
    translations: ClassVar[Translations] = {
        TooLarge: lambda exc: too_large(exc.limit),
        NotJson: lambda exc: invalid_json(exc.reason),
        StorageUnavailable: lambda exc: storage_unavailable(),
    }

    def __init__(
        self,
        status: int,
        text: str,
        anchor: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, text, headers)
        self.text = text
        self.anchor = anchor
        self.details = details

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "error": self.text,
            "type": TYPE_BASE + self.anchor,
            "message": self.text,
            "instance": str(uuid.uuid4()),
        }
        if self.details is not None:
            body["details"] = self.details
        return body

    @classmethod
    def internal(cls) -> ApiError:
        return internal()

    @classmethod
    def method_not_allowed(cls, method: str, allowed: str) -> ApiError:
        exc = method_not_allowed(method)
        exc.headers = {"Allow": allowed}
        return exc


def fmt(value: float) -> str:
    """Temperatures in messages and details are strings with one decimal, as Nest sent them."""
    return f"{float(value):.1f}"


def shown(value: Any) -> str:
    """A client's value as it appears in a message: strings as sent, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


# -- transport ---------------------------------------------------------------------------


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "auth-error")


def not_found(path: str) -> ApiError:
    return ApiError(404, "Not Found", "not-found", {"path": path})


def method_not_allowed(method: str) -> ApiError:
    # RFC 9110 §15.5.6: a 405 must list what the resource does support.
    return ApiError(405, f"Method {method} is not supported", "method-not-allowed",
                    headers={"Allow": "GET, HEAD, PUT, PATCH"})


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"Request body is larger than {limit} bytes", "request-too-large")


def invalid_json(reason: str) -> ApiError:
    return ApiError(400, "Invalid JSON in request body", "invalid-json", {"reason": reason})


def internal() -> ApiError:
    return ApiError(500, "Internal server error", "internal-error")


def storage_unavailable() -> ApiError:
    return ApiError(503, "Storage is unavailable, nothing was written", "storage-error")


def passes_by_itself(exc: BaseException) -> bool:
    """A refusal that passes by itself: the database out of reach, a home moving between
    server processes (503)."""
    return isinstance(exc, StorageUnavailable) or (isinstance(exc, ApiError) and exc.status == 503)


class FailedSteps:
    """How a background loop (the simulator's, the cloud's) logs a step that failed: a fault
    with its traceback; a refusal that :func:`passes_by_itself` in one line a minute while it
    lasts."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self.log = log
        self.what = what
        self._skipped = -math.inf

    def __call__(self, exc: Exception) -> None:
        if not passes_by_itself(exc):
            self.log.error("%s step failed", self.what, exc_info=exc)
        elif time.monotonic() - self._skipped >= 60:
            self._skipped = time.monotonic()
            self.log.warning("%s steps skipped: %s", self.what, exc)


def moving() -> ApiError:
    """A home no live process serves at the moment: between owners (docs/scale-out.md)."""
    return ApiError(503, "This home is moving between servers, try again shortly",
                    "storage-error", headers={"Retry-After": "1"})


# -- shape of a write ---------------------------------------------------------------------


def no_write_permission(fields: list[str]) -> ApiError:
    joined = ",".join(fields)
    return ApiError(
        400, f"No write permission(s) for field(s): {joined}", "no-write-permission",
        {"fields": joined},
    )


def bundled_write() -> ApiError:
    return ApiError(
        400, "Bundled writes are not supported: write one device or structure per request",
        "bundled-write",
    )


def not_an_object(path: str) -> ApiError:
    return ApiError(400, f"A write at '{path}' must be a JSON object", "format-error",
                    {"path": path})


def wrong_format(field: str, value: Any) -> ApiError:
    return ApiError(400, f"Temperature '{shown(value)}' is in wrong format", "format-error",
                    {"field_name": field})


def invalid_value(field: str, value: Any, allowed: tuple[Any, ...] | None = None) -> ApiError:
    if allowed:
        listed = [f"'{a}'" for a in allowed]
        choices = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]
        text = f"Invalid value: '{shown(value)}'. Only {choices} are permitted values."
    else:
        text = f"Invalid value for {field}: '{shown(value)}'"
    return ApiError(400, text, "invalid-value", {"field_name": field, "value": shown(value)})


def both_scales(base: str) -> ApiError:
    return ApiError(
        400, f"Cannot set both {base}_f and {base}_c in one request", "format-error",
        {"field_name": base},
    )


# -- thermostat rules ---------------------------------------------------------------------


def out_of_range(scale: str, value: float, too_high: bool) -> ApiError:
    word, anchor = ("high", "high") if too_high else ("low", "low")
    return ApiError(
        400, f"Temperature {scale} value is too {word}: {fmt(value)}",
        f"{anchor}-{scale.lower()}-value", {f"temp{scale}": fmt(value)},
    )


def outside_lock(scale: str, value: float, lock: float, too_high: bool) -> ApiError:
    word = "high" if too_high else "low"
    key = "highLockTemp" if too_high else "lowLockTemp"
    return ApiError(
        400, f"Temperature {scale} '{fmt(value)}' is too {word} for lock temperature '{fmt(lock)}'",
        f"{word}-{scale.lower()}-value-4-lock", {f"temp{scale}": fmt(value), key: fmt(lock)},
    )


def incompatible_mode(mode: str, action: str) -> ApiError:
    return ApiError(
        400, f"Cannot change HVAC mode to {mode}: HVAC cannot {action}", "incompatible-mode",
        {"mode": mode, "action": action},
    )


def emergency_heat_mode(mode: str) -> ApiError:
    return ApiError(
        400, f"Cannot change HVAC mode to {mode} while emergency heat is active",
        "emergency-heat", {"mode": mode},
    )


def mode_error(field: str, mode: str) -> ApiError:
    return ApiError(400, f"Cannot set {field} while mode is {mode}", "mode-error",
                    {"fieldName": field, "mode": mode})


def eco_mode() -> ApiError:
    return ApiError(400, "Cannot change target temperature while mode is eco", "eco-mode")


def low_above_high(low: float, high: float) -> ApiError:
    return ApiError(
        400,
        f"Cannot set target low temperature '{fmt(low)}' higher than target high temperature "
        f"'{fmt(high)}'",
        "low-high-error", {"lowTemp": fmt(low), "highTemp": fmt(high)},
    )


def range_too_narrow(scale: str, low: float, high: float, gap: float) -> ApiError:
    return ApiError(
        400,
        f"Target low temperature '{fmt(low)}' and target high temperature '{fmt(high)}' must be "
        f"at least {fmt(gap)} {scale} apart",
        "heat-cool-range", {"lowTemp": fmt(low), "highTemp": fmt(high), "minDelta": fmt(gap)},
    )


def not_online(kind: str) -> ApiError:
    return ApiError(400, f"{kind} is not online", "not-online")


def safety_shutoff() -> ApiError:
    return ApiError(400, "Cannot activate fan during smoke/co safety shutoff", "safety-shutoff-on")


def no_fan() -> ApiError:
    return ApiError(400, "Cannot activate fan: thermostat has no fan", "no-fan")


# -- structure rules ----------------------------------------------------------------------


def eta_invalid(reason: str, details: dict[str, Any] | None = None) -> ApiError:
    return ApiError(400, f"Invalid ETA: {reason}", "eta-error", details)


def eta_no_thermostat() -> ApiError:
    return ApiError(400, "Invalid ETA: the structure has no thermostat", "eta-error")


def invalid_name(field: str, shortest: int = 1, longest: int = 64) -> ApiError:
    return ApiError(400, f"Invalid {field}: must be {shortest} to {longest} characters",
                    "invalid-value", {"field_name": field})


def invalid_schedule(reason: str) -> ApiError:
    return ApiError(400, f"Invalid schedule: {reason}", "invalid-value",
                    {"field_name": "schedule"})


def invalid_wheres(reason: str) -> ApiError:
    return invalid_field("wheres", reason)


# -- creating and deleting ----------------------------------------------------------------


def invalid_field(field: str, reason: str) -> ApiError:
    return ApiError(400, f"Invalid {field}: {reason}", "invalid-value", {"field_name": field})


def too_many_structures(limit: int) -> ApiError:
    return ApiError(400, f"A user has at most {limit} structures", "invalid-value")
