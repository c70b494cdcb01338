"""Every speed target of the project in one run, before and after a change.

Run from the repository root, on workspaces made by ``bench_scale.py --keep``
(a 10k and a 100k one), with an earlier version of the code checked out
beside this one:

    .venv/bin/python benchmarks/bench_scale.py --sizes 10000,100000 --keep /tmp/bench
    git worktree add /tmp/before <commit>
    .venv/bin/python benchmarks/bench_targets.py /tmp/bench/ws-10000 /tmp/bench/ws-100000 --before /tmp/before

With ``--before-spaces`` the earlier code works in its own copies of the
two workspaces (cp -a), so that an index or report-sums format that differs
between the two versions is not rebuilt by each side in turn.

Each row times one piece of work as a whole process, its two sides run
alternately (A, B, A, B, ...) with a warm-up each, and prints the medians,
the largest peak memory (GNU time, Debian's 'time') and the ratio; with
``--before`` each complaintctl figure is also taken with that code
(``PYTHONPATH``; with ``--before-python``, under a venv holding the
dependencies that code installs), so the table shows before and after on
the same machine in the same run. The peer is taskwarrior 2.6 (``apt-get install
taskwarrior``): its rows are left out, with a message, where it is missing.
Changing commands are put back afterwards (``git reset --keep``). With
``--only REGEX`` only the rows whose label matches are timed (say, those a
change touched: ``--only '100k: list'``). It prints
figures and OK/OVER against the targets; it never fails on a slow figure.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_peer import GNU_TIME, Side, cases_of, load_taskwarrior, timed

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable


@dataclass
class Row:
    label: str
    target: str = ""
    figures: dict[str, Side] = field(default_factory=dict)  # "after", "before", "peer", ...
    verdict: Callable[[dict[str, Side]], bool | None] | None = None


def cli(source: Path, *words: str, python: str = PY) -> list[str]:
    """complaintctl from ``source`` (its own package first on the path)."""
    return ["env", f"PYTHONPATH={source}", python, "-P", "-m", "complaintctl", *words]


def alternate(cmds: dict[str, list[str]], env: dict[str, str], cwd: Path, n: int) -> dict[str, Side]:
    sides = {name: Side([], 0) for name in cmds}
    for cmd in cmds.values():
        timed(cmd, env, cwd)
    for _ in range(n):
        for name, cmd in cmds.items():
            seconds, peak, code = timed(cmd, env, cwd)
            if code not in (0, 1, 2):  # 2: the refused commands' usage errors
                raise SystemExit(f"bench_targets: {' '.join(cmd)} failed with exit code {code}")
            sides[name].seconds.append(seconds)
            sides[name].peak_kib = max(sides[name].peak_kib, peak)
    return sides


def plumbing_floor(ws: Path, rel: str) -> list[str]:
    """One change committed with four git plumbing calls (update-index,
    write-tree, commit-tree, update-ref): what a commit costs git itself."""
    script = (
        f'printf "\\n" >> {rel} && git update-index -- {rel} && t=$(git write-tree) && '
        'c=$(echo floor | git commit-tree "$t" -p HEAD) && git update-ref HEAD "$c"'
    )
    return ["sh", "-c", script]


def porcelain(ws: Path, rel: str) -> list[str]:
    return ["sh", "-c", f'printf "\\n" >> {rel} && git add -- {rel} && git commit -q -m baseline']


def ms(side: Side) -> str:
    return f"{side.median * 1000:8.0f} ms {side.peak_kib / 1024:5.0f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("small", type=Path, help="the 10k workspace")
    parser.add_argument("big", type=Path, help="the 100k workspace")
    parser.add_argument("--before", type=Path, help="an earlier checkout of complaintctl to compare with")
    parser.add_argument(
        "--before-python",
        default=PY,
        help="the Python of a venv with the earlier checkout's own dependencies (default: this one's)",
    )
    parser.add_argument(
        "--before-spaces",
        nargs=2,
        type=Path,
        metavar=("SMALL", "BIG"),
        help="copies of the two workspaces for the earlier code (--root): each side keeps its own"
        " index, so two formats of it never rebuild each other between runs",
    )
    parser.add_argument("-n", type=int, default=7, help="runs of each side (after one warm-up)")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="also time the cold index build, and a check on a lost index, at 100k (minutes)",
    )
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "bench-peer")
    parser.add_argument(
        "--only",
        type=re.compile,
        metavar="REGEX",
        help="time only the rows whose label this matches (re.search), e.g. '100k: list' or 'note'",
    )
    args = parser.parse_args(argv)
    env = {**os.environ, "COMPLAINTCTL_USER": "alice@example.com", "NO_COLOR": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled once, as after an install
    versions = {"after": REPO, **({"before": args.before.resolve()} if args.before else {})}
    peer = shutil.which("task")
    if not peer:
        print("taskwarrior is not installed (Debian: apt-get install taskwarrior): its rows are left out")
    if not GNU_TIME:
        print("(no /usr/bin/time, Debian's 'time': peak memory includes this script's own)")
    print(f"median of {args.n} alternating runs after a warm-up each; peak memory is the largest run's\n")
    rows: list[Row] = []
    spaces = {"10k": args.small.resolve(), "100k": args.big.resolve()}
    # The earlier code's own copies of the workspaces, if given.
    theirs_too = dict(zip(spaces, [p.resolve() for p in args.before_spaces or ()], strict=False))
    heads = {
        size: subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ws, capture_output=True, text=True
        ).stdout.strip()
        for size, ws in spaces.items()
    }

    # Each row's changes are put back to these heads in both copies: a copy at
    # another commit could not be (git reset names an unknown object) mid-run.
    for size, theirs_ws in theirs_too.items():
        their_head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=theirs_ws, capture_output=True, text=True
        ).stdout.strip()
        if their_head != heads[size]:
            raise SystemExit(
                f"{theirs_ws} is at {their_head[:12] or 'no commit'}, {spaces[size]} at {heads[size][:12]}: "
                "make the copy again (cp -a) so that both start at the same commit"
            )

    def reset(size: str) -> None:
        for ws in (spaces[size], *([theirs_too[size]] if size in theirs_too else [])):
            subprocess.run(["git", "reset", "-q", "--hard", heads[size]], cwd=ws, check=True)

    def run(
        label: str,
        target: str,
        cwd: Path,
        cmds: dict[str, list[str]],
        verdict: Callable[..., bool | None] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        if args.only and not args.only.search(label):
            return
        sides = alternate(cmds, {**env, **(extra_env or {})}, cwd, args.n)
        row = Row(label, target, sides, verdict)
        rows.append(row)
        show(row)

    def ours(*words: str, size: str | None = None) -> dict[str, list[str]]:
        """complaintctl's sides; with a size, the earlier code in its own copy (--before-spaces)."""
        elsewhere = ["--root", str(theirs_too[size])] if size in theirs_too else []
        return {
            name: cli(
                src,
                *words,
                *(elsewhere if name == "before" else []),
                python=args.before_python if name == "before" else PY,
            )
            for name, src in versions.items()
        }

    def theirs(*words: str) -> dict[str, list[str]]:
        """taskwarrior's side of a row (none where it is missing)."""
        return {"peer": ["task", *words]} if peer else {}

    try:
        notes: dict[str, dict[str, Side]] = {}
        for size, ws in spaces.items():
            listing = cases_of(ws, env)
            open_ids = [str(r["id"]) for r in listing if not r.get("resolution")]
            case_id = open_ids[-1]
            rel = subprocess.run(
                ["git", "ls-files", f"cases/*/*/{case_id}.yaml"], cwd=ws, capture_output=True, text=True
            ).stdout.strip()
            tw_env = load_taskwarrior(listing, args.data / f"tw-{len(listing)}") if peer else {}
            note = ours("note", case_id, "Called back", size=size)
            # The least any Python tool committing a change through git can
            # take: the interpreter's start, then git's four plumbing calls.
            floor = ["sh", "-c", f"{shlex.quote(PY)} -c pass && {plumbing_floor(ws, rel)[2]}"]
            cmds = {**note, **theirs("add", "Called back"), "floor: python + plumbing": floor}
            run(
                f"{size}: note vs task add",
                "<= 1.3x peer at 10k",
                ws,
                cmds,
                extra_env=tw_env,
                verdict=(lambda s: s["after"].median <= 1.3 * s["peer"].median)
                if peer and size == "10k"
                else None,
            )
            if rows and rows[-1].label == f"{size}: note vs task add":
                notes[size] = rows[-1].figures
                if "peer" in notes[size]:
                    low = notes[size]["floor: python + plumbing"].median / notes[size]["peer"].median
                    print(f"  {size}: the floor alone is {low:.2f}x task add (the target: note <= 1.3x)")
            run(f"{size}: note vs git add + commit", "", ws, {**note, "git": porcelain(ws, rel)})
            run(f"{size}: note vs git plumbing", "", ws, {**note, "git": plumbing_floor(ws, rel)})
            reset(size)
            run(
                f"{size}: list (open queue)",
                "<= 0.5 s, 150 MiB at 100k",
                ws,
                {**ours("list", size=size), **theirs("rc.defaultwidth=200", "limit:50", "list")},
                extra_env=tw_env,
                verdict=_fits(0.5, 150) if size == "100k" else None,
            )
            run(
                f"{size}: list --status open --json",
                "<= 0.5 s, 150 MiB at 100k",
                ws,
                {**ours("list", "--status", "open", "--json", size=size), **theirs("count")},
                extra_env=tw_env,
                verdict=_fits(0.5, 150) if size == "100k" else None,
            )
            run(
                f"{size}: report (warm)",
                "<= 0.5 s at 100k",
                ws,
                {**ours("report", size=size), **theirs("count")},
                extra_env=tw_env,
                verdict=_fits(0.5, None) if size == "100k" else None,
            )
            phone = "139" + str(time.time_ns())[-8:]
            opened = [
                "open",
                "--customer",
                "Bench",
                "--channel",
                "phone",
                "--category",
                "billing",
                "--summary",
                "Charged twice",
                "--demand",
                "Refund",
            ]
            run(
                f"{size}: open --phone vs open",
                "<= 1.2x, 100 MiB at 100k",
                ws,
                {
                    **ours(*opened, "--phone", phone, size=size),
                    **{f"{k} no contact": v for k, v in ours(*opened, size=size).items()},
                },
                verdict=(
                    lambda s: (
                        s["after"].median <= 1.2 * s["after no contact"].median
                        and s["after"].peak_kib <= 100 * 1024
                    )
                )
                if size == "100k"
                else None,
            )
            reset(size)
            # A case on a matter: its severity weighs the matter's other cases.
            on_matter = subprocess.run(
                [*cli(REPO, *opened, "--matter", "bench-outage"), "--root", str(ws)],
                env=env, cwd=ws, capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            base = notes[size]["after"].median if size in notes else None  # None: not timed (--only)
            run(
                f"{size}: note on a matter case",
                "<= 1.2x note, 150 MiB at 100k",
                ws,
                {
                    k: v
                    for k, v in ours("note", on_matter, "Called back").items()
                    if k == "after" or size not in theirs_too
                },
                verdict=(
                    lambda s, base=base: s["after"].median <= 1.2 * base and s["after"].peak_kib <= 150 * 1024
                )
                if size == "100k" and base is not None
                else None,
            )
            reset(size)
            # The report's sums lost, the rows kept (as after 'list' on a fresh clone).
            sums = ws / ".git" / "complaintctl"
            lost = {
                name: [
                    "sh",
                    "-c",
                    f'rm -f "{sums}"/v*/sums-* "{sums}"/v*/memo-* "{sums}"/v*/settled.json && exec "$@"',
                    "-",
                    *cmd,
                ]
                for name, cmd in ours("report").items()
                if name == "after" or size not in theirs_too
            }
            run(
                f"{size}: report, its sums lost",
                "<= 150 MiB at 100k",
                ws,
                lost,
                verdict=(lambda s: s["after"].peak_kib <= 150 * 1024) if size == "100k" else None,
            )
            reset(size)
            # The whole open queue, and every case as a document: laid out in two passes.
            for words in (["list", "--limit", "0"], ["list", "--all", "--format", "html", "--limit", "0"]):
                run(
                    f"{size}: {' '.join(words)}",
                    "<= 150 MiB at 100k",
                    ws,
                    ours(*words, size=size),
                    verdict=(lambda s: s["after"].peak_kib <= 150 * 1024) if size == "100k" else None,
                )
            run(
                f"{size}: check",
                "<= 150 MiB at 100k",
                ws,
                ours("check", size=size),
                verdict=(lambda s: s["after"].peak_kib <= 150 * 1024) if size == "100k" else None,
            )
            # A settlement agreement printed in Chinese (the bundled font on a
            # machine with none): one case, whatever the size.
            agreed = next(str(r["id"]) for r in listing if r.get("resolution") == "agreed")
            pdf = Path(tempfile.gettempdir()) / "bench-agreement.pdf"
            run(
                f"{size}: render agreement --lang zh --format pdf",
                "<= 150 MiB at 100k",
                ws,
                ours(
                    "render",
                    agreed,
                    "agreement",
                    "--lang",
                    "zh",
                    "--format",
                    "pdf",
                    "-o",
                    str(pdf),
                    size=size,
                ),
                verdict=(lambda s: s["after"].peak_kib <= 150 * 1024) if size == "100k" else None,
            )
            # A team change, then the queue: the index is kept (the code before
            # 23c040c rebuilt every row, ~200 s at 100k, so it has no side here).
            # Each run adds another member, so nothing is put back between runs:
            # a 'git reset' there was the row's peak memory (~220 MiB at 100k).
            add = cli(REPO, "team", "add")
            team = [
                "sh",
                "-c",
                f'COMPLAINTCTL_USER=dave@example.com {shlex.join(add)} "newbie-$(date +%s%N)@example.com" '
                '--name Newbie --role agent --reason Joined > /dev/null || exit 9; exec "$@"',
                "-",
                *cli(REPO, "list"),
            ]
            run(f"{size}: team add, then list", "", ws, {"after": team})
            reset(size)
        if len(notes) == 2:  # both note rows were timed (--only)
            ratio = notes["100k"]["after"].median / notes["10k"]["after"].median
            verdict = "OK" if ratio <= 1.2 else "OVER"
            print(f"\nnote at 100k / note at 10k: {ratio:.2f} (target <= 1.2: {verdict})")
            if "before" in versions:
                old = notes["100k"]["before"].median / notes["10k"]["before"].median
                print(f"  before: {old:.2f}")
        start = {"python -c pass": [PY, "-c", "pass"]}
        for words in (["--help"], ["--version"], ["note", "--help"], ["note"], ["frobnicate"]):
            run(
                f"complaintctl {' '.join(words)}",
                "<= 4x python -c pass",
                REPO,
                {**ours(*words), **start},
                verdict=lambda s: s["after"].median <= 4 * s["python -c pass"].median,
            )
        if args.cold:
            for name, src in versions.items():
                if args.only and not args.only.search(f"100k: cold index build ({name})"):
                    continue
                big = theirs_too["100k"] if name == "before" and "100k" in theirs_too else spaces["100k"]
                shutil.rmtree(big / ".git" / "complaintctl", ignore_errors=True)
                python = args.before_python if name == "before" else PY
                seconds, peak, _code = timed(cli(src, "report", python=python), env, big)
                side = Side([seconds], peak)
                row = Row(
                    f"100k: cold index build ({name})",
                    "<= 30 s",
                    {name: side},
                    _fits(30, None) if name == "after" else None,
                )
                rows.append(row)
                show(row)
            # The first 'check' on a fresh clone without the CI cache: the
            # rows, the queue database and the evidence cache all made anew.
            label = "100k: check, the index lost"
            if not args.only or args.only.search(label):
                shutil.rmtree(spaces["100k"] / ".git" / "complaintctl", ignore_errors=True)
                seconds, peak, _code = timed(cli(REPO, "check"), env, spaces["100k"])
                row = Row(label, "<= 150 MiB", {"after": Side([seconds], peak)}, _fits(math.inf, 150))
                rows.append(row)
                show(row)
    finally:
        for size in spaces:
            reset(size)
    print(f"\n{'work':<38} {'side':<20} {'median':>11} {'peak':>9}   ratio  verdict")
    for row in rows:
        show(row)
    return 0


def _fits(seconds: float, mib: int | None) -> Callable[[dict[str, Side]], bool]:
    """The 'after' side within ``seconds`` (and ``mib`` of peak memory, if given)."""
    return lambda s: s["after"].median <= seconds and (mib is None or s["after"].peak_kib <= mib * 1024)


def show(row: Row) -> None:
    first = next(iter(row.figures.values()))
    verdict = row.verdict(row.figures) if row.verdict else None
    mark = "" if verdict is None else ("OK" if verdict else "OVER")
    for i, (name, side) in enumerate(row.figures.items()):
        label = row.label if i == 0 else ""
        ratio = f"{side.median / first.median:6.2f}" if i else "      "
        tail = f"  {mark} ({row.target})" if i == 0 and row.target else ""
        print(f"{label:<38} {name:<20} {ms(side)}   {ratio}{tail}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
