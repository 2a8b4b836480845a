"""Per-user caches: bounded by dropping the user least recently asked for, one at a time."""

from __future__ import annotations

from roost.caches import UserCaches


def test_past_its_size_the_least_recently_used_user_goes_and_no_other() -> None:
    caches: UserCaches[str, int] = UserCaches(size=3)
    for user in ("a", "b", "c"):
        caches.of(user)["x"] = 1
    caches.of("a")  # used again: now "b" is the oldest
    caches.of("d")["x"] = 2
    assert len(caches) == 3
    assert caches.of("a") == {"x": 1} and caches.of("c") == {"x": 1}
    assert caches.of("b") == {}  # it went, and comes back empty


def test_a_dropped_user_starts_empty_and_others_keep_theirs() -> None:
    caches: UserCaches[str, int] = UserCaches(size=10)
    caches.of("a")["x"] = 1
    caches.of("b")["x"] = 2
    caches.drop("a")
    caches.drop("nobody")
    assert caches.of("a") == {} and caches.of("b") == {"x": 2}


def test_reads_below_half_full_keep_no_order_and_past_it_every_read_counts() -> None:
    caches: UserCaches[str, int] = UserCaches(size=4)
    for user in ("a", "b"):
        caches.of(user)["x"] = 1
    caches.of("a")  # two of four: no user is near to going, so no order is kept
    caches.of("c")["x"] = 1
    caches.of("b")  # past half: "b" is now the most recently read
    caches.of("d")["x"] = 1
    caches.of("e")["x"] = 1  # full: "a", read only below half, goes first
    caches.of("f")["x"] = 1  # then "c", the oldest of those not read since
    assert len(caches) == 4
    assert caches.of("b") == {"x": 1} and caches.of("d") == {"x": 1}
    assert caches.of("a") == {} and caches.of("c") == {}
