"""store/earlygit: a reading command's 'git status' begun by the start
before the imports says exactly what the command's own would have said,
is taken by the command, and is never left running."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from complaintctl.cli import start
from complaintctl.core import records
from complaintctl.store import earlygit, gitwrite
from complaintctl.store.workspace import find_workspace
from tests.helpers import Workspace, git, open_args


@pytest.fixture
def busy(run: Any, ws: Workspace) -> Workspace:
    """Two committed cases, one edited, one deleted, a new file staged and a name with a CR."""
    ids = [re.search(r"C-\d{8}-\w{6}", run(*open_args(summary=f"case {i}")).stdout)[0] for i in range(2)]  # type: ignore[index]
    ws.case_file(ids[0]).write_text(ws.case_file(ids[0]).read_text() + "# edited\n")
    ws.case_file(ids[1]).unlink()
    folder = ws.case_file(ids[0]).parent
    (folder / "C-20261120-NEW001.yaml").write_text("id: x\n")
    git(ws.root, "add", "--", str(folder / "C-20261120-NEW001.yaml"))
    (folder / "C-20261120-CR\r.yaml").write_text("id: y\n")
    git(ws.root, "add", "--", str(folder / "C-20261120-CR\r.yaml"))
    return ws


def test_what_is_taken_is_what_git_says(busy: Workspace) -> None:
    root = str(busy.root)
    earlygit.begin(root)
    taken = earlygit.take(root, earlygit.STATUS)
    own = gitwrite.git(busy.root, *earlygit.STATUS)
    assert taken is not None
    assert (taken.returncode, taken.stdout, taken.stderr) == (own.returncode, own.stdout, own.stderr)
    assert taken.stdout.count("\0") == 4, taken.stdout  # edited, deleted, new, the CR name
    assert earlygit.take(root, earlygit.STATUS) is None  # taken once


def test_a_status_begun_in_another_environment_is_not_taken(
    busy: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = str(busy.root)
    earlygit.begin(root)
    [(proc, _env, _index, _changing)] = earlygit._begun.values()
    monkeypatch.setenv("GIT_OPTIONAL_LOCKS", "0")
    assert earlygit.take(root, earlygit.STATUS) is None
    assert proc.returncode is not None and earlygit._begun == {}


def test_one_never_taken_is_stopped_and_leaves_no_lock(busy: Workspace) -> None:
    earlygit.begin(str(busy.root))
    [(proc, _env, _index, _changing)] = earlygit._begun.values()
    earlygit._stop_all()
    assert proc.returncode is not None and earlygit._begun == {}
    assert not (busy.root / ".git" / "index.lock").exists()
    assert git(busy.root, "status", "--porcelain")  # the repository still answers


def _spied(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """What each earlygit.take returned, in order."""
    taken: list[object] = []
    real = earlygit.take

    def spy(root: str, argv: tuple[str, ...]) -> Any:
        found = real(root, argv)
        taken.append(found)
        return found

    monkeypatch.setattr(earlygit, "take", spy)
    return taken


@pytest.mark.parametrize("command", sorted(earlygit.READERS))
def test_each_reading_command_takes_it(
    command: str, run: Any, busy: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPLAINTCTL_ROOT", str(busy.root))
    args = [command, "张三"] if command == "customer" else [command]
    plain = run(*args)
    taken = _spied(monkeypatch)
    start._begin_early(args)
    assert earlygit._begun, "begun for a reading command"
    early = run(*args)
    assert (early.exit_code, early.stdout, early.stderr) == (plain.exit_code, plain.stdout, plain.stderr)
    assert taken and taken[0] is not None and earlygit._begun == {}


@pytest.mark.parametrize(
    "argv",
    [
        ["note", "C-1", "x"],  # part of an id: the command finds the case
        ["note", "C-20261120-ABCDEF", "x", "--help"],
        ["show", "C-20261120-ABCDEF"],  # reads one case: nothing slow to begin
        ["list", "--help"],
        ["-C", "/tmp", "list"],
        ["list", "--root", "/tmp"],
        ["note", "C-20261120-ABCDEF", "x", "--root", "/tmp"],
        [],
    ],
)
def test_not_begun_for_help_another_folder_or_a_case_not_named_in_full(
    argv: list[str], busy: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(busy.root)
    start._begin_early(argv)
    assert earlygit._begun == {}


@pytest.mark.parametrize("how", ["note", "open", "lower-case id"])
def test_a_changing_command_takes_the_status_begun_for_it(
    how: str, run: Any, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'note CASE' and 'open': the preflight's status of the case file and
    the policy, begun by the start, is taken; the change is what it is
    without it, in one commit."""
    monkeypatch.setenv("COMPLAINTCTL_ROOT", str(ws.root))
    case_id = run(*open_args()).stdout.strip()
    args = [*open_args(summary="Another")] if how == "open" else ["note", case_id, "Called back"]
    if how == "lower-case id":
        args[1] = case_id.lower()
    taken = _spied(monkeypatch)
    commits = ws.commits()
    start._begin_early(args)
    assert next(key[1] for key in earlygit._begun)[-2:] == ("policy.yaml", "templates")
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    assert taken and taken[0] is not None and earlygit._begun == {}
    assert ws.commits() == commits + 1 and ws.status() == ""


def test_every_command_that_changes_one_case_is_a_case_changer() -> None:
    """CASE_CHANGERS names the commands cli/app.py hands to change_case (through _run)."""
    import inspect

    from complaintctl.cli import app

    changers = {
        command.name or command.callback.__name__.replace("_", "-")
        for command in app.app.registered_commands
        if command.callback is not None and "_run(" in inspect.getsource(command.callback)
    }
    assert changers == earlygit.CASE_CHANGERS


@pytest.mark.parametrize("meanwhile", ["another command took the lock", "the command waited on its user"])
def test_a_status_begun_before_the_case_file_changed_is_asked_again(
    meanwhile: str, run: Any, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case file changed after the status began and no HEAD moved:
    another command took the lock and left it changed (a roll-back cut
    short, say), or 'note CASE' waited on $EDITOR while it was edited by
    hand. What the status saw is not taken, and the note refuses the file."""
    monkeypatch.setenv("COMPLAINTCTL_ROOT", str(ws.root))
    case_id = run(*open_args()).stdout.strip()
    args = ["note", case_id, "Called back"]
    taken = _spied(monkeypatch)
    start._begin_early(args)
    [(proc, _env, _head, _changing)] = earlygit._begun.values()
    proc.wait()  # it saw a clean file
    path = ws.case_file(case_id)
    if meanwhile == "another command took the lock":
        with gitwrite.workspace_lock(find_workspace(str(ws.root))):
            path.write_text(path.read_text() + "# half made\n")
    else:
        path.write_text(path.read_text() + "# edited by hand\n")
        monkeypatch.setattr(earlygit, "FRESH_S", 0.0)  # as if the editor was open this long
    commits = ws.commits()
    result = run(*args)
    assert result.exit_code == 1 and "has uncommitted changes" in result.stderr
    assert taken == [None] and ws.commits() == commits


def test_not_begun_while_another_command_holds_the_lock(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ws.root)
    with gitwrite.workspace_lock(find_workspace(str(ws.root))):
        start._begin_early(["note", "C-20261120-ABCDEF", "x"])
        assert earlygit._begun == {}
    start._begin_early(["note", "C-20261120-ABCDEF", "x"])
    assert len(earlygit._begun) == 1
    earlygit._stop_all()


@given(st.from_regex(r"C-(\d{4})(\d{2})(\d{2})-([0-9A-HJKMNP-TV-Z]{6})", fullmatch=True))
def test_the_guessed_case_file_is_the_case_file(case_id: str) -> None:
    assert earlygit.case_path_guess(case_id) == records.case_relpath(case_id)
    assert earlygit.case_path_guess(case_id.lower()) == records.case_relpath(case_id)


def test_the_start_finds_the_workspace_where_the_command_will(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COMPLAINTCTL_ROOT", raising=False)
    inner = ws.root / "cases"
    monkeypatch.chdir(inner)
    assert start._workspace_root() == str(find_workspace(None).root)
    link = tmp_path / "link"
    link.symlink_to(ws.root)
    monkeypatch.setenv("COMPLAINTCTL_ROOT", str(link))
    assert start._workspace_root() == str(find_workspace(None).root) == os.path.realpath(ws.root)
    monkeypatch.setenv("COMPLAINTCTL_ROOT", str(tmp_path))  # no policy.yaml there: no guess
    monkeypatch.chdir(tmp_path)
    assert start._workspace_root() is None


def test_a_status_begun_before_a_commit_is_not_taken(busy: Workspace) -> None:
    """A commit (or checkout, reset) moves HEAD: what was begun before it is asked again."""
    root = str(busy.root)
    earlygit.begin(root)
    # A commit made meanwhile (plumbing: the status may hold the index lock just now).
    made = git(busy.root, "commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", "Meanwhile").strip()
    git(busy.root, "update-ref", "HEAD", made)
    assert earlygit.take(root, earlygit.STATUS) is None and earlygit._begun == {}


@pytest.mark.parametrize("given", [None, "0", "2"])
def test_git_runs_with_small_caches_after_the_callers_own_settings(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, given: str | None
) -> None:
    """Every git call gets the small delta-base and pack-window caches as
    configuration in the environment, after any the caller set there, which
    stay in force."""
    if given is not None:
        monkeypatch.setenv("GIT_CONFIG_COUNT", given)
        for i in range(int(given)):
            monkeypatch.setenv(f"GIT_CONFIG_KEY_{i}", f"complaintctl.test{i}")
            monkeypatch.setenv(f"GIT_CONFIG_VALUE_{i}", f"v{i}")
    said = gitwrite.git(ws.root, "config", "--list", "--show-scope").stdout.splitlines()
    assert [line for line in said if line.startswith("command\t")] == [
        *(f"command\tcomplaintctl.test{i}=v{i}" for i in range(int(given or 0))),
        "command\tcore.deltabasecachelimit=8m",
        "command\tcore.packedgitlimit=32m",
        "command\tcore.packedgitwindowsize=1m",
    ]
    monkeypatch.setenv("GIT_CONFIG_COUNT", "many")  # git's own refusal stands: ours are not added
    full = earlygit.env()
    assert full["GIT_CONFIG_COUNT"] == "many" and f"GIT_CONFIG_KEY_{int(given or 0)}" not in full


def test_a_lock_file_that_cannot_be_written_is_one_line_and_changes_nothing(
    run: Any, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token is written on every taking of the lock: a full disk there
    is said in one line, and nothing is committed."""
    import errno

    case_id = run(*open_args()).stdout.strip()
    commits = ws.commits()

    def full(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "pwrite", full)
    result = run("note", case_id, "Called back")
    lock = ws.root / ".git" / "complaintctl.lock"
    assert (result.exit_code, result.stderr) == (
        1,
        f"complaintctl: {lock}: cannot use the workspace lock file: No space left on device; "
        "check the disk's free space and the git folder's permissions, then run the command again\n",
    )
    assert ws.commits() == commits and ws.status() == ""
