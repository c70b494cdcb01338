"""The one git reader: commits, their trailers, changed files, blobs, and a
case's log.

Bulk reads (``verify``, ``sync``, the merge driver) take two git processes
whatever the size of the history: one ``git log`` for the commits and the
files each changes, one ``git cat-file --batch`` for file contents. Merge
commits list no files here; the caller diffs them against each parent.
``case_log`` (the ``log`` command) walks one file's history with GitPython.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from complaintctl.errors import GitError
from complaintctl.store import earlygit
from complaintctl.store.gitwrite import TRAILER_PREFIX, git, git_records, no_index

TRAILER_RE = re.compile(rf"^{TRAILER_PREFIX}([A-Za-z][A-Za-z-]*): (.*)$", re.MULTILINE)


def trailers(message: str) -> dict[str, list[str]]:
    """``Complaintctl-KEY: value`` lines of a commit message, by KEY (a key may repeat)."""
    found: dict[str, list[str]] = {}
    for key, value in TRAILER_RE.findall(message):
        found.setdefault(key, []).append(value.strip())
    return found


@dataclass(frozen=True)
class FileChange:
    path: str
    status: str  # A, M, D, T ...
    old: str | None  # blob ids; None for "no file"
    new: str | None


@dataclass
class Commit:
    id: str
    parents: list[str]
    author_email: str
    message: str
    changes: list[FileChange] = field(default_factory=list)
    committer_email: str = ""
    committed_at: int = 0  # the committer date, seconds since 1970

    def trailers(self) -> dict[str, list[str]]:
        return trailers(self.message)

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0]


ZERO = "0" * 40


def commits(root: Path, spec: str) -> Iterator[Commit]:
    """Commits in ``spec`` (e.g. 'HEAD' or 'REV..HEAD'), oldest first, read
    as git writes them (the log of 100k cases' changes is tens of MB)."""
    records = git_records(
        root,
        "log",
        "--reverse",
        "--topo-order",
        "--raw",
        "--no-abbrev",
        "--no-renames",
        "-z",
        "--format=%x1e%H %P%x1f%ae%x1f%ce%x1f%ct%x1f%B%x1f",
        spec,
        sep=b"\x1e",
    )
    next(records, None)  # what comes before the first commit: nothing
    for record in records:
        head, email, committer, when, message, raw = record.split("\x1f", 5)
        ids = head.split()
        commit = Commit(ids[0], ids[1:], email, message, committer_email=committer, committed_at=int(when))
        fields = raw.strip("\n\0").split("\0")
        for meta, path in zip(fields[0::2], fields[1::2], strict=False):
            parts = meta.lstrip("\n:").split()
            if len(parts) < 5:
                continue
            commit.changes.append(_change(path, parts))
        yield commit


def diff(root: Path, old: str, new: str, under: str) -> list[FileChange]:
    out = git(
        root, "diff-tree", "-r", "--no-abbrev", "--no-renames", "-z", old, new, "--", under, env=no_index()
    ).stdout
    fields = out.strip("\0").split("\0")
    changes = []
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        parts = meta.lstrip(":").split()
        changes.append(_change(path, parts))
    return changes


def _change(path: str, parts: list[str]) -> FileChange:
    """One ':oldmode newmode old new status' line of --raw output."""
    old, new = parts[2], parts[3]
    return FileChange(path, parts[4][0], None if old == ZERO else old, None if new == ZERO else new)


def file_history(
    root: Path, rev: str, rel: str, read: Callable[[str], str | None] | None = None
) -> Iterator[str]:
    """Earlier texts of one file reachable from ``rev``, newest first, read
    lazily (a merge usually needs only the first); ``read`` takes 'REV:PATH'."""

    def show(name: str) -> str | None:
        shown = git(root, "show", name, check=False)
        return shown.stdout if shown.returncode == 0 else None

    for commit in git(root, "log", "--format=%H", rev, "--", rel).stdout.split():
        text = (read or show)(f"{commit}:{rel}")
        if text is not None:
            yield text


def blob_bytes(root: Path, blob: str) -> bytes | None:
    """One object's bytes as stored (None if git lacks it)."""
    found = subprocess.run(
        ["git", "cat-file", "blob", blob], cwd=root, env=earlygit.env(), capture_output=True, check=False
    )
    return found.stdout if found.returncode == 0 else None


class Blobs:
    """File contents by blob id or 'REV:PATH', through one cat-file process."""

    def __init__(self, root: Path) -> None:
        self._proc = subprocess.Popen(
            ["git", "cat-file", "--batch"],
            cwd=root,
            env=earlygit.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def text(self, name: str) -> str | None:
        stdin: IO[bytes] | None = self._proc.stdin
        stdout: IO[bytes] | None = self._proc.stdout
        if stdin is None or stdout is None:  # pragma: no cover - Popen with PIPE
            raise GitError("cat-file is not running")
        stdin.write(name.encode("utf-8") + b"\n")
        stdin.flush()
        header = stdout.readline().decode("utf-8", "replace").split()
        if len(header) < 3 or header[1] == "missing":
            return None
        content = stdout.read(int(header[2]))
        stdout.read(1)  # the newline after each object
        return content.decode("utf-8", "replace")

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait()


def case_log(root: Path, rel: str) -> list[dict[str, str]]:
    """Commits that touched the case file, oldest first."""
    import git as gitpython

    repo = gitpython.Repo(root)
    entries = []
    # --full-history: a merge that kept one side of the case is part of its story.
    for commit in repo.iter_commits(paths=rel, full_history=True):
        message = str(commit.message)
        found = trailers(message)
        case_id = Path(rel).stem
        kept = [line for line in message.splitlines() if line.startswith(f"{case_id}: kept ")]

        def one(key: str, default: str = "", found: dict[str, list[str]] = found) -> str:
            return found.get(key, [default])[0]

        entries.append(
            {
                "commit": commit.hexsha[:10],
                "date": commit.authored_datetime.isoformat(timespec="seconds"),
                "author": f"{commit.author.name} <{commit.author.email}>",
                "subject": (message.splitlines()[0] if message else "")
                + "".join(f" ({line.split(': ', 1)[1]})" for line in kept),
                "action": one("Action", "?"),
                "from": one("From"),
                "to": one("To"),
                "by_tool": "yes" if found.get("Case") else "no",
            }
        )
    entries.reverse()
    return entries
