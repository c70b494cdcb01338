"""The demo of the README's Quick start runs end to end as written: cases
walked through, measures carried out, an agreement and a report rendered,
verify green; and nothing but plain text reaches its log."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_runs_and_its_log_is_plain_text(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TMPDIR": str(tmp_path),
        "COMPLAINTCTL": str(Path(sys.executable).parent / "complaintctl"),
    }
    env.pop("COMPLAINTCTL_ROOT", None)
    env.pop("COMPLAINTCTL_USER", None)
    env.pop("COMPLAINTCTL_NOW", None)
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    log = done.stdout + done.stderr
    assert "\x1b" not in log  # no terminal escapes in a log
    assert "(verify: every commit in the history is one the policy allowed)" in log
    assert "Carry out measure 2" in log and "Close" in log
    (scratch,) = tmp_path.glob("complaintctl-demo.*")
    out = sorted(p.name for p in (scratch / "out").iterdir())
    assert any(name.endswith(".pdf") for name in out) and any(name.startswith("agreement") for name in out)
    shutil.rmtree(scratch)
