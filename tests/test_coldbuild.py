"""The cold index build: on several worker processes, each month's rows
file written as soon as its last case is parsed, it writes exactly the
files and rows the one-process build writes, problems included."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from complaintctl.store import caseindex, workspace
from tests.helpers import Workspace, git
from tests.test_report import twenty  # noqa: F401  (the fixture)


def build(root: Path) -> tuple[dict[str, bytes], caseindex.Rows]:
    shutil.rmtree(root / ".git" / "complaintctl", ignore_errors=True)
    rows = caseindex.read_rows(workspace.find_workspace(str(root)))
    files = {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted((root / ".git" / "complaintctl").rglob("*.json"))
    }
    return files, rows


def test_the_parallel_build_writes_what_the_serial_one_writes(
    ws: Workspace,
    twenty: list[str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = ws.case_file(twenty[3]).with_name("C-20261001-BAD000.yaml")
    broken.write_text("schema: 1\nid: [unclosed\n")
    git(ws.root, "add", str(broken))
    git(ws.root, "commit", "-qm", "A broken file on record")
    serial = build(ws.root)
    assert any("BAD000" in p.path for p in serial[1].problems)
    assert len(serial[1].rows) == 20 and len({p.split("-")[-1] for p in serial[0]}) > 1  # several months
    monkeypatch.setattr(caseindex, "PARALLEL_FROM", 1)
    monkeypatch.setattr(caseindex, "CHUNK", 3)  # months end inside chunks and across them
    monkeypatch.setattr(caseindex, "_cores", lambda: 2)
    parallel = build(ws.root)
    assert parallel[0] == serial[0]
    assert parallel[1] == serial[1]
    state: Any = git(ws.root, "status", "--porcelain")
    assert state == ""
