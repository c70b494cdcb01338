"""A disposable index of parsed cases, keyed by each file's git blob id.

Kept at ``.git/complaintctl/index-v1.json`` (never committed). A clean file's
blob id comes from ``git ls-files -s`` (read from git's index, no hashing), so
a checkout of an older commit or a pull simply yields other ids; files that
differ from git's index (hand edits, new files) are parsed fresh each time.
A missing, corrupt or stale-policy index is rebuilt. Losing it costs time,
never data.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import projection
from .audit import git
from .errors import ComplaintError
from .store import Workspace, parse_case

CASE_PATH_RE = re.compile(r"^cases/\d{4}/\d{2}/C-\d{8}-[0-9A-Z]{6}\.yaml$")


@dataclass
class Problem:
    path: str
    message: str


@dataclass
class Rows:
    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    parsed: int = 0


def _index_path(ws: Workspace) -> str:
    return str(ws.git_dir() / "complaintctl" / f"index-v{projection.VERSION}.json")


def _policy_key(ws: Workspace) -> str:
    return hashlib.sha256((ws.root / "policy.yaml").read_bytes()).hexdigest()


def _load(path: str, policy_key: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        if data.get("policy") == policy_key and isinstance(data.get("blobs"), dict):
            return dict(data["blobs"])
    except (OSError, ValueError, AttributeError):
        pass  # missing or corrupt: rebuild
    return {}


def _save(path: str, policy_key: str, blobs: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump({"policy": policy_key, "blobs": blobs}, handle, ensure_ascii=False)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # an index we cannot write only costs time


def _entry(ws: Workspace, rel: str) -> dict[str, Any]:
    """Parse one case into a row, or record why it cannot be read."""
    path = ws.root / rel
    try:
        if path.is_symlink():
            return {"error": f"{rel}: is a symbolic link; case files must be plain files"}
        text = path.read_text(encoding="utf-8")
        case = parse_case(text, rel, ws.policy, roundtrip=False)
        return {"row": projection.row(case, ws.policy.time_limits.pause_states)}
    except ComplaintError as exc:
        return {"error": str(exc)}
    except (OSError, UnicodeDecodeError) as exc:
        return {"error": f"{rel}: cannot read: {exc}"}


def read_rows(ws: Workspace, progress: Callable[[int, int], None] | None = None) -> Rows:
    """Every case as a row, through the index; unreadable files as problems."""
    tracked: dict[str, str] = {}
    listing = git(ws.root, "ls-files", "-s", "-z", "--", "cases").stdout
    for line in listing.split("\0"):
        if line:
            meta, rel = line.split("\t", 1)
            tracked[rel] = meta.split()[1]
    status = git(ws.root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", "cases").stdout
    dirty: set[str] = set()
    deleted: set[str] = set()
    for line in status.split("\0"):
        if len(line) > 3:
            (deleted if "D" in line[:2] else dirty).add(line[3:])
    paths = sorted((set(tracked) | dirty) - deleted)

    key = _policy_key(ws)
    index_path = _index_path(ws)
    cached = _load(index_path, key)
    fresh: dict[str, Any] = {}
    result = Rows()
    misses = [p for p in paths if CASE_PATH_RE.match(p) and (p in dirty or tracked[p] not in cached)]
    done = 0
    entry: dict[str, Any]
    for rel in paths:
        if not CASE_PATH_RE.match(rel):
            continue
        blob = tracked.get(rel)
        if rel in dirty or blob is None:
            entry = _entry(ws, rel)
            result.parsed += 1
        elif blob in cached:
            entry = cached[blob]
            fresh[blob] = entry
        else:
            entry = _entry(ws, rel)
            result.parsed += 1
            fresh[blob] = entry
            done += 1
            if progress and done % 500 == 0:
                progress(done, len(misses))
        if "row" in entry:
            result.rows.append(entry["row"])
        else:
            result.problems.append(Problem(rel, entry["error"]))
    if result.parsed or len(fresh) != len(cached):
        _save(index_path, key, fresh)
    return result
