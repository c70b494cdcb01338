"""Team benchmark: complaintctl sync and verify.

Run from the repository root:

    .venv/bin/python benchmarks/bench_team.py [--sizes 1000,10000] [--commits 200,1000,5000]
                                              [--repeat N] [--keep DIR]

sync: for each size, a workspace is built as bench_scale.py builds it (fast-import
commits), cloned bare as the shared remote, and cloned twice (teammates A and B,
each with 'complaintctl setup'). Then the real CLI is timed in subprocesses: a
sync with nothing to do, and syncs that have to merge what the two clones did
concurrently (notes made through complaintctl's own service functions, with
--at times after each case's last event).

verify: a history made by the tool itself (every commit from
``changes.open_case`` / ``change_case`` / ``agree_case``, so every commit carries
real trailers), grown to each --commits size in turn, and ``complaintctl verify``
timed over it.

It prints figures only and always exits 0. Everything runs under /tmp (or
--keep DIR) with an isolated git config, so it works with no git identity.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import bench_scale  # beside this file: its workspace builder, case generator and environment
from bench_scale import CLI, fmt, git, isolate_env

from complaintctl.core import events, times
from complaintctl.errors import ComplaintError
from complaintctl.service import admin, changes
from complaintctl.store import policyfile as policy_mod
from complaintctl.store import workspace

ALICE, BOB = "alice@example.com", "bob@example.com"  # teammate A and teammate B
SPREAD = 20  # cases each side changes in the 20-case figures


@dataclass
class Figure(bench_scale.Timed):
    scale: str
    label: str
    times: list[float]
    note: str = ""


@dataclass
class Run:
    elapsed: float
    code: int
    out: str
    err: str


def cli(*args: str, root: Path | None = None, actor: str | None = None) -> Run:
    """One complaintctl subprocess, timed (wall clock)."""
    cmd = [CLI, *args, *(["--root", str(root)] if root else []), *(["--as", actor] if actor else [])]
    t = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return Run(time.perf_counter() - t, result.returncode, result.stdout, result.stderr)


def timed_git(root: Path, *args: str) -> float:
    t = time.perf_counter()
    git(root, *args)
    return time.perf_counter() - t


def complain(what: str, run: Run) -> None:
    print(f"  {what}: exit {run.code}: {(run.err or run.out).strip()[:400]}", flush=True)


# ---------------------------------------------------------------- sync


def last_event(root: Path, case_id: str) -> tuple[datetime, Any]:
    _rel, _text, doc = workspace.load_case(workspace.find_workspace(str(root)), case_id)
    return times.parse_time(doc["events"][-1]["at"]), doc


def add_note(root: Path, case_id: str, actor: str, at: datetime, text: str) -> None:
    """One 'note' commit, as 'complaintctl note ID TEXT --at AT --as ACTOR' makes it (in process)."""
    ctx = changes.context(str(root), actor, times.format_time(at))
    changes.change_case(ctx, case_id, lambda p, c, a, t, n: events.Note(text).decide(p, c, a, t, n))


class Team:
    """A bare remote and two set-up clones of one workspace."""

    def __init__(self, home: Path, ws: Path) -> None:
        self.phases: dict[str, float] = {}
        t = time.perf_counter()
        self.remote = home / "remote.git"
        git(home, "clone", "--quiet", "--bare", str(ws), str(self.remote))
        self.phases["bare clone"] = time.perf_counter() - t
        t = time.perf_counter()
        self.a, self.b = home / "clone-a", home / "clone-b"
        for clone in (self.a, self.b):
            git(home, "clone", "--quiet", str(self.remote), str(clone))
        self.phases["2 clones"] = time.perf_counter() - t
        t = time.perf_counter()
        for clone, actor in ((self.a, ALICE), (self.b, BOB)):
            done = cli("setup", root=clone, actor=actor)
            if done.code != 0:
                complain("setup", done)
            git(clone, "status", "--porcelain")  # a user's first status (it refreshes the index)
        self.phases["2 setups"] = time.perf_counter() - t
        self.base = git(self.b, "rev-parse", "HEAD").strip()
        self.round = 0

    def sync(self, clone: Path) -> Run:
        done = cli("sync", root=clone, actor=ALICE if clone == self.a else BOB)
        if done.code != 0:
            complain(f"sync in {clone.name}", done)
        return done

    def both_change(self, ours: Sequence[str], theirs: Sequence[str]) -> Run:
        """A notes ``theirs`` and syncs; B notes ``ours``; B's sync is timed; then A catches up."""
        self.round += 1
        for clone, actor, ids, minutes in ((self.a, ALICE, theirs, 2), (self.b, BOB, ours, 1)):
            for case_id in ids:
                last, _doc = last_event(clone, case_id)
                text = f"Bench round {self.round}: {actor.split('@')[0]} checked the file"
                add_note(clone, case_id, actor, last + timedelta(minutes=minutes), text)
            if clone == self.a:
                self.sync(self.a)
        timed = self.sync(self.b)
        self.sync(self.a)  # fast-forward: both clones even again
        return timed


def pick_cases(team: Team, candidates: Sequence[str], wanted: int) -> list[str]:
    """Open cases both teammates may note on."""
    chosen = []
    for case_id in candidates:
        _last, doc = last_event(team.a, case_id)
        if BOB not in (doc.get("subject_staff") or ()) and doc["state"] in ("open", "in-progress"):
            chosen.append(case_id)
        if len(chosen) == wanted:
            break
    return chosen


def measure_sync(home: Path, size: int, end: datetime, n: int) -> list[Figure]:
    scale = f"{size:,} cases"
    ws = home / "ws"
    built = bench_scale.build_workspace(ws, size, end, exact=False, verify_every=20)
    phases = ", ".join(f"{k} {fmt(v)}" for k, v in built.phases.items())
    figures = [Figure(scale, "build workspace (bench_scale)", [built.phases["total"]], phases)]
    print(f"   built: {built.commits} commits; {phases}", flush=True)
    team = Team(home, ws)
    shutil.rmtree(ws, ignore_errors=True)  # the remote and the clones are all we need
    phases = ", ".join(f"{k} {fmt(v)}" for k, v in team.phases.items())
    figures.append(Figure(scale, "remote + 2 clones + setup", [sum(team.phases.values())], phases))

    # (a) nothing to do.
    for clone in (team.a, team.b):
        team.sync(clone)  # warm-up: the first status after a clone writes the split index
    runs = [team.sync(team.b) for _ in range(n)]
    said = Counter(r.out.strip() for r in runs).most_common(1)[0][0]
    figures.append(Figure(scale, "(a) sync, up to date", [r.elapsed for r in runs], f"says '{said}'"))
    times = [timed_git(team.b, "fetch", "--quiet", "origin") for _ in range(n)]
    figures.append(Figure(scale, "    git fetch, nothing new", times, "the floor of (a)"))
    times = [timed_git(team.b, "status", "--porcelain") for _ in range(n)]
    figures.append(Figure(scale, "    git status", times, ""))

    cases = pick_cases(team, built.open_ids, 3 * SPREAD + 1)
    spread = min(SPREAD, (len(cases) - 1) // 2)
    if spread < 1:
        raise SystemExit(f"only {len(cases)} open case(s) to note on; build a bigger workspace")
    single, ours, theirs = cases[:1], cases[1 : 1 + spread], cases[1 + spread : 1 + 2 * spread]
    same = cases[1 + 2 * spread : 1 + 3 * spread]
    if len(same) < spread:  # a small workspace: the (c) cases again (the rounds are separate)
        same = ours
    if spread < SPREAD:
        print(f"  only {len(cases)} open cases to note on: {spread} per side, not {SPREAD}", flush=True)

    # (b) one case noted on both sides: fetch, event merge, merge commit, push.
    figures.append(scenario(scale, "(b) sync, merge 1 case", n, lambda: team.both_change(single, single), 1))
    # (c) different cases on each side: a merge commit, no case merged.
    label = f"(c) sync, {spread}+{spread} other cases"
    figures.append(scenario(scale, label, n, lambda: team.both_change(ours, theirs), 0))
    # (d) the same cases on both sides: one event merge per case, all in one merge commit.
    label = f"(d) sync, merge {spread} cases"
    figures.append(scenario(scale, label, n, lambda: team.both_change(same, same), spread))

    # (e) what sync wrote must pass verify: every note and merge commit since the clones were made.
    commits = int(git(team.b, "rev-list", "--count", f"{team.base}..HEAD"))
    merges = int(git(team.b, "rev-list", "--count", "--merges", f"{team.base}..HEAD"))
    done = cli("verify", "--since", team.base, root=team.b)
    found = len(done.out.splitlines())
    per = done.elapsed / max(1, commits) * 1000
    note = f"{commits} commits ({merges} merges), {per:.2f} ms a commit: exit {done.code}, {found} problem(s)"
    if done.code != 0:
        complain("verify after the syncs", done)
    figures.append(Figure(scale, "(e) verify --since the clone", [done.elapsed], note))
    for clone in (team.a, team.b):
        dirty = git(clone, "status", "--porcelain", "--untracked-files=all").strip()
        if dirty:
            print(f"  WARNING: {clone.name} not clean after syncing: {dirty[:300]}", flush=True)
    return figures


def scenario(scale: str, label: str, n: int, one: Callable[[], Run], merged: int) -> Figure:
    """n timed rounds after one untimed warm-up; checks each said what it should."""
    one()
    runs = [one() for _ in range(n)]
    wrong = [r for r in runs if r.code != 0 or r.out.count("Merged concurrent changes on") != merged]
    note = f"{merged} case(s) merged in each run"
    if wrong:
        note += f"; {len(wrong)} run(s) said otherwise: {wrong[0].out.strip()[:200]!r}"
    return Figure(scale, label, [r.elapsed for r in runs], note)


# ---------------------------------------------------------------- verify


class History:
    """A workspace whose every commit the tool made: generated case stories played in time order."""

    def __init__(self, ws: Path, end: datetime, most: int) -> None:
        self.root = admin.init_workspace(ws, policy_file=workspace.defaults_dir() / "policy.yaml")
        self.ws = workspace.find_workspace(str(self.root))
        policy = self.ws.policy
        gen = bench_scale.Generator(policy, max(20, most // 5), end, seed=11)
        gen.pool = 10**9  # no repeat complainers: the tool's repeat lookup would differ from the generator's
        gen.record = True
        steps = []
        for _day, _last, batch in gen.days():
            for case in batch:
                for i, step in enumerate(gen.steps[case["id"]]):
                    steps.append((step[1], case["id"], i, step))
        steps.sort(key=lambda s: (s[0], s[1], s[2]))
        self.steps = [(gid, step) for _at, gid, _i, step in steps]
        self.next = 0
        self.ids: dict[str, str] = {}
        self.dead: set[str] = set()
        self.refused: Counter[str] = Counter()
        self.now = times.now(policy.timezone)
        self.spent = 0.0

    def commits(self) -> int:
        return int(git(self.root, "rev-list", "--count", "HEAD"))

    def grow(self, total: int) -> int:
        """Play steps until the history has ``total`` commits (or the stories run out)."""
        t = time.perf_counter()
        have = self.commits()
        while have < total and self.next < len(self.steps):
            gid, (command, at, actor, kwargs) = self.steps[self.next]
            self.next += 1
            if gid in self.dead:
                continue
            ctx = changes.Context(self.ws, actor, at, self.now)
            try:
                if command == "open":
                    self.ids[gid] = changes.open_case(ctx, kwargs["new"]).case_id
                elif command == "agree":
                    agreed = events.Agree(None, kwargs["signed_by"], kwargs["channel"])
                    changes.agree_case(ctx, self.ids[gid], agreed)
                else:
                    changes.change_case(ctx, self.ids[gid], events.EVENTS[command](**kwargs))
                have += 1
            except ComplaintError as exc:
                self.refused[f"{command}: {exc.what[:80]}"] += 1
                self.dead.add(gid)
        self.spent += time.perf_counter() - t
        return have


def measure_verify(home: Path, sizes: list[int], end: datetime, n: int) -> list[Figure]:
    history = History(home / "history", end, max(sizes))
    figures = []
    for size in sorted(sizes):
        have = history.grow(size)
        rate = history.spent / max(1, have - 1)
        print(
            f"   history: {have} commits (building: {fmt(history.spent)}, {fmt(rate)} a commit)", flush=True
        )
        if have < size:
            print(f"  the generated stories ran out at {have} commits", flush=True)
        runs = [cli("verify", root=history.root) for _ in range(n + 1)][1:]  # first run: warm-up
        bad = [r for r in runs if r.code != 0]
        if bad:
            complain("verify", bad[0])
        per = statistics.median(r.elapsed for r in runs) / have
        note = (
            f"{per * 1000:.2f} ms a commit; exit {runs[0].code}, {len(runs[0].out.splitlines())} problem(s)"
        )
        figures.append(
            Figure(f"{have:,} commits", "(f) verify, whole history", [r.elapsed for r in runs], note)
        )
    if history.refused:
        print(f"  steps the tool refused (their cases stopped there): {dict(history.refused)}", flush=True)
    cases = len(history.ids)
    played = Counter(step[1][0] for step in history.steps[: history.next])
    kinds = ", ".join(f"{k} {v}" for k, v in played.most_common())
    figures.append(Figure("-", "    building that history", [history.spent], f"{cases} cases; {kinds}"))
    return figures


# ---------------------------------------------------------------- printing


def print_table(figures: list[Figure]) -> None:
    head = f"{'scale':>14}  {'figure':<32} {'median':>9} {'min':>9} {'runs':>4}  note"
    print(head)
    print("-" * len(head))
    last = None
    for f in figures:
        if last is not None and f.scale != last and not f.label.startswith(" "):
            print()
        last = f.scale
        runs = len(f.times)
        least = fmt(f.least) if runs > 1 else ""
        print(f"{f.scale:>14}  {f.label:<32} {fmt(f.median):>9} {least:>9} {runs:>4}  {f.note}")


# ---------------------------------------------------------------- main


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def section(name: str, figures: list[Figure], work: Callable[[], list[Figure]]) -> None:
    """Run one part; a failure is printed and the benchmark goes on."""
    try:
        figures += work()
    except (Exception, SystemExit) as exc:  # bench_scale.git raises SystemExit on a git failure
        print(f"  {name} FAILED: {exc!r}", flush=True)
        traceback.print_exc(limit=4)
        figures.append(Figure(name, "FAILED", [0.0], repr(exc)[:200]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes", default="1000,10000", help="cases in the sync workspaces (comma-separated)"
    )
    parser.add_argument(
        "--commits", default="200,1000,5000", help="commits in the verify history (comma-separated; 0: none)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per timed figure (median and min)")
    parser.add_argument("--keep", type=Path, help="work here (DIR/sync-SIZE, DIR/verify) and keep it")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip() and int(s) > 0]
    commits = [int(s.replace("_", "")) for s in args.commits.split(",") if s.strip() and int(s) > 0]
    n = max(1, args.repeat)

    tmp = Path(tempfile.mkdtemp(prefix="complaintctl-bench-team-", dir="/tmp"))
    home = args.keep.expanduser().resolve() if args.keep else tmp
    started = time.perf_counter()
    try:
        isolate_env(tmp)
        policy = policy_mod.load(workspace.defaults_dir() / "policy.yaml")
        end = datetime.now(ZoneInfo(policy.timezone)).replace(microsecond=0) - timedelta(hours=1)
        print(
            f"complaintctl team benchmark: sync at {sizes} cases, verify at {commits} commits, {n} runs each"
        )
        print(
            f"{os.cpu_count()} cores, git {git(tmp, 'version').split()[-1]}, python {sys.version.split()[0]}"
        )
        print(
            f"work folder {home}; load average {load()} (other work on the machine skews the figures)",
            flush=True,
        )
        figures = [Figure("-", "complaintctl --help", [cli("--help").elapsed for _ in range(n + 1)][1:])]
        for size in sizes:
            where = home / f"sync-{size}"
            if where.exists():
                raise SystemExit(f"{where} exists; give --keep a new folder")
            where.mkdir(parents=True)
            print(f"\n== sync at {size:,} cases in {where}", flush=True)
            section(f"{size:,} cases", figures, functools.partial(measure_sync, where, size, end, n))
            if not args.keep:
                shutil.rmtree(where, ignore_errors=True)
        if commits:
            where = home / "verify"
            if where.exists():
                raise SystemExit(f"{where} exists; give --keep a new folder")
            where.mkdir(parents=True)
            print(f"\n== verify over a history of up to {max(commits):,} commits in {where}", flush=True)
            section("verify", figures, lambda: measure_verify(where, commits, end, n))
        print(f"\ntotal {fmt(time.perf_counter() - started)}; load average now {load()}\n")
        print_table(figures)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
