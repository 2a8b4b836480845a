"""The principal a request acts as: a user through one product, with what the user granted."""

from __future__ import annotations

from dataclasses import dataclass

from roost.model.schema import ANY


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    client_id: str
    permissions: frozenset[str]
    client_version: int = 1
    token: str = ""  # echoed in metadata.access_token
    metadata_user_id: str = ""
    grant_id: str = ""
    system: bool = False  # the devices and Nest's own logic

    @property
    def view(self) -> tuple[str, frozenset[str]]:
        """What decides the projection: principals with equal views see the same tree."""
        return (self.user_id, self.permissions)

    @property
    def metadata(self) -> dict[str, object]:
        return {"access_token": self.token, "client_version": self.client_version,
                "user_id": self.metadata_user_id}


def system(user_id: str) -> Principal:
    """Acting as the devices of ``user_id``'s homes and as Nest's logic for them."""
    return Principal(user_id, "system", ANY, system=True)
