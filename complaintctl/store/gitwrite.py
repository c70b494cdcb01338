"""The one git writer: lock, preflight, commit, merge commit, roll back.

git is run as a subprocess with an explicit argument list (never a shell),
and ``--`` before every path. One changing command is one commit that stages
only the files it touched; on any failure the files are restored and the
index entries reset, so the workspace is exactly as it was.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from complaintctl.core.policy import Policy
from complaintctl.core.times import format_time
from complaintctl.errors import GitError, LockError, WorkspaceError
from complaintctl.store import earlygit
from complaintctl.store.workspace import FileBackup, Workspace

TRAILER_PREFIX = "Complaintctl-"
LOCK_TIMEOUT_S = 30.0


def git(
    root: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=root,
            env=_env(env),
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed", fix="install git and try again") from None
    if check and result.returncode != 0:
        raise GitError(explain(result.stderr), fix=fix_for(result.stderr))
    return result


def no_index() -> dict[str, str]:
    """The environment for a git command that compares trees and needs no
    index, but reads it anyway (diff-tree: ~80 ms at 100k files): an index
    file that does not exist is an empty index to git."""
    import tempfile

    name = f"complaintctl-no-index-{os.getpid()}-{os.urandom(8).hex()}"
    return {"GIT_INDEX_FILE": os.path.join(tempfile.gettempdir(), name)}


def _env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    full_env = earlygit.env()
    if env:
        full_env.update(env)
    return full_env


def git_records(root: Path, *args: str, check: bool = True, sep: bytes = b"\0") -> Iterator[str]:
    """The records git writes, separated by ``sep`` (NUL: run with -z),
    read as they come: a listing of 180k files is never held whole (as
    bytes, text and its split). They are what ``git(...).stdout.split(sep)``
    gives; with ``check``, GitError once they are read if git failed."""
    import tempfile

    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(
                ["git", *args], cwd=root, env=_env(), stdout=subprocess.PIPE, stderr=errors
            )
        except FileNotFoundError:
            raise GitError("git is not installed", fix="install git and try again") from None
        assert proc.stdout is not None
        with proc:
            rest = b""
            while chunk := proc.stdout.read(1 << 16):
                parts = (rest + chunk).split(sep)
                rest = parts.pop()
                for part in parts:
                    yield part.decode("utf-8", "replace")
            yield rest.decode("utf-8", "replace")
        if check and proc.returncode != 0:
            errors.seek(0)
            stderr = errors.read().decode("utf-8", "replace")
            raise GitError(explain(stderr), fix=fix_for(stderr))


def explain(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return "git: " + line.split(":", 1)[1].strip()
    return "git: " + (lines[-1] if lines else "failed")


def fix_for(stderr: str) -> str | None:
    if "No space left on device" in stderr or "Out of diskspace" in stderr:
        from complaintctl.store.workspace import DISK_FULL_FIX

        return DISK_FULL_FIX
    if "index.lock" in stderr:
        return "another git command is running; if none is, run 'complaintctl repair' (stale git locks go)"
    if ".lock" in stderr and ("File exists" in stderr or "Unable to create" in stderr):
        return "another git command is running; if none is, run 'complaintctl repair' (stale git locks go)"
    if "tell me who you are" in stderr or "empty ident" in stderr or "identity" in stderr:
        return (
            "set your git identity: git config --global user.name 'Your Name' && "
            "git config --global user.email you@example.com"
        )
    return None


def git_user_email(root: Path) -> str | None:
    result = git(root, "config", "--get", "user.email", check=False)
    return result.stdout.strip() or None


@contextlib.contextmanager
def workspace_lock(ws: Workspace) -> Iterator[None]:
    """Serialise changing commands in one workspace (across processes)."""
    path = ws.git_dir() / earlygit.LOCK
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: filelock (a dependency there only)
        with _filelock(path):
            yield
        return
    # flock(2), as filelock takes it on POSIX (the two interlock), without
    # filelock's ~25 ms of imports on every changing command.
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _lock_unusable(path, exc) from None
    try:
        import time

        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise _lock_timeout() from None
                time.sleep(0.05)
        try:
            try:
                earlygit.locked(str(ws.root), fd)
            except OSError as exc:
                raise _lock_unusable(path, exc) from None
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _lock_unusable(path: Path, exc: OSError) -> WorkspaceError:
    return WorkspaceError(
        f"cannot use the workspace lock file: {exc.strerror or exc}",
        where=str(path),
        fix="check the disk's free space and the git folder's permissions, then run the command again",
    )


def _lock_timeout() -> LockError:
    return LockError(
        f"another complaintctl command has held the workspace lock for {LOCK_TIMEOUT_S:.0f} s",
        fix="wait for it to finish and run the command again",
    )


@contextlib.contextmanager
def _filelock(path: Path) -> Iterator[None]:  # pragma: no cover - Windows
    from filelock import FileLock, Timeout

    try:
        with FileLock(str(path), timeout=LOCK_TIMEOUT_S):
            yield
    except Timeout:
        raise _lock_timeout() from None


AUDITED = earlygit.AUDITED


def preflight(
    ws: Workspace, paths: Sequence[str], *, clean_tree: bool = False, audited: bool = False
) -> None:
    """Refuse to run on a detached HEAD, mid-merge/rebase, or with uncommitted
    changes to ``paths`` (with ``clean_tree``: to any tracked file; with
    ``audited``: to policy.yaml or templates/ too, in the same git call)."""
    git_dir = ws.git_dir()
    # .git/HEAD holds "ref: refs/heads/NAME" on a branch, a bare id when detached.
    head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    if not head.startswith("ref: "):
        raise WorkspaceError(
            "HEAD is detached; complaintctl commits only on a branch",
            fix="run 'git switch BRANCH' first",
        )
    for marker, what in (
        ("MERGE_HEAD", "a merge"),
        ("rebase-merge", "a rebase"),
        ("rebase-apply", "a rebase"),
        ("CHERRY_PICK_HEAD", "a cherry-pick"),
        ("REVERT_HEAD", "a revert"),
    ):
        if (git_dir / marker).exists():
            raise WorkspaceError(
                f"{what} is in progress in this repository",
                fix="finish or abort it (git status says how), then run the command again",
            )
    if clean_tree:
        status = git(ws.root, "--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=no")
        what = "has uncommitted changes; sync merges and pushes only committed work"
    elif paths or audited:
        args = earlygit.watched((*paths, *(AUDITED if audited else ())))
        # Begun by the start while the command's modules were imported (store/earlygit.py), else now.
        early = earlygit.take(str(ws.root), args)
        # A failure is said as every git failure is said: by asking again.
        status = early if early is not None and early.returncode == 0 else git(ws.root, *args)
        what = "has uncommitted changes"
    else:
        return
    dirty = [entry[3:] for entry in status.stdout.split("\0") if entry]
    policy_files = [d for d in dirty if d == "policy.yaml" or d.startswith("templates/")]
    if audited and policy_files:
        raise WorkspaceError(
            "has changes not yet recorded; every case change is judged by the policy on record",
            where=policy_files[0],
            fix="record them with 'complaintctl policy commit --reason ...' "
            "(or drop them: git checkout -- policy.yaml templates)",
        )
    if dirty:
        first = dirty[0]
        if first.startswith(("cases/", "evidence/")):
            fix = "put it back as last committed with 'complaintctl repair' (complaintctl did not make it)"
        elif first == "policy.yaml" or first.startswith("templates/"):
            fix = (
                "record it with 'complaintctl policy commit --reason ...', or drop it: git restore -- "
                + first
            )
        else:
            fix = f"commit it (git commit) or drop it (git restore -- {first}) first"
        raise WorkspaceError(what, where=first, fix=fix)


@dataclass(frozen=True)
class Author:
    name: str
    email: str


def author(policy: Policy, actor: str) -> Author:
    """A commit's author: the acting member's name from the policy, and their id."""
    member = policy.member(actor)
    return Author(name=member.name if member else actor, email=actor)


Trailers = Mapping[str, str] | Sequence[tuple[str, str]]


def message(subject: str, body: Sequence[str], trailers: Trailers) -> str:
    """Subject, body, then ``Complaintctl-KEY: value`` trailers (a key may repeat)."""
    lines = [subject, ""]
    if body:
        lines += [*body, ""]
    pairs = trailers.items() if isinstance(trailers, Mapping) else trailers
    lines += [f"{TRAILER_PREFIX}{key}: {value}" for key, value in pairs]
    return "\n".join(lines) + "\n"


def commit(
    ws: Workspace,
    paths: Sequence[str],
    subject: str,
    body: Sequence[str],
    trailers: Trailers,
    author: Author | None,
    at: datetime | None,
    committer: Author | None = None,
) -> None:
    """Commit exactly ``paths`` as they are in the work tree, and nothing else
    (``author`` None: git's own identity, as for the first commit of a
    workspace; ``committer``: the person at the keyboard when they are not
    git's identity)."""
    env: dict[str, str] = {}
    if author is not None:
        env.update(GIT_AUTHOR_NAME=author.name, GIT_AUTHOR_EMAIL=author.email)
    if committer is not None:
        env.update(GIT_COMMITTER_NAME=committer.name, GIT_COMMITTER_EMAIL=committer.email)
    if at is not None:
        env["GIT_AUTHOR_DATE"] = format_time(at)
    text = message(subject, body, trailers)
    from complaintctl.store import gitplumb

    start = gitplumb.plumbing_head(ws.root, paths) if author is not None else None
    if start is not None:
        try:
            gitplumb.commit(ws.root, start, paths, clean_message(text), env, _MADE)
            return
        except gitplumb.Unsupported:
            pass  # nothing moved yet: git's own commit makes it
    _porcelain_commit(ws, paths, text, env)
    _MADE.add(git(ws.root, "rev-parse", "HEAD").stdout.strip())


# The commits this process made: a roll-back moves HEAD back only from one of
# them, never from a commit someone else made meanwhile.
_MADE: set[str] = set()


def clean_message(text: str) -> str:
    """What 'git commit --file' keeps of a message (its 'whitespace' clean-up):
    no trailing spaces, tabs or CRs, no leading, trailing or repeated blank
    lines (lines end at LF only, as git reads them)."""
    kept: list[str] = []
    for line in text.split("\n"):
        line = line.rstrip(" \t\r")
        if line or (kept and kept[-1]):
            kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    return "\n".join(kept) + "\n" if kept else ""


def _porcelain_commit(ws: Workspace, paths: Sequence[str], text: str, env: dict[str, str]) -> None:
    """'git add' and 'git commit': hooks and signing as git's settings say."""
    git(ws.root, "add", "--", *paths)
    # Anything else the user had staged must stay out of the record: then
    # commit with '--only' and the paths (it builds a temporary index, ~2x the
    # cost at 100k files); when nothing else is staged, a plain commit will do.
    staged = git(ws.root, "diff", "--cached", "--name-only", "-z").stdout.split("\0")
    only = ["--only", "--", *paths] if set(filter(None, staged)) - set(paths) else []
    result = git(ws.root, "commit", "--quiet", "--file=-", *only, env=env, stdin=text, check=False)
    if result.returncode != 0:
        fix = fix_for(result.stderr) or (
            "a hook or git's settings refused the commit; fix what it reports and run the command again"
        )
        raise GitError("commit refused: " + explain(result.stderr)[5:], fix=fix)


@contextlib.contextmanager
def transaction(ws: Workspace, paths: Sequence[str]) -> Iterator[None]:
    """All or nothing: on any exception put files, index and HEAD back."""
    snapshot = FileBackup(ws.root)
    for rel in paths:
        snapshot.take(rel)
    head = git(ws.root, "rev-parse", "-q", "--verify", "HEAD", check=False).stdout.strip()
    try:
        yield
    except BaseException:
        now = git(ws.root, "rev-parse", "-q", "--verify", "HEAD", check=False).stdout.strip()
        if head and now and now != head and now in _MADE:
            # Only from our own commit, and only if HEAD is still there (compare-and-swap).
            back = git(ws.root, "update-ref", "-m", "complaintctl: roll back", "HEAD", head, now, check=False)
            now = head if back.returncode == 0 else now
        if now:  # the index entries as HEAD has them (ours undone, or someone else's kept)
            git(ws.root, "reset", "-q", now, "--", *paths, check=False)
        else:
            git(ws.root, "rm", "-q", "--cached", "--ignore-unmatch", "--", *paths, check=False)
        snapshot.restore()
        raise


def head(ws: Workspace | Path) -> str | None:
    """HEAD's commit id, None before the first commit."""
    root = ws.root if isinstance(ws, Workspace) else ws
    out = git(root, "rev-parse", "-q", "--verify", "HEAD", check=False).stdout.strip()
    return out or None


def init_repo(root: Path) -> None:
    """``git init`` a new workspace folder (quietly; the branch is git's default)."""
    git(root, "init", "--quiet")


def fast_forward(ws: Workspace, rev: str) -> None:
    git(ws.root, "merge", "--quiet", "--ff-only", rev)


def undo_to(ws: Workspace, rev: str | None) -> None:
    """Put HEAD, index and files back at ``rev``, leaving any merge in progress
    (all or nothing for sync: an earlier attempt's merge commit goes too)."""
    if (ws.git_dir() / "MERGE_HEAD").exists():
        git(ws.root, "merge", "--abort", check=False)
    if rev and head(ws) != rev:
        git(ws.root, "reset", "--quiet", "--hard", rev, check=False)


def merge_commit(
    ws: Workspace,
    theirs: str,
    merged: Mapping[str, str],
    subject: str,
    body: Sequence[str],
    trailers: Trailers,
    author: Author,
    stuck_fix: str,
) -> None:
    """One merge commit of ``theirs`` into HEAD, with the case files in
    ``merged`` (path -> text) as already merged event by event. A file
    changed on both sides that is not in ``merged`` stops it (``stuck_fix``
    says how to merge by hand); any failure puts HEAD back."""
    start = head(ws)
    try:
        # The case files are merged already: git's driver is told to keep
        # ours (a no-op), which saves a Python start-up per case.
        merging = git(
            ws.root,
            "-c",
            "merge.complaintctl.driver=true",
            "merge",
            "--quiet",
            "--no-ff",
            "--no-commit",
            theirs,
            check=False,
        )
        unmerged = set(
            filter(None, git(ws.root, "diff", "--name-only", "-z", "--diff-filter=U").stdout.split("\0"))
        )
        stuck = sorted(unmerged - set(merged))
        if stuck:
            raise WorkspaceError(
                f"{stuck[0]} was changed on both sides and is not a case file", fix=stuck_fix
            )
        if merging.returncode != 0 and not unmerged:
            raise GitError("merge failed: " + explain(merging.stderr)[5:])
        from complaintctl.store.workspace import write_atomic

        for rel, text in merged.items():
            write_atomic(ws.root / rel, text)
        if merged:
            git(ws.root, "add", "--", *merged)
        git(
            ws.root,
            "commit",
            "--quiet",
            "--no-verify",
            "--file=-",
            env={"GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email},
            stdin=message(subject, body, trailers),
        )
    except BaseException:
        git(ws.root, "merge", "--abort", check=False)
        if start:
            git(ws.root, "reset", "--quiet", "--hard", start, check=False)
        raise
