"""A Home Assistant's view of the broker: a real MQTT client that records what it receives,
and a Roost server whose bridge publishes under topic prefixes of its own."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

HOST, PORT = "127.0.0.1", 1883


@dataclass(frozen=True)
class Message:
    topic: str
    payload: str
    retain: bool


class Watcher:
    """Subscribed to ``topics`` (each with its subtree) on the broker at ``port``."""

    def __init__(self, topics: list[str], port: int = PORT) -> None:
        self.messages: list[Message] = []
        self._changed = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)

        def connected(client: mqtt.Client, *_: Any) -> None:
            client.subscribe([(f"{t}/#", 1) for t in topics])

        def subscribed(*_: Any) -> None:
            self._subscribed.set()

        def received(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
            with self._changed:
                text = message.payload.decode(errors="replace")
                self.messages.append(Message(message.topic, text, bool(message.retain)))
                self._changed.notify_all()

        self.client.on_connect = connected
        self.client.on_subscribe = subscribed
        self.client.on_message = received
        self.client.connect(HOST, port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "no subscription"

    def wait(self, predicate: Callable[[Message], bool], timeout: float = 10,
             after: int = 0) -> Message:
        """The first message from index ``after`` on that ``predicate`` picks."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for message in self.messages[after:]:
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no such message; got:\n" + "\n".join(
                        f"{m.topic} {m.payload[:80]}" for m in self.messages[after:]))
                self._changed.wait(left)

    def wait_value(self, topic: str, payload: str, timeout: float = 10,
                   after: int = 0) -> Message:
        return self.wait(lambda m: m.topic == topic and m.payload == payload, timeout, after)

    def latest(self, topic: str) -> str | None:
        with self._changed:
            found = [m.payload for m in self.messages if m.topic == topic]
        return found[-1] if found else None

    def on(self, topic: str, after: int = 0) -> list[Message]:
        with self._changed:
            return [m for m in self.messages[after:] if m.topic == topic]

    @property
    def mark(self) -> int:
        with self._changed:
            return len(self.messages)

    def publish(self, topic: str, payload: str | bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def unique_prefixes() -> tuple[str, str]:
    """A state prefix and a discovery prefix no other test uses: retained messages of one
    test never reach another."""
    tag = uuid.uuid4().hex[:12]
    return f"test-{tag}/roost", f"test-{tag}/homeassistant"


def clear_retained(roots: list[str], port: int = PORT) -> None:
    """Remove every retained message under ``roots``."""
    watcher = Watcher(roots, port)
    time.sleep(0.3)  # retained messages arrive right after the subscription
    topics = {m.topic for m in watcher.messages if m.retain and m.payload}
    for topic in topics:
        watcher.publish(topic, b"", retain=True)
    watcher.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnBroker:
    """A Mosquitto of the test's own on a free port, to stop and start at will; given a
    certificate and its key, also a TLS listener on ``tls_port``."""

    def __init__(self, directory: Path, tls: tuple[Path, Path] | None = None) -> None:
        self.port = free_port()
        self.config = directory / "mosquitto.conf"
        config = f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        self.tls_port = 0
        self._readable: Path | None = None
        if tls is not None:
            self.tls_port = free_port()
            # Mosquitto started as root reads them as its own user, outside pytest's private
            # directories: a throwaway pair may be world-readable.
            readable = Path(tempfile.mkdtemp(prefix="roost-mqtt-tls-"))
            readable.chmod(0o755)
            self._readable = readable
            certfile, keyfile = readable / "cert.pem", readable / "key.pem"
            for source, copy in zip(tls, (certfile, keyfile), strict=True):
                shutil.copyfile(source, copy)
                copy.chmod(0o644)
            config += (f"listener {self.tls_port} 127.0.0.1\n"
                       f"certfile {certfile}\nkeyfile {keyfile}\n")
        self.config.write_text(config)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OwnBroker:
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.config)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def remove(self) -> None:
        """Stop it and remove what it was given to read."""
        self.stop()
        if self._readable is not None:
            shutil.rmtree(self._readable, ignore_errors=True)
