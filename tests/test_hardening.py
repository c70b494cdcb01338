"""Found by attack: each way to crash, leak or overwrite is refused in one line."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Workspace, git, open_args


def _opened(run: Any) -> str:
    result = run(*open_args())
    assert result.exit_code == 0, result.stderr
    return str(result.stdout.strip())


def test_a_deeply_nested_case_file_is_named_not_a_crash(run: Any, ws: Workspace) -> None:
    case_id = _opened(run)
    path = ws.case_file(case_id)
    path.write_text(path.read_text() + "extra: " + "[" * 60_000 + "]" * 60_000 + "\n")
    git(ws.root, "commit", "-qam", "deep")
    rel = path.relative_to(ws.root)
    line = len(path.read_text().splitlines())
    for args in (["check"], ["list"], ["show", case_id], ["report"], ["overdue"]):
        result = run(*args)
        assert result.exit_code == 1, args
        text = result.stdout + result.stderr
        assert f"{rel}:{line}: too deeply nested (over 64 levels)" in text, (args, text)
        assert "Traceback" not in text


def test_a_deeply_nested_policy_is_named_not_a_crash(run: Any, ws: Workspace) -> None:
    policy = ws.root / "policy.yaml"
    policy.write_text(policy.read_text() + "colour: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n")
    result = run("check")
    assert result.exit_code == 1
    assert result.stdout.startswith("policy.yaml:") and "too deeply nested (over 64 levels)" in result.stdout


def test_an_oversized_case_file_is_refused_before_it_is_parsed(run: Any, ws: Workspace) -> None:
    case_id = _opened(run)
    path = ws.case_file(case_id)
    path.write_text(path.read_text() + "# " + "x" * 1_100_000 + "\n")
    result = run("show", case_id)
    assert result.exit_code == 1
    assert "over the case-file limit of 1,000,000" in result.stderr


def test_a_symlinked_template_never_reaches_a_letter(run: Any, ws: Workspace, tmp_path: Path) -> None:
    case_id = _opened(run)
    secret = tmp_path / "id_ed25519"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    summary = ws.root / "templates" / "summary.md.j2"
    summary.unlink()
    summary.symlink_to(secret)
    result = run("render", case_id, "summary", "--format", "md")
    assert result.exit_code == 1
    assert "PRIVATE KEY" not in result.stdout + result.stderr
    assert result.stderr == (
        "complaintctl: templates/summary.md.j2: is a symbolic link; templates are plain files; replace it with a "
        "copy of the file it points to, if that is a template\n"
    )


@pytest.mark.parametrize("where", [".git/config", "policy.yaml", "case"])
def test_output_never_overwrites_the_repository(run: Any, ws: Workspace, where: str) -> None:
    case_id = _opened(run)
    target = ws.case_file(case_id) if where == "case" else ws.root / where
    before = target.read_bytes()
    result = run("render", case_id, "summary", "-o", str(target))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"complaintctl: -o {target} ")
    assert target.read_bytes() == before


@pytest.mark.parametrize("given", ["", ".", "out"])
def test_output_that_is_a_folder_is_refused_as_such(run: Any, ws: Workspace, given: str) -> None:
    # '-o ""' and '-o .' (in the workspace) were refused as overwriting the
    # first file git tracks in it.
    case_id = _opened(run)
    (ws.root / "out").mkdir(exist_ok=True)
    if given == "out":
        given = str(ws.root / "out")
    shown = str(Path(given))
    for args in (["render", case_id, "summary"], ["report", "--format", "csv"]):
        result = run(*args, "-o", given)
        assert (result.exit_code, result.stdout, result.stderr) == (
            2,
            "",
            f"complaintctl: -o {shown} is a folder; give a file name, e.g. -o out/FILE\n",
        ), args


def test_csv_cells_never_run_as_formulas(run: Any, ws: Workspace) -> None:
    for k in range(3):  # three customers on one matter make a hot spot
        result = run(*open_args(matter='=HYPERLINK("http://evil.example","x")', phone=f"1390000000{k}"))
        assert result.exit_code == 0, result.stderr
    csv = run("report", "--format", "csv", "--table", "hotspots").stdout
    # (the matter as cases are grouped by it: records.matter_key folds its case)
    assert "'=hyperlink" in csv and ",=hyperlink" not in csv.casefold() and not csv.startswith("=")


@pytest.mark.parametrize("at", ["0999-01-01", "1900-01-01T10:00", "3001-01-01"])
def test_a_time_outside_reason_is_refused_in_one_line(run: Any, ws: Workspace, at: str) -> None:
    result = run(*open_args(at=at))
    assert (result.exit_code, result.stderr) == (
        2,
        f"complaintctl: --at '{at}' is outside the years 2000-2999; check the year\n",
    )


def test_case_files_honour_the_umask(run: Any, ws: Workspace) -> None:
    old = os.umask(0o022)
    try:
        case_id = _opened(run)
    finally:
        os.umask(old)
    assert stat.S_IMODE(ws.case_file(case_id).stat().st_mode) == 0o644


# ---------------------------------------------------------------- faults a crash leaves


def test_check_names_what_a_crash_leaves_and_repair_puts_it_back(run: Any, ws: Workspace) -> None:
    case_id = _opened(run)
    other = _opened(run)
    # A staged but uncommitted change, a new case never committed, an untracked evidence
    # file, a temporary file of an interrupted write, and a stale git lock.
    staged = ws.case_file(case_id)
    staged.write_text(staged.read_text().replace("Charged twice", "Charged thrice"))
    git(ws.root, "add", str(staged))
    changed = ws.case_file(other)
    changed.write_text(changed.read_text() + "# scribble\n")
    new = ws.root / "cases" / "2026" / "11" / "C-20261120-AAAAAA.yaml"
    new.write_text(changed.read_text().replace(other, "C-20261120-AAAAAA"))
    git(ws.root, "add", str(new))
    stray = ws.root / "evidence" / case_id / "offer-1-1.pdf"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"%PDF")
    temp = staged.parent / f".{staged.name}.a1b2c3d4.tmp"
    temp.write_text("half")
    lock = ws.root / ".git" / "index.lock"
    lock.write_text("")
    os.utime(lock, (1_700_000_000, 1_700_000_000))
    rel = {p: str(p.relative_to(ws.root)) for p in (staged, changed, new, stray, temp)}
    found = run("check")
    assert found.exit_code == 1
    lines = found.stdout.splitlines()
    assert f"{rel[staged]}: staged but not committed; run 'complaintctl repair' to put it back" in lines
    assert f"{rel[changed]}: changed but not committed; run 'complaintctl repair' to put it back" in lines
    assert f"{rel[new]}: staged but not committed; run 'complaintctl repair' to put it back" in lines
    assert (
        f"{rel[stray]}: not committed (a file git does not track); run 'complaintctl repair' to put it back"
        in lines
    )
    assert f"{rel[temp]}: a temporary file left by an interrupted write; run 'complaintctl repair' to put it back" in lines  # fmt: skip
    assert any(line.startswith(".git/index.lock: a git lock file, ") for line in lines)
    head = git(ws.root, "rev-parse", "HEAD")
    done = run("repair")
    assert done.exit_code == 0, done.stderr
    said = sorted(line for line in done.stdout.splitlines() if not line.startswith("removed .git/index.lock"))
    assert said == sorted([
        f"restored {rel[staged]} as last committed",
        f"restored {rel[changed]} as last committed",
        f"removed {rel[new]} (never committed)",
        f"removed {rel[stray]} (not committed (a file git does not track))",
        f"removed {rel[temp]} (a temporary file left by an interrupted write)",
    ])  # fmt: skip
    assert any(
        line.startswith("removed .git/index.lock (a stale git lock, ") for line in done.stdout.splitlines()
    )
    assert ws.status() == "" and git(ws.root, "rev-parse", "HEAD") == head
    assert not lock.exists() and not new.exists() and not stray.exists() and not temp.exists()
    assert run("check").exit_code == 0
    assert run("repair").stdout == "Nothing to repair: cases/ and evidence/ are as last committed.\n"
