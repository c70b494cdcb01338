"""Which case files differ from HEAD: what list, report and overdue say is
not on record.

'git status --untracked-files=all -- cases' said it, but at 100k cases its
search for new files read every name in every month folder and looked each
up in the index (a third of the command's time): git's own untracked cache
is used only for a status of the whole tree. So the work is split:

- ``git status --untracked-files=no -- cases``: edited, deleted and staged
  files (git compares what it has to);
- new files, month folder by month folder: a folder whose modification
  time, inode and tree at HEAD are those recorded when it last held no new
  file is skipped (creating, deleting or renaming a file in a folder changes
  its modification time; a commit changes its tree). Any other folder's
  names are compared with its tree at HEAD, and git says which of the
  newcomers it ignores (``check-ignore``), as status would have. A folder
  with sub-folders is left to ``git ls-files --others``. Only a folder that
  held nothing but HEAD's files is recorded (none new, none ignored).

The record (``.git/complaintctl/offrecord.json``) is kept only for folders
last changed over two seconds before they were looked at (a file made in
the same tick as the look cannot hide), and only on filesystems that count
sub-folders in a folder's link count. Losing it costs time, never a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path

from complaintctl.store import earlygit
from complaintctl.store.gitwrite import git
from complaintctl.store.workspace import Workspace

_RECORD_FORMAT = 1
# A folder changed this recently may still change within the same clock tick.
_RACY_NS = 2_000_000_000
_YEAR = re.compile(r"^\d{4}$")
_MONTH = re.compile(r"^\d{2}$")


def differ(ws: Workspace, heads: Mapping[str, str]) -> tuple[set[str], set[str]]:
    """(paths under cases/ that differ from HEAD: edited, staged or new;
    those deleted), as 'git status -uall -- cases' lists them. ``heads``:
    HEAD's month folders ('YYYY-MM') and their tree ids."""
    dirty: set[str] = set()
    deleted: set[str] = set()
    # Begun by the start for a reading command (store/earlygit.py), else now.
    status = earlygit.take(str(ws.root), earlygit.STATUS)
    if status is None:
        status = git(ws.root, *earlygit.STATUS)
    elif status.returncode != 0:
        status = git(ws.root, *earlygit.STATUS)  # said as every git failure is said
    for line in status.stdout.split("\0"):
        if len(line) > 3:
            (deleted if "D" in line[:2] else dirty).add(line[3:])
    dirty |= _new_files(ws, heads)
    return dirty, deleted


def _new_files(ws: Workspace, heads: Mapping[str, str]) -> set[str]:
    """Untracked, not ignored files in the month folders (cases/YYYY/MM)."""
    record_path = ws.git_dir() / "complaintctl" / "offrecord.json"
    kept = _read_record(record_path)
    now_ns = time.time_ns()
    found: set[str] = set()
    clean: dict[str, list[object]] = {}
    for rel, st in _month_folders(ws.root):
        month = f"{rel[6:10]}-{rel[11:13]}"
        tree = heads.get(month)
        mark: list[object] = [st.st_mtime_ns, st.st_ino, st.st_dev, tree]
        if kept.get(rel) == mark:
            clean[rel] = mark
            continue
        new, nothing = _look(ws, rel, tree)
        found |= new
        settled = now_ns - st.st_mtime_ns > _RACY_NS and st.st_nlink == 2  # no sub-folder
        if nothing and settled:
            clean[rel] = mark
    if clean != kept:
        _write_record(record_path, clean)
    return found


def _month_folders(root: Path) -> list[tuple[str, os.stat_result]]:
    """cases/YYYY/MM folders in the work tree, with their stat."""
    out = []
    with contextlib.suppress(OSError):
        for year in os.scandir(root / "cases"):
            if not (_YEAR.match(year.name) and year.is_dir(follow_symlinks=False)):
                continue
            with contextlib.suppress(OSError):
                for month in os.scandir(year.path):
                    if _MONTH.match(month.name) and month.is_dir(follow_symlinks=False):
                        with contextlib.suppress(OSError):
                            out.append((f"cases/{year.name}/{month.name}", month.stat(follow_symlinks=False)))
    return out


def _look(ws: Workspace, rel: str, tree: str | None) -> tuple[set[str], bool]:
    """(new files in the month folder ``rel``, whether it holds nothing but
    HEAD's files: no sub-folder, no newcomer, not even an ignored one, so a
    change to .gitignore cannot make a file there new unseen)."""
    names: list[str] = []
    subfolder = False
    with contextlib.suppress(OSError):
        for entry in os.scandir(ws.root / rel):
            if entry.is_dir(follow_symlinks=False):
                subfolder = True
            else:
                names.append(entry.name)
    # A name that is not UTF-8 (scandir's surrogates) cannot be matched with
    # git's listing as decoded here: git looks, as for a sub-folder.
    if subfolder or not all(_utf8(name) for name in names):
        out = git(ws.root, "ls-files", "-z", "--others", "--exclude-standard", "--", rel + "/")
        return {p for p in out.stdout.split("\0") if p}, False
    known: set[str] = set()
    if tree is not None:
        listing = git(ws.root, "ls-tree", "-z", "--name-only", tree)
        known = set(listing.stdout.split("\0"))
    newcomers = [f"{rel}/{name}" for name in names if name not in known]
    if not newcomers:
        return set(), True
    # As status does: what .gitignore (or info/exclude, core.excludesFile) covers is not new.
    # (--no-index: a staged newcomer is named by 'status' anyway.)
    ignored = git(
        ws.root, "check-ignore", "-z", "--no-index", "--stdin", stdin="\0".join(newcomers) + "\0", check=False
    )
    return set(newcomers) - set(ignored.stdout.split("\0")), False


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _read_record(path: Path) -> dict[str, list[object]]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _RECORD_FORMAT:
        return {}
    folders = data.get("folders")
    return folders if isinstance(folders, dict) else {}


def _write_record(path: Path, folders: dict[str, list[object]]) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"format": _RECORD_FORMAT, "folders": folders}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
