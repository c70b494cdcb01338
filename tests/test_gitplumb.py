"""The plumbing commit: the commit 'git add' + 'git commit' would make.

Each changing command commits through store/gitplumb.py unless git's own
commit must do it (hooks, signing, a first commit). These tests hold it to
git's result: the same tree and message, an index that matches HEAD, other
staged work left staged and out of the record, HEAD moved only from where
it was, and a fall-back to 'git commit' wherever git would do more.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from complaintctl.errors import GitError
from complaintctl.store import gitplumb, gitwrite
from tests.helpers import Workspace, case_path, git, open_args


def _index_is_head(ws: Workspace) -> None:
    """The index holds exactly HEAD's tree, and nothing is left over."""
    assert git(ws.root, "write-tree").strip() == git(ws.root, "rev-parse", "HEAD^{tree}").strip()
    assert ws.status() == ""


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository for mktree --missing to run in (it writes nothing)."""
    folder = tmp_path_factory.mktemp("bare")
    subprocess.run(["git", "init", "-q", "--bare", str(folder)], check=True)
    return folder


def _start(ws: Workspace) -> gitplumb.Start:
    head, tree = git(ws.root, "rev-parse", "HEAD", "HEAD^{tree}").split()
    return gitplumb.Start(head, tree)


def test_a_note_commits_what_git_commit_would(run: Any, ws: Workspace) -> None:
    case_id = run(*open_args()).stdout.strip()
    rel = str(case_path(ws.root, case_id).relative_to(ws.root))
    before = git(ws.root, "rev-parse", "HEAD").strip()
    assert run("note", case_id, "Called back  ").exit_code == 0
    _index_is_head(ws)
    ours = git(ws.root, "rev-parse", "HEAD").strip()
    assert git(ws.root, "diff-tree", "--no-commit-id", "--name-only", "-r", ours).split() == [rel]
    assert git(ws.root, "rev-parse", f"{ours}^").strip() == before
    # HEAD's and the branch's reflogs say what 'git commit' says.
    for ref in ("HEAD", "main"):
        assert git(ws.root, "reflog", "-1", "--format=%gs", ref).strip() == f"commit: {ws.head_subject()}"
    # The same change through 'git commit', from the same start, by the same author at the same time.
    author = git(ws.root, "log", "-1", "--format=%an%x00%ae%x00%ad", "--date=raw").split("\0")
    message = git(ws.root, "log", "-1", "--format=%B")
    git(ws.root, "reset", "-q", "--soft", before)
    env = {
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_AUTHOR_DATE": author[2].strip(),
    }
    subprocess.run(
        ["git", "commit", "-q", "--file=-"],
        cwd=ws.root,
        input=message,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    theirs = git(ws.root, "rev-parse", "HEAD").strip()
    assert git(ws.root, "rev-parse", f"{theirs}^{{tree}}") == git(ws.root, "rev-parse", f"{ours}^{{tree}}")
    assert (
        git(ws.root, "cat-file", "-p", theirs).split("\n", 1)[1].split("\n\n", 1)[1]
        == (git(ws.root, "cat-file", "-p", ours).split("\n", 1)[1].split("\n\n", 1)[1])
    )


def test_git_reset_keep_undoes_a_note_straight_after_it(run: Any, ws: Workspace) -> None:
    """The index entries a commit stages carry the files' stat data, as after
    'git add': without it git refuses 'reset --keep' and 'reset --merge' as
    "not uptodate" until something (a 'git status') refreshes the index."""
    case_id = run(*open_args()).stdout.strip()
    path = case_path(ws.root, case_id)
    before = path.read_bytes()
    time.sleep(1.1)  # not in the index's second, where git would look at the content anyway
    assert run("note", case_id, "Called back").exit_code == 0
    for mode in ("--keep", "--merge"):
        done = subprocess.run(
            ["git", "reset", "-q", mode, "HEAD"], cwd=ws.root, capture_output=True, text=True
        )
        assert (done.returncode, done.stderr) == (0, "")
    done = subprocess.run(
        ["git", "reset", "-q", "--keep", "HEAD~1"], cwd=ws.root, capture_output=True, text=True
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert path.read_bytes() == before
    assert ws.status() == ""


def test_new_folders_and_many_files_in_one_commit(run: Any, ws: Workspace) -> None:
    """As 'agree' with evidence: a folder HEAD lacks, two new files in it, the case changed."""
    case_id = run(*open_args()).stdout.strip()
    path = case_path(ws.root, case_id)
    head = _start(ws)
    (ws.root / "evidence" / case_id).mkdir(parents=True)
    for name in ("offer-1-1.pdf", "agreement-offer-1.html"):
        (ws.root / "evidence" / case_id / name).write_bytes(b"%PDF-1.4\n" + name.encode())
    path.write_text(path.read_text(encoding="utf-8") + "# changed\n", encoding="utf-8")
    paths = [
        str(path.relative_to(ws.root)),
        f"evidence/{case_id}/offer-1-1.pdf",
        f"evidence/{case_id}/agreement-offer-1.html",
    ]
    gitplumb.commit(ws.root, head, paths, "Agree\n", {}, set())
    _index_is_head(ws)
    assert sorted(git(ws.root, "diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD").split()) == sorted(
        paths
    )


def test_staged_work_of_the_user_stays_staged_and_out(run: Any, ws: Workspace) -> None:
    case_id = run(*open_args()).stdout.strip()
    (ws.root / "notes.txt").write_text("my own notes\n")
    git(ws.root, "add", "notes.txt")
    assert run("note", case_id, "Called back").exit_code == 0
    assert "notes.txt" not in git(ws.root, "show", "--name-only", "--format=", "HEAD")
    assert ws.status() == "A  notes.txt\n"


def test_head_moved_meanwhile_is_refused_and_nothing_moves(run: Any, ws: Workspace) -> None:
    case_id = run(*open_args()).stdout.strip()
    path = case_path(ws.root, case_id)
    rel = str(path.relative_to(ws.root))
    old = git(ws.root, "rev-parse", "HEAD~1").strip()  # not HEAD: someone committed since
    head = git(ws.root, "rev-parse", "HEAD").strip()
    path.write_text(path.read_text(encoding="utf-8") + "# x\n", encoding="utf-8")
    with pytest.raises(GitError, match="HEAD moved"):
        gitplumb.commit(ws.root, gitplumb.Start(old, _start(ws).tree), [rel], "Subject\n", {}, set())
    assert git(ws.root, "rev-parse", "HEAD").strip() == head


def test_a_removed_file_leaves_the_tree_and_an_empty_folder_goes(run: Any, ws: Workspace) -> None:
    case_id = run(*open_args()).stdout.strip()
    path = case_path(ws.root, case_id)
    rel = str(path.relative_to(ws.root))
    path.unlink()
    gitplumb.commit(ws.root, _start(ws), [rel], "Remove\n", {}, set())
    _index_is_head(ws)
    assert git(ws.root, "ls-tree", "-r", "--name-only", "HEAD", "--", "cases").split() == ["cases/.gitkeep"]


@pytest.mark.parametrize(
    "setting",
    ["hook", "signing", "cleanup", "link"],
)
def test_git_commit_makes_it_where_git_would_do_more(run: Any, ws: Workspace, setting: str) -> None:
    case_id = run(*open_args()).stdout.strip()
    rel = str(case_path(ws.root, case_id).relative_to(ws.root))
    assert gitplumb.plumbing_head(ws.root, [rel]) == _start(ws)
    if setting == "hook":
        hook = ws.root / ".git" / "hooks" / "commit-msg"
        hook.write_text("#!/bin/sh\necho 'Checked-By: hook' >> \"$1\"\n")
        hook.chmod(0o755)
    elif setting == "signing":
        git(ws.root, "config", "commit.gpgSign", "true")
    elif setting == "cleanup":
        git(ws.root, "config", "commit.cleanup", "strip")
    else:
        (ws.root / "link.yaml").symlink_to(rel)
        rel = "link.yaml"
    assert gitplumb.plumbing_head(ws.root, [rel]) is None
    if setting == "hook":  # and the hook runs, as it always did
        assert run("note", case_id, "Called back").exit_code == 0
        assert "Checked-By: hook" in ws.head_message()
        _index_is_head(ws)


def test_a_file_name_git_cannot_read_as_utf8_falls_back_to_git_commit(run: Any, ws: Workspace) -> None:
    case_id = run(*open_args()).stdout.strip()
    odd = bytes(ws.root) + b"/caf\xe9.txt"
    with open(odd, "w") as handle:
        handle.write("x\n")
    subprocess.run([b"git", b"add", b"caf\xe9.txt"], cwd=ws.root, check=True)
    git(ws.root, "commit", "-q", "-m", "a file of the user's")
    assert run("note", case_id, "Called back").exit_code == 0
    _index_is_head(ws)
    assert (
        b"caf\xe9.txt"
        in subprocess.run(
            ["git", "ls-tree", "-z", "--name-only", "HEAD"], cwd=ws.root, capture_output=True, check=True
        ).stdout
    )


@given(st.lists(st.text(alphabet=" \t#-abc\u00e9\n\r\x0b\x0c\u3000\xa0\u2028\x85", max_size=12), max_size=6))
def test_messages_are_cleaned_up_as_git_commit_does(lines: list[str]) -> None:
    text = "\n".join(lines)
    git_says = subprocess.run(
        ["git", "stripspace"], input=text.encode("utf-8"), capture_output=True, check=True
    ).stdout.decode("utf-8")
    assert gitwrite.clean_message(text) == git_says


NAMES = ["a", "a.b", "a-b", "a0", "b", "ab", "a_b", "Z", "é"]
BLOB, OTHER_BLOB = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391", "8b137891791fe96927ad78e64b0aad7bded08bdc"
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def _mktree(bare: Path, entries: dict[str, tuple[str, str]]) -> str:
    listing = "".join(
        f"{mode} {'tree' if mode == '40000' else 'blob'} {oid}\t{name}\n"
        for name, (mode, oid) in entries.items()
    )
    return subprocess.run(
        ["git", "mktree", "--missing"], input=listing, capture_output=True, text=True, check=True, cwd=bare
    ).stdout.strip()


@given(st.dictionaries(st.sampled_from(NAMES), st.sampled_from(["100644", "100755", "40000"]), min_size=1))
def test_tree_ids_are_the_ones_git_gives(bare: Path, names: dict[str, str]) -> None:
    """Folders sort as if their name ended in '/': 'a' (a folder) after 'a-b', before 'a0'."""
    entries = {name: (mode, EMPTY_TREE if mode == "40000" else BLOB) for name, mode in names.items()}
    assert gitplumb.tree_id(entries) == _mktree(bare, entries)


@given(
    before=st.dictionaries(st.sampled_from(NAMES), st.sampled_from(["100644", "100755", "40000"])),
    changes=st.dictionaries(st.sampled_from(NAMES), st.sampled_from(["file", "folder", "gone"]), min_size=1),
)
@example(before={"a": "40000"}, changes={"a-b": "file"})  # a new file before a folder it prefixes
@example(before={"a-b": "100644", "a0": "100755"}, changes={"a": "folder", "a0": "file"})
@settings(max_examples=300)
def test_a_spliced_tree_is_the_one_git_makes(
    bare: Path, before: dict[str, str], changes: dict[str, str]
) -> None:
    """A commit changes a folder's tree object as stored, entry by entry:
    the result is the tree git makes of the same entries. Folders sort as
    if their name ended in '/' ('a-b', folder 'a', 'a0'); a file keeps its
    mode; a file's change over a folder of that name is for 'git commit'."""
    entries = {name: (mode, EMPTY_TREE if mode == "40000" else BLOB) for name, mode in before.items()}
    old = _mktree(bare, entries)
    data = subprocess.run(["git", "cat-file", "tree", old], capture_output=True, check=True, cwd=bare).stdout
    wanted: dict[bytes, gitplumb.Change] = {}
    for name, what in changes.items():
        if what == "gone":
            wanted[name.encode()] = None
            entries.pop(name, None)
        elif what == "folder":
            wanted[name.encode()] = (gitplumb.TREE, bytes.fromhex(EMPTY_TREE))
            entries[name] = ("40000", EMPTY_TREE)
        else:
            wanted[name.encode()] = (gitplumb.FILE, bytes.fromhex(OTHER_BLOB))
            kept = entries.get(name, ("100644", ""))[0]
            entries[name] = (kept, OTHER_BLOB)
    if any(what == "file" and before.get(name) == "40000" for name, what in changes.items()):
        with pytest.raises(gitplumb.Unsupported, match="is not a plain file in the last commit"):
            gitplumb.splice(data, wanted, "cases")
        return
    made = gitplumb.splice(data, wanted)
    assert gitplumb.raw_tree_id(made).hex() == _mktree(bare, entries)


def test_an_index_split_badly_by_a_big_checkout_is_split_afresh(run: Any, ws: Workspace) -> None:
    """git leaves every entry in the split index's own part after many files
    are checked out in the same second; the next commit splits it afresh."""
    case_id = run(*open_args()).stdout.strip()
    bulk = ws.root / "bulk"
    bulk.mkdir()
    for i in range(5000):
        (bulk / f"file-{i:05d}.txt").write_text(f"{i}\n")
    git(ws.root, "add", "bulk")
    git(ws.root, "commit", "-q", "-m", "many files at once")
    shutil.rmtree(bulk)
    git(ws.root, "checkout", "-q", "--", "bulk")  # as a clone or a reset --hard does
    index = ws.root / ".git" / "index"
    assert index.stat().st_size > 256 * 1024  # the whole index, in the own part
    time.sleep(1.1)  # files changed in the index's own second stay apart (racy-git) until
    git(ws.root, "status")  # an index written a second later: it keeps them all in its own part
    assert index.stat().st_size > 256 * 1024
    assert run("note", case_id, "Called back").exit_code == 0
    assert index.stat().st_size < 16 * 1024
    _index_is_head(ws)
    assert run("note", case_id, "Called back again").exit_code == 0
    assert index.stat().st_size < 16 * 1024


def test_a_held_workspace_lock_refuses_in_one_line_and_changes_nothing(
    run: Any, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = run(*open_args()).stdout.strip()
    holder = subprocess.Popen(
        [
            "python3",
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "time.sleep(30)\n",
            str(ws.root / ".git" / "complaintctl.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        monkeypatch.setattr(gitwrite, "LOCK_TIMEOUT_S", 0.3)
        commits = ws.commits()
        result = run("note", case_id, "Called back")
        assert (result.exit_code, result.stderr) == (
            1,
            "complaintctl: another complaintctl command has held the workspace lock for 0 s; "
            "wait for it to finish and run the command again\n",
        )
        assert ws.commits() == commits and ws.status() == ""
    finally:
        holder.kill()
        holder.wait()
    assert run("note", case_id, "Called back").exit_code == 0  # the lock went with its holder


def test_changing_commands_run_side_by_side_take_turns(run: Any, ws: Workspace) -> None:
    case_id = run(*open_args()).stdout.strip()
    commits = ws.commits()
    env = {**os.environ, "COMPLAINTCTL_ROOT": str(ws.root)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "complaintctl", "note", case_id, f"Note {i}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    assert [(p.wait(), p.stderr.read() if p.stderr else "") for p in procs] == [(0, "")] * 4
    assert ws.commits() == commits + 4
    _index_is_head(ws)
    verify = subprocess.run([sys.executable, "-m", "complaintctl", "verify"], env=env, capture_output=True)
    assert verify.returncode == 0, verify.stdout


def test_a_commit_someone_makes_meanwhile_survives_the_roll_back(
    run: Any, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HEAD moved by another git while a note commits: the note is refused
    and undone, and the other commit stays where it is. (The other git
    commits once the note's staging has let go of the index, as it would
    have to; it commits its own file only, the note's being staged.)"""
    case_id = run(*open_args()).stdout.strip()
    path = case_path(ws.root, case_id)
    before = path.read_bytes()
    real_trees, real_stage = gitplumb._write_trees, gitplumb._stage
    staged = threading.Event()

    def stage(*args: Any) -> None:
        real_stage(*args)
        staged.set()

    def and_someone_commits(root: Path, trees: Any) -> None:
        real_trees(root, trees)
        assert staged.wait(60)
        (ws.root / "mine.txt").write_text("mine\n")
        git(ws.root, "add", "mine.txt")
        git(ws.root, "commit", "-q", "-m", "the user's own commit", "--", "mine.txt")

    monkeypatch.setattr(gitplumb, "_stage", stage)
    monkeypatch.setattr(gitplumb, "_write_trees", and_someone_commits)
    result = run("note", case_id, "Called back")
    assert result.exit_code == 1 and "HEAD moved while this command was committing" in result.stderr
    assert ws.head_subject() == "the user's own commit"
    assert path.read_bytes() == before and ws.status() == ""
    _index_is_head(ws)


def test_a_failure_while_the_index_is_staged_waits_for_it_then_puts_it_back(
    run: Any, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index is staged on its own git while the trees are made. When
    making them fails, the roll-back runs only once that git is done: the
    index entry is put back, not left staged (nor the roll-back refused by
    git's index lock)."""
    case_id = run(*open_args()).stdout.strip()
    path = case_path(ws.root, case_id)
    before, commits = path.read_bytes(), ws.commits()
    real_stage = gitplumb._stage

    def slow_stage(*args: Any) -> None:
        real_stage(*args)
        lock = ws.root / ".git" / "index.lock"
        lock.write_bytes(b"")  # git still holding the index when the trees fail
        time.sleep(0.5)
        lock.unlink()

    def refused(root: Path, trees: Any) -> None:
        raise GitError("git refused the trees")

    monkeypatch.setattr(gitplumb, "_stage", slow_stage)
    monkeypatch.setattr(gitplumb, "_write_trees", refused)
    result = run("note", case_id, "Called back")
    assert (result.exit_code, result.stderr) == (1, "complaintctl: git refused the trees\n")
    assert ws.commits() == commits and path.read_bytes() == before
    _index_is_head(ws)
