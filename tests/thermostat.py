"""A Nest thermostat as the device protocol describes it (shared spec device-protocol.md),
written from the spec alone: raw HTTP/1.1 over a socket, chunked answers read as they arrive,
its buckets kept with the device's own rule for which copy is newer (§7). It knows nothing of
Roost's code."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

WAIT = 10.0


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One request on its own socket; the answer's head at once, its body as it comes."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> None:
        raw = socket.create_connection((host, port), timeout=WAIT)
        self.sock = tls.wrap_socket(raw, server_hostname=host) if tls else raw
        self.buffer = b""
        self.status = 0
        self.headers: dict[str, str] = {}

    def send(self, method: str, path: str, headers: dict[str, str], body: bytes = b"",
             chunked_body: list[bytes] | None = None) -> None:
        lines = [f"{method} {path} HTTP/1.1", "Host: nest.example"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if chunked_body is not None:
            lines.append("Transfer-Encoding: chunked")
        else:
            lines.append(f"Content-Length: {len(body)}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        for part in chunked_body or []:
            self.sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))

    def _more(self, timeout: float) -> None:
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed by the server")
        self.buffer += data

    def _line(self, timeout: float) -> bytes:
        while b"\r\n" not in self.buffer:
            self._more(timeout)
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def head(self, timeout: float = WAIT) -> None:
        status = self._line(timeout).decode()
        self.status = int(status.split()[1])
        while line := self._line(timeout):
            name, _, value = line.decode().partition(":")
            self.headers[name.strip().lower()] = value.strip()

    def chunk(self, timeout: float = WAIT) -> bytes | None:
        """The next chunk of a chunked body; None at its end. TimeoutError if the server says
        nothing for ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        size = int(self._line(timeout).split(b";")[0], 16)
        while len(self.buffer) < size + 2:
            self._more(max(0.01, deadline - time.monotonic()))
        data, self.buffer = self.buffer[:size], self.buffer[size + 2:]
        return data if size else None

    def body(self, timeout: float = WAIT) -> bytes:
        if self.headers.get("transfer-encoding") == "chunked":
            parts = []
            while (part := self.chunk(timeout)) is not None:
                parts.append(part)
            return b"".join(parts)
        length = int(self.headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._more(timeout)
        return self.buffer[:length]

    def close(self) -> None:
        self.sock.close()


@dataclass
class Bucket:
    revision: int
    timestamp: int
    value: dict[str, Any]


@dataclass
class Thermostat:
    host: str
    port: int
    serial: str = "02AA01AC171401XF"
    tls: ssl.SSLContext | None = None
    transport: str = ""  # the path of the transport URL /entry handed out
    buckets: dict[str, Bucket] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)  # every object pushed

    @property
    def headers(self) -> dict[str, str]:
        # Before it has credentials of its own the device names itself by header (§3).
        user = base64.b64encode(f"d.{self.serial}.x:{self.serial}".encode()).decode()
        return {"Authorization": f"Basic {user}", "X-nl-device-id": self.serial,
                "X-nl-client-id": f"d.{self.serial}.1234", "X-nl-protocol-version": "1",
                "X-nl-device-swversion": "5.9.3-5", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body: Any = None, raw: bytes | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        conn = Connection(self.host, self.port, self.tls)
        try:
            data = raw if raw is not None else b"" if body is None else json.dumps(body).encode()
            conn.send(method, path, {**self.headers, **(headers or {})}, data)
            conn.head()
            return Answer(conn.status, conn.headers, conn.body())
        finally:
            conn.close()

    # -- first boot ----------------------------------------------------------------------------

    def entry(self) -> dict[str, Any]:
        form = ("reset=FALSE&mac=18B430ABCDEF&model=Diamond-2.6&request_id=1&"
                "software_version=5.9.3-5&wireless_reg_domain=US&backplate_model=Backplate-2.1")
        answer = self.request("POST", "/entry", raw=form.encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        assert answer.status == 200, answer.body
        urls = answer.json()
        self.transport = urlsplit(urls["transport_url"]).path
        return urls

    def passphrase(self, url: str) -> dict[str, Any]:
        answer = self.request("GET", urlsplit(url).path)
        assert answer.status == 200, answer.body
        return answer.json()

    # -- the conversation ----------------------------------------------------------------------

    def listing(self) -> list[dict[str, Any]]:
        return [{"object_key": k, "object_revision": b.revision, "object_timestamp": b.timestamp}
                for k, b in self.buckets.items()]

    def put(self, objects: list[dict[str, Any]], inline: bool = False) -> Answer:
        """PUT changed fields ``[{"object_key", "value", "if_object_revision"?}]`` and take the
        receipts' stamps, as the firmware does."""
        if inline:
            body: dict[str, Any] = {"session": "18b4302da04f" + self.serial}
            for o in objects:
                body[o["object_key"]] = {"object_key": o["object_key"],
                                         **{k: v for k, v in o.items() if k != "value"},
                                         **o["value"]}
        else:
            body = {"objects": [{"base_object_revision": self._revision(o["object_key"]), **o}
                                for o in objects], "session": "18b4302da04f" + self.serial}
        answer = self.request("POST", f"{self.transport}/v7/put", body)
        if answer.status == 200:
            sent = {o["object_key"]: o["value"] for o in objects}
            for receipt in answer.json()["objects"]:
                key = receipt["object_key"]
                bucket = self.buckets.setdefault(key, Bucket(0, 0, {}))
                if receipt["object_revision"] != bucket.revision or key in sent:
                    bucket.value.update(sent.get(key, {}))
                bucket.revision = receipt["object_revision"]
                bucket.timestamp = receipt["object_timestamp"]
        return answer

    def _revision(self, key: str) -> int:
        return self.buckets[key].revision if key in self.buckets else 0

    def subscribe(self, listing: list[dict[str, Any]] | None = None,
                  chunked: bool = True) -> Held:
        conn = Connection(self.host, self.port, self.tls)
        body = {"chunked": chunked, "session": "18b4302da04f" + self.serial,
                "objects": self.listing() if listing is None else listing}
        conn.send("POST", f"{self.transport}/v7/subscribe", self.headers,
                  json.dumps(body).encode())
        return Held(self, conn)

    def take(self, objects: list[dict[str, Any]]) -> None:
        """Apply pushed objects by the device's rule: a newer timestamp wins, equal ones by
        revision, and a pushed value is merged field by field."""
        for obj in objects:
            self.received.append(obj)
            key = obj["object_key"]
            mine = self.buckets.get(key)
            newer = mine is None or obj["object_timestamp"] > mine.timestamp or (
                obj["object_timestamp"] == mine.timestamp
                and obj["object_revision"] > mine.revision)
            if newer:
                value = {**(mine.value if mine else {}), **obj.get("value", {})}
                self.buckets[key] = Bucket(obj["object_revision"], obj["object_timestamp"],
                                           value)


class Held:
    """A subscribe in flight: its head read at once, then each chunk as it arrives."""

    def __init__(self, device: Thermostat, conn: Connection) -> None:
        self.device = device
        self.conn = conn
        self.raw: list[bytes] = []
        conn.head()
        self.status = conn.status
        self.headers = conn.headers

    def next(self, timeout: float = WAIT) -> list[dict[str, Any]] | None:
        """The next chunk's objects, applied to the device; None when the body ended."""
        data = self.conn.chunk(timeout)
        if data is None:
            return None
        while True:  # an HTTP chunk may be split; the JSON document is the unit
            try:
                doc = json.loads(data)
                break
            except json.JSONDecodeError:
                more = self.conn.chunk(timeout)
                assert more is not None, data
                data += more
        self.raw.append(data)
        self.device.take(doc["objects"])
        return doc["objects"]

    def silent(self, seconds: float) -> bool:
        """True if the server sends nothing at all for ``seconds``."""
        try:
            self.conn._more(seconds)
        except TimeoutError:
            return True
        return False

    def close(self) -> None:
        self.conn.close()
