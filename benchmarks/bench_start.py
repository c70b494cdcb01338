"""Start-up time of complaintctl's quick answers under two versions of the code.

Run from the repository root (no workspace needed):

    git worktree add /tmp/old <commit>
    .venv/bin/python benchmarks/bench_start.py /tmp/old . -n 15

For each command line (--help, --version, note --help, and three usage
errors) it runs 'python -P -m complaintctl' with each version's source
first on the path, alternately (old, new, old, ...) so drift hits both,
after one warm-up run of each (which fills the start's cache, kept in a
temporary folder); and 'python -c pass' in the same rounds. It prints the
medians in ms and each as a multiple of 'python -c pass'. It never fails
on a slow figure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

LINES = [["--help"], ["--version"], ["note", "--help"], ["note"], ["nope"], ["--bogus"]]


def once(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old_source")
    parser.add_argument("new_source")
    parser.add_argument("-n", type=int, default=15, help="runs of each (default 15)")
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="complaintctl-bench-start-")
    envs = {
        name: {**os.environ, "PYTHONPATH": os.path.abspath(source), "XDG_CACHE_HOME": cache}
        for name, source in (("old", args.old_source), ("new", args.new_source))
    }
    bare = [sys.executable, "-c", "pass"]
    times: dict[tuple[str, ...], list[float]] = {}
    for words in LINES:
        for env in envs.values():
            once([sys.executable, "-P", "-m", "complaintctl", *words], env)  # warm-up: fills the cache
    for _ in range(args.n):
        times.setdefault(("python -c pass",), []).append(once(bare, envs["new"]))
        for words in LINES:
            for name, env in envs.items():
                argv = [sys.executable, "-P", "-m", "complaintctl", *words]
                times.setdefault((" ".join(words), name), []).append(once(argv, env))
    shutil.rmtree(cache, ignore_errors=True)
    base = statistics.median(times[("python -c pass",)])
    print(f"python -c pass: {base * 1000:.0f} ms (n={args.n})")
    for words in LINES:
        line = " ".join(words)
        old, new = (statistics.median(times[(line, name)]) for name in ("old", "new"))
        print(f"{line}: old {old * 1000:.0f} ms ({old / base:.1f}x), ", end="")
        print(f"new {new * 1000:.0f} ms ({new / base:.1f}x)")


if __name__ == "__main__":
    main()
