"""The bridge: one broker connection acting for one user, or for every user, each under
their own topic prefix.

It listens to the service's committed changes, renders the changed objects' entities and
publishes what differs from what the broker already holds from it; it takes command messages
and writes them through the service as a first-party principal of its user. The broker going
away never reaches the server: the bridge reconnects with backoff and then publishes the
latest state of everything, not a backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import aiomqtt
import orjson

from roost import errors
from roost.auth.principal import Principal
from roost.auth.tokens import FIRST_PARTY_CLIENT
from roost.model.home import Change
from roost.model.schema import ANY, effective
from roost.mqtt import broker, commands, discovery, event
from roost.mqtt.device import OFFLINE, ONLINE, Topics, user_slug
from roost.service import Service
from roost.settings import MqttSettings

log = logging.getLogger("roost.mqtt")

FIRST_RETRY, LAST_RETRY = 0.5, 30.0  # seconds between connection attempts, doubling
Key = tuple[str, str]  # (kind, id)


def _version() -> str:
    try:
        return version("roost")
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Acting:
    """A user the bridge acts for: as whom it reads and writes, under which topics, and their
    commands waiting to be written."""

    principal: Principal
    topics: Topics
    buffer: commands.Buffer


class Bridge:
    def __init__(self, service: Service, settings: MqttSettings) -> None:
        self.service = service
        self.broker = broker.parse(settings.url)
        self.topics = Topics(settings.prefix, settings.discovery, _version())
        self._settings = settings
        self._acting: dict[str, Acting] = {}  # by user id
        self._by_topic: dict[str, Acting] = {}  # by the prefix of their topics
        self._dirty: dict[str, set[Key]] = {}  # by user id
        self._wake = asyncio.Event()
        # What the broker holds from this connection, by topic: only a different payload is
        # published again.
        self._sent: dict[str, bytes] = {}
        # Every retained topic published for an object, emptied when it is deleted.
        self._owned: dict[str, set[str]] = {}
        self._client: aiomqtt.Client | None = None
        self._names = frozenset(n for names in discovery.COMMANDS.values() for n in names)
        self._task: asyncio.Task[None] | None = None
        self._unlisten: Any = None
        self.connected = asyncio.Event()  # set while connected (tests and logs)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Act for the configured user (or the only one, or every one) and connect in the
        background: the server does not wait for the broker."""
        store = self.service.store
        if self._settings.all_users:
            for user in await store.users():
                self._act_for(user.id, user.email)
        elif self._settings.user is not None:
            user = await store.user_by_email(self._settings.user)
            if user is None:
                raise RuntimeError(f"--mqtt-user: no user {self._settings.user}")
            self._act_for(user.id)
        else:
            users = await store.users()
            if len(users) != 1:
                raise RuntimeError("--mqtt-user is needed: there is not exactly one user")
            self._act_for(users[0].id)
        self._unlisten = self.service.listen(self._changed)
        self._task = asyncio.create_task(self._run())

    def _act_for(self, user_id: str, email: str | None = None) -> Acting:
        topics = self.topics
        if self._settings.all_users:
            topics = replace(topics, user=user_slug(user_id))
            # How an operator learns which prefix is whose: the slug says nothing of the user.
            log.info("MQTT: the homes of %s are under %s/", email or f"user {user_id}",
                     topics.own)
        acting = Acting(Principal(user_id, FIRST_PARTY_CLIENT, effective(ANY)), topics,
                        commands.Buffer(functools.partial(self._carry_out, user_id)))
        self._acting[user_id] = self._by_topic[topics.own] = acting
        return acting

    async def stop(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
        for acting in self._acting.values():
            await acting.buffer.close()
        client = self._client
        if client is not None:  # a clean disconnect sends no last will: say it ourselves
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    client.publish(self.topics.status, OFFLINE, qos=1, retain=True), 2)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = FIRST_RETRY
        while True:
            try:
                async with self._connect() as client:
                    log.info("MQTT: connected to %s", self.broker)
                    delay = FIRST_RETRY
                    await self._session(client)
            except aiomqtt.MqttError as exc:
                log.warning("MQTT: broker %s: %s; retrying in %.1f s", self.broker, exc, delay)
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAST_RETRY)

    def _connect(self) -> aiomqtt.Client:
        client = aiomqtt.Client(
            self.broker.host, self.broker.port, username=self.broker.username,
            password=self.broker.password, timeout=10, keepalive=30,
            will=aiomqtt.Will(self.topics.status, OFFLINE, qos=1, retain=True),
                tls_context=ssl.create_default_context(cafile=self._settings.cafile)
            if self.broker.tls else None)
        # A whole home goes out at once on connecting, each publish waiting for its PUBACK:
        # thousands pending are normal here, not the leak aiomqtt warns of past ten.
        client.pending_calls_threshold = 1_000_000
        return client

    async def _session(self, client: aiomqtt.Client) -> None:
        await client.subscribe(self.topics.birth, qos=1)
        # Every user's commands with one wildcard: users created meanwhile are covered.
        users = "+/" if self._settings.all_users else ""
        await client.subscribe(f"{self.topics.prefix}/{users}+/+/set", qos=1)
        await client.publish(self.topics.status, ONLINE, qos=1, retain=True)
        self._client = client
        self._resend()
        publisher = asyncio.create_task(self._publish_changes(client))
        self.connected.set()
        try:
            async for message in client.messages:
                try:
                    await self._received(message)
                except Exception:  # a bad message must never end the bridge
                    log.exception("MQTT: could not handle a message on %s", message.topic)
        finally:
            publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await publisher

    # -- state out --------------------------------------------------------------------------

    def _changed(self, change: Change) -> None:
        """From the service's commit: note what changed, publish later. Acting for every
        user, a user first seen here (created while serving) is acted for from now on."""
        noted = False
        for obj in change.objects:
            if obj.user_id not in self._acting:
                if not self._settings.all_users:
                    continue
                self._act_for(obj.user_id)
            dirty = self._dirty.setdefault(obj.user_id, set())
            dirty.add((obj.kind, obj.id))
            if obj.kind != "structures":
                # A structure shows roll-ups of its devices (away is "unknown" without any);
                # only values that changed are published, so this costs nothing else.
                dirty.add(("structures", obj.structure_id))
            noted = True
        if noted:
            self._wake.set()

    def _resend(self) -> None:
        """Publish everything again on the next pass (a new connection, Home Assistant
        started): the broker may have lost it, Home Assistant has."""
        self._sent.clear()
        for user_id, acting in self._acting.items():
            tree = self.service.read(acting.principal, ())
            assert isinstance(tree, dict)
            dirty = self._dirty.setdefault(user_id, set())
            dirty.update(("structures", id) for id in tree.get("structures", {}))
            for kind in discovery.DEVICE_KINDS:
                dirty.update((kind, id) for id in tree.get("devices", {}).get(kind, {}))
        self._wake.set()

    async def _publish_changes(self, client: aiomqtt.Client) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            dirty, self._dirty = self._dirty, {}
            try:
                out: dict[str, bytes] = {}
                for user_id, keys in dirty.items():
                    out |= self._render(self._acting[user_id], keys)
                await self._publish(client, out)
            except aiomqtt.MqttError:
                for user_id, keys in dirty.items():  # published on the next connection anyway
                    self._dirty.setdefault(user_id, set()).update(keys)
                raise
            except Exception:
                log.exception("MQTT: could not publish a change")

    def _render(self, acting: Acting, dirty: set[Key], force: bool = False) -> dict[str, bytes]:
        """The retained payloads of these objects of one user that the broker does not hold
        yet."""
        read = functools.partial(self.service.read_object, acting.principal)
        docs: dict[Key, dict[str, Any] | None] = {key: read(*key) for key in dirty}
        for (kind, _), doc in list(docs.items()):  # a structure's away is each thermostat's preset
            if kind == "structures" and doc is not None:
                for id in doc.get("thermostats", ()):
                    if ("thermostats", id) not in docs:
                        docs["thermostats", id] = read("thermostats", id)
        structures = {id: doc for (kind, id), doc in docs.items() if kind == "structures"}
        now = self.service.clock()
        out: dict[str, bytes] = {}
        for (kind, id), doc in docs.items():
            if kind not in discovery.KINDS:
                continue
            if doc is None:  # deleted: an empty retained payload removes each entity
                out.update(dict.fromkeys(self._owned.pop(id, ()), b""))
                continue
            found = {t: orjson.dumps(c) for t, c in discovery.configs(acting.topics, kind,
                                                                     doc).items()}
            structure = None
            if kind == "thermostats":
                sid = doc["structure_id"]
                if sid not in structures:
                    structures[sid] = read("structures", sid)
                structure = structures[sid]
            found |= {t: s.encode() for t, s in discovery.states(
                acting.topics, kind, doc, structure, now).items()}
            self._owned.setdefault(id, set()).update(found)
            for topic, payload in found.items():
                if force or self._sent.get(topic) != payload:
                    out[topic] = payload
        return out

    async def _publish(self, client: aiomqtt.Client, out: dict[str, bytes]) -> None:
        async def one(topic: str, payload: bytes) -> None:
            await client.publish(topic, payload, qos=1, retain=True)
            if payload:
                self._sent[topic] = payload
            else:
                self._sent.pop(topic, None)

        await asyncio.gather(*(one(t, p) for t, p in out.items()))

    # -- commands in ------------------------------------------------------------------------

    async def _received(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        payload = message.payload if isinstance(message.payload, bytes) else b""
        if topic == self.topics.birth:
            # Retained, it is a replay on connecting, when everything was just published.
            if payload == b"online" and not message.retain:
                log.info("MQTT: Home Assistant is online; publishing discovery again")
                self._resend()
            return
        # <own>/<id>/<name>/set: whose commands these are is in the topic's prefix.
        acting = self._by_topic.get(topic.rsplit("/", 3)[0])
        if acting is None:
            log.info("MQTT: ignored a message on %s, not a command topic of a user", topic)
            return
        command = commands.parse(acting.topics, topic, payload, message.retain, self._names)
        if command is not None:
            acting.buffer.add(command)

    async def _carry_out(self, user_id: str, id: str, given: dict[str, str]) -> None:
        """Write one device's commands as its user; on a refusal, show the truth again and
        say why."""
        acting = self._acting[user_id]
        principal = acting.principal
        kind, doc = self._find(principal, id)
        if doc is None:
            # Not this user's, or gone: nothing is published for it either.
            log.warning("MQTT: ignored commands for %s, no device or structure of this user",
                        id)
            return
        taken = {n: p for n, p in given.items() if n in discovery.COMMANDS[kind]}
        for name in given.keys() - taken.keys():
            log.warning("MQTT: ignored command %r, which a %s does not take", name, kind)
        if not taken:
            return
        structure = self.service.read_object(principal, "structures",
                                             doc.get("structure_id", ""))
        planned = discovery.writes(kind, taken, doc, structure)
        refused: errors.ApiError | None
        try:
            outcomes = await self.service.write_many(
                [(principal, path, body) for path, body in planned], atomic=True)
            refused = next((o for o in outcomes if o is not None), None)
        except errors.ApiError as exc:
            refused = exc
        except Exception:
            log.exception("MQTT: commands %s for %s failed", taken, id)
            refused = errors.internal()
        if refused is None:
            return
        log.warning("MQTT: refused %s for %s: %s", taken, id, refused.text)
        client = self._client
        if client is None:  # the state goes out on reconnecting; the event cannot wait
            return
        await self._publish(client, self._render(acting, {(kind, id)}, force=True))
        await client.publish(acting.topics.state(id, "refused"),
                             orjson.dumps(event.payload(taken, refused)), qos=1, retain=False)

    def _find(self, principal: Principal, id: str) -> tuple[str, dict[str, Any] | None]:
        """The kind and document of one of this user's structures or devices."""
        for kind in discovery.KINDS:
            doc = self.service.read_object(principal, kind, id)
            if doc is not None:
                return kind, doc
        return "", None
