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
        with open(path, "rb") as handle:
            data = json.loads(handle.read())  # bytes: no text-mode decoding pass
        if data.get("policy") != policy_key or not isinstance(data.get("blobs"), dict):
            return {}
        keys = data.get("keys")
        if keys is None:
            return dict(data["blobs"])
        out = {}
        for blob, stored in data["blobs"].items():
            if "v" in stored:  # a row stored as values in the order of "keys"
                row = dict(zip(keys, stored["v"], strict=True))
                row.update(stored.get("x") or {})
                row["blob"] = blob
                out[blob] = {"row": row}
            else:
                out[blob] = stored
        return out
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        return {}  # missing or corrupt: rebuild


FACTS = ("clock_facts", "severity_facts")


def _facts_path(index_path: str) -> str:
    return index_path.replace("index-", "facts-")


def _write(path: str, data: Any) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        text = json.dumps(data, ensure_ascii=False)  # the C encoder; json.dump() is not
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # an index we cannot write only costs time


def _save(path: str, policy_key: str, blobs: dict[str, Any]) -> None:
    """Two files: rows, and the raw facts of settled cases, which only a
    report 'as of' a moment before they settled needs (loaded on demand)."""
    # Rows are stored as lists of values under one list of keys: a third
    # smaller and faster to read than repeating every key in every row.
    keys = sorted({k for e in blobs.values() for k in e.get("row", ())} - set(FACTS) - {"blob"})
    rows: dict[str, Any] = {}
    facts: dict[str, Any] = {}
    for blob, entry in blobs.items():
        row = entry.get("row")
        if row is None:
            rows[blob] = entry
            continue
        stored: dict[str, Any] = {"v": [row.get(k) for k in keys]}
        if "clock_facts" in row:
            if (row.get("settled") or {}).get("complete"):
                facts[blob] = {k: row[k] for k in FACTS}
            else:
                stored["x"] = {k: row[k] for k in FACTS}
        rows[blob] = stored
    _write(_facts_path(path), {"policy": policy_key, "blobs": facts})
    _write(path, {"policy": policy_key, "keys": keys, "blobs": rows})
    folder = os.path.dirname(path)
    for name in os.listdir(folder):  # indexes of older versions of complaintctl
        if name.startswith(("index-v", "facts-v")) and name not in (
            os.path.basename(path),
            os.path.basename(_facts_path(path)),
        ):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))


def attach_facts(ws: Workspace, rows: list[dict[str, Any]]) -> None:
    """Give rows stored without their raw facts their facts back."""
    missing = [r for r in rows if "clock_facts" not in r]
    if not missing:
        return
    facts = _load(_facts_path(_index_path(ws)), _policy_key(ws))
    for row in missing:
        found = facts.get(row.get("blob", ""))
        if found is None:  # facts file lost: parse that one case again
            rel = f"cases/{row['id'][2:6]}/{row['id'][6:8]}/{row['id']}.yaml"
            found = _entry(ws, rel).get("row") or {}
        row.update({k: found[k] for k in FACTS if k in found})


_calendars: dict[str, Any] = {}


def _calendar(ws: Workspace) -> Any:
    key = str(ws.root)
    if key not in _calendars:
        from . import calendar, monitor

        needed = monitor.needs_calendar(ws.policy)
        _calendars[key] = calendar.build(ws.policy, ws.git_dir() / "complaintctl") if needed else None
    return _calendars[key]


def _entry(ws: Workspace, rel: str) -> dict[str, Any]:
    """Parse one case into a row, or record why it cannot be read."""
    path = ws.root / rel
    try:
        if path.is_symlink():
            return {"error": f"{rel}: is a symbolic link; case files must be plain files"}
        text = path.read_text(encoding="utf-8")
        case = parse_case(text, rel, ws.policy, roundtrip=False)
        policy = ws.policy
        return {"row": projection.row(case, policy.time_limits.pause_states, policy, _calendar(ws))}
    except ComplaintError as exc:
        return {"error": str(exc)}
    except (OSError, UnicodeDecodeError) as exc:
        return {"error": f"{rel}: cannot read: {exc}"}


PARALLEL_FROM = 2000  # below this, starting worker processes costs more than it saves


def _parse_chunk(root: str, rels: list[str]) -> list[tuple[str, dict[str, Any]]]:
    from pathlib import Path

    ws = Workspace(Path(root))
    return [(rel, _entry(ws, rel)) for rel in rels]


def _parse_all(
    ws: Workspace, rels: list[str], progress: Callable[[int, int], None] | None
) -> dict[str, dict[str, Any]]:
    """Parse the files the index lacks, on every core when there are many."""
    workers = min(os.cpu_count() or 1, 8)
    if len(rels) < PARALLEL_FROM or workers < 2:
        out = {}
        for done, rel in enumerate(rels, start=1):
            out[rel] = _entry(ws, rel)
            if progress and done % 500 == 0:
                progress(done, len(rels))
        return out
    from concurrent.futures import ProcessPoolExecutor, as_completed

    size = 500
    chunks = [rels[i : i + size] for i in range(0, len(rels), size)]
    out = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_parse_chunk, str(ws.root), chunk) for chunk in chunks]
        for future in as_completed(futures):
            out.update(future.result())
            if progress:
                progress(len(out), len(rels))
    return out


def terminal_progress() -> Callable[[int, int], None] | None:
    """A one-line progress count on a terminal; nothing in CI or when piped."""
    import sys

    if os.environ.get("CI") or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\rIndexing cases: {done:,} of {total:,}{end}")
        sys.stderr.flush()

    return show


def read_rows(ws: Workspace, progress: Callable[[int, int], None] | None = None) -> Rows:
    """Every case as a row, through the index; unreadable files as problems."""
    progress = progress or terminal_progress()
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
    misses = [p for p in paths if CASE_PATH_RE.match(p) and (p in dirty or tracked.get(p) not in cached)]
    parsed = _parse_all(ws, misses, progress)
    result.parsed = len(parsed)
    entry: dict[str, Any]
    for rel in paths:
        if not CASE_PATH_RE.match(rel):
            continue
        blob = tracked.get(rel)
        entry = parsed[rel] if rel in parsed else cached[blob or ""]
        if blob is not None and rel not in dirty:
            fresh[blob] = entry
        if "row" in entry:
            result.rows.append(entry["row"])
        else:
            result.problems.append(Problem(rel, entry["error"]))
    if result.parsed or len(fresh) != len(cached):
        _save(index_path, key, fresh)
    return result
