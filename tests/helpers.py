"""Helpers every test module shares: git, a workspace on disk, case paths,
the arguments of a typical 'open', and reading a case file back.

Fixtures live in conftest.py; plain helpers live here, imported by name.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from complaintctl.core.records import case_relpath
from complaintctl.errors import CaseFileError
from complaintctl.store import yamlio

NOW = "2026-11-22T10:00:00+08:00"
ALICE = "alice@example.com"


def example_workspace(folder: Path) -> Path:
    """A new workspace with the repository's own policy, example team included
    (alice and bob agents, carol supervisor, dave manager, erin executive and legal)."""
    from complaintctl.service import admin
    from complaintctl.store.workspace import defaults_dir

    return admin.init_workspace(folder, policy_file=defaults_dir() / "policy.yaml")


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def case_path(root: Path, case_id: str) -> Path:
    """The case file of ``case_id`` in the workspace at ``root`` (the tool's own rule)."""
    return root / case_relpath(case_id)


def read_case(root: Path, case_id: str) -> Any:
    """A case file as plain data."""
    path = case_path(root, case_id)
    return yamlio.load_plain(path.read_text(encoding="utf-8"), str(path), CaseFileError)


@dataclass
class Workspace:
    root: Path

    def commits(self) -> int:
        return int(git(self.root, "rev-list", "--count", "HEAD").strip())

    def status(self) -> str:
        return git(self.root, "status", "--porcelain", "--untracked-files=all")

    def head_subject(self) -> str:
        return git(self.root, "log", "-1", "--format=%s").strip()

    def head_message(self) -> str:
        return git(self.root, "log", "-1", "--format=%B")

    def case_file(self, case_id: str) -> Path:
        return case_path(self.root, case_id)

    def snapshot(self) -> dict[str, bytes]:
        """Every file outside .git, for 'nothing changed' assertions."""
        return {
            str(p.relative_to(self.root)): p.read_bytes()
            for p in sorted(self.root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(self.root).parts
        }


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def open_args(**over: str | bool) -> list[str]:
    fields: dict[str, str | bool] = {
        "--customer": "张三",
        "--phone": "13812341234",
        "--channel": "phone",
        "--category": "billing",
        "--summary": "Charged twice for October",
        "--demand": "Refund the extra charge",
        "--at": "2026-11-20T09:00",
    }
    fields.update({f"--{k.replace('_', '-')}": v for k, v in over.items()})
    args = ["open"]
    for key, value in fields.items():
        args += [key] if value is True else [key, str(value)]
    return args


def every_status(root: Path, as_of: str) -> tuple[Any, list[tuple[str, Any]], list[Any]]:
    """The oracle of 'overdue': (as-of moment, every case opened by then, the
    status of each) from holding every committed row at once."""
    from datetime import datetime

    from complaintctl.core import casestatus
    from complaintctl.service import reads
    from complaintctl.store import caseindex
    from complaintctl.store import workspace as wsmod

    found = wsmod.find_workspace(str(root))
    every = caseindex.read_rows(found)
    when = reads.when_of(found, as_of)
    pairs = [
        (rel, row)
        for rel, row in zip(every.paths, every.rows, strict=True)
        if datetime.fromisoformat(row["opened_at"]) <= when
    ]
    reads.attach_early(found, pairs, when)
    return (
        when,
        pairs,
        casestatus.statuses(found.policy, [row for _, row in pairs], when, caseindex.calendar(found)),
    )


class TwinWriter:
    """Every case a command rewrites is also written as before
    store/yamlemit: ruamel's round trip of the old text with the same changes
    applied; the two texts must be the same bytes, and a new case's text is
    ruamel's dump of it. ``checked`` counts the texts compared, ``fast`` the
    rewrites yamlemit wrote."""

    def __init__(self, monkeypatch: Any) -> None:
        from complaintctl.core import lifecycle
        from complaintctl.store import workspace, yamlemit

        self.checked = 0
        self.fast = 0
        text = workspace.CaseEdit.text

        def twin_text(edit: workspace.CaseEdit) -> str:
            ours = text(edit)
            self.fast += (
                isinstance(edit.data, yamlemit.Map) and yamlemit.rewrite(edit.before, edit.data) == ours
            )
            before = yamlio.load_roundtrip(edit.before, edit.rel, CaseFileError)
            for change in edit.applied:
                lifecycle.apply(before, change)
            theirs = workspace.dump_case(before)
            if ours != theirs:
                import difflib

                diff = difflib.unified_diff(
                    theirs.splitlines(), ours.splitlines(), "ruamel", "ours", lineterm=""
                )
                raise AssertionError("yamlemit and ruamel wrote different texts:\n" + "\n".join(diff))
            self.checked += 1
            return ours

        monkeypatch.setattr(workspace.CaseEdit, "text", twin_text)
        dump = workspace.dump_case

        def twin_dump(data: Any) -> str:
            """A new case ('open'): yamlemit's text, or ruamel's when it declines, is ruamel's."""
            ours = dump(data)
            if type(data) is dict:
                theirs = yamlio.dump_roundtrip(data)
                assert ours == (theirs if theirs.startswith("#") else workspace.HEADER + theirs)
                self.checked += 1
            return ours

        monkeypatch.setattr(workspace, "dump_case", twin_dump)
