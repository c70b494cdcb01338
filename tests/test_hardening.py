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


def test_csv_cells_never_run_as_formulas(run: Any, ws: Workspace) -> None:
    for k in range(3):  # three customers on one matter make a hot spot
        result = run(*open_args(matter='=HYPERLINK("http://evil.example","x")', phone=f"1390000000{k}"))
        assert result.exit_code == 0, result.stderr
    csv = run("report", "--format", "csv", "--table", "hotspots").stdout
    assert "'=HYPERLINK" in csv and ",=HYPERLINK" not in csv and not csv.startswith("=")


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
