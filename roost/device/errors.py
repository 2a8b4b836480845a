"""The device protocol's refusals: ``{"error": …}`` with the status the device acts on
(spec §9.3: 400 it retries twice, 5xx it backs off). A device with a valid-looking serial is
never answered 401: it would fall back to its default credentials and loop (spec §12)."""

from __future__ import annotations

from typing import Any, ClassVar

from roost.errors import ApiError
from roost.http.body import NotJson, TooLarge
from roost.http.errors import HttpError, Translations


class DeviceError(HttpError):
    logger = "roost.device"
    translations: ClassVar[Translations] = {
        TooLarge: lambda exc: DeviceError(413, str(exc)),
        NotJson: lambda exc: DeviceError(400, "the body is not JSON"),
        # A refusal of the home's rules (the pairing API's structure, a write): its status
        # and text, in this shape.
        ApiError: lambda exc: DeviceError(exc.status, exc.text, exc.headers),
    }

    def body(self) -> Any:
        return {"error": str(self)}

    @classmethod
    def internal(cls) -> DeviceError:
        return DeviceError(500, "internal server error")

    @classmethod
    def method_not_allowed(cls, method: str, allowed: str) -> DeviceError:
        return DeviceError(405, f"{method} is not supported here", {"Allow": allowed})


def malformed(reason: str) -> DeviceError:
    return DeviceError(400, reason)
