"""Summarise a py-spy raw (collapsed-stack) profile: the functions with the most samples.

"self" counts samples where the function was running; "total" counts samples where it was
anywhere on the stack. Both are shares of the samples counted (all in the file, or those of
the stacks ``--within`` selects).

    python bench/hotspots.py PROFILE.txt [--top 25] [--match roost/] [--within TEXT] [--lines]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path


def load(path: Path, lines: bool) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if not lines:
            frames = re.sub(r":\d+\)", ")", frames)  # "f (file.py:12)" -> "f (file.py)"
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default="", help="list only frames containing this text")
    parser.add_argument("--lines", action="store_true", help="per line, not per function")
    parser.add_argument("--within", default="",
                        help="count only stacks with a frame containing this text, e.g. "
                        "BaseEventLoop.run_forever for the event loop's thread")
    args = parser.parse_args()
    stacks = [(frames, count) for frames, count in load(args.profile, args.lines)
              if any(args.within in frame for frame in frames)]
    total = sum(count for _, count in stacks) or 1
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    for frames, count in stacks:
        own[frames[-1]] += count
        for frame in set(frames):
            anywhere[frame] += count
    print(f"{total} samples in {args.profile}")
    for title, counter in (("self", own), ("total", anywhere)):
        print(f"\n{title:>6}  function")
        rows = [(f, n) for f, n in counter.most_common() if args.match in f][:args.top]
        for frame, count in rows:
            print(f"{count / total:6.1%}  {frame}")


if __name__ == "__main__":
    main()
