"""A disposable index of parsed cases, one set of files per month folder.

Kept under ``.git/complaintctl/vN/`` (never committed), per month folder
``cases/YYYY/MM``:

* ``rows-YYYY-MM.json``: a row per case file committed at HEAD, keyed by
  the file's git blob id (from ``git ls-tree``: no hashing). A checkout or a
  pull simply yields other ids. The folder's tree id at HEAD names the whole
  file, so a folder whose tree is unchanged is read without listing it.

Only committed cases are read: a hand edit, a half-made change or a stray
file under ``cases/`` is not on record, so lists, reports and the overdue
job never count it (``complaintctl check`` names it). Such a file is read
from git as it was committed.
* ``facts-YYYY-MM.json``: the raw facts of settled cases, which only a
  report as of a moment before they settled needs (loaded on demand).
* ``sums-YYYY-MM.json``: report sums of the month's cases that no longer
  change (see ``reportsums``), valid for one tree id of the folder at HEAD.
  A folder with anything that differs from HEAD has no sums.

A missing, corrupt or stale-policy file is rebuilt. Losing any of them costs
time, never data.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import operator
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from complaintctl.core import indexrow
from complaintctl.core.indexrow import IndexRow
from complaintctl.core.records import is_case_path
from complaintctl.errors import ComplaintError
from complaintctl.store.gitwrite import git
from complaintctl.store.workspace import Workspace, parse_case

MONTH_RE = re.compile(r"^cases/(\d{4})/(\d{2})/")
FACTS = ("clock_facts", "severity_facts")

Item = tuple[str, IndexRow]  # (path, row)


@dataclass
class Problem:
    path: str
    message: str


@dataclass
class Rows:
    rows: list[IndexRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    parsed: int = 0
    paths: list[str] = field(default_factory=list)  # of each row
    uncommitted: list[str] = field(default_factory=list)  # case files not as at HEAD (not read)


@dataclass
class Loaded:
    """Rows and problems of some month folders, each in path order."""

    items: dict[str, list[Item]] = field(default_factory=dict)
    problems: dict[str, list[Problem]] = field(default_factory=dict)
    parsed: int = 0
    trees: dict[str, str | None] = field(default_factory=dict)  # HEAD's tree id, if that is what was read


@dataclass
class Snapshot:
    """What git says about cases/: HEAD's month folders and what differs."""

    heads: dict[str, str]  # "YYYY-MM" -> the folder's tree id at HEAD
    dirty: set[str]  # paths that differ from HEAD: edited, staged, new
    deleted: set[str]

    def months(self) -> list[str]:
        return sorted(self.heads)

    def tree(self, month: str) -> str | None:
        """The folder's tree id at HEAD."""
        return self.heads.get(month)

    def uncommitted(self) -> list[str]:
        """Case files that differ from HEAD (not read: not on record)."""
        return sorted(rel for rel in self.dirty | self.deleted if month_of(rel))


def month_of(rel: str) -> str | None:
    found = MONTH_RE.match(rel)
    return f"{found[1]}-{found[2]}" if found else None


def snapshot(ws: Workspace) -> Snapshot:
    status = git(
        ws.root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--", "cases"
    ).stdout
    dirty: set[str] = set()
    deleted: set[str] = set()
    for line in status.split("\0"):
        if len(line) > 3:
            (deleted if "D" in line[:2] else dirty).add(line[3:])
    heads: dict[str, str] = {}
    years = _trees(ws, ["cases/"], re.compile(r"^cases/\d{4}$"))
    if years:
        for rel, tree in _trees(ws, [f"{y}/" for y in years], re.compile(r"^cases/\d{4}/\d{2}$")).items():
            heads[f"{rel[6:10]}-{rel[11:13]}"] = tree
    return Snapshot(heads, dirty, deleted)


def _trees(ws: Workspace, folders: list[str], wanted: re.Pattern[str]) -> dict[str, str]:
    """Sub-folders of folders at HEAD, with their tree ids (none before the first commit)."""
    listing = git(ws.root, "ls-tree", "-z", "HEAD", "--", *folders, check=False)
    out = {}
    for line in listing.stdout.split("\0") if listing.returncode == 0 else ():
        meta, _, rel = line.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "tree" and wanted.match(rel):
            out[rel] = parts[2]
    return out


# ---------------------------------------------------------------- files


def _dir(ws: Workspace) -> Path:
    return ws.git_dir() / "complaintctl" / f"v{indexrow.VERSION}"


def _file(ws: Workspace, kind: str, month: str) -> Path:
    return _dir(ws) / f"{kind}-{month}.json"


def _policy_key(ws: Workspace) -> str:
    return hashlib.sha256((ws.root / "policy.yaml").read_bytes()).hexdigest()


def _read(path: Path, policy_key: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read())  # bytes: no text-mode decoding pass
    except (OSError, ValueError):
        return None  # missing or corrupt: rebuild
    if not isinstance(data, dict) or data.get("policy") != policy_key:
        return None
    return data


def _write(path: Path, data: Any) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _forget_old_versions(path.parent.parent)
        text = json.dumps(data, ensure_ascii=False)  # the C encoder; json.dump() is not
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # an index we cannot write only costs time


def _forget_old_versions(folder: Path) -> None:
    """Remove the index files of other versions of complaintctl."""
    current = f"v{indexrow.VERSION}"
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name.startswith(("index-v", "facts-v")):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
            elif re.fullmatch(r"v\d+", entry.name) and entry.name != current:
                shutil.rmtree(entry.path, ignore_errors=True)


def _pack(
    rows: Iterable[dict[str, Any]], keep_facts: Callable[[dict[str, Any]], bool], leave: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Rows as lists of values under one list of keys: a third smaller and
    faster to read than repeating every key in every row. Raw facts go
    under "x", and only for rows ``keep_facts`` accepts."""
    rows = list(rows)
    keys = sorted({k for row in rows for k in row} - set(FACTS) - set(leave))
    take = operator.itemgetter(*keys) if len(keys) > 1 else None  # rows made alike have every key
    packed = []
    for row in rows:
        try:
            values = list(take(row)) if take else [row.get(k) for k in keys]
        except KeyError:
            values = [row.get(k) for k in keys]
        item: dict[str, Any] = {"v": values}
        if "clock_facts" in row and keep_facts(row):
            item["x"] = {k: row[k] for k in FACTS}
        packed.append(item)
    return {"keys": keys, "rows": packed}


def _unpack(data: dict[str, Any]) -> list[dict[str, Any]]:
    keys = data["keys"]
    out = []
    for item in data["rows"]:
        row = dict(zip(keys, item["v"], strict=True))
        row.update(item.get("x") or {})
        out.append(row)
    return out


def _settled(row: dict[str, Any]) -> bool:
    """A settled case: its raw facts live in the facts file."""
    return bool((row.get("settled") or {}).get("complete"))


# ---------------------------------------------------------------- rows


def _load_shard(
    ws: Workspace, month: str, key: str
) -> tuple[str | None, list[tuple[str, str]], dict[str, Any]]:
    """(tree, [(path, blob), ...], {blob: entry}) of a month's rows file."""
    data = _read(_file(ws, "rows", month), key)
    try:
        assert data is not None
        rows = iter(_unpack(data))
        errors = data["errors"]
        folder = f"cases/{month[:4]}/{month[5:]}/"
        files = []
        entries: dict[str, Any] = {}
        for i, (name, blob) in enumerate(zip(data["names"], data["blobs"], strict=True)):
            files.append((folder + name, blob))
            if str(i) in errors:
                entries[blob] = {"error": errors[str(i)]}
            else:
                entries[blob] = {"row": next(rows)}
                entries[blob]["row"]["blob"] = blob
        return data["tree"], files, entries
    except (AssertionError, AttributeError, TypeError, ValueError, KeyError, StopIteration):
        return None, [], {}


def _save_shard(
    ws: Workspace,
    month: str,
    key: str,
    tree: str | None,
    files: list[tuple[str, str]],
    entries: dict[str, Any],
) -> None:
    """Rows of the clean files (path order), with the folder's tree id when all are clean."""
    rows = []
    errors = {}
    for i, (_, blob) in enumerate(files):
        if "row" in entries[blob]:
            rows.append(entries[blob]["row"])
        else:
            errors[str(i)] = entries[blob]["error"]
    data = {
        "policy": key,
        "tree": tree,
        "names": [rel.rsplit("/", 1)[1] for rel, _ in files],  # all in the month's folder
        "blobs": [blob for _, blob in files],
        "errors": errors,
    }
    data.update(_pack(rows, lambda row: not _settled(row), leave=("blob",)))
    _save_facts(
        ws, month, key, {b: e["row"] for b, e in entries.items() if "row" in e and _settled(e["row"])}
    )
    _write(_file(ws, "rows", month), data)


def _save_facts(ws: Workspace, month: str, key: str, settled: dict[str, dict[str, Any]]) -> None:
    """Keep the facts file in step: new facts in, facts of gone files out."""
    old = (_read(_file(ws, "facts", month), key) or {}).get("blobs") or {}
    facts = {}
    for blob, row in settled.items():
        if "clock_facts" in row:
            facts[blob] = {k: row[k] for k in FACTS}
        elif blob in old:
            facts[blob] = old[blob]
    if facts != old:
        _write(_file(ws, "facts", month), {"policy": key, "blobs": facts})


def _listing(ws: Workspace, months: list[str]) -> dict[str, dict[str, tuple[str, str]]]:
    """{month: {path: (mode, blob)}} of the folders at HEAD."""
    out: dict[str, dict[str, tuple[str, str]]] = {m: {} for m in months}
    if not months:
        return out
    folders = [f"cases/{m[:4]}/{m[5:]}/" for m in months]
    for line in git(ws.root, "ls-tree", "-r", "-z", "HEAD", "--", *folders).stdout.split("\0"):
        if line:
            meta, rel = line.split("\t", 1)
            month = month_of(rel)
            if month in out:
                mode, _type, blob = meta.split()
                out[month][rel] = (mode, blob)
    return out


def tree_id(listing: dict[str, tuple[str, str]]) -> str | None:
    """The id git gives a folder of these files (None if it holds folders)."""
    body = b""
    for rel, (mode, blob) in sorted(listing.items(), key=lambda item: item[0].encode()):
        name = rel.rsplit("/", 1)[1]
        if rel.count("/") != 3:
            return None
        body += mode.encode() + b" " + name.encode() + b"\0" + bytes.fromhex(blob)
    return hashlib.sha1(b"tree %d\0" % len(body) + body, usedforsecurity=False).hexdigest()


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Rows are plain acyclic data; while 100k of them are being made, the
    cyclic collector would only scan them again and again (~20% of a list).
    Frozen afterwards, they are never scanned (reference counting still
    frees them)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.freeze()
            gc.enable()


def month_rows(
    ws: Workspace,
    snap: Snapshot,
    months: list[str],
    progress: Callable[[int, int], None] | None = None,
) -> Loaded:
    """The rows of these month folders, through the index."""
    with _no_gc():
        return _month_rows(ws, snap, months, progress)


def _month_rows(
    ws: Workspace, snap: Snapshot, months: list[str], progress: Callable[[int, int], None] | None
) -> Loaded:
    key = _policy_key(ws)
    out = Loaded()
    shards = {m: _load_shard(ws, m, key) for m in months}
    # A folder clean at the tree its rows file was made for needs no listing.
    listed = _listing(ws, [m for m in months if not (snap.tree(m) and shards[m][0] == snap.tree(m))])
    plans: dict[str, list[tuple[str, str]]] = {}
    misses = []
    for month in months:
        tree, files, entries = shards[month]
        if month in listed:
            # What was listed is the folder of the snapshot's HEAD only if it
            # hashes to its tree (a commit may have come in since).
            out.trees[month] = snap.tree(month) if tree_id(listed[month]) == snap.tree(month) else None
            plan = [(rel, blob) for rel, (_, blob) in sorted(listed[month].items()) if is_case_path(rel)]
        else:
            out.trees[month] = tree
            plan = [(rel, blob) for rel, blob in files]
        plans[month] = plan
        misses += [(rel, blob) for rel, blob in plan if blob not in entries]
    parsed: dict[str, dict[str, Any]] = {}

    def finish(month: str) -> None:
        tree, _, entries = shards[month]
        fresh: dict[str, Any] = {}
        items: list[Item] = []
        problems: list[Problem] = []
        for rel, blob in plans[month]:
            entry = parsed[rel] if rel in parsed else entries[blob]
            if entry.get("blob", blob) == blob:
                fresh[blob] = entry
            if "row" in entry:
                items.append((rel, entry["row"]))
            else:
                problems.append(Problem(rel, entry["error"]))
        out.items[month], out.problems[month] = items, problems
        clean = [(rel, blob) for rel, blob in plans[month] if blob in fresh]
        claim = out.trees[month] if len(clean) == len(plans[month]) else None
        if fresh.keys() != entries.keys() or claim != tree:
            _save_shard(ws, month, key, claim, clean, fresh)

    # A month is finished (its rows file written) as soon as its last file
    # is parsed, while the workers parse the next months.
    left: dict[str | None, int] = {}
    for rel, _ in misses:
        left[month_of(rel)] = left.get(month_of(rel), 0) + 1

    def arrived(batch: list[tuple[str, dict[str, Any]]]) -> None:
        for rel, entry in batch:
            parsed[rel] = entry
            month = cast(str, month_of(rel))
            left[month] -= 1
            if not left[month]:
                finish(month)

    for month in months:
        if not left.get(month):
            finish(month)
    _parse_all(ws, misses, progress or terminal_progress(), arrived)
    out.parsed = len(parsed)
    out.items = {m: out.items[m] for m in months}  # in the months' order, as asked
    out.problems = {m: out.problems[m] for m in months}
    return out


PEER_KEYS = (
    "id",
    "opened_at",
    "category",
    "matter",
    "customer_keys",
    "customer",
)  # what peers_by_matter reads
# What open's repeat and not-accepted-again checks read of a customer's earlier cases.
PERSON_KEYS = (*PEER_KEYS, "closed_at", "resolution", "executed")


@dataclass
class OpenRows(Rows):
    """The daily queue's rows (the open cases only); of every case on a
    matter what its peers need (the hot-spot rule can raise an open case);
    of every case with a phone, e-mail or account what 'open' looks up."""

    peers: list[dict[str, Any]] = field(default_factory=list)
    people: list[dict[str, Any]] = field(default_factory=list)


def open_rows(
    ws: Workspace, progress: Callable[[int, int], None] | None = None, with_rows: bool = True
) -> OpenRows:
    """The committed open cases (no resolution) as rows, and the peers and
    people of every case, from each month's small 'open' and 'people' files
    while they were made for the folder's tree at HEAD; a month whose folder
    changed is read through the index and its files made again. At 100k
    cases most are closed: the queue and the lookups skip reading them.
    ``with_rows`` False: the peers and people only (no open rows)."""
    snap = snapshot(ws)
    key = _policy_key(ws)
    result = OpenRows(uncommitted=snap.uncommitted())
    stale = []
    kept: dict[str, tuple[dict[str, Any] | None, dict[str, Any]]] = {}
    for month in snap.months():
        tree = snap.tree(month)
        listed = _read(_file(ws, "people", month), key)
        queued = _read(_file(ws, "open", month), key) if with_rows else None
        fresh = bool(tree and listed and listed.get("tree") == tree)
        if fresh and (not with_rows or (queued and queued.get("tree") == tree)):
            kept[month] = (queued, cast(dict[str, Any], listed))
        else:
            stale.append(month)
    loaded = month_rows(ws, snap, stale, progress) if stale else Loaded()
    for month in snap.months():
        if month in kept:
            rows_file, people_file = kept[month]
            try:
                peers, people = list(people_file["peers"]), list(people_file["people"])
                rows, paths, errors = [], [], list(people_file["errors"])
                if rows_file is not None:
                    rows, paths = _unpack(rows_file), list(rows_file["paths"])
                    assert len(rows) == len(paths)
            except (AssertionError, AttributeError, TypeError, ValueError, KeyError):
                return _open_from(read_rows(ws, progress), snap)  # damaged: read everything
        else:
            rows, paths, peers, people = _split(loaded.items[month])
            errors = [[p.path, p.message] for p in loaded.problems[month]]
            tree = snap.tree(month)
            if tree and loaded.trees.get(month) == tree:
                made = {"policy": key, "tree": tree, "peers": peers, "people": people, "errors": errors}
                _write(_file(ws, "people", month), made)
                queue: dict[str, Any] = {"policy": key, "tree": tree, "paths": paths}
                queue.update(_pack(rows, lambda row: True))
                _write(_file(ws, "open", month), queue)
        if with_rows:
            result.rows += cast(list[IndexRow], rows)
            result.paths += paths
        result.peers += peers
        result.people += people
        result.problems += [Problem(path, message) for path, message in errors]
    return result


def _split(items: Iterable[Item]) -> tuple[list[dict[str, Any]], list[str], list[Any], list[Any]]:
    """Of a month's rows: the open ones and their paths, the matter peers, the people."""
    rows: list[dict[str, Any]] = []
    paths: list[str] = []
    peers: list[Any] = []
    people: list[Any] = []
    for rel, row in items:
        if row.get("matter"):
            peers.append({k: row.get(k) for k in PEER_KEYS})
        if row.get("customer_keys"):
            people.append({k: row.get(k) for k in PERSON_KEYS})
        if not row.get("resolution"):
            rows.append(cast(dict[str, Any], row))
            paths.append(rel)
    return rows, paths, peers, people


def _open_from(every: Rows, snap: Snapshot) -> OpenRows:
    rows, paths, peers, people = _split(zip(every.paths, every.rows, strict=True))
    return OpenRows(
        rows=cast(list[IndexRow], rows),
        problems=every.problems,
        parsed=every.parsed,
        paths=paths,
        uncommitted=snap.uncommitted(),
        peers=peers,
        people=people,
    )


def read_rows(ws: Workspace, progress: Callable[[int, int], None] | None = None) -> Rows:
    """Every committed case as a row, through the index; unreadable files as
    problems; case files that differ from HEAD in ``uncommitted``."""
    snap = snapshot(ws)
    loaded = month_rows(ws, snap, snap.months(), progress)
    result = Rows(parsed=loaded.parsed, uncommitted=snap.uncommitted())
    for month in snap.months():
        for rel, row in loaded.items[month]:
            result.rows.append(row)
            result.paths.append(rel)
        result.problems += loaded.problems[month]
    return result


def attach_facts(ws: Workspace, items: Iterable[Item]) -> None:
    """Give rows stored without their raw facts their facts back."""
    missing = [(rel, row) for rel, row in items if "clock_facts" not in row]
    if not missing:
        return
    key = _policy_key(ws)
    files: dict[str, dict[str, Any]] = {}
    for rel, row in missing:
        month = month_of(rel) or ""
        if month not in files:
            files[month] = (_read(_file(ws, "facts", month), key) or {}).get("blobs") or {}
        found = files[month].get(row.get("blob") or "")
        if found is None:  # facts file lost: parse that one case again
            found = _entry(ws, rel, row.get("blob") or "").get("row") or {}
        cast(dict[str, Any], row).update({k: found[k] for k in FACTS if k in found})


# ---------------------------------------------------------------- sums


# The report sums are the reports layer's (reports/monthsums.py): the index
# stores them, keyed by the folder's tree id, in the format it is given.
WellFormed = Callable[[Mapping[str, Any]], bool]


def load_sums(
    ws: Workspace, snap: Snapshot, month: str, fmt: int, well_formed: WellFormed
) -> dict[str, Any] | None:
    """The month's report sums, if made for the folder as it is at HEAD in format ``fmt``."""
    with _no_gc():
        return _load_sums(ws, snap, month, fmt, well_formed)


def _load_sums(
    ws: Workspace, snap: Snapshot, month: str, fmt: int, well_formed: WellFormed
) -> dict[str, Any] | None:
    tree = snap.tree(month)
    data = _read(_file(ws, "sums", month), _policy_key(ws)) if tree else None
    if data is None or data.get("tree") != tree or data.get("format") != fmt:
        return None
    try:
        sums = data["sums"]
        rows = _unpack(data["live"])
        sums["live"] = [[rel, row] for rel, row in zip(data["paths"], rows, strict=True)]
        return dict(sums) if well_formed(sums) else None
    except (AttributeError, TypeError, ValueError, KeyError):
        return None


def save_sums(ws: Workspace, snap: Snapshot, month: str, sums: dict[str, Any], fmt: int) -> None:
    tree = snap.tree(month)
    if tree is None:
        return  # a folder that differs from HEAD is read file by file
    live = sums["live"]
    data = {
        "policy": _policy_key(ws),
        "tree": tree,
        "format": fmt,
        "sums": {k: v for k, v in sums.items() if k != "live"},
        "paths": [rel for rel, _ in live],
        "live": _pack((row for _, row in live), lambda row: True),
    }
    _write(_file(ws, "sums", month), data)


# ---------------------------------------------------------------- parsing


_calendars: dict[str, Any] = {}


def calendar(ws: Workspace) -> Any:
    """The policy's working-time calendar (None when no clock counts business time)."""
    key = str(ws.root)
    if key not in _calendars:
        from complaintctl.core import casestatus
        from complaintctl.store import calendar

        needed = casestatus.needs_calendar(ws.policy)
        _calendars[key] = calendar.build(ws.policy, ws.git_dir() / "complaintctl") if needed else None
    return _calendars[key]


def _committed(ws: Workspace, rel: str, blob: str) -> bytes | None:
    """The file as committed: from the work tree when it is unchanged there
    (cheap), else from git."""
    with contextlib.suppress(OSError):
        data = (ws.root / rel).read_bytes()  # not a link: _entry has refused those
        if blob_id(data) == blob:
            return data
    from complaintctl.store import gitread

    return gitread.blob_bytes(ws.root, blob)


def _entry(ws: Workspace, rel: str, blob: str) -> dict[str, Any]:
    """Parse one committed case into a row, or record why it cannot be read."""
    if (ws.root / rel).is_symlink():
        return {"error": f"{rel}: is a symbolic link; case files must be plain files"}
    data = _committed(ws, rel, blob)
    if data is None:
        return {"error": f"{rel}: cannot read blob {blob} from git"}
    try:
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # as read_text() reads
        case = parse_case(text, rel, ws.policy, roundtrip=False)
        policy = ws.policy
        row = indexrow.row(case, policy.time_limits.pause_states, policy, calendar(ws))
        return {"row": row, "blob": blob}
    except ComplaintError as exc:
        return {"error": str(exc), "blob": blob}
    except UnicodeDecodeError as exc:
        return {"error": f"{rel}: cannot read: {exc}", "blob": blob}


PARALLEL_FROM = 2000  # below this, starting worker processes costs more than it saves
CHUNK = 500  # files a worker parses per task: a month is finished soon after its last one


_workers_ws: dict[str, Workspace] = {}


def _parse_chunk(root: str, rels: list[tuple[str, str]]) -> list[tuple[str, dict[str, Any]]]:
    gc.enable()  # forked while rows were being read (see _no_gc); parsing leaves cycles behind
    ws = _workers_ws.setdefault(root, Workspace(Path(root)))  # the policy read once per worker
    return [(rel, _entry(ws, rel, blob)) for rel, blob in rels]


def _cores() -> int:
    """The cores this process may run on (a container or CI runner may allow fewer than the machine has)."""
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _parse_all(
    ws: Workspace,
    rels: list[tuple[str, str]],
    progress: Callable[[int, int], None] | None,
    arrived: Callable[[list[tuple[str, dict[str, Any]]]], None],
) -> None:
    """Parse the files the index lacks, on every core when there are many;
    hand each batch of (path, entry) to ``arrived`` as it comes."""
    workers = min(_cores(), 8)
    if len(rels) < PARALLEL_FROM or workers < 2:
        was = gc.isenabled()
        gc.enable()  # parsing YAML leaves cycles behind (see _no_gc)
        try:
            for done, (rel, blob) in enumerate(rels, start=1):
                arrived([(rel, _entry(ws, rel, blob))])
                if progress and done % 500 == 0:
                    progress(done, len(rels))
        finally:
            if not was:
                gc.disable()
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed

    chunks = [rels[i : i + CHUNK] for i in range(0, len(rels), CHUNK)]
    done = 0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_parse_chunk, str(ws.root), chunk) for chunk in chunks]
        for future in as_completed(futures):
            batch = future.result()
            arrived(batch)
            done += len(batch)
            if progress:
                progress(done, len(rels))


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
