"""``roost device``: the real thermostats that have called this server, and claiming one
for a user with the entry key it shows (docs/devices.md)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import click
from rich.console import Console
from rich.table import Table

from roost import pairing
from roost.cli_db import db_option, opened
from roost.clock import millis
from roost.store.base import Conflict

console = Console(highlight=False)
ATTACH_WAIT = 5.0  # seconds to wait for a running server to make the claimed thermostat


@click.group()
def device() -> None:
    """Real Nest thermostats (the device protocol)."""


@device.command("list")
@db_option
def device_list(db: str) -> None:
    """Every device that has called, claimed or not."""
    with opened(db, create=False) as store:
        records = asyncio.run(store.devices())
        emails = {u.id: u.email for u in asyncio.run(store.users())}
    table = Table("serial", "owner", "structure", "thermostat")
    for r in records:
        table.add_row(r.serial, emails.get(r.user_id or "", "unclaimed"), r.structure_id or "",
                      r.device_id or "")
    console.print(table)


@device.command("claim")
@click.argument("entry_key")
@click.option("--user", "email", required=True, help="The user whose home it joins.")
@click.option("--structure", "structure_id", default=None,
              help="The structure it joins (default: the user's first, or a new one).")
@db_option
def device_claim(entry_key: str, email: str, structure_id: str | None, db: str) -> None:
    """Claim the thermostat showing ENTRY_KEY (as 123-ABCD or 123ABCD) for a user. A running
    server on the same file makes it a thermostat of the user's home within a second; if
    none runs, the next one started does."""
    with opened(db, create=False) as store:
        user = asyncio.run(store.user_by_email(email))
        if user is None:
            raise click.ClickException(f"no user {email}")
        if structure_id is not None and not any(
                o.kind == "structures" and o.id == structure_id and o.user_id == user.id
                for o in store.load()[0]):
            raise click.ClickException(f"{email} has no structure {structure_id}")
        now_ms = millis(datetime.now(UTC))
        try:
            record = asyncio.run(store.claim_device(pairing.key_digest(entry_key), now_ms,
                                                    user.id, structure_id))
        except Conflict:
            raise click.ClickException("that device is already claimed") from None
        if record is None:
            raise click.ClickException("no device shows that entry key, or it has expired")
        deadline = time.monotonic() + ATTACH_WAIT
        found = record
        while found is not None and found.device_id is None and time.monotonic() < deadline:
            time.sleep(0.2)
            found = asyncio.run(store.device(record.serial))
    if found is not None and found.device_id:
        click.echo(f"claimed {record.serial}: thermostat {found.device_id} in structure "
                   f"{found.structure_id}")
    else:
        click.echo(f"claimed {record.serial} for {email}; it joins the home when the server "
                   "runs")
