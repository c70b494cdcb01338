"""complaintctl next to its peer, taskwarrior, on the same cases.

Run from the repository root, on workspaces made by ``bench_scale.py --keep``:

    .venv/bin/python benchmarks/bench_peer.py /tmp/bench/ws-10000 /tmp/bench/ws-100000 [-n 9]

taskwarrior 2.6 is the peer (Debian: ``apt-get install taskwarrior``); the
script says so and stops where it is missing. For each workspace it loads
the same cases into a taskwarrior data folder of its own (open cases as
pending tasks, closed ones as completed, one project per category, the
owner and severity as tags), then runs each pair of commands alternately
(A, B, A, B, ...) and prints the median time and the largest peak memory of
each side, and their ratio. Changing commands are repeated on one case and
one task; the workspace's branch is put back afterwards (git reset --keep).

It never fails on a slow figure; it prints.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
CLI = str(BIN / "complaintctl")


@dataclass
class Side:
    seconds: list[float]
    peak_kib: int

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


# GNU time (Debian: 'time') reads each command's peak memory from a small
# parent: a child forked from this Python process would start from its size.
GNU_TIME = "/usr/bin/time" if Path("/usr/bin/time").is_file() else None
PEAK_FILE = Path(tempfile.gettempdir()) / "bench-peer-peak.txt"


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, int]:
    """One run: wall seconds, peak resident memory (KiB), exit code."""
    wrapped = [GNU_TIME, "-f", "%M", "-o", str(PEAK_FILE), *cmd] if GNU_TIME else cmd
    start = time.perf_counter()
    proc = subprocess.Popen(wrapped, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    peak = int(PEAK_FILE.read_text().split()[-1]) if GNU_TIME else usage.ru_maxrss
    return seconds, peak, os.waitstatus_to_exitcode(status)


def pair(a: list[str], b: list[str], env: dict[str, str], cwd: Path, n: int) -> tuple[Side, Side]:
    sides = (Side([], 0), Side([], 0))
    for cmd in (a, b):  # one warm-up each: caches as in daily use
        timed(cmd, env, cwd)
    for _ in range(n):
        for cmd, side in zip((a, b), sides, strict=True):
            seconds, peak, code = timed(cmd, env, cwd)
            if code not in (0, 1):
                raise SystemExit(f"bench_peer: {' '.join(cmd)} failed with exit code {code}")
            side.seconds.append(seconds)
            side.peak_kib = max(side.peak_kib, peak)
    return sides


def cases_of(ws: Path, env: dict[str, str]) -> list[dict[str, object]]:
    out = subprocess.run(
        [CLI, "list", "--all", "--limit", "0", "--json"], cwd=ws, env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"bench_peer: cannot list {ws}: {out.stderr.strip()}")
    return list(json.loads(out.stdout))


def load_taskwarrior(rows: list[dict[str, object]], folder: Path) -> dict[str, str]:
    """A taskwarrior data folder with one task per case; its environment."""
    rc = folder / "taskrc"
    env = {**os.environ, "TASKRC": str(rc), "TASKDATA": str(folder / "data")}
    marker = folder / "loaded.txt"
    if marker.is_file() and marker.read_text() == str(len(rows)):
        return env  # loaded on an earlier run
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "data").mkdir(parents=True)
    rc.write_text("confirmation=off\nverbose=nothing\nnews.version=2.6.2\n")
    tasks = []
    for row in rows:
        opened = str(row["opened_at"])[:19].replace("-", "").replace(":", "") + "Z"
        task = {
            "description": str(row["summary"]),
            "project": str(row["category"]),
            "tags": [str(row["severity"]), str(row["owner"]).split("@")[0]],
            "entry": opened,
            "status": "completed" if row.get("resolution") else "pending",
        }
        if task["status"] == "completed":
            task["end"] = (
                str(row.get("closed_at") or row["opened_at"])[:19].replace("-", "").replace(":", "") + "Z"
            )
        tasks.append(task)
    source = folder / "tasks.json"
    source.write_text(json.dumps(tasks))
    started = time.perf_counter()
    subprocess.run(["task", "import", str(source)], env=env, check=True, stdout=subprocess.DEVNULL)
    print(
        f"  loaded {len(tasks)} tasks into taskwarrior in {time.perf_counter() - started:.0f} s", flush=True
    )
    marker.write_text(str(len(rows)))
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspaces", nargs="+", type=Path, help="workspaces made by bench_scale.py --keep")
    parser.add_argument("-n", type=int, default=9, help="runs of each side (after one warm-up)")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "bench-peer")
    args = parser.parse_args(argv)
    if not shutil.which("task"):
        print("bench_peer: taskwarrior is not installed (Debian: apt-get install taskwarrior); skipped")
        return 0
    version = subprocess.run(["task", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"complaintctl vs taskwarrior {version}: median of {args.n} alternating runs, peak memory")
    if not GNU_TIME:
        print("(no /usr/bin/time, Debian's 'time': peak memory includes this script's own)")
    print()
    lines = []
    for ws in args.workspaces:
        ws = ws.resolve()
        env = {**os.environ, "COMPLAINTCTL_USER": "alice@example.com", "NO_COLOR": "1"}
        rows = cases_of(ws, env)
        size = len(rows)
        open_rows = [r for r in rows if not r.get("resolution")]
        tw = load_taskwarrior(rows, args.data / f"tw-{size}")
        tw_env = {**env, **tw}
        case_id = str(open_rows[-1]["id"])
        category = str(open_rows[-1]["category"])
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ws, capture_output=True, text=True
        ).stdout.strip()
        pairs = [
            (
                "list (open queue, 50 rows)",
                [CLI, "list"],
                ["task", "rc.defaultwidth=200", "limit:50", "list"],
            ),
            ("list, every open row", [CLI, "list", "--limit", "0"], ["task", "rc.defaultwidth=200", "list"]),
            (
                "list one category",
                [CLI, "list", "--category", category, "--limit", "0"],
                ["task", "rc.defaultwidth=200", f"project:{category}", "list"],
            ),
            ("count open (--status open)", [CLI, "list", "--status", "open", "--json"], ["task", "count"]),
            ("show one", [CLI, "show", case_id], ["task", "1", "info"]),
            ("note vs add", [CLI, "note", case_id, "Called back"], ["task", "add", "Called back"]),
        ]
        try:
            for label, ours, theirs in pairs:
                a, b = pair(ours, theirs, tw_env, ws, args.n)
                lines.append((size, label, a, b))
                print(
                    f"{size:>7}  {label:<28} {a.median * 1000:8.0f} ms {a.peak_kib / 1024:6.0f} MiB"
                    f"   {b.median * 1000:8.0f} ms {b.peak_kib / 1024:6.0f} MiB   {a.median / b.median:5.2f}",
                    flush=True,
                )
        finally:
            subprocess.run(["git", "reset", "-q", "--keep", head], cwd=ws, check=True)
    print("\nsize     work                          complaintctl            taskwarrior             ratio")
    for size, label, a, b in lines:
        print(
            f"{size:>7}  {label:<28} {a.median * 1000:8.0f} ms {a.peak_kib / 1024:6.0f} MiB"
            f"   {b.median * 1000:8.0f} ms {b.peak_kib / 1024:6.0f} MiB   {a.median / b.median:5.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
