"""The ``roost`` command: run the server, manage users, products and tokens, and drive
the simulator of a running server (``roost sim``, roost/cli_sim.py)."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from roost import demo
from roost.app import create_app
from roost.auth import clients, passwords, tokens
from roost.cli_sim import sim
from roost.clock import system_clock
from roost.model.schema import PERMISSIONS
from roost.server import serve as run_server
from roost.service import Service
from roost.settings import PORT, MqttSettings, Settings
from roost.simulator.clock import accelerated
from roost.simulator.presence import WEEKDAYS
from roost.store import StoreInUse, open_store
from roost.store.base import Duplicate, Store
from roost.store.records import Client

console = Console(highlight=False)
db_option = click.option("--db", default="roost.db", show_default=True,
                         type=click.Path(dir_okay=False), help="SQLite file (created if missing).")


@click.group()
@click.version_option(package_name="roost")
def main() -> None:
    """Roost: a self-hosted Nest cloud."""


main.add_command(sim)  # talks to a running server over HTTP, unlike the commands here


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=PORT, show_default=True, type=int)
@db_option
@click.option("--demo", "with_demo", is_flag=True,
              help="Create the demo user, home and product unless they exist, and print a "
              "token for the user.")
@click.option("--redirect-port", type=int, default=None,
              help="Also listen here and answer every request with a 307 to --port, as Nest's "
              "developer-api front door did.")
@click.option("--keepalive", default=30.0, show_default=True, type=float,
              help="Seconds between keep-alive events on idle streams.")
@click.option("--synchronous", type=click.Choice(["FULL", "NORMAL"]), default="FULL",
              show_default=True, help="SQLite durability: FULL also survives power loss.")
@click.option("--speed", default=1.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Simulated time runs this many times faster than real time (60: a "
              "simulated minute per second). Every timestamp the API shows follows it.")
@click.option("--simulate/--no-simulate", default=True, show_default=True,
              help="Run the simulated devices; without it the home changes only when written.")
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False),
              help="Serve HTTPS with this PEM certificate (chain); needs --keyfile. Some "
              "legacy clients speak only https.")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False),
              help="The certificate's private key (PEM, unencrypted).")
@click.option("--mqtt", "mqtt_url", metavar="URL",
              help="Publish the homes to Home Assistant over MQTT and take its commands: "
              "mqtt://[user:pass@]host[:port] or mqtts://… (needs roost[mqtt]; docs/mqtt.md).")
@click.option("--mqtt-user", metavar="EMAIL",
              help="The user whose homes the MQTT bridge publishes; needed unless there is "
              "only one user.")
@click.option("--mqtt-prefix", default="roost", show_default=True,
              help="Prefix of the MQTT state and command topics.")
@click.option("--mqtt-discovery-prefix", default="homeassistant", show_default=True,
              help="Home Assistant's discovery prefix.")
@click.option("--log-level", default="info", show_default=True)
def serve(host: str, port: int, db: str, with_demo: bool, redirect_port: int | None,
          keepalive: float, synchronous: str, speed: float, simulate: bool,
          certfile: str | None, keyfile: str | None, mqtt_url: str | None,
          mqtt_user: str | None, mqtt_prefix: str, mqtt_discovery_prefix: str,
          log_level: str) -> None:
    """Serve the Works with Nest API and the legacy mobile API."""
    check_tls(certfile, keyfile)
    scheme = "https" if certfile else "http"
    mqtt = check_mqtt(mqtt_url, mqtt_user, mqtt_prefix, mqtt_discovery_prefix)
    settings = Settings(db=db, keepalive=keepalive, synchronous=synchronous, speed=speed,
                        simulate=simulate, mqtt=mqtt)

    async def ready(service: Service) -> None:
        if with_demo:
            home = await demo.prepare(service)
            console.print(f"demo login: {demo.EMAIL} / {demo.PASSWORD}")
            console.print(f"access token: {home.token}", soft_wrap=True)
            if home.product_secret is not None:
                console.print(f"demo product: {home.product.id} / {home.product_secret}",
                              soft_wrap=True)
            else:  # only its digest is stored, so the secret cannot be shown again
                console.print(f"demo product: {home.product.id} (its secret was printed when "
                              "it was created; `roost client delete` it to get a new one)",
                              soft_wrap=True)
        console.print(f"Roost serving {scheme}://{host}:{port}/ from {db}")
        if redirect_port is not None:
            console.print(f"front door: http://{host}:{redirect_port}/ redirects to it")

    # At speed 1 the system clock itself, so a real-time server shows exact real time.
    clock = system_clock if speed == 1 else accelerated(speed)
    app = create_app(settings, clock, on_ready=ready)
    try:  # before listening: a second server on one file would drift apart from the first
        app.state.service.store.claim()
    except StoreInUse as exc:
        raise click.ClickException(str(exc)) from None
    if with_demo:  # the demo household leaves for work on weekdays (docs/simulator.md)
        app.state.simulator.people.routine = WEEKDAYS
    run_server(app, host, port, redirect_port, log_level, certfile, keyfile)


def check_mqtt(url: str | None, user: str | None, prefix: str,
               discovery: str) -> MqttSettings | None:
    """The bridge's settings, refused here with the reason rather than once serving."""
    if url is None:
        if user is not None:
            raise click.UsageError("--mqtt-user needs --mqtt")
        return None
    if importlib.util.find_spec("aiomqtt") is None:
        raise click.ClickException("--mqtt needs the MQTT extra: pip install 'roost[mqtt]'")
    from roost.mqtt import broker

    try:
        broker.parse(url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--mqtt'") from None
    for name, value in (("--mqtt-prefix", prefix), ("--mqtt-discovery-prefix", discovery)):
        if not value or any(c in value for c in "+#") or value.startswith("/") \
                or value.endswith("/"):
            raise click.BadParameter("a topic prefix without + or # or a leading or "
                                     "trailing /", param_hint=f"'{name}'")
    return MqttSettings(url, user, prefix, discovery)


def check_tls(certfile: str | None, keyfile: str | None) -> None:
    """Both files or neither, and a pair that loads: refused here with the reason rather than
    by a traceback once the server starts."""
    if (certfile is None) != (keyfile is None):
        raise click.UsageError("--certfile and --keyfile go together")
    if certfile is None:
        return
    try:
        # An empty password: an encrypted key is refused instead of prompted for.
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(certfile, keyfile, password="")
    except (ssl.SSLError, OSError) as exc:
        raise click.BadParameter(f"cannot use {certfile} with {keyfile} (a PEM certificate "
                                 f"and its unencrypted private key): {exc}",
                                 param_hint="'--certfile' / '--keyfile'") from None


@main.group()
def token() -> None:
    """Access tokens."""


@token.command("create")
@click.option("--user", "email", required=True, help="The user's email.")
@db_option
def token_create(email: str, db: str) -> None:
    """Print a new full-access token for a user."""
    with opened(db) as store:
        run(clients.ensure_first_party(store))
        user = run(store.user_by_email(email))
        if user is None:
            raise click.ClickException(f"no user {email}")
        value = tokens.new_token()
        run(store.add_token(tokens.digest(value), user.id, tokens.FIRST_PARTY_CLIENT))
    click.echo(value)


# The store's methods are coroutines; a command runs each to completion in turn (the store
# writes at once when no server loop has started it).
run = asyncio.run


@contextmanager
def opened(db: str) -> Iterator[Store]:
    """The store for one command, closed when it ends."""
    store = open_store(db)
    store.open()
    try:
        yield store
    finally:
        store.close()


def show(table: Table) -> None:
    """Print a table; into a pipe or file at its natural width, so no cell is cut short."""
    if console.is_terminal:
        console.print(table)
        return
    width = Measurement.get(console, console.options.update_width(10_000), table).maximum
    Console(highlight=False, width=width).print(table)


# -- users ---------------------------------------------------------------------------------

MIN_PASSWORD = 8
# Deliberately loose: one @ with something on each side and no spaces. Anything stricter
# refuses real addresses; whether mail reaches it is not Roost's concern.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def check_email(ctx: click.Context | None, param: click.Parameter | None, email: str) -> str:
    email = email.strip()
    if not _EMAIL.fullmatch(email):
        raise click.BadParameter(f"{email!r} is not an email address")
    return email


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise click.BadParameter(f"a password has at least {MIN_PASSWORD} characters")
    return password


@main.group()
def user() -> None:
    """Users: people who sign in and own homes and products."""


@user.command("create")
@click.option("--email", required=True, callback=check_email, help="Sign-in name.")
@click.option("--password", help="Prompted for (hidden, twice) when absent; avoid passing it "
              "here where shell history or the process list can show it.")
@db_option
def user_create(email: str, password: str | None, db: str) -> None:
    """Create a user."""
    with opened(db) as store:
        # Before asking for a password, so nobody types one for nothing.
        if run(store.user_by_email(email)) is not None:
            raise click.ClickException(f"a user with email {email} already exists")
        if password is None:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True,
                                    value_proc=check_password)
        else:
            try:
                check_password(password)
            except click.BadParameter as exc:
                exc.param_hint = "'--password'"
                raise
        # Hashed outside the transaction: argon2 is slow on purpose.
        password_hash = passwords.hash_password(password)
        try:
            created = run(store.create_user(email, password_hash))
        except Duplicate:  # created meanwhile by someone else
            raise click.ClickException(f"a user with email {email} already exists") from None
    click.echo(f"created user {created.email} ({created.id})")


@user.command("list")
@db_option
def user_list(db: str) -> None:
    """List users and how many products each owns."""
    with opened(db) as store:
        people = run(store.users())
        owned = run(store.clients())
    table = Table("email", "id", "products")
    for person in people:
        table.add_row(person.email, person.id,
                      str(sum(1 for c in owned if c.owner_id == person.id)))
    show(table)


# -- products ------------------------------------------------------------------------------


def check_permission_option(ctx: click.Context, param: click.Parameter,
                            names: tuple[str, ...]) -> frozenset[str] | None:
    if not names:
        return None
    try:
        return clients.check_permissions(names)
    except clients.InvalidProduct as exc:
        raise click.BadParameter(str(exc)) from None


def product_check(check: Callable[[str], str]) -> Callable[..., str | None]:
    """An option callback from one of the product checks in :mod:`roost.auth.clients`."""

    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check(value)
        except clients.InvalidProduct as exc:
            raise click.BadParameter(str(exc)) from None

    return callback


PERMISSION_HELP = ("A Nest permission, quoted; repeat for several. One of: "
                   + "; ".join(PERMISSIONS) + ".")


def _product(store: Store, client_id: str) -> Client:
    if client_id == tokens.FIRST_PARTY_CLIENT:
        raise click.ClickException(f"{client_id!r} is Roost's own product; it cannot be "
                                   "changed or deleted")
    product = run(store.client(client_id))
    if product is None:
        raise click.ClickException(f"no product {client_id}")
    return product


@main.group("client")
def client_group() -> None:
    """Products (OAuth clients) that users can connect to their homes."""


@client_group.command("create")
@click.option("--name", required=True, callback=product_check(clients.check_name))
@click.option("--description", default="", callback=product_check(clients.check_description))
@click.option("--redirect-uri", callback=product_check(clients.check_redirect_uri),
              help="Where users return with a code. Without one the product uses the PIN "
              "flow: the user types a PIN into it.")
@click.option("--permission", "permissions", multiple=True, required=True,
              callback=check_permission_option, help=PERMISSION_HELP)
@click.option("--owner", "owner_email", help="Email of the user who manages it through the "
              "developer API; without one only the command line can.")
@db_option
def client_create(name: str, description: str, redirect_uri: str | None,
                  permissions: frozenset[str], owner_email: str | None, db: str) -> None:
    """Create a product and print its client_id and client_secret.

    The secret is printed only now: Roost keeps nothing but its hash.
    """
    secret = clients.new_secret()
    digest = tokens.digest(secret)
    with opened(db) as store:
        owner_id = None
        if owner_email is not None:
            owner = run(store.user_by_email(owner_email))
            if owner is None:
                raise click.ClickException(f"no user {owner_email}")
            owner_id = owner.id
        product = run(store.create_client(name, description, digest, redirect_uri, permissions,
                                          owner_id))
    click.echo(f"client_id: {product.id}")
    click.echo(f"client_secret: {secret}")
    click.echo("The secret is shown only this once; Roost keeps only its hash.", err=True)


@client_group.command("list")
@db_option
def client_list(db: str) -> None:
    """List products (Roost's own is not shown)."""
    with opened(db) as store:
        products = [c for c in run(store.clients()) if c.id != tokens.FIRST_PARTY_CLIENT]
        emails = {u.id: u.email for u in run(store.users())}
    # Ids must stay whole to be copied, so they never wrap; permissions go one per line.
    table = Table("client_id", "name", "version", "redirect URI", "owner", "permissions")
    table.columns[0].no_wrap = True
    table.columns[0].min_width = 36
    for product in products:
        table.add_row(product.id, product.name, str(product.version),
                      product.redirect_uri or "PIN",
                      emails.get(product.owner_id or "", "-"),
                      "\n".join(clients.ordered(product.permissions)))
    show(table)


@client_group.command("update")
@click.argument("client_id")
@click.option("--name", callback=product_check(clients.check_name))
@click.option("--description", callback=product_check(clients.check_description))
@click.option("--redirect-uri", callback=product_check(clients.check_redirect_uri))
@click.option("--no-redirect-uri", is_flag=True, help="Remove the redirect URI: the product "
              "then uses the PIN flow.")
@click.option("--permission", "permissions", multiple=True, callback=check_permission_option,
              help="Replaces the whole set; repeat for several. Changing the set increments "
              "the product's version; users keep what they accepted until they accept again.")
@db_option
def client_update(client_id: str, name: str | None, description: str | None,
                  redirect_uri: str | None, no_redirect_uri: bool,
                  permissions: frozenset[str] | None, db: str) -> None:
    """Edit a product and print its version."""
    if redirect_uri is not None and no_redirect_uri:
        raise click.UsageError("use either --redirect-uri or --no-redirect-uri")
    if (name, description, redirect_uri, permissions) == (None,) * 4 and not no_redirect_uri:
        raise click.UsageError("nothing to change")
    with opened(db) as store:
        _product(store, client_id)
        product = run(store.update_client(
            client_id, name=name, description=description, redirect_uri=redirect_uri,
            clear_redirect_uri=no_redirect_uri, permissions=permissions))
    if product is None:
        raise click.ClickException(f"no product {client_id}")
    click.echo(f"client {product.id} version {product.version}")


@client_group.command("delete")
@click.argument("client_id")
@db_option
def client_delete(client_id: str, db: str) -> None:
    """Delete a product with every user's grant and token for it.

    A server running on the same database stops accepting its tokens and ends their open
    streams with auth_revoked within a second.
    """
    with opened(db) as store:
        _product(store, client_id)
        revoked = run(store.delete_client(client_id))
    if revoked is None:  # deleted meanwhile by someone else
        raise click.ClickException(f"no product {client_id}")
    click.echo(f"deleted product {client_id} ({len(revoked)} live tokens revoked)")
