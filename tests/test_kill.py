"""Changing commands killed at every step (SIGKILL: no clean-up runs).

A stand-in 'git' on PATH runs the real git, and kills the complaintctl
process that called it just before or just after its N-th git call, for
every N the command makes. Whatever a kill leaves, 'check' names it,
'repair' puts it back, and the workspace is then clean, checks clean and
verifies; a command killed after its commit is simply done.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Workspace, git, open_args

pytestmark = pytest.mark.slow

# The count is kept under a lock (mkdir is atomic): a command runs some of
# its gits at once, and a count read while another writes it reads nothing.
STAND_IN = """#!/bin/sh
while ! mkdir "$KILL_COUNTER.lock" 2>/dev/null; do sleep 0.01; done
n=$(($(cat "$KILL_COUNTER") + 1))
echo $n > "$KILL_COUNTER"
rmdir "$KILL_COUNTER.lock"
if [ "$n" = "$KILL_AT" ] && [ "$KILL_WHEN" = before ]; then kill -9 $PPID; exit 1; fi
"$REAL_GIT" "$@"
code=$?
if [ "$n" = "$KILL_AT" ] && [ "$KILL_WHEN" = after ]; then kill -9 $PPID; fi
exit $code
"""


class Killer:
    def __init__(self, ws: Workspace, tmp: Path) -> None:
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        (bin_dir / "git").write_text(STAND_IN)
        (bin_dir / "git").chmod(0o755)
        self.counter = tmp / "counter"
        self.env = {
            **os.environ,
            "COMPLAINTCTL_ROOT": str(ws.root),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "REAL_GIT": shutil.which("git") or "git",
            "KILL_COUNTER": str(self.counter),
        }

    def run(self, words: list[str], at: int = 0, when: str = "before") -> tuple[int, int]:
        """(exit code, git calls made); at=0 kills nothing."""
        self.counter.write_text("0")
        env = {**self.env, "KILL_AT": str(at), "KILL_WHEN": when}
        # In a process group of its own, so that the gits a killed command
        # had running (it runs some at once) can be waited for: they go on
        # to the end, as they would, before anything looks at the workspace.
        proc = subprocess.Popen(
            [sys.executable, "-m", "complaintctl", *words],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        code = proc.wait()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("a git the command started is still running after 60 s")
        return code, int(self.counter.read_text())


def _cli(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COMPLAINTCTL_ROOT": str(ws.root)}
    return subprocess.run(
        [sys.executable, "-m", "complaintctl", *args], env=env, capture_output=True, text=True
    )


def _status(ws: Workspace) -> str:
    return git(ws.root, "status", "--porcelain=v1", "--untracked-files=all").strip()


@pytest.mark.parametrize("command", ["note", "open"])
def test_a_command_killed_at_every_git_step_is_named_by_check_and_undone_by_repair(
    run: Any, ws: Workspace, tmp_path: Path, command: str
) -> None:
    case_id = run(*open_args()).stdout.strip()
    killer = Killer(ws, tmp_path)
    n = 0

    def words() -> list[str]:
        nonlocal n
        n += 1
        if command == "note":
            return ["note", case_id, f"note {n}"]
        return open_args(customer=f"Customer {n}", phone=f"1380000{n:04d}", at=f"2026-11-21T{n % 24:02d}:00")

    code, calls = killer.run(words())
    assert code == 0 and calls >= 3
    left = 0
    for at in range(1, calls + 1):
        for when in ("before", "after"):
            commits = ws.commits()
            code, made = killer.run(words(), at, when)
            # (open reads fewer git calls once the case index is warm)
            assert code == (-9 if made >= at else 0), (at, when, made)
            if _status(ws):
                left += 1
                check = _cli(ws, "check")
                assert check.returncode == 1 and check.stdout, (at, when, _status(ws))
                repair = _cli(ws, "repair")
                assert repair.returncode == 0 and repair.stdout, repair.stderr
            assert _status(ws) == "", (at, when)
            assert _cli(ws, "check").returncode == 0, (at, when)
            assert ws.commits() in (commits, commits + 1)
    assert left > 0  # some kill landed between writing and committing
    assert _cli(ws, "verify").returncode == 0
    assert _cli(ws, *words()).returncode == 0  # and work goes on
