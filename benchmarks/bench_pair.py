"""Paired timing of one complaintctl command under two versions of the code.

Run from the repository root, on two copies of one workspace (changing
commands add commits; each version keeps its own index):

    git worktree add /tmp/old <commit>
    .venv/bin/python benchmarks/bench_pair.py /tmp/old . WS_OLD WS_NEW -n 15 -- note C-20261101-28SS0K hello

The two versions run alternately (old, new, old, ...) so drift hits both;
it prints the medians and their ratio (new / old). Both use this virtual
environment's dependencies. It never fails on a slow figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def once(source: str, workspace: str, words: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": source, "COMPLAINTCTL_ROOT": workspace}
    env.setdefault("COMPLAINTCTL_USER", "alice@example.com")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-P", "-m", "complaintctl", *words], env=env, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old_source")
    parser.add_argument("new_source")
    parser.add_argument("old_workspace")
    parser.add_argument("new_workspace")
    parser.add_argument("-n", type=int, default=15, help="runs of each (default 15)")
    parser.add_argument("words", nargs="+", help="the command line after 'complaintctl'")
    args = parser.parse_args()
    once(args.old_source, args.old_workspace, args.words)  # warm caches and indexes
    once(args.new_source, args.new_workspace, args.words)
    old, new = [], []
    for _ in range(args.n):
        old.append(once(args.old_source, args.old_workspace, args.words))
        new.append(once(args.new_source, args.new_workspace, args.words))
    a, b = statistics.median(old), statistics.median(new)
    print(
        f"{' '.join(args.words)}: old {a * 1000:.0f} ms, new {b * 1000:.0f} ms, "
        f"new/old {b / a:.2f} (n={args.n})"
    )


if __name__ == "__main__":
    main()
