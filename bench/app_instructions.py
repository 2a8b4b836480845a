"""Instructions per durable PUT, by thread, of Roost now and at earlier commits: ``app_put.py``
run under valgrind's callgrind, which counts every instruction the process runs outside the
kernel. The same code runs the same count to within a few tenths of a per cent whatever else
the machine does, where a timed run on a shared machine can swing by half: a way to see
what a change to the data path saves when the clock cannot.

Each tree runs ``app_put.py`` twice, with 2,000 and 6,000 PUTs in its measured round; the
difference over the 5,000 PUTs between them (its warm-up writes a quarter as many) leaves
out start-up. The event loop is the first thread; the SQLite writer the second. Counts are
not times: a C call (a clock read, a dict copy) costs fewer instructions per nanosecond than
the interpreter's own loop.

    apt-get install -y valgrind
    python bench/app_instructions.py [REVISION ...]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SIZES = (2_000, 6_000)
PUTS = (SIZES[1] - SIZES[0]) * 5 // 4  # app_put.py warms up with a quarter of its round


def counts(tree: Path, workdir: Path, writes: int) -> dict[int, int]:
    """Instructions by thread (1: the event loop) of one run of ``app_put.py`` from ``tree``."""
    out = workdir / f"callgrind-{writes}"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run(["valgrind", "--tool=callgrind", "--separate-threads=yes",
                    f"--callgrind-out-file={out}", sys.executable,
                    str(tree / "bench" / "app_put.py"), "--rounds", "1", "--writes", str(writes)],
                   check=True, capture_output=True, env=env)
    found = {}
    for part in workdir.glob(f"{out.name}-*"):
        totals = re.search(r"^totals: (\d+)", part.read_text(), re.MULTILINE)
        if totals:
            found[int(part.name.rsplit("-", 1)[1])] = int(totals.group(1))
        part.unlink()
    return found


def per_put(tree: Path, workdir: Path) -> tuple[float, float, float]:
    """Instructions per PUT: the event loop's, the writer thread's, the whole process's."""
    small, large = (counts(tree, workdir, writes) for writes in SIZES)
    each = {thread: (large[thread] - small.get(thread, 0)) / PUTS for thread in large}
    return each.get(1, 0.0), each.get(2, 0.0), sum(each.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revisions", nargs="*", help="earlier commits, e.g. main or a hash")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install -y valgrind)")
    with tempfile.TemporaryDirectory(prefix="roost-instructions-") as scratch:
        work = Path(scratch)
        trees = [("now", BENCH.parent)]
        for revision in args.revisions:
            tree = work / revision
            tree.mkdir()
            archive = subprocess.run(["git", "-C", str(BENCH.parent), "archive", revision],
                                     check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
            trees.append((revision, tree))
        for name, tree in trees:
            loop, writer, total = per_put(tree, work)
            print(f"{name}: {loop:,.0f} instructions per PUT on the event loop, "
                  f"{writer:,.0f} on the writer thread, {total:,.0f} in all", flush=True)


if __name__ == "__main__":
    main()
