"""The ``roost`` command: run the server, manage tokens."""

from __future__ import annotations

import click
from rich.console import Console

from roost import demo
from roost.app import create_app
from roost.auth import clients, tokens
from roost.server import serve as run_server
from roost.service import Service
from roost.settings import Settings
from roost.store import open_store, queries

console = Console(highlight=False)
db_option = click.option("--db", default="roost.db", show_default=True,
                         type=click.Path(dir_okay=False), help="SQLite file (created if missing).")


@click.group()
@click.version_option(package_name="roost")
def main() -> None:
    """Roost: a self-hosted Nest cloud."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@db_option
@click.option("--demo", "with_demo", is_flag=True,
              help="Create the demo home if the database has none, and print a token for it.")
@click.option("--redirect-port", type=int, default=None,
              help="Also listen here and answer every request with a 307 to --port, as Nest's "
              "developer-api front door did.")
@click.option("--keepalive", default=30.0, show_default=True, type=float,
              help="Seconds between keep-alive events on idle streams.")
@click.option("--synchronous", type=click.Choice(["FULL", "NORMAL"]), default="FULL",
              show_default=True, help="SQLite durability: FULL also survives power loss.")
@click.option("--log-level", default="info", show_default=True)
def serve(host: str, port: int, db: str, with_demo: bool, redirect_port: int | None,
          keepalive: float, synchronous: str, log_level: str) -> None:
    """Serve the Works with Nest API."""
    settings = Settings(db=db, keepalive=keepalive, synchronous=synchronous)

    async def ready(service: Service) -> None:
        if with_demo:
            token = await demo.ensure(service)
            console.print(f"demo login: {demo.EMAIL} / {demo.PASSWORD}")
            console.print(f"access token: {token}", soft_wrap=True)
        console.print(f"Roost serving http://{host}:{port}/ from {db}")
        if redirect_port is not None:
            console.print(f"front door: http://{host}:{redirect_port}/ redirects to it")

    run_server(create_app(settings, on_ready=ready), host, port, redirect_port, log_level)


@main.group()
def token() -> None:
    """Access tokens."""


@token.command("create")
@click.option("--user", "email", required=True, help="The user's email.")
@db_option
def token_create(email: str, db: str) -> None:
    """Print a new full-access token for a user."""
    store = open_store(db)
    store.open()
    try:
        store.write_now(clients.ensure_first_party)
        user = store.read(lambda conn: queries.user_by_email(conn, email))
        if user is None:
            raise click.ClickException(f"no user {email}")
        value = tokens.new_token()
        store.write_now(lambda conn: queries.add_token(conn, tokens.digest(value), user.id,
                                                       tokens.FIRST_PARTY_CLIENT))
    finally:
        store.close()
    click.echo(value)
