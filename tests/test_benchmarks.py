"""The benchmarks' workspace builder still builds: its replay check (generated
cases == what the CLI writes) passes, every file it writes is what
``dump_case`` writes, and the workspace it leaves passes ``check``.

The builder plays cases through the service's own functions, so a change of
their signatures breaks it; the benchmarks themselves are never run as tests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_the_bench_workspace_builder_builds_a_workspace_check_passes(tmp_path: Path) -> None:
    # The builder dates its cases up to now; the tests' pinned clock is not its.
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop("COMPLAINTCTL_NOW")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_scale.py"),
            "--build-only",
            "--keep",
            str(tmp_path / "bench"),
            "--sizes",
            "300",
            "--verify-every",
            "1",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(
        r"^replay check \(generated files == files the CLI writes\): OK \(4 cases", done.stdout, re.M
    )
    built = re.search(r"built: \d+ commits, (\d+) files checked == dump_case", done.stdout)
    assert built is not None, done.stdout
    ws = tmp_path / "bench" / "ws-300"
    cases = list((ws / "cases").rglob("*.yaml"))
    assert len(cases) == 300
    assert int(built.group(1)) == 300  # every case file
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=ws, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""
    check = subprocess.run(
        [str(Path(sys.executable).parent / "complaintctl"), "check", "--root", str(ws)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
