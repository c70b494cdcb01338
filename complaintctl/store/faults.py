"""What an interrupted or failed command can leave behind, and putting it back.

A changing command is all or nothing, but a kill -9, a full disk or a crash
of git itself can still leave: a case or evidence file staged or changed but
not committed, a new file not yet added, a temporary file of an atomic write,
a git lock file. ``find`` names each; ``repair`` puts the workspace back to
its last commit, touching nothing outside cases/, evidence/ and git's locks.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from complaintctl.store.gitwrite import git
from complaintctl.store.workspace import Workspace

AREAS = ("cases", "evidence")
# write_atomic's temporary files: ".NAME.XXXXXXXX.tmp" beside the file.
_TEMP_RE = re.compile(r"^\..+\.[A-Za-z0-9_]{6,}\.tmp$")
STALE_LOCK_S = 60.0  # git holds index.lock for milliseconds; a minute means a crash


@dataclass(frozen=True)
class Fault:
    path: str  # from the workspace root (git's locks: .git/...)
    what: str
    action: str  # how repair puts it back: unstage+restore, remove, unlock


def find(ws: Workspace) -> list[Fault]:
    found: list[Fault] = []
    out = git(ws.root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *AREAS).stdout
    entries = [(entry[:2], entry[3:]) for entry in filter(None, out.split("\0"))]
    tracked = {rel for code, rel in entries if code != "??"}
    for code, rel in entries:
        if code == "??" and rel in tracked:
            continue  # committed but not in the index: one fault, named below
        if code[0] not in " ?" and _index_behind(ws, rel):
            found.append(
                Fault(rel, "committed, but git's index was not updated (a command stopped)", "restore")
            )
        elif code == "??":
            if _TEMP_RE.match(Path(rel).name):
                found.append(Fault(rel, "a temporary file left by an interrupted write", "remove"))
            else:
                found.append(Fault(rel, "not committed (a file git does not track)", "remove"))
        elif code[0] not in " ?":
            found.append(Fault(rel, "staged but not committed", "restore"))
        else:
            found.append(Fault(rel, "changed but not committed", "restore"))
    git_dir = ws.git_dir()
    for lock in sorted(
        [git_dir / "index.lock", git_dir / "HEAD.lock", *git_dir.glob("refs/heads/**/*.lock")]
    ):
        if lock.exists():
            age = time.time() - lock.stat().st_mtime
            rel = f".git/{lock.relative_to(git_dir)}"
            found.append(
                Fault(
                    rel, f"a git lock file, {age:.0f} s old (a git command crashed or still runs)", "unlock"
                )
            )
    return found


def repair(ws: Workspace, faults: list[Fault]) -> list[str]:
    """Put each fault back; say what was done, one line each."""
    done: list[str] = []
    for fault in [f for f in faults if f.action == "unlock"]:
        lock = ws.git_dir() / fault.path.removeprefix(".git/")
        age = time.time() - lock.stat().st_mtime if lock.exists() else 0.0
        if age < STALE_LOCK_S:
            done.append(f"left {fault.path}: only {age:.0f} s old, a git command may be running; try again")
            continue
        lock.unlink(missing_ok=True)
        done.append(f"removed {fault.path} (a stale git lock, {age:.0f} s old)")
    restore = [f.path for f in faults if f.action == "restore"]
    if restore:
        git(ws.root, "reset", "-q", "--", *restore)
        committed = [p for p in restore if _in_head(ws, p)]
        if committed:
            git(ws.root, "checkout", "-q", "HEAD", "--", *committed)
        done += [f"restored {p} as last committed" for p in committed]
        for rel in restore:
            if rel not in committed and (ws.root / rel).is_file():
                (ws.root / rel).unlink()  # added by a command that never committed
                done.append(f"removed {rel} (never committed)")
    for fault in [f for f in faults if f.action == "remove"]:
        path = ws.root / fault.path
        if fault.path.split("/", 1)[0] in AREAS and (path.is_file() or path.is_symlink()):
            path.unlink()
            done.append(f"removed {fault.path} ({fault.what})")
    return done


def _index_behind(ws: Workspace, rel: str) -> bool:
    """The file is as last committed; only the index says otherwise."""
    path = ws.root / rel
    if not path.is_file() or path.is_symlink():
        return False
    head = git(ws.root, "rev-parse", "-q", "--verify", f"HEAD:{rel}", check=False).stdout.strip()
    return bool(head) and git(ws.root, "hash-object", "--", rel).stdout.strip() == head


def _in_head(ws: Workspace, rel: str) -> bool:
    return git(ws.root, "cat-file", "-e", f"HEAD:{rel}", check=False).returncode == 0
