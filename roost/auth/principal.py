"""The principal a request acts as: a user through one product, with what the user granted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from roost.auth.tokens import FIRST_PARTY_CLIENT
from roost.model.schema import ANY, APP


class View(NamedTuple):
    """What decides the projection: principals with equal views see the same tree."""

    user_id: str
    permissions: frozenset[str]
    structures: frozenset[str] | None = None  # None: every structure of the user


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
    structures: frozenset[str] | None = None  # the homes the user chose; None: all of them
    expires: datetime | None = None  # when the token stops working; None: never

    @property
    def view(self) -> View:
        return View(self.user_id, self.permissions, self.structures)

    @property
    def first_party(self) -> bool:
        """Roost's own apps and command line, or the devices: what may create and delete
        structures and devices, which no product of Works with Nest ever could."""
        return self.system or self.client_id == FIRST_PARTY_CLIENT or APP in self.permissions

    def may_reach(self, user_id: str, structure_id: str) -> bool:
        return user_id == self.user_id and (
            self.structures is None or structure_id in self.structures)

    @property
    def metadata(self) -> dict[str, object]:
        return {"access_token": self.token, "client_version": self.client_version,
                "user_id": self.metadata_user_id}


def system(user_id: str) -> Principal:
    """Acting as the devices of ``user_id``'s homes and as Nest's logic for them."""
    return Principal(user_id, "system", ANY, system=True)
