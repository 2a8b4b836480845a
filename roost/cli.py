"""The ``roost`` command: run the server, manage users, products and tokens, and drive
the simulator of a running server (``roost sim``, roost/cli_sim.py)."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import socket
import ssl
from collections.abc import Callable

import click
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from roost import demo
from roost.app import create_app
from roost.auth import clients, passwords, tokens
from roost.cli_db import db_group, db_option, opened, shown, usable
from roost.cli_device import device
from roost.cli_sim import sim
from roost.clock import system_clock
from roost.http.deadline import HEADER_TIMEOUT
from roost.model.schema import PERMISSIONS
from roost.server import DevicePort, serve_door
from roost.server import serve as run_server
from roost.service import Service
from roost.settings import PORT, MqttSettings, Settings
from roost.simulator.clock import accelerated
from roost.simulator.presence import WEEKDAYS
from roost.store import StoreInUse, is_database_url
from roost.store.base import Duplicate, Store
from roost.store.records import Client
from roost.store.slots import SLOTS

console = Console(highlight=False)


# Every option can also come from the environment: ROOST_<COMMAND>_<OPTION>, e.g.
# ROOST_SERVE_PORT=8080; the database is ROOST_DB for every command.
@click.group(context_settings={"auto_envvar_prefix": "ROOST", "show_default": True})
@click.version_option(package_name="roost")
def main() -> None:
    """Roost: a self-hosted Nest cloud."""


main.add_command(sim)  # talks to a running server over HTTP, unlike the commands here
main.add_command(device)
main.add_command(db_group)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=PORT, show_default=True, type=click.IntRange(1, 65535))
@db_option
@click.option("--demo", "with_demo", is_flag=True,
              help="Create the demo user, home and product unless they exist, and print a "
              "token for the user.")
@click.option("--redirect-port", type=click.IntRange(1, 65535), default=None,
              help="Also listen here and answer every request with a 307 to --port, as Nest's "
              "developer-api front door did; on a postgresql:// database, to the process "
              "serving the token's home, as `roost door` does.")
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
@click.option("--device-origin", default=None,
              help="Public origin thermostats reach this server at, e.g. "
              "http://192.168.1.5:8000; the URLs handed to them are built from it "
              "(docs/devices.md).")
@click.option("--device-port", type=click.IntRange(1, 65535), default=None,
              help="Also serve the device protocol alone on this port (docs/devices.md).")
@click.option("--device-certfile", type=click.Path(exists=True, dir_okay=False),
              help="Serve the device port over TLS with this PEM certificate (chain), for "
              "firmware built with your own CA; needs --device-keyfile.")
@click.option("--device-keyfile", type=click.Path(exists=True, dir_okay=False),
              help="The device certificate's private key (PEM, unencrypted).")
@click.option("--device-hold", default=290.0, show_default=True, type=float, hidden=True,
              help="Seconds a thermostat's subscribe is held.")
@click.option("--device-offline-after", default=360.0, show_default=True, type=float,
              hidden=True, help="Seconds without a call before a thermostat is offline.")
@click.option("--open-signup", is_flag=True,
              help="Let visitors create accounts on the web app's sign-up page.")
@click.option("--mqtt", "mqtt_url", metavar="URL",
              help="Publish the homes to Home Assistant over MQTT and take its commands: "
              "mqtt://[user:pass@]host[:port] or mqtts://… (needs roost[mqtt]; docs/mqtt.md).")
@click.option("--mqtt-user", metavar="EMAIL",
              help="The user whose homes the MQTT bridge publishes; needed unless there is "
              "only one user.")
@click.option("--mqtt-all-users", is_flag=True,
              help="Publish every user's homes, each under <prefix>/<their slug> (logged at "
              "start), and take commands there as that user.")
@click.option("--mqtt-cafile", type=click.Path(exists=True, dir_okay=False),
              help="For mqtts://, trust the broker's certificate when this CA file (PEM) "
              "signed it, rather than the system's trusted CAs.")
@click.option("--mqtt-prefix", default="roost", show_default=True,
              help="Prefix of the MQTT state and command topics.")
@click.option("--mqtt-discovery-prefix", default="homeassistant", show_default=True,
              help="Home Assistant's discovery prefix.")
@click.option("--log-level", default="info", show_default=True)
@click.option("--forwarded-allow-ips", default="", show_default="none",
              help="Believe X-Forwarded-For and X-Forwarded-Proto only from these addresses "
              "(comma-separated; a reverse proxy in front of Roost).")
@click.option("--header-timeout", default=HEADER_TIMEOUT, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Close a connection whose request headers are not complete in this many "
              "seconds.")
@click.option("--advertise-url", metavar="URL",
              help="Where clients reach this server (default: http[s]://HOST:PORT, this "
              "machine's name for 0.0.0.0 or ::). With a "
              "postgresql:// database shared by several servers, requests for homes another "
              "one serves are sent there with a 307 (docs/scale-out.md).")
@click.option("--lease-seconds", default="10,2,6", hidden=True, callback=lambda c, p, v:
              check_lease(v), help="Slot leases: lease, renewal, self-fence (for tests).")
@click.option("--allow-session-control", is_flag=True,
              help="Let legacy password sessions (/user/login) manage products and drive the "
              "simulator, as Roost's own tokens can (docs/security.md).")
def serve(host: str, port: int, db: str, with_demo: bool, redirect_port: int | None,
          keepalive: float, synchronous: str, speed: float, simulate: bool,
          certfile: str | None, keyfile: str | None, device_origin: str | None,
          device_port: int | None, device_certfile: str | None, device_keyfile: str | None,
          device_hold: float, device_offline_after: float, open_signup: bool,
          mqtt_url: str | None, mqtt_user: str | None, mqtt_all_users: bool,
          mqtt_cafile: str | None, mqtt_prefix: str,
          mqtt_discovery_prefix: str, log_level: str, forwarded_allow_ips: str,
          header_timeout: float, advertise_url: str | None,
          lease_seconds: tuple[float, float, float], allow_session_control: bool) -> None:
    """Serve the Works with Nest API and the legacy mobile API."""
    check_tls(certfile, keyfile)
    check_tls(device_certfile, device_keyfile, "--device-certfile", "--device-keyfile")
    if device_certfile and device_port is None:
        raise click.UsageError("--device-certfile needs --device-port")
    usable(db)
    for listening in (port, redirect_port, device_port):
        if listening is not None:
            check_port(host, listening)
    scheme = "https" if certfile else "http"
    mqtt = check_mqtt(mqtt_url, mqtt_user, mqtt_prefix, mqtt_discovery_prefix,
                      mqtt_all_users, mqtt_cafile)
    settings = Settings(db=db, keepalive=keepalive, synchronous=synchronous, speed=speed,
                        simulate=simulate, device_origin=device_origin,
                        device_hold=device_hold, device_offline_after=device_offline_after,
                        open_signup=open_signup, session_control=allow_session_control,
                        mqtt=mqtt, advertise_url=advertise_url or reached_at(scheme, host, port),
                        lease=lease_seconds)

    serving: list[bool] = []

    async def ready(service: Service) -> None:
        serving.append(True)
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
        console.print(f"Roost serving {scheme}://{host}:{port}/ from {shown(db)}")
        console.print(f"web app: {scheme}://{host}:{port}/app")
        if service.ownership is not None:
            console.print(f"sharing the database with any other server on it, reached at "
                          f"{settings.advertise_url}; serving {len(service.ownership.held)} "
                          f"of its {SLOTS} slots now", soft_wrap=True)
        if redirect_port is not None:
            console.print(f"front door: http://{host}:{redirect_port}/ redirects to it")
        if device_port is not None:
            console.print(f"thermostats: {'https' if device_certfile else 'http'}://{host}:"
                          f"{device_port}/entry")

    # At speed 1 the system clock itself, so a real-time server shows exact real time.
    clock = system_clock if speed == 1 else accelerated(speed)
    app = create_app(settings, clock, on_ready=ready)
    try:  # before listening: a second server on one file would drift apart from the first
        app.state.service.store.claim()
    except StoreInUse as exc:
        raise click.ClickException(str(exc)) from None
    if with_demo:  # the demo household leaves for work on weekdays (docs/simulator.md)
        app.state.simulator.people.routine = WEEKDAYS
    device = DevicePort(device_port, device_certfile, device_keyfile) \
        if device_port is not None else None
    try:
        run_server(app, host, port, redirect_port, log_level, certfile, keyfile, device,
                   forwarded_allow_ips, header_timeout)
    except KeyboardInterrupt:
        # uvicorn shuts down cleanly on Ctrl-C and then raises it again: after serving that
        # is the way out (0); before, an interrupted start (130, as shells report SIGINT).
        raise SystemExit(0 if serving else 130) from None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=PORT, show_default=True, type=click.IntRange(1, 65535))
@db_option
@click.option("--log-level", default="info", show_default=True)
@click.option("--forwarded-allow-ips", default="", show_default="none",
              help="Believe X-Forwarded-For and X-Forwarded-Proto only from these addresses.")
@click.option("--header-timeout", default=HEADER_TIMEOUT, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Close a connection whose request headers are not complete in this many "
              "seconds.")
def door(host: str, port: int, db: str, log_level: str, forwarded_allow_ips: str,
         header_timeout: float) -> None:
    """Front door of servers sharing a PostgreSQL database.

    Answers each request with a 307 to the `roost serve` process serving the token's home
    (docs/scale-out.md); holds no home itself."""
    if not is_database_url(db):
        raise click.ClickException("the front door needs the postgresql:// database its "
                                   "servers share (--db)")
    usable(db)
    check_port(host, port)
    console.print(f"Roost front door on http://{host}:{port}/ for the servers of "
                  f"{shown(db)}")
    try:
        serve_door(db, host, port, log_level, forwarded_allow_ips, header_timeout)
    except KeyboardInterrupt:
        raise SystemExit(0) from None


def check_mqtt(url: str | None, user: str | None, prefix: str, discovery: str,
               all_users: bool = False, cafile: str | None = None) -> MqttSettings | None:
    """The bridge's settings, refused here with the reason rather than once serving."""
    if url is None:
        for given, name in ((user, "--mqtt-user"), (all_users, "--mqtt-all-users"),
                            (cafile, "--mqtt-cafile")):
            if given:
                raise click.UsageError(f"{name} needs --mqtt")
        return None
    if user is not None and all_users:
        raise click.UsageError("--mqtt-user and --mqtt-all-users do not go together")
    if importlib.util.find_spec("aiomqtt") is None:
        raise click.ClickException("--mqtt needs the MQTT extra: pip install 'roost[mqtt]'")
    from roost.mqtt import broker

    try:
        tls = broker.parse(url).tls
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--mqtt'") from None
    if cafile is not None and not tls:
        raise click.UsageError("--mqtt-cafile needs an mqtts:// broker")
    for name, value in (("--mqtt-prefix", prefix), ("--mqtt-discovery-prefix", discovery)):
        if not value or any(c in value for c in "+#") or value.startswith("/") \
                or value.endswith("/"):
            raise click.BadParameter("a topic prefix without + or # or a leading or "
                                     "trailing /", param_hint=f"'{name}'")
    return MqttSettings(url, user, prefix, discovery, all_users, cafile)


def reached_at(scheme: str, host: str, port: int) -> str:
    """Where clients reach this server unless told: a wildcard address names no host, so
    this machine's name stands for it."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def check_lease(value: str) -> tuple[float, float, float]:
    """Three seconds: a lease, its renewal and the self-fence, each shorter than the one
    before (docs/scale-out.md)."""
    try:
        lease, renew, fence = (float(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter("three numbers: lease,renew,fence") from None
    if not 0 < renew < fence < lease:
        raise click.BadParameter("0 < renew < fence < lease")
    return lease, renew, fence


def check_port(host: str, port: int) -> None:
    """Refuse a port something else listens on, before anything is printed or minted."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise click.BadParameter(f"cannot listen on {host}: {exc.strerror}",
                                 param_hint="'--host'") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") \
                from None


def check_tls(certfile: str | None, keyfile: str | None, cert_option: str = "--certfile",
              key_option: str = "--keyfile") -> None:
    """Both files or neither, and a pair that loads: refused here with the reason rather than
    by a traceback once the server starts."""
    if (certfile is None) != (keyfile is None):
        raise click.UsageError(f"{cert_option} and {key_option} go together")
    if certfile is None:
        return
    try:
        # An empty password: an encrypted key is refused instead of prompted for.
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(certfile, keyfile, password="")
    except (ssl.SSLError, OSError) as exc:
        raise click.BadParameter(f"cannot use {certfile} with {keyfile} (a PEM certificate "
                                 f"and its unencrypted private key): {exc}",
                                 param_hint=f"'{cert_option}' / '{key_option}'") from None


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


EMAIL_MAX = 254  # RFC 5321's longest forward path, less its brackets


def check_email(ctx: click.Context | None, param: click.Parameter | None, email: str) -> str:
    email = email.strip()
    if len(email) > EMAIL_MAX:
        raise click.BadParameter(f"an email address has at most {EMAIL_MAX} characters")
    if clients.has_control(email) or not _EMAIL.fullmatch(email):
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
    with opened(db, create=False) as store:
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
    with opened(db, create=False) as store:
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
