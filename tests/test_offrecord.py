"""store/offrecord.differ says what 'git status -uall -- cases' says.

Each step changes the work tree, the index or HEAD the way a person might;
after each, the month folders are back-dated (so the record of folders
holding nothing new is kept and used) and differ is compared with git's
own status, twice: once reading the folders, once through the record.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from complaintctl.store import caseindex, offrecord
from complaintctl.store.workspace import Workspace as StoreWorkspace
from tests.helpers import Workspace, git

MONTHS = ("cases/2026/10", "cases/2026/11")


def _oracle(root: Path) -> tuple[set[str], set[str]]:
    out = subprocess.run(
        ["git", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--", "cases"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    dirty: set[str] = set()
    deleted: set[str] = set()
    for line in out.split("\0"):
        if len(line) > 3:
            (deleted if "D" in line[:2] else dirty).add(line[3:])
    return dirty, deleted


def _differ(root: Path) -> tuple[set[str], set[str]]:
    ws = StoreWorkspace(root)
    return offrecord.differ(ws, caseindex.snapshot(ws, status=False).heads)


def _backdate(root: Path) -> None:
    """Folders under cases/ changed in the last half minute now say they
    changed a minute ago (past the racy window); the others keep their time,
    as a folder nobody touched does."""
    now = time.time_ns()
    for folder, _dirs, _files in os.walk(root / "cases"):
        st = os.stat(folder)
        if st.st_mtime_ns > now - 30_000_000_000:
            os.utime(folder, ns=(st.st_atime_ns, now - 60_000_000_000))


def _commit_all(root: Path) -> None:
    git(root, "add", "-A", "cases")
    git(root, "commit", "-q", "-m", "by hand")


def _write(root: Path, rel: str, text: str = "id: x\n") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


STEPS: list[tuple[str, Callable[[Path], None]]] = [
    ("nothing", lambda r: None),
    ("a new file in a month", lambda r: _write(r, "cases/2026/11/C-20261105-NEW001.yaml")),
    ("it is committed", _commit_all),
    ("an edit", lambda r: _write(r, "cases/2026/11/C-20261105-NEW001.yaml", "id: y\n")),
    ("it is put back", lambda r: git(r, "checkout", "--", "cases")),
    ("a deletion", lambda r: (r / "cases/2026/10/C-20261003-AAAAAA.yaml").unlink()),
    ("it is put back", lambda r: git(r, "checkout", "--", "cases")),
    ("a new month folder", lambda r: _write(r, "cases/2026/12/C-20261201-NEW002.yaml")),
    ("a new year", lambda r: _write(r, "cases/2027/01/C-20270101-NEW003.yaml")),
    ("a staged new file", lambda r: git(r, "add", "cases/2027/01/C-20270101-NEW003.yaml")),
    ("all committed", _commit_all),
    ("a sub-folder with a file", lambda r: _write(r, "cases/2026/10/sub/C-20261009-NEW004.yaml")),
    ("committed", _commit_all),
    ("a file in the committed sub-folder", lambda r: _write(r, "cases/2026/10/sub/C-20261009-NEW005.yaml")),
    ("committed", _commit_all),
    ("an ignored file", lambda r: (_write(r, ".gitignore", "*.tmp\n"), _write(r, "cases/2026/11/x.tmp"))),
    ("the rule is dropped: the file is new", lambda r: (r / ".gitignore").write_text("")),
    ("committed", _commit_all),
    (
        "untracked by 'git rm --cached', then committed",
        lambda r: (
            git(r, "rm", "-q", "--cached", "cases/2026/11/x.tmp"),
            git(r, "commit", "-q", "-m", "untrack"),
        ),
    ),
    (
        "a file whose name HEAD has in another month",
        lambda r: _write(r, "cases/2026/11/C-20261003-AAAAAA.yaml"),
    ),
]


@pytest.mark.parametrize("through_record", [False, True], ids=["looking", "through-the-record"])
def test_differ_says_what_git_status_says(ws: Workspace, through_record: bool) -> None:
    root = ws.root
    for rel in ("cases/2026/10/C-20261003-AAAAAA.yaml", "cases/2026/11/C-20261104-BBBBBB.yaml"):
        _write(root, rel)
    _commit_all(root)
    record = root / ".git" / "complaintctl" / "offrecord.json"
    for what, step in STEPS:
        step(root)
        _backdate(root)
        if not through_record:
            record.unlink(missing_ok=True)
        first = _differ(root)
        assert first == _oracle(root), what
        assert _differ(root) == first, f"{what}: again, through the record"
    assert record.is_file(), "folders holding nothing new were recorded"


def test_a_recorded_folder_is_looked_at_again_when_a_file_comes(ws: Workspace) -> None:
    root = ws.root
    _write(root, "cases/2026/11/C-20261104-BBBBBB.yaml")
    _commit_all(root)
    _backdate(root)
    assert _differ(root) == (set(), set())
    assert "cases/2026/11" in (root / ".git/complaintctl/offrecord.json").read_text()
    _write(root, "cases/2026/11/C-20261104-CCCCCC.yaml")  # the folder's time moves on
    assert _differ(root) == ({"cases/2026/11/C-20261104-CCCCCC.yaml"}, set())


def test_a_folder_changed_just_now_is_not_recorded(ws: Workspace) -> None:
    root = ws.root
    _write(root, "cases/2026/11/C-20261104-BBBBBB.yaml")
    _commit_all(root)
    assert _differ(root) == (set(), set())
    record = root / ".git/complaintctl/offrecord.json"
    assert not record.exists() or "cases/2026/11" not in record.read_text()


@pytest.mark.parametrize("damage", [b"", b"{", b"[]", b'{"format": 1, "folders": 3}', b'{"format": 9}'])
def test_a_damaged_record_is_a_miss(ws: Workspace, damage: bytes) -> None:
    root = ws.root
    _write(root, "cases/2026/11/C-20261104-BBBBBB.yaml")
    _commit_all(root)
    _backdate(root)
    record = root / ".git/complaintctl/offrecord.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_bytes(damage)
    _write(root, "cases/2026/11/C-20261104-CCCCCC.yaml")
    assert _differ(root) == _oracle(root) == ({"cases/2026/11/C-20261104-CCCCCC.yaml"}, set())


def test_a_committed_name_that_is_not_utf8_is_not_new(ws: Workspace) -> None:
    root = ws.root
    folder = root / "cases/2026/11"
    folder.mkdir(parents=True)
    (folder / os.fsdecode(b"\xff.yaml")).write_text("id: x\n")
    _commit_all(root)
    _backdate(root)
    assert _differ(root) == _oracle(root) == (set(), set())
