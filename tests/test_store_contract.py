"""The store interface's contract, run against every store: home objects and their versions,
changes in order, accounts, and account events. No server: each case opens a store, starts it
on the test's event loop and calls it directly. PostgreSQL runs every case in a scratch
database of its own (tests/postgres_helpers.py), on the server `.ci/run` starts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from postgres_helpers import scratch_database

from roost.model.home import Change, Obj
from roost.store.base import Conflict, Duplicate, Store
from roost.store.memory import MemoryStore
from roost.store.postgres import PostgresStore
from roost.store.records import (
    CLIENT_DELETED,
    CLIENT_UPDATED,
    DEVICE_CLAIMED,
    GRANT_CHANGED,
    TOKENS_REVOKED,
    USER_DELETED,
    AccountEvent,
)
from roost.store.sqlite import HOLD, ROWS, SQLiteStore

# Each store, made from the test's scratch place: a directory, or a database URL.
STORES: dict[str, Callable[[str], Store]] = {
    "sqlite": lambda where: SQLiteStore(Path(where) / "contract.db"),
    "memory": lambda where: MemoryStore(),
    "postgres": lambda where: PostgresStore(where),
}

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Opened:
    store: Store
    commits: list[Change] = field(default_factory=list)
    published: list[list[Change]] = field(default_factory=list)  # as each call gave them
    events: list[AccountEvent] = field(default_factory=list)

    def on_commit(self, changes: list[Change]) -> None:
        self.commits.extend(changes)
        self.published.append(list(changes))


@pytest.fixture(params=sorted(STORES))
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    yield from _maker(request.param, tmp_path)


@pytest.fixture(params=["postgres", "sqlite"])
def make_writing(request: pytest.FixtureRequest, tmp_path: Path
                 ) -> Iterator[Callable[[], Store]]:
    """The stores whose writer thread commits what is queued in batches."""
    yield from _maker(request.param, tmp_path)


def _maker(name: str, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    if name == "postgres":
        with scratch_database() as url:
            yield lambda: STORES["postgres"](url)
    else:
        yield lambda: STORES[name](str(tmp_path))


@asynccontextmanager
async def started(make: Callable[[], Store]) -> AsyncIterator[Opened]:
    store = make()
    store.open()
    opened = Opened(store)
    await store.start(opened.on_commit, opened.events.append)
    try:
        yield opened
    finally:
        await store.stop()
        store.close()


def thermostat(owner: str, id: str = "t1", version: int = 1, **data: object) -> Obj:
    return Obj("thermostats", id, owner, "s1", version, {"name": id, **data})


# -- home objects --------------------------------------------------------------------------


async def test_committed_objects_are_loaded_and_published_in_order(make: Callable[[], Store]
                                                                   ) -> None:
    async with started(make) as opened:
        store = opened.store
        assert store.load() == ([], 0)
        owner = (await store.create_user("owner@example.com", "hash")).id
        first = await store.commit([thermostat(owner, "a"), thermostat(owner, "b")])
        second = await store.commit([thermostat(owner, "c", humidity=40)])
        assert second.seq == first.seq + 1
        assert opened.commits == [first, second]
        objects, seq = store.load()
        assert seq == second.seq
        assert {(o.id, o.version, o.data.get("humidity")) for o in objects} == {
            ("a", 1, None), ("b", 1, None), ("c", 1, 40)}


async def test_a_commit_must_be_one_version_ahead_and_of_the_same_owner(
        make: Callable[[], Store]) -> None:
    async with started(make) as opened:
        store = opened.store
        owner = (await store.create_user("owner@example.com", "hash")).id
        other = (await store.create_user("other@example.com", "hash")).id
        await store.commit([thermostat(owner, version=1)])
        await store.commit([thermostat(owner, version=2, humidity=50)])
        with pytest.raises(Conflict):
            await store.commit([thermostat(owner, version=2, humidity=60)])  # a stale write
        with pytest.raises(Conflict):
            await store.commit([thermostat(owner, version=4)])  # skips a version
        with pytest.raises(Conflict):
            await store.commit([thermostat(other, version=3)])
        with pytest.raises(Conflict):  # all or nothing: the good object is not written
            await store.commit([thermostat(owner, "new"), thermostat(owner, version=9)])
        [stored], _ = store.load()
        assert (stored.version, stored.user_id, stored.data["humidity"]) == (2, owner, 50)
        assert len(opened.commits) == 2

        await store.commit([replace(stored, version=3, deleted=True)])
        assert store.load()[0] == []


async def test_a_refused_commit_among_concurrent_ones_fails_alone(
        make: Callable[[], Store]) -> None:
    async with started(make) as opened:
        store = opened.store
        owner = (await store.create_user("owner@example.com", "hash")).id
        await store.commit([thermostat(owner, "b")])
        outcomes = await asyncio.gather(  # queued together: the writer takes them as one batch
            *(store.commit([thermostat(owner, f"a{n}")]) for n in range(5)),
            store.commit([thermostat(owner, "b", version=3)]),  # skips a version
            *(store.commit([thermostat(owner, f"c{n}")]) for n in range(5)),
            return_exceptions=True)
        assert [type(o).__name__ for o in outcomes] == ["Change"] * 5 + ["Conflict"] + [
            "Change"] * 5
        seqs = [o.seq for o in outcomes if isinstance(o, Change)]
        assert seqs == sorted(seqs) and len(set(seqs)) == 10
        assert opened.commits[1:] == [o for o in outcomes if isinstance(o, Change)]
        objects, seq = store.load()
        assert seq == seqs[-1]
        assert sorted((o.id, o.version) for o in objects) == sorted(
            [(f"a{n}", 1) for n in range(5)] + [("b", 1)] + [(f"c{n}", 1) for n in range(5)])


async def test_concurrent_commits_of_one_object_land_in_order(make: Callable[[], Store]
                                                              ) -> None:
    async with started(make) as opened:
        store = opened.store
        owner = (await store.create_user("owner@example.com", "hash")).id
        await store.commit([thermostat(owner, "gone")])
        # Each gather is one batch, each commit in it building on the one before.
        outcomes = list(await asyncio.gather(
            *(store.commit([thermostat(owner, "t", version=n, humidity=n)])
              for n in range(1, 6))))
        outcomes += await asyncio.gather(
            store.commit([thermostat(owner, "t", version=6, humidity=6)]),
            store.commit([replace(thermostat(owner, "gone", version=2), deleted=True)]),
            store.commit([thermostat(owner, "t", version=7, humidity=7)]))
        assert [o.seq for o in outcomes] == list(range(2, 10))
        assert opened.commits[1:] == outcomes
        assert [(c.seq, c.objects) for c in await store.changes_since(1)] == [
            (o.seq, tuple((x.kind, x.id, x.version) for x in o.objects)) for o in outcomes]
        [stored], seq = store.load()
        assert (stored.id, stored.version, stored.data["humidity"], seq) == ("t", 7, 7, 9)


async def test_a_batch_of_one_objects_versions_keeps_the_last_and_logs_each(
        make: Callable[[], Store]) -> None:
    """Many writes of one object queued at once (a thermostat many clients set): each is its
    own change, and the stored object is the last; a run that does not follow the stored
    version is refused whole, and the batch's other writes still land."""
    async with started(make) as opened:
        store = opened.store
        owner = (await store.create_user("owner@example.com", "hash")).id
        await store.commit([thermostat(owner, "t", humidity=1)])
        outcomes = await asyncio.gather(
            *(store.commit([thermostat(owner, "t", version=n, humidity=n)]) for n in range(2, 7)))
        assert [o.seq for o in outcomes] == list(range(2, 7))
        assert [(c.seq, c.objects) for c in await store.changes_since(1)] == [
            (n, (("thermostats", "t", n),)) for n in range(2, 7)]
        [stored], _ = store.load()
        assert (stored.version, stored.data["humidity"]) == (6, 6)

        refused = await asyncio.gather(  # version 7 never came: 8, 9 and 10 follow nothing
            *(store.commit([thermostat(owner, "t", version=n, humidity=n)]) for n in range(8, 11)),
            store.commit([thermostat(owner, "u")]), return_exceptions=True)
        assert [type(o).__name__ for o in refused] == ["Conflict"] * 3 + ["Change"]
        objects, seq = store.load()
        assert sorted((o.id, o.version, o.data.get("humidity")) for o in objects) == [
            ("t", 6, 6), ("u", 1, None)]
        assert seq == refused[-1].seq and opened.commits[-1] == refused[-1]


async def writes_in_consecutive_rounds(store: Store, owner: str, count: int) -> list[Change]:
    """``count`` commits, one in each of as many rounds of the event loop, as requests read
    in consecutive rounds make them; their changes in order."""

    async def write(rounds: int) -> Change:
        for _ in range(rounds):
            # Each round lets go of the interpreter lock a while, as a server's rounds do
            # reading sockets: time for a writer thread handed the first write at once to
            # begin a transaction with it alone.
            time.sleep(0.002)
            await asyncio.sleep(0)
        return await store.commit([thermostat(owner, f"t{rounds}")])

    # Started last, the writer that waits no round queues first; each of the others runs
    # before the store's look at what came in the round, as requests read then do.
    return sorted(await asyncio.gather(*(write(n) for n in reversed(range(count)))),
                  key=lambda change: change.seq)


async def test_writes_queued_over_a_few_rounds_of_the_loop_share_one_transaction(
        make_writing: Callable[[], Store]) -> None:
    """The writes of a burst of requests arrive over a few rounds of the event loop: they
    are committed in one transaction, published in one call; a write queued after that is
    not held back for company."""
    async with started(make_writing) as opened:
        store = opened.store
        owner = (await store.create_user("owner@example.com", "hash")).id
        burst = await writes_in_consecutive_rounds(store, owner, HOLD)
        assert opened.published == [burst]
        assert [c.objects[0].id for c in burst] == [f"t{n}" for n in range(HOLD)]
        lone = await asyncio.wait_for(store.commit([thermostat(owner, "lone")]), 5)
        assert opened.published[-1] == [lone]


async def test_writes_queued_in_every_round_are_held_a_few_rounds_at_most(
        make_writing: Callable[[], Store]) -> None:
    """Steady traffic brings a write nearly every round: the first transaction does not
    wait for a round with none, only for the few rounds; every write is committed once,
    in order."""
    async with started(make_writing) as opened:
        owner = (await opened.store.create_user("owner@example.com", "hash")).id
        steady = await writes_in_consecutive_rounds(opened.store, owner, 4 * HOLD)
        assert opened.published[0] == steady[:HOLD + 1]
        assert opened.commits == steady


async def test_data_written_in_one_batch_is_loaded_exactly(make: Callable[[], Store]) -> None:
    """Writes that share a transaction keep every value as given: quotes, backslashes, text
    beyond ASCII, nesting, numbers of each kind, key order."""
    odd = {"label": 'it\'s "hi" \\ back\\slash', "where": "Küche ☃ 😀", "zero": 0, "half": 0.5,
           "big": 2**53, "none": None, "nested": {"b": [1, {"a": "}{"}], "a": []}}
    async with started(make) as opened:
        store = opened.store
        owner = (await store.create_user("owner@example.com", "hash")).id
        await asyncio.gather(*(store.commit([thermostat(owner, f"t{n}", n=n, **odd)])
                               for n in range(6)))
        await asyncio.gather(*(store.commit([thermostat(owner, f"t{n}", 2, n=-n, **odd)])
                               for n in range(6)))
        objects, _ = store.load()
        assert {o.id: (o.version, o.data) for o in objects} == {
            f"t{n}": (2, {"name": f"t{n}", "n": -n, **odd}) for n in range(6)}
        assert [list(o.data) for o in objects] == [["name", "n", *odd]] * 6


async def test_a_batch_with_a_large_commit_numbers_each_change_once_in_order(
        make: Callable[[], Store]) -> None:
    """A commit of more objects than one statement writes, queued with small ones: each
    commit is its own change, numbered in commit order, as ``changes_since`` lists them."""
    async with started(make) as opened:
        store = opened.store
        owner = (await store.create_user("owner@example.com", "hash")).id
        outcomes = await asyncio.gather(
            store.commit([thermostat(owner, "small0")]),
            store.commit([thermostat(owner, f"big{n}") for n in range(ROWS + 5)]),
            *(store.commit([thermostat(owner, f"small{n}")]) for n in range(1, 4)))
        seqs = [o.seq for o in outcomes]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert [c.seq for c in await store.changes_since(0)] == seqs
        assert opened.commits == list(outcomes)
        assert store.load()[1] == seqs[-1]


async def test_changes_since_lists_later_changes_in_order(make: Callable[[], Store]) -> None:
    async with started(make) as opened:
        store = opened.store
        owner = (await store.create_user("owner@example.com", "hash")).id
        first = await store.commit([thermostat(owner, "a")])
        second = await store.commit([thermostat(owner, "a", version=2),
                                     thermostat(owner, "b")])
        third = await store.commit([thermostat(owner, "b", version=2)])
        since = await store.changes_since(first.seq)
        assert [c.seq for c in since] == [second.seq, third.seq]
        assert since[0].objects == (("thermostats", "a", 2), ("thermostats", "b", 1))
        assert since[1].objects == (("thermostats", "b", 2),)
        assert await store.changes_since(third.seq) == []
        assert [c.seq for c in await store.changes_since(0)] == [1, 2, 3]


# -- accounts ------------------------------------------------------------------------------


async def test_users(make: Callable[[], Store]) -> None:
    async with started(make) as opened:
        store = opened.store
        ada = await store.create_user("ada@example.com", "hash-1")
        with pytest.raises(Duplicate):
            await store.create_user("ADA@example.com", "hash-2")
        assert await store.user_by_email("Ada@Example.com") == ada
        assert await store.user_by_id(ada.id) == ada
        assert await store.user_by_email("nobody@example.com") is None
        await store.set_password_hash(ada.id, "hash-3")
        assert (await store.user_by_id(ada.id)).password_hash == "hash-3"  # type: ignore[union-attr]
        bob = await store.create_user("bob@example.com", "hash")
        assert {u.email for u in await store.users()} == {ada.email, bob.email}
        assert len(await store.secret()) >= 32
        assert await store.secret() == await store.secret()


async def test_products(make: Callable[[], Store]) -> None:
    async with started(make) as opened:
        store = opened.store
        owner = await store.create_user("dev@example.com", "hash")
        product = await store.create_client("Heater", "Warms", "digest", None,
                                            ["Thermostat read"], owner.id)
        assert (product.version, product.owner_id, product.permissions) == (
            1, owner.id, frozenset({"Thermostat read"}))
        assert await store.client(product.id) == product

        renamed = await store.update_client(product.id, name="Heat", redirect_uri="https://x/cb")
        assert renamed is not None and (renamed.name, renamed.version) == ("Heat", 1)
        assert renamed.redirect_uri == "https://x/cb" and renamed.description == "Warms"
        widened = await store.update_client(
            product.id, permissions=["Thermostat read", "Away read"], clear_redirect_uri=True)
        assert widened is not None and widened.version == 2 and widened.redirect_uri is None
        assert await store.update_client(product.id, name="x", owner_id="another") is None
        assert await store.update_client("no such product", name="x") is None

        await store.ensure_client("roost", "Roost", ["Away read"])
        await store.ensure_client("roost", "Roost", ["Away read", "Thermostat read"])
        first_party = await store.client("roost")
        assert first_party is not None and first_party.version == 1
        assert first_party.permissions == {"Away read", "Thermostat read"}
        assert {c.id for c in await store.clients()} == {product.id, "roost"}


async def test_grants_tokens_codes_and_sessions(make: Callable[[], Store]) -> None:
    async with started(make) as opened:
        store = opened.store
        user = await store.create_user("ada@example.com", "hash")
        product = await store.create_client("Heater", "", "digest", "https://x/cb",
                                            ["Thermostat read"])
        assert await store.grant(user.id, product.id) is None
        grant = await store.accept(user.id, product, ["s1"])
        assert (grant.client_version, grant.permissions, grant.structures) == (
            1, {"Thermostat read"}, {"s1"})
        assert await store.grant(user.id, product.id) == grant

        await store.add_token("token-1", user.id, product.id, expires="2030-01-01T00:00:00+00:00")
        live = await store.live_token("token-1")
        assert live is not None and live.grant == grant
        assert live.expires == "2030-01-01T00:00:00+00:00"
        assert await store.live_token("unknown") is None
        assert await store.revoke_token("token-1") is True
        assert await store.revoke_token("token-1") is False
        assert await store.live_token("token-1") is None

        await store.add_code("code-1", grant.id, product.redirect_uri, "2030-01-01T00:00:00+00:00")
        code = await store.code("code-1")
        assert code is not None and (code.user_id, code.client_id, code.used) == (
            user.id, product.id, None)
        assert await store.redeem_code("code-1", "2029-01-01T00:00:00+00:00", "token-2") is True
        assert await store.redeem_code("code-1", "2029-01-01T00:00:01+00:00", "token-3") is False
        assert await store.live_token("token-2") is not None
        assert await store.live_token("token-3") is None
        assert await store.revoke_code_tokens("code-1") == ["token-2"]
        assert await store.live_token("token-2") is None

        await store.add_session("cookie", user.id, "csrf", "2030-01-01T00:00:00+00:00")
        session = await store.session("cookie")
        assert session is not None and (session.user_id, session.csrf_hash) == (user.id, "csrf")
        assert await store.session("other") is None
        await store.end_session("cookie")
        assert await store.session("cookie") is None


async def test_a_user_sees_and_disconnects_their_products(make: Callable[[], Store]) -> None:
    async with started(make) as opened:
        store = opened.store
        ada = await store.create_user("ada@example.com", "hash")
        bob = await store.create_user("bob@example.com", "hash")
        product = await store.create_client("Heater", "", "digest", None, ["Thermostat read"])
        await store.add_token("ada-1", ada.id, product.id)
        await store.add_token("ada-2", ada.id, product.id)
        await store.add_token("bob-1", bob.id, product.id)
        assert [g.client_id for g in await store.grants_of(ada.id)] == [product.id]
        assert await store.users_of(product.id) == 2
        assert sorted(t.hash for t in await store.tokens_of(ada.id, product.id)) == [
            "ada-1", "ada-2"]

        assert sorted(await store.disconnect(ada.id, product.id) or []) == ["ada-1", "ada-2"]
        assert opened.events[-1].kind == TOKENS_REVOKED
        assert sorted(opened.events[-1].tokens) == ["ada-1", "ada-2"]
        assert await store.live_token("ada-1") is None
        assert await store.live_token("bob-1") is not None
        assert await store.grants_of(ada.id) == []
        assert await store.tokens_of(ada.id, product.id) == []
        assert await store.users_of(product.id) == 1
        assert await store.disconnect(ada.id, product.id) is None


async def test_a_token_for_a_product_never_accepted_accepts_it(make: Callable[[], Store]
                                                              ) -> None:
    async with started(make) as opened:
        store = opened.store
        user = await store.create_user("ada@example.com", "hash")
        await store.ensure_client("roost", "Roost", ["Away read"])
        await store.add_token("token", user.id, "roost")
        live = await store.live_token("token")
        assert live is not None and live.grant == await store.grant(user.id, "roost")


# -- account events ------------------------------------------------------------------------


async def test_account_changes_are_events_in_order(make: Callable[[], Store]) -> None:
    async with started(make) as opened:
        store = opened.store
        start = await store.last_account_event()
        user = await store.create_user("ada@example.com", "hash")
        product = await store.create_client("Heater", "", "digest", None, ["Thermostat read"])
        await store.add_token("t1", user.id, product.id)  # accepts it: GRANT_CHANGED
        await store.add_token("t2", user.id, product.id)
        grant = await store.accept(user.id, product, ["s1"])
        await store.revoke_token("t1")
        await store.revoke_token("t1")  # nothing to revoke: no event
        await store.update_client(product.id, permissions=["Away read"])
        assert await store.delete_client(product.id) == ["t2"]
        assert await store.delete_client(product.id) is None

        events = await store.account_events(after=start)
        assert [(e.kind, set(e.tokens)) for e in events] == [
            (GRANT_CHANGED, set()), (GRANT_CHANGED, {"t1", "t2"}), (TOKENS_REVOKED, {"t1"}),
            (CLIENT_UPDATED, set()), (CLIENT_DELETED, {"t2"})]
        assert events[1].grant == grant and events[1].subject == grant.id
        assert events[4].subject == product.id
        seqs = [e.seq for e in events]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert await store.last_account_event() == seqs[-1]
        assert await store.account_events(after=seqs[2]) == events[3:]
        # The store's own events reached it in the same order, as they were made.
        assert opened.events == events


async def test_deleting_a_user_revokes_their_tokens_and_their_products(
        make: Callable[[], Store]) -> None:
    async with started(make) as opened:
        store = opened.store
        dev = await store.create_user("dev@example.com", "hash")
        other = await store.create_user("other@example.com", "hash")
        product = await store.create_client("Heater", "", "digest", None, ["Thermostat read"],
                                            dev.id)
        await store.ensure_client("roost", "Roost", ["Away read"])
        await store.add_token("dev's own", dev.id, "roost")
        await store.add_token("other's, for dev's product", other.id, product.id)
        await store.add_token("other's own", other.id, "roost")
        await store.commit([thermostat(dev.id), thermostat(other.id, "kept")])

        assert await store.delete_user(dev.id) is True
        assert await store.delete_user(dev.id) is False
        last = opened.events[-1]
        assert (last.kind, last.subject) == (USER_DELETED, dev.id)
        assert set(last.tokens) == {"dev's own", "other's, for dev's product"}
        assert await store.user_by_id(dev.id) is None
        assert await store.client(product.id) is None
        assert await store.live_token("other's, for dev's product") is None
        assert await store.live_token("other's own") is not None
        assert [o.id for o in store.load()[0]] == ["kept"]


async def test_data_changed_tells_of_writes_since_last_asked(make: Callable[[], Store]) -> None:
    async with started(make) as opened:
        store = opened.store
        await store.data_changed()
        assert await store.data_changed() is False
        await store.create_user("ada@example.com", "hash")
        product = await store.create_client("Heater", "", "digest", None, ["Away read"])
        await store.delete_client(product.id)
        assert await store.data_changed() is True
        assert await store.data_changed() is False


async def test_sqlite_sees_account_events_another_process_records(tmp_path: Path) -> None:
    """The command line writes the file with a store of its own, never started."""
    async with started(lambda: SQLiteStore(tmp_path / "shared.db")) as opened:
        store = opened.store
        seen = await store.last_account_event()
        await store.data_changed()
        other = SQLiteStore(tmp_path / "shared.db")
        other.open()
        try:
            user = await other.create_user("ada@example.com", "hash")
            product = await other.create_client("Heater", "", "digest", None, ["Away read"])
            await other.add_token("t1", user.id, product.id)
            await other.delete_client(product.id)
        finally:
            other.close()
        assert await store.data_changed() is True
        events = await store.account_events(after=seen)
        assert [e.kind for e in events] == [GRANT_CHANGED, CLIENT_DELETED]
        assert events[-1].tokens == ("t1",)
        assert opened.events == []  # not this store's own


async def test_devices_are_kept_unclaimed_until_claimed_with_their_key(
        make: Callable[[], Store]) -> None:
    async with started(make) as opened:
        store = opened.store
        ada = await store.create_user("ada@example.com", "hash")
        bob = await store.create_user("bob@example.com", "hash")
        await store.save_device_buckets("02AA01AC171401XF", '{"device.02AA01AC171401XF": {}}')
        await store.set_entry_key("02AA01AC171401XF", "key digest", 2_000)
        await store.set_entry_key("09BB", "other digest", 2_000)
        found = await store.device("02AA01AC171401XF")
        assert found is not None and found.user_id is None and found.key_expires == 2_000
        assert found.buckets == '{"device.02AA01AC171401XF": {}}'
        assert [d.serial for d in await store.devices()] == ["02AA01AC171401XF", "09BB"]
        assert await store.claim_device("key digest", 2_000, ada.id, None) is None  # expired
        assert await store.claim_device("no such digest", 1_000, ada.id, None) is None
        claimed = await store.claim_device("key digest", 1_000, ada.id, "s1")
        assert claimed is not None and claimed.serial == "02AA01AC171401XF"
        assert (claimed.user_id, claimed.structure_id, claimed.device_id) == (ada.id, "s1", None)
        assert opened.events[-1].kind == DEVICE_CLAIMED
        assert opened.events[-1].subject == "02AA01AC171401XF"
        with pytest.raises(Conflict):
            await store.claim_device("key digest", 1_000, bob.id, None)
        await store.attach_device("02AA01AC171401XF", "s1", "t9")
        attached = await store.device("02AA01AC171401XF")
        assert attached is not None and attached.device_id == "t9"
        assert attached.user_id == ada.id
        await store.delete_user(ada.id)
        released = await store.device("02AA01AC171401XF")
        assert released is not None and released.user_id is None
