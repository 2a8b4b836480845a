"""Checking an email and a password, the same way wherever a user signs in (the web pages,
the legacy API's login)."""

from __future__ import annotations

import asyncio
import functools

from roost.auth import passwords
from roost.auth.throttle import LoginThrottle
from roost.store.base import Store
from roost.store.records import User


class Throttled(Exception):
    """Too many recent failures from this address, for this account or in all."""


@functools.cache
def _dummy_hash() -> str:
    # Verifying against this when the email is unknown makes both failures take as long.
    return passwords.hash_password("no user has this password")


async def check(store: Store, throttle: LoginThrottle, email: str, password: str,
                address: str) -> User | None:
    """The user with these credentials, or None; Throttled while failures pause the address,
    slowed while the account is under attack (:mod:`roost.auth.throttle`). A weak hash is
    replaced on success."""
    if throttle.blocked(email, address):
        raise Throttled
    if delay := throttle.delay(email):
        await asyncio.sleep(delay)
    user = await store.user_by_email(email)
    # argon2 takes tens of milliseconds: off the event loop, so streams keep flowing.
    ok = await asyncio.to_thread(passwords.verify,
                                 user.password_hash if user else _dummy_hash(), password)
    if user is None or not ok:
        throttle.failed(email, address)
        return None
    throttle.succeeded(email, address)
    if passwords.needs_rehash(user.password_hash):
        new_hash = await asyncio.to_thread(passwords.hash_password, password)
        await store.set_password_hash(user.id, new_hash)
    return user
