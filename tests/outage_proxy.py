"""A TCP proxy to PostgreSQL that a test can break: cut (every connection reset, new ones
refused), pause (connections accepted, nothing forwarded: a network partition), reopen; and
cut the writer's connection at its next batch of home writes, after or before forwarding it
(a commit whose outcome its sender cannot know). The batch is one statement, a transaction
by itself that commits at the Sync ending its pipeline (roost/store/postgres_batch.py); a
``COMMIT`` would as well be sent by the other connections (the leases', the readers')."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

BATCH = b"EXECUTE roost_batch "
SYNC = b"S\x00\x00\x00\x04"  # the extended protocol's Sync message


def _reset(sock: socket.socket) -> None:
    """End a connection at once. Shut down first: closing alone would wait for the threads
    blocked reading it, and the peer would notice nothing."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class Proxy:
    def __init__(self, upstream: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.upstream = upstream
        self.port = 0
        self._flowing = threading.Event()
        self._flowing.set()
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._listener: socket.socket | None = None
        # "after": forward the writer's next batch, then cut it off from the answer;
        # "before": cut it off without forwarding it.
        self.cut_at_commit: str | None = None
        self.open()

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._flowing.set()
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Reset every connection and refuse new ones."""
        if self._listener is not None:
            _reset(self._listener)  # wakes its accept(), which closing alone would not
            self._listener = None
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, server in pairs:
            _reset(client)
            _reset(server)

    def pause(self) -> None:
        """Keep every connection, and accept new ones, but forward nothing."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False),
                             daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, outbound: bool) -> None:
        try:
            while data := source.recv(65536):
                self._flowing.wait()
                if outbound and self.cut_at_commit and BATCH in data:
                    when, self.cut_at_commit = self.cut_at_commit, None
                    if when == "after":
                        sink.sendall(data)
                        rest = data[data.index(BATCH):]
                        while SYNC not in rest and (rest := source.recv(65536)):
                            sink.sendall(rest)  # on to the Sync, where it commits
                        sink.shutdown(socket.SHUT_WR)  # the server reads it all, then EOF
                    _reset(source)  # the sender never hears how it went
                    return
                sink.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
