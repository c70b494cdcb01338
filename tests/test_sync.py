"""sync and the merge driver: real clones of a local bare remote, real git.

Each clone is a teammate. What must hold: every event of every side
survives, in time order; a case whose two sides cannot both stand stops the
sync and changes nothing; no conflict markers ever land in a case file; and
the history that results passes verify.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from complaintctl.cli.app import app
from complaintctl.core.records import case_relpath
from complaintctl.errors import CaseFileError
from complaintctl.store import yamlio
from complaintctl.team import sync
from tests.helpers import case_path, example_workspace, git, open_args

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"


@dataclass
class Clone:
    root: Path

    def cli(self, *args: str, actor: str = ALICE) -> tuple[int, str, str]:
        result = CliRunner().invoke(
            app, list(args), env={"COMPLAINTCTL_ROOT": str(self.root), "COMPLAINTCTL_USER": actor}
        )
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    def ok(self, *args: str, actor: str = ALICE) -> str:
        code, out, err = self.cli(*args, actor=actor)
        assert code == 0, err
        return out.strip()

    def git(self, *args: str) -> str:
        return git(self.root, *args)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def case(self, case_id: str) -> Any:
        path = case_path(self.root, case_id)
        return yamlio.load_plain(path.read_text(encoding="utf-8"), str(path), CaseFileError)

    def actions(self, case_id: str) -> list[tuple[str, str, str]]:
        return [(e["action"], e["by"], e["at"][:16]) for e in self.case(case_id)["events"]]

    def clean(self) -> bool:
        return self.git("status", "--porcelain", "--untracked-files=all") == ""


def make_team(tmp_path: Path, setup: bool = True) -> tuple[Clone, Clone, Path]:
    """Alice's workspace pushed to a bare remote; Bob's fresh clone (set up, or not)."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(remote)], check=True)
    a = Clone(example_workspace(tmp_path / "alice"))
    a.git("remote", "add", "origin", str(remote))
    a.git("push", "--quiet", "-u", "origin", "main")
    subprocess.run(["git", "clone", "--quiet", str(remote), str(tmp_path / "bob")], check=True)
    b = Clone(tmp_path / "bob")
    if setup:
        assert b.ok("setup", actor=BOB).splitlines()[0] == "set git config merge.complaintctl.name"
    return a, b, remote


@pytest.fixture
def team(tmp_path: Path) -> tuple[Clone, Clone, Path]:
    return make_team(tmp_path)


def shared_case(a: Clone, b: Clone) -> str:
    case_id = a.ok(*open_args())
    a.ok("sync")
    b.ok("sync", actor=BOB)
    return case_id


def test_both_note_the_same_case(team: tuple[Clone, Clone, Path]) -> None:
    a, b, _ = team
    case_id = shared_case(a, b)
    a.ok("note", case_id, "Called the bank", "--at", "2026-11-20T10:00")
    b.ok("note", case_id, "Checked the ledger", "--at", "2026-11-20T09:30", actor=BOB)
    assert a.ok("sync") == f"Out: 1 commit(s) to origin/main; cases: {case_id}"
    assert b.ok("sync", actor=BOB).splitlines() == [
        f"In:  1 commit(s) from origin/main; cases: {case_id}",
        f"Merged concurrent changes on {case_id}",
        f"Out: 2 commit(s) to origin/main; cases: {case_id}",
    ]
    expected = [
        ("open", ALICE, "2026-11-20T09:00"),
        ("note", BOB, "2026-11-20T09:30"),
        ("note", ALICE, "2026-11-20T10:00"),
    ]
    assert b.actions(case_id) == expected
    message = b.git("log", "-1", "--format=%B")
    assert message.startswith("Merge concurrent changes from origin/main (1 case changed on both sides)\n")
    assert f"{case_id}: ours note; theirs note; now open" in message
    assert "Complaintctl-Action: merge\nComplaintctl-Case: " + case_id in message
    assert f"Complaintctl-Actor: {BOB}" in message
    assert a.ok("sync") == f"In:  2 commit(s) from origin/main; cases: {case_id}"
    assert a.actions(case_id) == expected
    assert a.head() == b.head() and a.clean() and b.clean()
    assert a.cli("verify") == (0, "", "") and a.cli("check") == (0, "", "")


def test_propose_while_other_escalates(team: tuple[Clone, Clone, Path]) -> None:
    a, b, _ = team
    case_id = shared_case(a, b)
    a.ok("propose", case_id, "--amount", "50.00", "--not-overcharge", "Goodwill", "--currency", "CNY", "--kind", "refund",
         "--terms", "Refund within 7 days", "--at", "2026-11-20T09:30")  # fmt: skip
    b.ok(
        "escalate", case_id, "--reason", "Customer asks for a manager", "--to", CAROL,
        "--at", "2026-11-20T10:00", actor=BOB,
    )  # fmt: skip
    a.ok("sync")
    b.ok("sync", actor=BOB)
    case = b.case(case_id)
    assert [e["action"] for e in case["events"]] == ["open", "propose", "escalate"]
    assert (case["state"], case["tier"], case["offers"][0]["status"]) == ("proposed", "supervisor", "open")
    assert b.cli("verify") == (0, "", "")


def test_close_while_other_proposes_stops_and_loses_nothing(team: tuple[Clone, Clone, Path]) -> None:
    a, b, _ = team
    case_id = shared_case(a, b)
    a.ok("close", case_id, "--resolution", "explained", "--at", "2026-11-20T10:00")
    a.ok("sync")
    # Carol (a tier above the owner) makes an offer in Bob's clone meanwhile.
    b.ok("propose", case_id, "--amount", "20.00", "--not-overcharge", "Goodwill", "--currency", "CNY", "--kind", "refund",
         "--terms", "Refund", "--at", "2026-11-20T11:00", actor=CAROL)  # fmt: skip
    before, files = b.head(), sorted(p.read_bytes() for p in (b.root / "cases").rglob("*.yaml"))
    code, out, err = b.cli("sync", actor=BOB)
    assert (code, out) == (1, "")
    assert err == (
        f"complaintctl: {case_id}: concurrent changes cannot both stand: ours 'propose by {CAROL} at "
        "2026-11-20T11:00:00+08:00 offer 1' is refused after the other side's changes (cannot propose "
        f"a case that is closed). Ours: propose by {CAROL} at 2026-11-20T11:00:00+08:00 offer 1. Theirs: "
        f"close by {ALICE} at 2026-11-20T10:00:00+08:00 resolution explained; nothing was changed; decide "
        f"with your colleague which side stands, then run 'complaintctl sync --keep-theirs {case_id}' or "
        f"'complaintctl sync --keep-ours {case_id}' (the other side's events on it are left out and "
        "listed in the merge commit)\n"
    )
    assert b.head() == before and b.clean()
    assert sorted(p.read_bytes() for p in (b.root / "cases").rglob("*.yaml")) == files
    assert not (b.root / ".git" / "MERGE_HEAD").exists()
    # The decision is explicit and on the record.
    assert b.cli("sync", "--keep-theirs", case_id, actor=BOB)[0] == 0
    assert b.case(case_id)["state"] == "closed"
    message = b.git("log", "-1", "--format=%B")
    assert f"{case_id}: kept theirs by decision of {BOB}; left out: propose by {CAROL}" in message
    assert f"Complaintctl-Keep: {case_id} theirs" in message
    assert b.cli("verify") == (0, "", "")
    # 'log' shows the merge and what the decision left out.
    merge = next(line for line in b.ok("log", case_id).splitlines() if "Merge concurrent changes" in line)
    assert f"(kept theirs by decision of {BOB}; left out: propose by {CAROL}" in merge


def test_keep_names_a_case_that_needs_no_decision(team: tuple[Clone, Clone, Path]) -> None:
    a, b, _ = team
    case_id = shared_case(a, b)
    a.ok("note", case_id, "x", "--at", "2026-11-20T10:00")
    a.ok("sync")
    b.ok("note", case_id, "y", "--at", "2026-11-20T10:00", actor=BOB)
    before = b.head()
    code, _, err = b.cli("sync", "--keep-ours", "C-20261120-AAAAAA", actor=BOB)
    assert code == 2
    assert err.startswith("complaintctl: C-20261120-AAAAAA was not changed on both sides; nothing to keep")
    assert b.head() == before and b.clean()


def test_a_merge_of_merges_keeps_time_order(team: tuple[Clone, Clone, Path]) -> None:
    """The merge base is not always a version both sides extend: after a merge
    reorders events by time, the next merge must find an older common one."""
    a, b, _ = team
    case_id = shared_case(a, b)
    a.ok("note", case_id, "a1", "--at", "2026-11-21T10:00")
    a.ok("sync")
    b.ok("note", case_id, "b1", "--at", "2026-11-21T09:00", actor=BOB)
    b.ok("sync", actor=BOB)  # b1 goes in before a1
    a.ok("note", case_id, "a2", "--at", "2026-11-21T12:00")  # a has not seen b1
    a.ok("sync")
    assert [e["text"] for e in a.case(case_id)["events"][1:]] == ["b1", "a1", "a2"]
    assert a.cli("verify") == (0, "", "")


def test_fifty_new_cases_on_each_side(team: tuple[Clone, Clone, Path]) -> None:
    a, b, _ = team
    made = set()
    for i in range(50):
        made.add(a.ok(*open_args(summary=f"a {i}", at=f"2026-11-20T09:{i:02d}")))
        made.add(b.ok(*open_args(summary=f"b {i}", phone=f"1390000{i:04d}", at=f"2026-11-20T09:{i:02d}")))
    assert len(made) == 100
    a.ok("sync")
    assert b.ok("sync", actor=BOB).splitlines()[1:] == [
        "Out: 51 commit(s) to origin/main; cases: "
        + ", ".join(sorted(c for c in made if b.case(c)["summary"].startswith("b"))[:10])
        + " and 40 more"
    ]
    a.ok("sync")
    ids = {p.stem for p in (a.root / "cases").rglob("*.yaml")}
    assert ids == made == {p.stem for p in (b.root / "cases").rglob("*.yaml")}
    assert a.head() == b.head()
    assert a.cli("check") == (0, "", "") and a.cli("verify") == (0, "", "")


def test_a_lost_push_race_is_retried(team: tuple[Clone, Clone, Path], tmp_path: Path) -> None:
    a, b, remote = team
    case_id = shared_case(a, b)
    b.ok("note", case_id, "Bob got there first", "--at", "2026-11-20T09:40", actor=BOB)
    a.ok("note", case_id, "Alice's note", "--at", "2026-11-20T09:50")
    # Bob pushes between Alice's fetch and her push, once.
    hook = a.root / ".git" / "hooks" / "pre-push"
    hook.write_text(
        f"#!/bin/sh\n[ -e {tmp_path}/raced ] && exit 0\ntouch {tmp_path}/raced\ngit -C {b.root} push -q origin main\n"
    )
    hook.chmod(0o755)
    out = a.ok("sync")
    assert out.splitlines() == [
        f"In:  1 commit(s) from origin/main; cases: {case_id}",
        f"Merged concurrent changes on {case_id}",
        f"Out: 2 commit(s) to origin/main; cases: {case_id}",
        "(the push was retried 1 time(s): others pushed first)",
    ]
    assert [e.get("text") for e in a.case(case_id)["events"][1:]] == ["Bob got there first", "Alice's note"]
    assert git(remote, "rev-parse", "main").strip() == a.head()


def test_plain_git_pull_merges_through_the_driver(team: tuple[Clone, Clone, Path]) -> None:
    a, b, _ = team
    case_id = shared_case(a, b)
    a.ok("note", case_id, "from alice", "--at", "2026-11-20T10:00")
    a.ok("sync")
    b.ok("note", case_id, "from bob", "--at", "2026-11-20T09:30", actor=BOB)
    pulled = subprocess.run(["git", "pull", "--quiet"], cwd=b.root, capture_output=True, text=True)
    assert pulled.returncode == 0, pulled.stderr
    assert [e.get("text") for e in b.case(case_id)["events"][1:]] == ["from bob", "from alice"]
    assert b.clean() and b.cli("check") == (0, "", "") and b.cli("verify") == (0, "", "")


def test_plain_git_pull_of_a_conflict_leaves_no_markers(team: tuple[Clone, Clone, Path]) -> None:
    a, b, _ = team
    case_id = shared_case(a, b)
    a.ok("close", case_id, "--resolution", "explained", "--at", "2026-11-20T10:00")
    a.ok("sync")
    b.ok("escalate", case_id, "--reason", "Manager", "--to", CAROL, "--at", "2026-11-20T11:00", actor=BOB)
    mine = b.case(case_id)
    pulled = subprocess.run(["git", "pull"], cwd=b.root, capture_output=True, text=True)
    assert pulled.returncode == 1
    assert f"complaintctl: {case_id}: concurrent changes cannot both stand" in pulled.stderr
    assert "run 'git merge --abort', then 'complaintctl sync' to resolve" in pulled.stderr
    text = case_path(b.root, case_id).read_text()
    assert "<<<<<<<" not in text and b.case(case_id) == mine
    subprocess.run(["git", "merge", "--abort"], cwd=b.root, check=True)
    assert b.cli("sync", actor=BOB)[0] == 1  # the same stop, explained


def test_without_setup_git_leaves_markers_and_check_explains(tmp_path: Path) -> None:
    a, b, _ = make_team(tmp_path, setup=False)  # no 'complaintctl setup': git merges lines
    case_id = shared_case(a, b)
    a.ok("note", case_id, "from alice", "--at", "2026-11-20T10:00")
    a.ok("sync")
    b.ok("note", case_id, "from bob", "--at", "2026-11-20T09:30", actor=BOB)
    subprocess.run(["git", "pull", "--no-rebase"], cwd=b.root, capture_output=True, text=True)
    rel = case_relpath(case_id)
    assert "<<<<<<<" in (b.root / rel).read_text()
    code, out, _ = b.cli("check")
    assert code == 1
    assert out.startswith(f"{rel}:")
    assert "conflict marker" in out


def test_the_merge_driver_survives_a_reinstall(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, _ = make_team(tmp_path)
    case_id = shared_case(a, b)
    # Bob's first install is gone (its venv deleted); a new one is on PATH.
    gone = tmp_path / "old-venv" / "bin" / "python"
    b.git("config", "merge.complaintctl.driver", sync.driver_command().replace(sys.executable, str(gone)))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "complaintctl").write_text(f'#!/bin/sh\nexec {sys.executable} -P -m complaintctl "$@"\n')
    (bindir / "complaintctl").chmod(0o755)
    a.ok("note", case_id, "from alice", "--at", "2026-11-20T10:00")
    a.ok("sync")
    b.ok("note", case_id, "from bob", "--at", "2026-11-20T09:30", actor=BOB)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    assert b.cli("check") == (0, "", "")
    pulled = subprocess.run(["git", "pull", "--quiet"], cwd=b.root, capture_output=True, text=True)
    assert pulled.returncode == 0, pulled.stderr
    assert [e.get("text") for e in b.case(case_id)["events"][1:]] == ["from bob", "from alice"]
    # No install anywhere: git says why it stopped, and check names it.
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    code, out, err = b.cli("check")
    assert (code, out) == (0, "")
    assert err == (
        f"complaintctl: warning: git's merge driver names {gone}, which is gone, and no complaintctl "
        "is on PATH: run 'complaintctl setup' with the install you use now\n"
    )
    a.ok("note", case_id, "again from alice", "--at", "2026-11-20T11:00")
    a.ok("sync")
    b.ok("note", case_id, "again from bob", "--at", "2026-11-20T10:30", actor=BOB)
    pulled = subprocess.run(["git", "pull"], cwd=b.root, capture_output=True, text=True)
    assert pulled.returncode == 1
    assert sync.DRIVER_MISSING in pulled.stderr
    subprocess.run(["git", "merge", "--abort"], cwd=b.root, check=True)
    # With the install in use now, setup fixes it for good.
    assert b.ok("setup", actor=BOB) == "set git config merge.complaintctl.driver"
    assert b.cli("check") == (0, "", "")


def test_a_clone_never_set_up_gets_a_hint(tmp_path: Path) -> None:
    _a, b, _ = make_team(tmp_path, setup=False)
    assert b.cli("check") == (
        0,
        "",
        "complaintctl: warning: this clone is not set up for team work: 'git pull' would merge case "
        "files line by line; run 'complaintctl setup'\n",
    )


def test_same_id_created_on_both_sides_stops(team: tuple[Clone, Clone, Path]) -> None:
    a, b, _ = team
    case_id = a.ok(*open_args())
    rel = case_relpath(case_id)
    (b.root / rel).parent.mkdir(parents=True)
    text = (a.root / rel).read_text().replace("Charged twice", "Another complaint")
    (b.root / rel).write_text(text)
    b.git("add", rel)
    b.git("commit", "--quiet", "-m", "hand copy")
    a.ok("sync")
    code, _, err = b.cli("sync", actor=BOB)
    assert code == 1
    assert err.startswith(f"complaintctl: {rel}: the same case id was created on both sides")


def test_sync_refuses_uncommitted_changes_and_no_remote(tmp_path: Path) -> None:
    a = Clone(example_workspace(tmp_path / "alice"))
    code, _, err = a.cli("sync")
    assert (code, err) == (
        1,
        "complaintctl: this workspace has no remote to sync with; add the shared one: "
        "git remote add origin URL\n",
    )
    a.git("remote", "add", "origin", str(tmp_path / "nowhere.git"))
    (a.root / "policy.yaml").write_text((a.root / "policy.yaml").read_text() + "\n")
    code, _, err = a.cli("sync")
    assert code == 1
    assert err.startswith("complaintctl: policy.yaml: has uncommitted changes; sync merges")


def test_setup_adds_the_attribute_to_an_older_workspace(tmp_path: Path) -> None:
    a = Clone(example_workspace(tmp_path / "alice"))
    a.git("rm", "--quiet", ".gitattributes")
    a.git("commit", "--quiet", "-m", "an older workspace")
    out = a.ok("setup")
    assert out.splitlines()[-1] == "set .gitattributes: cases/**/*.yaml merge=complaintctl (committed)"
    assert a.git("log", "-1", "--format=%s").strip() == "Merge case files event by event (.gitattributes)"
    assert a.clean()
    assert a.git("config", "pull.rebase").strip() == "false"
    driver = a.git("config", "merge.complaintctl.driver").strip()
    assert driver == sync.driver_command()
    assert f"exec {shlex.quote(sys.executable)} -P -m complaintctl merge-driver %O %A %B %P" in driver
    assert a.ok("setup") == "Already set up: git's merge driver for case files, and 'git pull' merges."


def test_setup_turns_git_s_untracked_cache_off_and_the_next_command_drops_it(tmp_path: Path) -> None:
    """An older workspace was set up with git's untracked cache on: after
    'setup' the next command's index write leaves it out of .git/index."""
    a = Clone(example_workspace(tmp_path / "alice"))
    a.git("config", "core.untrackedCache", "true")
    a.git("status", "--porcelain")  # git fills the cache and writes it into the index
    index = a.root / ".git" / "index"
    assert b"UNTR" in index.read_bytes()
    assert "set git config core.untrackedCache" in a.ok("setup").splitlines()
    assert a.git("config", "core.untrackedCache").strip() == "false"
    case_id = a.ok(*open_args())
    assert b"UNTR" not in index.read_bytes()
    assert a.ok("note", case_id, "Called back").startswith(f"{case_id}: Note")
    assert b"UNTR" not in index.read_bytes() and a.clean()


def test_first_sync_creates_the_remote_branch(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(remote)], check=True)
    a = Clone(example_workspace(tmp_path / "alice"))
    a.git("remote", "add", "origin", str(remote))
    case_id = a.ok(*open_args())
    assert a.ok("sync") == f"Out: 2 commit(s) to origin/main; cases: {case_id}"
    assert a.git("rev-parse", "--abbrev-ref", "main@{upstream}").strip() == "origin/main"
    assert a.ok("sync") == "Up to date with origin/main."


def test_a_conflict_outside_cases_stops_and_changes_nothing(team: tuple[Clone, Clone, Path]) -> None:
    a, b, _ = team
    case_id = shared_case(a, b)
    for clone, name in ((a, "Alice's"), (b, "Bob's")):
        policy = clone.root / "policy.yaml"
        policy.write_text(policy.read_text().replace("organisation: ", f"organisation: {name} ", 1))
        clone.git("commit", "--quiet", "-am", "rename")
    a.ok("sync")
    b.ok("note", case_id, "mine", "--at", "2026-11-20T10:00", actor=BOB)
    before = b.head()
    code, _, err = b.cli("sync", actor=BOB)
    assert (code, err) == (
        1,
        "complaintctl: policy.yaml was changed on both sides and is not a case file; merge by hand: "
        "git merge origin/main, fix the file, commit; then sync again\n",
    )
    assert b.head() == before and b.clean()
    assert not (b.root / ".git" / "MERGE_HEAD").exists()


def test_a_push_the_remote_refuses_is_not_retried(team: tuple[Clone, Clone, Path]) -> None:
    a, b, remote = team
    case_id = shared_case(a, b)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is protected: open a pull request' >&2\nexit 1\n")
    hook.chmod(0o755)
    a.ok("note", case_id, "x", "--at", "2026-11-20T10:00")
    before = a.head()
    code, out, err = a.cli("sync")
    assert (code, out) == (1, "")
    assert err == (
        "complaintctl: push refused: main is protected: open a pull request; nothing was changed; "
        "fix what the remote reports and run 'complaintctl sync' again\n"
    )
    assert a.head() == before and a.clean()


def test_a_stop_on_a_retry_undoes_the_first_merge(team: tuple[Clone, Clone, Path], tmp_path: Path) -> None:
    """Alice merges Bob's note; while she pushes, Carol's close lands; Alice's
    offer cannot follow it: the sync stops and Alice's branch is as it was."""
    a, b, remote = team
    case_id = shared_case(a, b)
    subprocess.run(["git", "clone", "--quiet", str(remote), str(tmp_path / "carol")], check=True)
    c = Clone(tmp_path / "carol")
    c.ok("setup", actor=CAROL)
    c.ok("close", case_id, "--resolution", "explained", "--at", "2026-11-20T09:20", actor=CAROL)
    b.ok("note", case_id, "Bob's", "--at", "2026-11-20T09:10", actor=BOB)
    b.ok("sync", actor=BOB)
    a.ok("propose", case_id, "--amount", "20.00", "--not-overcharge", "Goodwill", "--currency", "CNY", "--kind", "refund",
         "--terms", "Refund", "--at", "2026-11-20T09:30")  # fmt: skip
    hook = a.root / ".git" / "hooks" / "pre-push"
    hook.write_text(
        f"#!/bin/sh\n[ -e {tmp_path}/raced ] && exit 0\ntouch {tmp_path}/raced\ngit -C {c.root} pull -q --no-edit && git -C {c.root} push -q origin main\n"
    )
    hook.chmod(0o755)
    before = a.head()
    code, _, err = a.cli("sync")
    assert code == 1
    assert err.startswith(f"complaintctl: {case_id}: concurrent changes cannot both stand: ours 'propose")
    assert a.head() == before and a.clean()
    assert not (a.root / ".git" / "MERGE_HEAD").exists()


def test_a_pull_rebase_is_explained_never_pushed_and_its_way_back_works(
    team: tuple[Clone, Clone, Path],
) -> None:
    a, b, remote = team
    case_id = a.ok(*open_args())
    a.git("push", "-q")
    b.git("pull", "-q")
    a.ok("note", case_id, "from alice", "--at", "2026-11-20T10:00")
    a.git("push", "-q")
    b.ok("note", case_id, "from bob", "--at", "2026-11-20T09:30", actor=BOB)  # earlier than Alice's
    subprocess.run(["git", "pull", "--rebase"], cwd=b.root, capture_output=True, check=True)
    rebased = b.head()[:10]
    code, out, _ = b.cli("verify")
    assert code == 1 and out.startswith(f"{rebased} {case_id}: events already on record were changed")
    assert "run 'git reset --keep ORIG_HEAD' right after the rebase" in out
    remote_head = git(remote, "rev-parse", "main")
    code, _, err = b.cli("sync", actor=BOB)
    assert (code, err) == (
        1,
        f"complaintctl: will not push {rebased}: {case_id}: events already on record were changed or "
        "removed; it was rebased; run 'git reset --keep ORIG_HEAD' right after the rebase (or reset to "
        "the commit 'git reflog' shows before it), then 'complaintctl sync'\n",
    )
    assert git(remote, "rev-parse", "main") == remote_head and b.head()[:10] == rebased
    b.git("reset", "--keep", "ORIG_HEAD")  # the way back, as the message says
    b.ok("sync", actor=BOB)
    assert b.cli("verify")[0] == 0 and b.clean()
    assert [x[:2] for x in b.actions(case_id)] == [("open", ALICE), ("note", BOB), ("note", ALICE)]
