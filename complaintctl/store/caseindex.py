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
  change (see ``reports/monthsums``), valid for one tree id of the folder at HEAD.
* ``settled.json``: the sums of the months with no case still moving as
  one, valid for the tree id each of those folders has at HEAD.
* ``queue.sqlite``: one SQLite file of the open cases (the daily queue),
  the matter peers and the people 'open' looks up, each month valid for the
  folder's tree id at HEAD; queried, not loaded (see ``queue``).

A missing, corrupt or stale-policy file is rebuilt. Losing any of them costs
time, never data.
"""

from __future__ import annotations

import array
import base64
import binascii
import contextlib
import functools
import gc
import hashlib
import itertools
import json
import operator
import os
import re
import shutil
import sys
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from complaintctl.core import indexrow
from complaintctl.core.indexrow import IndexRow
from complaintctl.core.records import is_case_path, matter_key
from complaintctl.errors import ComplaintError
from complaintctl.store.gitwrite import git, no_index
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
    made: dict[str, Any] = field(default_factory=dict)  # what month_rows' ``each`` gave for each month


@dataclass
class MonthRead:
    """A month folder's rows and problems (path order), as month_rows hands them to ``each``."""

    month: str
    items: Iterable[Item]  # a list, or read from the rows file as iterated (once; see _streamed_read)
    problems: list[Problem]
    tree: str | None  # HEAD's tree id of the folder, if that is what was read


Each = Callable[[Workspace, MonthRead], Any]


@dataclass
class Snapshot:
    """What git says about cases/: HEAD's month folders and what differs."""

    heads: dict[str, str]  # "YYYY-MM" -> the folder's tree id at HEAD
    # (dirty, deleted) when first asked for: paths that differ from HEAD
    # (edited, staged, new), and those deleted; None: not looked at.
    differ: Callable[[], tuple[set[str], set[str]]] | None = None

    def months(self) -> list[str]:
        return sorted(self.heads)

    def tree(self, month: str) -> str | None:
        """The folder's tree id at HEAD."""
        return self.heads.get(month)

    @functools.cached_property
    def _differ(self) -> tuple[set[str], set[str]]:
        return self.differ() if self.differ else (set(), set())

    @property
    def dirty(self) -> set[str]:
        return self._differ[0]

    @property
    def deleted(self) -> set[str]:
        return self._differ[1]

    def uncommitted(self) -> list[str]:
        """Case files that differ from HEAD (not read: not on record)."""
        return sorted(rel for rel in self.dirty | self.deleted if month_of(rel))


def month_of(rel: str) -> str | None:
    found = MONTH_RE.match(rel)
    return f"{found[1]}-{found[2]}" if found else None


def snapshot(ws: Workspace, status: bool = True) -> Snapshot:
    """HEAD's month folders; with ``status``, what differs from HEAD too.
    That 'git status' (lstat of every file: the slow part at 100k cases)
    runs alongside, until ``uncommitted`` first needs it; rows never do:
    they are read as committed."""
    heads: dict[str, str] = {}
    years = _trees(ws, ["cases/"], re.compile(r"^cases/\d{4}$"))
    if years:
        for rel, tree in _trees(ws, [f"{y}/" for y in years], re.compile(r"^cases/\d{4}/\d{2}$")).items():
            heads[f"{rel[6:10]}-{rel[11:13]}"] = tree
    if not status:
        return Snapshot(heads)
    from complaintctl.store import offrecord
    from complaintctl.store.later import Later

    later = Later(lambda: offrecord.differ(ws, heads))
    return Snapshot(heads, later.get)


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


_key_of: tuple[Any, str] | None = None  # the last policy's key (~2 ms to make)


def _policy_key(ws: Workspace) -> str:
    """What every index file is keyed to besides git's trees: the parts of
    the policy rows and sums read (indexrow.policy_key), so a team change
    keeps the index and a new time limit rebuilds it."""
    global _key_of
    policy = ws.policy
    if _key_of is None or _key_of[0] is not policy:
        _key_of = (policy, indexrow.policy_key(policy))
    return _key_of[1]


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
        with open(tmp, "w", encoding="utf-8") as handle:
            _dump(data, handle)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # an index we cannot write only costs time


# json.dumps(x, ensure_ascii=False), without making an encoder each call
# (json.dumps makes one for any non-default option: ~3 us, ~4 calls a case).
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def _dump(data: Any, handle: Any, depth: int = 0, long: int = 64) -> None:
    """``json.dumps(data, ensure_ascii=False)`` written piece by piece: the
    text of a month of rows is never made whole (at 100k cases, tens of MB).
    The files' own mappings and long lists are written an entry at a time,
    each entry through the C encoder (json.dump() does not use it)."""
    if isinstance(data, dict) and depth < 2 and data and all(type(k) is str for k in data):
        handle.write("{")
        for i, (name, value) in enumerate(data.items()):
            handle.write(f"{', ' if i else ''}{_ENCODE(name)}: ")
            _dump(value, handle, depth + 1, long)
        handle.write("}")
    elif isinstance(data, list) and len(data) > long:
        handle.write("[")
        for i, value in enumerate(data):
            if i:
                handle.write(", ")
            _dump(value, handle, depth + 1, long)
        handle.write("]")
    else:
        handle.write(_ENCODE(data))


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
    """(tree, [(path, blob), ...], {blob: entry}) of a month's rows file.
    Its rows are decoded one at a time: decoded whole, the file's lists of
    values and the rows made of them were held at once."""
    try:
        with open(_file(ws, "rows", month), "rb") as handle:
            head, rows = _fields_then_rows(handle.read().decode("utf-8"))
        if head["policy"] != key:
            return None, [], {}
        files = []
        entries: dict[str, Any] = {}
        for rel, blob, entry in _entries(month, head, rows):
            files.append((rel, blob))
            entries[blob] = {"error": entry.message} if isinstance(entry, Problem) else {"row": entry}
        return head["tree"], files, entries
    except (OSError, AttributeError, TypeError, ValueError, KeyError, IndexError, StopIteration):
        return None, [], {}  # missing or damaged: every file is parsed again


_ROWS_START = re.compile(rb'\{"policy": "([0-9a-f]{64})", "tree": (?:null|"([0-9a-f]{40,64})")')


def _rows_tree(ws: Workspace, month: str, key: str) -> str | None:
    """The tree id a month's rows file names in its first fields (as
    _save_shard writes them), if it is for this policy; a damaged file is
    found when it is read."""
    try:
        with open(_file(ws, "rows", month), "rb") as handle:
            found = _ROWS_START.match(handle.read(256))
    except OSError:
        return None
    if found is None or found[1].decode("ascii") != key or found[2] is None:
        return None
    return found[2].decode("ascii")


def _shard_blobs(ws: Workspace, month: str, key: str) -> frozenset[str]:
    """The blobs a month's rows file holds an entry for, from the fields
    before its rows (none if it is missing, damaged or for another policy)."""
    try:
        with open(_file(ws, "rows", month), "rb") as handle:
            head, _rows = _fields_then_rows(handle.read().decode("utf-8"))
        return frozenset(head["blobs"]) if head["policy"] == key else frozenset()
    except (OSError, ValueError, KeyError, TypeError, IndexError):  # (a bad encoding is a ValueError)
        return frozenset()


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


def _listing(
    ws: Workspace, months: list[str], tree: str | None = None
) -> dict[str, dict[str, tuple[str, str]]]:
    """{month: {path: (mode, blob)}} of the folders at HEAD; or of one
    month's folder as of its ``tree`` id."""
    out: dict[str, dict[str, tuple[str, str]]] = {m: {} for m in months}
    if not months:
        return out
    folders = [f"cases/{m[:4]}/{m[5:]}/" for m in months]
    if tree is not None:
        assert len(months) == 1
        listing = git(ws.root, "ls-tree", "-r", "-z", tree).stdout
        prefix = folders[0]
    else:
        listing = git(ws.root, "ls-tree", "-r", "-z", "HEAD", "--", *folders).stdout
        prefix = ""
    for line in listing.split("\0"):
        if line:
            meta, rel = line.split("\t", 1)
            rel = prefix + rel
            month = month_of(rel)
            if month in out:
                mode, _type, blob = meta.split()
                out[month][rel] = (mode, blob)
    return out


def _plan(listed: Mapping[str, tuple[str, str]]) -> list[tuple[str, str]]:
    """(path, blob) of the case files of a folder's listing, in path order."""
    return [(rel, blob) for rel, (_, blob) in sorted(listed.items()) if is_case_path(rel)]


def tree_id(listing: dict[str, tuple[str, str]]) -> str | None:
    """The id git gives a month folder of these files (None if it holds folders)."""
    if any(rel.count("/") != 3 for rel in listing):
        return None
    from complaintctl.store import gitplumb

    return gitplumb.tree_id({rel.rsplit("/", 1)[1]: entry for rel, entry in listing.items()})


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


def _give_back() -> None:
    """Hand the heap pages a month's rows left free back to the system
    (glibc's malloc_trim; nothing elsewhere). Decoded a row at a time and
    dropped, they leave the heap too fragmented for malloc to shrink it: a
    report whose sums were lost peaked at 170 MiB at 100k cases, 141 with this."""
    global _trim
    if _trim is None:
        try:
            import ctypes

            _trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _trim = False
    if _trim:
        _trim(0)


_trim: Any = None  # glibc's malloc_trim, once looked up; False where there is none


def month_rows(
    ws: Workspace,
    snap: Snapshot,
    months: list[str],
    progress: Callable[[int, int], None] | None = None,
    each: Each | None = None,
    take: Callable[[str, Any], None] | None = None,
) -> Loaded:
    """The rows of these month folders, through the index.

    With ``each``, a month's rows are handed to ``each(ws, read)`` as soon
    as they are read, on the process that read them, and only what it
    returns is kept (``Loaded.made``): a caller that needs a month's sums or
    a few of its rows never holds every row. On a cold build that process
    is a worker, so ``each`` must pickle: a module-level function, or a
    ``functools.partial`` of one. With ``take`` too, what ``each`` made of
    a month is handed to ``take(month, made)`` here as soon as it is back
    (months in any order), and not kept."""
    with _no_gc():
        return _month_rows(ws, snap, months, progress or terminal_progress(), each, take)


def _month_rows(
    ws: Workspace,
    snap: Snapshot,
    months: list[str],
    progress: Callable[[int, int], None] | None,
    each: Each | None,
    take: Callable[[str, Any], None] | None = None,
) -> Loaded:
    key = _policy_key(ws)
    out = Loaded()
    # Planned from the rows files' first fields; a month's rows (and the
    # files they are for) are decoded only when it is read, and dropped
    # after: all at once they took ~650 MB at 100k cases.
    plans: dict[str, list[tuple[str, str]] | None] = {}  # None: the rows file's own files
    misses: dict[str, int] = {}
    for month in months:
        tree = _rows_tree(ws, month, key)
        # A folder clean at the tree its rows file was made for needs no listing.
        if snap.tree(month) and tree == snap.tree(month):
            out.trees[month] = tree
            plans[month], misses[month] = None, 0
            continue
        # Listed a month at a time: at 100k cases all at once takes 50 MB.
        listed = _listing(ws, [month])[month]
        # What was listed is the folder of the snapshot's HEAD only if it
        # hashes to its tree (a commit may have come in since).
        out.trees[month] = snap.tree(month) if tree_id(listed) == snap.tree(month) else None
        planned = plans[month] = _plan(listed)
        known = _shard_blobs(ws, month, key)
        misses[month] = sum(1 for _, blob in planned if blob not in known)
    total = sum(misses.values())
    count = _Count(total, progress)

    def keep(month: str, read: MonthRead | Any, parsed: int) -> None:
        out.parsed += parsed
        if each is None:  # read whole (_read_month): a list
            out.items[month], out.problems[month] = cast(list[Item], read.items), read.problems
        elif take is not None:
            take(month, read)
        else:
            out.made[month] = read

    # Months with many files to parse go to worker processes, a month to a
    # process: it parses the month's files, writes its rows file and hands
    # the rows to ``each`` there; the others are read here meanwhile.
    big = [m for m in months if misses[m] > CHUNK]
    workers = min(_cores(), 8, len(big))
    away = big if total >= PARALLEL_FROM and workers >= 2 else []
    pending: dict[Any, str] = {}
    pool = None
    if away:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # Started afresh, not forked: a worker holds a month of rows, not
        # also a copy of this process (the folders' listings, other months).
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        # The largest months first, so that no process is left with a big one at the end.
        for month in sorted(away, key=lambda m: -misses[m]):
            del plans[month]  # the worker reads the rows file and lists the folder itself
            future = pool.submit(_read_away, str(ws.root), month, key, snap.tree(month), each)
            pending[future] = month
    try:
        for month in months:
            if month not in pending.values() and each is not None and plans[month] is None:
                # Clean at its rows file's tree: handed to each a row at a time.
                try:
                    made = each(ws, _streamed_read(ws, snap, month, key))
                except (ValueError, TypeError, KeyError, IndexError, AttributeError, OSError):
                    pass  # damaged on the way: read below (each runs again, from the start)
                else:
                    keep(month, made, 0)
                    del made
                    _give_back()
                    continue
            if month not in pending.values():
                shard = _load_shard(ws, month, key)
                plan = plans[month]
                if plan is None:  # the rows file's files, if it is still the one planned with
                    plan = shard[1] if shard[0] == out.trees[month] else _plan(_listing(ws, [month])[month])
                read, parsed = _read_month(ws, month, key, shard, plan, out.trees[month], count)
                made = each(ws, read) if each else read
                del shard, read  # a month's rows: gone before the next month's are read
                keep(month, made, parsed)
                del made
                _give_back()
        if pool is not None:
            from concurrent.futures import as_completed

            for future in as_completed(list(pending)):
                month = pending.pop(future)
                parsed, out.trees[month], made = future.result()
                count.add(parsed)
                keep(month, made, parsed)
                del future
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    out.items = {m: out.items[m] for m in months if m in out.items}  # in the months' order, as asked
    out.problems = {m: out.problems[m] for m in months if m in out.problems}
    out.made = {m: out.made[m] for m in months if m in out.made}
    return out


def each_row(ws: Workspace, snap: Snapshot, months: list[str]) -> Iterator[tuple[str, IndexRow | Problem]]:
    """Every file of these month folders in path order, as its row or as
    the problem that kept it from being read: what ``month_rows`` gives,
    one at a time. A month whose rows file was made for the folder's tree
    at HEAD is decoded a row at a time (at 100k cases decoding a whole month
    holds ~60 MB); any other month goes through ``month_rows``."""
    key = _policy_key(ws)
    _warm(ws, snap, months, key)
    for month in months:
        done = 0
        try:
            for rel, entry in _streamed(ws, snap, month, key):
                yield rel, entry
                done += 1
            continue
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OSError):
            pass  # not made for this tree, or damaged: read (and made again) as month_rows reads it
        loaded = month_rows(ws, snap, [month])
        found: list[tuple[str, IndexRow | Problem]] = [*loaded.items[month]]
        found += [(p.path, p) for p in loaded.problems[month]]
        found.sort(key=lambda pair: pair[0])  # the folder's order, as the rows file keeps it
        yield from found[done:]


def _warm(ws: Workspace, snap: Snapshot, months: list[str], key: str) -> None:
    """Make the rows files of the months that have none for HEAD's tree,
    all at once: month_rows parses them on worker processes when they are
    many (a cold index), keeping rows only in their files; each_row then
    decodes them a row at a time. (A month at a time, each month would be
    parsed on this process alone.)"""
    cold = [m for m in months if snap.tree(m) and _rows_tree(ws, m, key) != snap.tree(m)]
    if len(cold) > 1:
        month_rows(ws, snap, cold, each=_discard)


def _discard(ws: Workspace, read: Any) -> None:
    """month_rows' ``each`` when only the rows files are wanted."""


def _streamed(
    ws: Workspace, snap: Snapshot, month: str, key: str
) -> Iterator[tuple[str, IndexRow | Problem]]:
    """The rows file of a month, a row at a time; ValueError (before the
    first row) if it is not for this policy and the folder's tree at HEAD."""
    for rel, _blob, entry in _entries(month, *_current_rows(ws, snap, month, key)):
        yield rel, entry


def _streamed_read(ws: Workspace, snap: Snapshot, month: str, key: str) -> MonthRead:
    """A month as month_rows hands it to ``each``, from its rows file, its
    rows decoded as they are iterated (_FileRows): decoded whole, a month of
    8k cases held ~65 MB at 100k. ValueError if the file is not for this policy
    and the folder's tree at HEAD; ValueError and others on the way if it is
    damaged."""
    head, rows = _current_rows(ws, snap, month, key)
    folder = f"cases/{month[:4]}/{month[5:]}/"
    errors = head["errors"]
    problems = [
        Problem(folder + name, errors[str(i)]) for i, name in enumerate(head["names"]) if str(i) in errors
    ]
    return MonthRead(month, _FileRows(ws, snap, month, key, (head, rows)), problems, head["tree"])


class _FileRows(Iterable[Item]):
    """(path, row) of each readable file of a month's rows file, decoded as
    iterated; iterated again, the file is read again (and must still be the
    one made for the folder's tree at HEAD)."""

    def __init__(
        self, ws: Workspace, snap: Snapshot, month: str, key: str, first: tuple[dict[str, Any], Iterator[Any]]
    ) -> None:
        self._where = (ws, snap, month, key)
        self._first: tuple[dict[str, Any], Iterator[Any]] | None = first

    def __iter__(self) -> Iterator[Item]:
        head, rows = self._first or _current_rows(*self._where)
        self._first = None
        entries = _entries(self._where[2], head, rows)
        return ((rel, row) for rel, _blob, row in entries if not isinstance(row, Problem))


def _current_rows(
    ws: Workspace, snap: Snapshot, month: str, key: str
) -> tuple[dict[str, Any], Iterator[Any]]:
    """The fields and rows (decoded one by one) of a month's rows file made
    for this policy and the folder's tree at HEAD; else ValueError."""
    with open(_file(ws, "rows", month), "rb") as handle:
        text = handle.read().decode("utf-8")
    head, rows = _fields_then_rows(text)
    tree = snap.tree(month)
    if tree is None or head["policy"] != key or head["tree"] != tree:
        raise ValueError("not made for this folder")
    return head, rows


def _entries(
    month: str, head: dict[str, Any], rows: Iterator[Any]
) -> Iterator[tuple[str, str, IndexRow | Problem]]:
    """Each file of a rows file (path, blob) with its row or its problem, in
    path order; ValueError when rows and files do not pair up."""
    keys, errors = head["keys"], head["errors"]
    folder = f"cases/{month[:4]}/{month[5:]}/"
    for i, (name, blob) in enumerate(zip(head["names"], head["blobs"], strict=True)):
        rel = folder + name
        if str(i) in errors:
            yield rel, blob, Problem(rel, errors[str(i)])
            continue
        item = next(rows, None)
        if item is None:
            raise ValueError("fewer rows than files")
        row = dict(zip(keys, item["v"], strict=True))
        row.update(item.get("x") or {})
        row["blob"] = blob
        yield rel, blob, cast(IndexRow, row)
    for _extra in rows:
        raise ValueError("more rows than files")


_SPACE = re.compile(r"[ \t\n\r]*")


def _fields_then_rows(text: str) -> tuple[dict[str, Any], Iterator[Any]]:
    """A rows file's fields before "rows" (its last), and its rows decoded one by one."""
    decode = json.JSONDecoder().raw_decode

    def skip(pos: int, char: str | None = None) -> int:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if char is not None:
            if text[pos] != char:
                raise ValueError(f"expected {char!r} at {pos}")
            pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
        return pos

    head: dict[str, Any] = {}
    pos = skip(0, "{")
    while True:
        name, pos = decode(text, pos)
        pos = skip(pos, ":")
        if name == "rows":
            break
        head[name], pos = decode(text, pos)
        pos = skip(pos, ",")
    start = skip(pos, "[")

    def rows() -> Iterator[Any]:
        pos = start
        if text[pos] != "]":
            while True:
                item, pos = decode(text, pos)
                yield item
                pos = skip(pos)
                if text[pos] == "]":
                    break
                pos = skip(pos, ",")
        if skip(skip(pos, "]"), "}") != len(text):
            raise ValueError("text after the rows")

    return head, rows()


Shard = tuple[str | None, list[tuple[str, str]], dict[str, Any]]


class _Count:
    """Files parsed so far, told to ``progress`` every 500 and at the end."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self.progress = total, 0, progress

    def add(self, n: int) -> None:
        before, self.done = self.done, self.done + n
        if self.progress and n and (self.done // 500 != before // 500 or self.done == self.total):
            self.progress(self.done, self.total)


def _read_month(
    ws: Workspace,
    month: str,
    key: str,
    shard: Shard,
    plan: list[tuple[str, str]],
    tree: str | None,
    count: _Count | None = None,
    parse: Callable[[Workspace, str, str], dict[str, Any]] | None = None,
) -> tuple[MonthRead, int]:
    """A month's rows: those of its rows file, the other files parsed (the
    rows file written again when that changed it); and how many were parsed."""
    parse = parse or _parse
    old_tree, _, entries = shard
    fresh: dict[str, Any] = {}
    items: list[Item] = []
    problems: list[Problem] = []
    parsed = 0
    for rel, blob in plan:
        entry = entries.get(blob)
        if entry is None:
            entry = parse(ws, rel, blob)
            parsed += 1
            if count is not None:
                count.add(1)
        if entry.get("blob", blob) == blob:
            fresh[blob] = entry
        if "row" in entry:
            items.append((rel, entry["row"]))
        else:
            problems.append(Problem(rel, entry["error"]))
    clean = [(rel, blob) for rel, blob in plan if blob in fresh]
    claim = tree if len(clean) == len(plan) else None
    if fresh.keys() != entries.keys() or claim != old_tree:
        _save_shard(ws, month, key, claim, clean, fresh)
    return MonthRead(month, items, problems, tree), parsed


def _parse(ws: Workspace, rel: str, blob: str) -> dict[str, Any]:
    """_entry, with the cyclic collector on: parsing YAML leaves cycles behind (see _no_gc)."""
    was = gc.isenabled()
    gc.enable()
    try:
        return _entry(ws, rel, blob)
    finally:
        if not was:
            gc.disable()


PEER_KEYS = (
    "id",
    "opened_at",
    "category",
    "matter",
    "customer_keys",
    "customer",
)  # what peers_by_matter reads
# What open's repeat and not-accepted-again checks read of a customer's earlier cases.
PERSON_KEYS = (*PEER_KEYS, "closed_at", "resolution", "executed", "settlement")

# ---------------------------------------------------------------- the queue database
#
# queue.sqlite: of each month folder at HEAD, the open cases (the daily
# queue), the matter peers and the people 'open' looks up, with the columns
# 'list' filters and sorts on, so a command reads the few rows it shows
# instead of decoding every open case. A month's rows are valid for the
# folder's tree id at HEAD ('months'), all of them for one policy key
# ('meta'). Anything else (a missing, damaged, locked or foreign file)
# makes the command read the months through the rows files into a database
# in memory: slower, never wrong.

QUEUE_FORMAT = "5"  # the tables' layout: another one is dropped and made again (5: people's settlement)
QUEUE_BUSY_S = 2.0  # how long to wait for another command writing the file
_TABLES = {
    "meta": "(name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "months": "(month TEXT PRIMARY KEY, tree TEXT NOT NULL)",
    # The open cases: what list filters and sorts on, in narrow rows a
    # query scans quickly. opened: µs since 1970 UTC; owner: case-folded;
    # words: summary, demand and matter case-folded, as --search matches them.
    # Kept in the order list shows (no rowid: the rows are the primary key's
    # b-tree), so the default queue is read in one pass.
    "queue": "(month TEXT NOT NULL, path TEXT NOT NULL, id TEXT NOT NULL, state TEXT NOT NULL, "
    "owner TEXT NOT NULL, category TEXT NOT NULL, matter TEXT, opened INTEGER NOT NULL, "
    "words TEXT NOT NULL, PRIMARY KEY (opened, id, path)) WITHOUT ROWID",
    "queue_rows": "(month TEXT NOT NULL, path TEXT NOT NULL, row TEXT NOT NULL)",  # each one's full row
    "peers": "(month TEXT NOT NULL, path TEXT NOT NULL, category TEXT NOT NULL, matter TEXT NOT NULL, "
    "entry TEXT NOT NULL)",
    "people": "(month TEXT NOT NULL, path TEXT NOT NULL, entry TEXT NOT NULL)",
    "person_keys": "(key TEXT NOT NULL, month TEXT NOT NULL, path TEXT NOT NULL)",
    "problems": "(month TEXT NOT NULL, path TEXT NOT NULL, message TEXT NOT NULL)",
    # The closed cases 'overdue' may still list (a follow-up or a measure to
    # come, or on a matter: casestatus.done_from is None), each one's full row;
    # and when each closed case was settled (µs), so that 'overdue' knows from
    # when no closed case outside 'watch' can be late.
    "watch": "(month TEXT NOT NULL, path TEXT NOT NULL, row TEXT NOT NULL)",
    "settled_at": "(month TEXT NOT NULL, path TEXT NOT NULL, at INTEGER NOT NULL)",
}
# Every table is ordered and replaced by (month, path): the order month_rows
# gives, and what a change of one file touches.
_INDEXES = (
    "CREATE INDEX queue_path ON queue (month, path)",
    "CREATE INDEX queue_rows_path ON queue_rows (month, path)",
    "CREATE INDEX peers_matter ON peers (category, matter)",
    "CREATE INDEX peers_path ON peers (month, path)",
    "CREATE INDEX people_path ON people (month, path)",
    "CREATE INDEX person_key ON person_keys (key)",
    "CREATE INDEX person_keys_path ON person_keys (month, path)",
    "CREATE INDEX problems_path ON problems (month, path)",
    "CREATE INDEX watch_path ON watch (month, path)",
    "CREATE INDEX settled_at_path ON settled_at (month, path)",
    "CREATE INDEX settled_at_at ON settled_at (at)",
)
# What sqlite_master must hold, exactly (SQLite keeps each statement as given).
_LAYOUT = (*(f"CREATE TABLE {name} {columns}" for name, columns in _TABLES.items()), *_INDEXES)
_FILED = ("queue", "queue_rows", "peers", "people", "person_keys", "problems", "watch", "settled_at")
CHANGES_FROM = 200  # more changed files in a month than this: read it through month_rows


@dataclass(frozen=True)
class Where:
    """The filters of 'list' that the queue's columns answer (empty: any)."""

    states: tuple[str, ...] = ()
    owner: str | None = None  # compared case-folded
    category: str | None = None
    matter: str | None = None
    since_us: int | None = None  # received at or after
    until_us: int | None = None  # received before
    words: tuple[str, ...] = ()  # case-folded; all in the summary, demand or matter

    def sql(self) -> tuple[str, list[Any]]:
        terms: list[str] = ["1"]
        args: list[Any] = []
        if self.states:
            terms.append(f"state IN ({','.join('?' * len(self.states))})")
            args += self.states
        for column, value in (("owner", self.owner), ("category", self.category), ("matter", self.matter)):
            if value:
                terms.append(f"{column} = ?")
                args.append(
                    value.casefold()
                    if column == "owner"
                    else matter_key(value)
                    if column == "matter"
                    else value
                )
        if self.since_us is not None:
            terms.append("opened >= ?")
            args.append(self.since_us)
        if self.until_us is not None:
            terms.append("opened < ?")
            args.append(self.until_us)
        for word in self.words:
            terms.append("instr(words, ?) > 0")
            args.append(word)
        return " AND ".join(terms), args


def search_text(row: Mapping[str, Any]) -> str:
    """What 'list --search' looks in, case-folded."""
    return " ".join(str(row.get(k) or "") for k in ("summary", "demand", "matter")).casefold()


class Queue:
    """The queue database in one read transaction, as of one snapshot of HEAD:
    every query sees the same rows, made for the trees the snapshot names."""

    def __init__(self, con: Any, snap: Snapshot, on_disk: bool) -> None:
        self.con = con
        self.snap = snap
        self.on_disk = on_disk  # False: rebuilt in memory for this command

    def texts(self, where: Where) -> list[tuple[str, str]]:
        """(path, row as JSON text) of the open cases ``where`` picks, oldest received first."""
        return list(self.each_text(where))

    def each_text(self, where: Where, on_matter: bool = False) -> Iterator[tuple[str, str]]:
        """``texts`` a row at a time (with ``on_matter``: those on a matter only)."""
        sql, args = where.sql()
        query = (
            "SELECT q.path, r.row FROM queue q JOIN queue_rows r ON r.month = q.month AND r.path = q.path "
            f"WHERE {sql}{' AND q.matter IS NOT NULL' if on_matter else ''} ORDER BY q.opened, q.id"
        )
        for p, t in self.con.execute(query, args):
            yield str(p), str(t)

    def paths(self, where: Where) -> list[str]:
        """The paths of the open cases ``where`` picks, oldest received first."""
        sql, args = where.sql()
        query = f"SELECT path FROM queue WHERE {sql} ORDER BY opened, id"
        return [str(p) for (p,) in self.con.execute(query, args)]

    def rows_of(self, paths: Sequence[str]) -> list[str]:
        """The rows (JSON text) of these open cases, in this order."""
        found: dict[str, str] = {}
        for start in range(0, len(paths), 400):  # under SQLite's limit of parameters
            part = [(month_of(rel), rel) for rel in paths[start : start + 400]]
            pairs = ",".join(["(?, ?)"] * len(part))
            query = f"SELECT path, row FROM queue_rows WHERE (month, path) IN (VALUES {pairs})"
            found.update(self.con.execute(query, [x for pair in part for x in pair]))
        if len(found) != len(set(paths)):
            raise Damaged("a row of the queue is missing")
        return [found[p] for p in paths]

    def peers(
        self, where: Where | None = None, matter: tuple[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """The peers of the matters of the open cases ``where`` picks, or of one (category, matter)."""
        if matter is not None:
            found = self.con.execute(
                "SELECT entry FROM peers WHERE category = ? AND matter = ? ORDER BY month, path",
                (matter[0], matter_key(matter[1])),
            )
        else:
            sql, args = (where or Where()).sql()
            found = self.con.execute(
                "SELECT entry FROM peers WHERE (category, matter) IN (SELECT category, matter "
                f"FROM queue WHERE matter IS NOT NULL AND {sql}) ORDER BY month, path",
                args,
            )
        return [loads(entry) for (entry,) in found]

    def people(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        """The cases with any of these customer keys (what 'open' checks)."""
        keys = sorted(keys)
        if not keys:
            return []
        found = self.con.execute(
            "SELECT entry FROM people WHERE (month, path) IN (SELECT month, path FROM person_keys "
            f"WHERE key IN ({','.join('?' * len(keys))})) ORDER BY month, path",
            keys,
        )
        return [loads(entry) for (entry,) in found]

    def problems(self) -> list[Problem]:
        found = self.con.execute("SELECT path, message FROM problems ORDER BY month, path")
        return [Problem(str(path), str(message)) for path, message in found]

    def settled_until(self) -> int | None:
        """When (µs) the last closed case was settled; None: none is."""
        (found,) = self.con.execute("SELECT max(at) FROM settled_at").fetchone()
        return None if found is None else int(found)

    def each_unsettled(self) -> Iterator[tuple[str, str]]:
        """(path, row as JSON text) of every case not settled for good (open,
        or in 'watch'), in path order, a row at a time: once every closed
        case is settled (settled_until), no other case can be late."""
        import heapq

        tables = [
            self.con.execute(f"SELECT month, path, row FROM {table} ORDER BY month, path")
            for table in ("queue_rows", "watch")
        ]
        for _month, path, row in heapq.merge(*tables, key=lambda found: (found[0], found[1])):
            yield str(path), str(row)


T = TypeVar("T")


class Damaged(Exception):
    """queue.sqlite gave something it cannot have stored (a row that is not JSON)."""


class Changed(Damaged):
    """queue.sqlite was brought up to date by another command meanwhile (not damaged)."""


def with_queue(
    ws: Workspace,
    use: Callable[[Queue], T],
    progress: Callable[[int, int], None] | None = None,
    status: bool = True,
) -> T:
    """``use(queue)``, with the queue database up to date; a file found
    damaged on the way is deleted, and ``use`` runs again on the months read
    afresh. ``status``: the snapshot knows what differs from HEAD."""
    import sqlite3

    try:
        with queue(ws, progress, status=status) as found:
            return use(found)
    except (sqlite3.DatabaseError, Damaged) as exc:
        if not isinstance(exc, sqlite3.OperationalError):  # not locked: damaged
            forget_queue(ws)
        with queue(ws, progress, in_memory=True, status=status) as found:
            return use(found)


def rows_later(ws: Workspace, snap: Snapshot, paths: Sequence[str]) -> list[str]:
    """The rows (JSON text) of these open cases, read again from the file
    while it still holds the months of ``snap`` (the queue counted them in an
    earlier read transaction); Damaged when it does not."""
    import sqlite3

    try:
        con = sqlite3.connect(_queue_file(ws).as_uri() + "?mode=ro", uri=True, timeout=QUEUE_BUSY_S)
        try:
            con.execute("BEGIN")
            if _stored_months(con, _policy_key(ws)) != {m: snap.tree(m) for m in snap.months()}:
                raise Changed("the queue changed since it was counted")
            return Queue(con, snap, True).rows_of(paths)
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise Damaged(str(exc)) from exc


def forget_queue(ws: Workspace) -> None:
    with contextlib.suppress(OSError):
        _queue_file(ws).unlink()


@dataclass
class Found:
    """What 'open' checks a new case against: the customer's earlier cases
    and the cases on its matter (with what PERSON_KEYS and PEER_KEYS name)."""

    people: list[dict[str, Any]]
    peers: list[dict[str, Any]]


def lookup(ws: Workspace, keys: Iterable[str], matter: tuple[str, str | None]) -> Found:
    """The cases with any of these customer keys, and those on this
    (category, matter), from the queue database: no other case is read."""
    category, tag = matter
    return with_queue(
        ws, lambda q: Found(q.people(keys), q.peers(matter=(category, tag)) if tag else []), status=False
    )


@contextlib.contextmanager
def queue(
    ws: Workspace,
    progress: Callable[[int, int], None] | None = None,
    in_memory: bool = False,
    status: bool = True,
) -> Iterator[Queue]:
    """The queue database, brought up to date with HEAD's month folders and
    held in one read transaction while the caller queries it (see with_queue)."""
    import sqlite3

    snap = snapshot(ws, status)
    key = _policy_key(ws)
    # No month folder yet: nothing worth a file (an empty one takes ~80 KB).
    con = None if in_memory or not snap.months() else _synced(ws, snap, key, progress)
    on_disk = con is not None
    if con is None:  # no file, or one we cannot use: this command reads the months afresh
        con = sqlite3.connect(":memory:", isolation_level=None)
        _create(con, key)
        loaded = month_rows(ws, snap, snap.months(), progress)
        _fill(con, ((m, [_prepare(m, loaded.items[m], loaded.problems[m])]) for m in snap.months()), {})
        con.execute("BEGIN")
    with _held(con, snap, on_disk) as found:
        yield found


@contextlib.contextmanager
def stored_queue(ws: Workspace) -> Iterator[Queue | None]:
    """The queue database as ``queue`` gives it, but only from its file:
    None when that cannot be used (locked, unwritable, no month folder yet),
    for a caller that then reads the rows files a month at a time (a queue
    made in memory holds every row while it is made)."""
    snap = snapshot(ws)
    con = _synced(ws, snap, _policy_key(ws), None) if snap.months() else None
    if con is None:
        snap.uncommitted()  # no 'git status' outlives the queue
        yield None
        return
    with _held(con, snap, True) as found:
        yield found


@contextlib.contextmanager
def _held(con: Any, snap: Snapshot, on_disk: bool) -> Iterator[Queue]:
    """The queue in the read transaction ``con`` holds, ended (and the
    snapshot's 'git status' waited for) when the caller is done."""
    import sqlite3

    try:
        yield Queue(con, snap, on_disk)
    finally:
        with contextlib.suppress(sqlite3.Error):
            con.execute("COMMIT")
        con.close()
        snap.uncommitted()  # no 'git status' outlives the queue: a commit may follow


def _queue_file(ws: Workspace) -> Path:
    return _dir(ws) / "queue.sqlite"


def _synced(ws: Workspace, snap: Snapshot, key: str, progress: Callable[[int, int], None] | None) -> Any:
    """A connection to queue.sqlite in a read transaction, every month
    current; None when the file cannot be made so (locked, unwritable, a
    month that changed while it was read)."""
    import sqlite3

    path = _queue_file(ws)
    heads = {m: snap.tree(m) for m in snap.months()}
    for attempt in range(3):
        con, keep = None, False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(path, timeout=QUEUE_BUSY_S, isolation_level=None)
            con.execute("BEGIN")
            have = _stored_months(con, key)
            if have == heads:
                keep = True
                return con  # current: keep the read transaction for the queries
            con.execute("COMMIT")
            if attempt == 2:
                break  # others keep changing it: not this time
            if have is None and path.stat().st_size:
                con.close()
                con = None
                path.unlink()  # another layout or policy: a new file, not one full of holes
                continue
            stale = [m for m in snap.months() if have is None or have.get(m) != heads[m]]
            # A month the file holds at an earlier tree: only its changed files
            # are read (a commit changes one); any other month through month_rows.
            changes = {}
            for month in stale if have else ():
                old, new = have.get(month) if have else None, heads[month]
                found = _changes(ws, old, new, month) if old and new else None
                if found is not None:
                    changes[month] = _read_changes(ws, month, found)
            whole = [m for m in stale if m not in changes]
            # Months with no rows file for HEAD's tree are parsed first, on the
            # worker processes, outside the write lock; read one at a time
            # below, each would be parsed on this process alone (a cold 'list'
            # used one core).
            _warm(ws, snap, whole, key)
            # Read and written a month at a time under the write lock: a first
            # build at 100k cases held every month's tables (~300 MB) before.
            con.execute("BEGIN IMMEDIATE")
            now = _stored_months(con, key)
            if now is None:
                _create(con, key)
                _forget_json_queue(path.parent)
                if set(whole) != set(heads):  # another layout or policy came in meanwhile
                    changes, whole = {}, snap.months()
            elif now != have:
                con.execute("ROLLBACK")
                continue  # another command changed it meanwhile: look again
            if not _fill(con, _read_months(ws, snap, whole, progress), heads):
                con.execute("ROLLBACK")
                break  # HEAD moved while the months were read: not for the file
            for month, (paths, tables) in changes.items():
                for table in _FILED:
                    con.executemany(
                        f"DELETE FROM {table} WHERE month = ? AND path = ?", [(month, p) for p in paths]
                    )
                _insert(con, tables)
                con.execute("UPDATE months SET tree = ? WHERE month = ?", (heads[month], month))
            con.execute("COMMIT")
        except sqlite3.OperationalError:  # locked, read-only, disk full: use it another time
            break
        except (sqlite3.DatabaseError, OSError):  # not a database, or damaged: start again
            if con is not None:
                con.close()
                con = None
            with contextlib.suppress(OSError):
                path.unlink()
        finally:
            if con is not None and not keep:
                con.close()  # rolls back what was not committed
    return None


def _forget_json_queue(folder: Path) -> None:
    """The open- and people- files of earlier versions, which queue.sqlite replaces."""
    for path in [*folder.glob("open-*.json"), *folder.glob("people-*.json")]:
        with contextlib.suppress(OSError):
            path.unlink()


def _stored_months(con: Any, key: str) -> dict[str, str | None] | None:
    """The months the file holds and their trees; None unless it has this
    layout and policy key."""
    layout = {sql for (sql,) in con.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")}
    if layout != set(_LAYOUT):
        return None
    meta = dict(con.execute("SELECT name, value FROM meta"))
    if meta != {"policy": key, "format": QUEUE_FORMAT}:
        return None
    return dict(con.execute("SELECT month, tree FROM months"))


def _create(con: Any, key: str) -> None:
    """Drop whatever the file holds; make the tables empty, for this policy key."""
    found = list(con.execute("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view')"))
    for kind, name in found:
        con.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')
    for statement in _LAYOUT:
        con.execute(statement)
    con.executemany("INSERT INTO meta VALUES (?, ?)", [("policy", key), ("format", QUEUE_FORMAT)])


Prepared = dict[str, list[tuple[Any, ...]]]  # table -> rows to insert


def _read_months(
    ws: Workspace, snap: Snapshot, months: list[str], progress: Callable[[int, int], None] | None
) -> Iterator[tuple[str, Iterator[Prepared | None]]]:
    """These months' tables, each month in parts (see _month_parts)."""
    key = _policy_key(ws)
    for month in months:
        yield month, _month_parts(ws, snap, month, key, progress)


# Rows of a month's rows file made into tables and inserted at a time: a
# whole month (8k rows at 100k cases) held ~40 MB of tables beside the
# file's text, and a 'check' that made the queue went over 150 MB.
PART_ROWS = 500
_AGAIN: Prepared = {}  # (compared by identity) the month's parts so far are void; it comes again


def _month_parts(
    ws: Workspace, snap: Snapshot, month: str, key: str, progress: Callable[[int, int], None] | None
) -> Iterator[Prepared | None]:
    """A month's tables in parts: from its rows file, PART_ROWS rows at a
    time, when that was made for HEAD's tree (a first build at 100k cases
    holds the file's text and a part's tables, not its rows); else, or if
    the file turns out damaged on the way (then first ``_AGAIN``), from the
    folder, read as month_rows reads it. None, and no more, if the folder
    was not at the snapshot's tree when read."""
    problems: list[Problem] = []

    def rows() -> Generator[Item, None, None]:
        for rel, entry in _streamed(ws, snap, month, key):
            if isinstance(entry, Problem):
                problems.append(entry)
            else:
                yield rel, entry

    started = False
    items = rows()
    try:
        while part := list(itertools.islice(items, PART_ROWS)):
            started = True
            yield _prepare(month, part, ())
        yield _prepare(month, (), problems)
        return
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OSError):
        pass  # none, or damaged: the folder is read below
    items.close()
    del items  # (the file's text)
    if started:
        yield _AGAIN
    loaded = month_rows(ws, snap, [month], progress)
    if loaded.trees.get(month) != snap.tree(month):
        yield None
        return
    yield _prepare(month, loaded.items[month], loaded.problems[month])


def _fill(
    con: Any, months: Iterable[tuple[str, Iterable[Prepared | None]]], heads: Mapping[str, str | None]
) -> bool:
    """Replace these months' rows with what is read, a part of a month at a
    time (``_AGAIN``: the month's parts so far are void, it comes again);
    months gone from HEAD go too. False if a month was not read as at HEAD."""
    gone = [m for (m,) in con.execute("SELECT month FROM months") if m not in heads]
    for month in gone:
        _forget_month(con, month)
    for month, parts in months:
        _forget_month(con, month)
        for tables in parts:
            if tables is None:
                return False
            if tables is _AGAIN:
                _forget_month(con, month)
                continue
            _insert(con, tables)
            del tables  # a part's tables go before the next is read
        if heads.get(month):
            con.execute("INSERT INTO months VALUES (?, ?)", (month, heads[month]))
        _give_back()  # the month's text and tables: fragments, else kept to the end of the command
    return True


def _forget_month(con: Any, month: str) -> None:
    for table in ("months", *_FILED):
        con.execute(f"DELETE FROM {table} WHERE month = ?", (month,))


def _prepare(month: str, items: Iterable[Item], problems: Iterable[Problem]) -> Prepared:
    """A month's rows for the tables: open ones to the queue, matter peers,
    people, the closed ones 'overdue' still reads, when each was settled."""
    from complaintctl.core import casestatus, timeline

    out: Prepared = {table: [] for table in _FILED}
    for rel, row in items:
        settled = row.get("settled")
        if settled:
            out["settled_at"].append((month, rel, timeline.micros(datetime.fromisoformat(settled["at"]))))
        if row.get("matter"):
            entry = {k: row.get(k) for k in PEER_KEYS}
            out["peers"].append((month, rel, row["category"], row["matter"], _dumps(entry)))
        if row.get("customer_keys"):
            out["people"].append((month, rel, _dumps({k: row.get(k) for k in PERSON_KEYS})))
            out["person_keys"] += [(k, month, rel) for k in sorted(set(row["customer_keys"]))]
        if not row.get("resolution"):
            opened = timeline.micros(datetime.fromisoformat(row["opened_at"]))
            owner, words = row["owner"].casefold(), search_text(row)
            out["queue"].append((month, rel, row["id"], row["state"], owner, row["category"],
                                 row.get("matter"), opened, words))  # fmt: skip
            out["queue_rows"].append((month, rel, _dumps(row)))
        elif casestatus.done_from(row) is None:
            # As the rows file keeps it: a settled case's raw facts left out.
            kept = {k: v for k, v in row.items() if k not in FACTS} if _settled(cast(Any, row)) else row
            out["watch"].append((month, rel, _dumps(kept)))
    out["problems"] = [(month, p.path, p.message) for p in problems]
    return out


def _insert(con: Any, tables: Prepared) -> None:
    for table, rows in tables.items():
        if rows:
            con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)


def _changes(ws: Workspace, old: str, new: str, month: str) -> list[tuple[str, str | None]] | None:
    """The files of a month folder that differ between two of its trees:
    (path, new blob, or None when gone); None when too many to take one by one."""
    folder = f"cases/{month[:4]}/{month[5:]}/"
    out = git(
        ws.root, "diff-tree", "-r", "-z", "--no-renames", "--raw", old, new, env=no_index(), check=False
    )
    if out.returncode != 0:
        return None
    fields = out.stdout.split("\0")
    changed: list[tuple[str, str | None]] = []
    for meta, rel in zip(fields[0::2], fields[1::2], strict=False):
        parts = meta.split()
        if len(parts) != 5:
            return None
        changed.append((folder + rel, None if set(parts[3]) == {"0"} else parts[3]))
    return changed if len(changed) <= CHANGES_FROM else None


def _read_changes(
    ws: Workspace, month: str, changed: list[tuple[str, str | None]]
) -> tuple[list[str], Prepared]:
    """The changed files' paths (their rows go), and the rows of those still
    there (read as month_rows reads a case file)."""
    items: list[Item] = []
    problems: list[Problem] = []
    for rel, blob in sorted(changed):
        if blob is not None and is_case_path(rel):
            entry = _entry(ws, rel, blob)
            if "row" in entry:
                items.append((rel, entry["row"]))
            else:
                problems.append(Problem(rel, entry["error"]))
    return [rel for rel, _ in changed], _prepare(month, items, problems)


def loads(text: str) -> Any:
    """A value queue.sqlite stored (Damaged if it is not what was stored)."""
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise Damaged(str(exc)) from exc


def _dumps(data: Any) -> str:
    return _ENCODE(data)


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


def attach_facts(
    ws: Workspace, items: Iterable[Item], files: dict[str, dict[str, Any]] | None = None
) -> None:
    """Give rows stored without their raw facts their facts back (``files``:
    the facts files read, by month, kept by a caller that comes back)."""
    missing = [(rel, row) for rel, row in items if "clock_facts" not in row]
    if not missing:
        return
    key = _policy_key(ws)
    files = {} if files is None else files
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
        sums = _numbers_in(data["sums"])
        rows = _unpack(data["live"])
        sums["live"] = [[rel, row] for rel, row in zip(data["paths"], rows, strict=True)]
        return dict(sums) if well_formed(sums) else None
    except (AttributeError, TypeError, ValueError, KeyError):
        return None


def save_sums(ws: Workspace, tree: str | None, month: str, sums: dict[str, Any], fmt: int) -> None:
    """Store a month's report sums, made of the folder at HEAD's ``tree``."""
    if tree is None:
        return  # a folder that differs from HEAD is read file by file
    live = sums["live"]
    data = {
        "policy": _policy_key(ws),
        "tree": tree,
        "format": fmt,
        "sums": _numbers_out({k: v for k, v in sums.items() if k != "live"}),
        "paths": [rel for rel, _ in live],
        "live": _pack((row for _, row in live), lambda row: True),
    }
    _write(_file(ws, "sums", month), data)


# The sums of the settled months (no case still moving, no unreadable file)
# as one, so that a report reads one file for most of the year: valid for
# the tree id each of those folders has at HEAD, in one policy and format.


def _settled_file(ws: Workspace) -> Path:
    return _dir(ws) / "settled.json"


def load_settled(
    ws: Workspace, snap: Snapshot, fmt: int, well_formed: WellFormed
) -> tuple[list[str], dict[str, Any]] | None:
    """(months, their sums as one) if made for those folders as they are at HEAD."""
    with _no_gc():
        data = _read(_settled_file(ws), _policy_key(ws))
        try:
            if data is None or data["format"] != fmt or not isinstance(data["trees"], dict):
                return None
            trees = data["trees"]
            if not trees or any(snap.tree(month) != tree for month, tree in trees.items()):
                return None
            sums = _numbers_in(data["sums"])
            if sums["live"] != [] or not well_formed(sums):
                return None
            return sorted(trees), sums
        except (AttributeError, TypeError, ValueError, KeyError):
            return None


def save_settled(
    ws: Workspace, snap: Snapshot, months: Iterable[str], sums: Mapping[str, Any], fmt: int
) -> None:
    trees = {month: snap.tree(month) for month in sorted(months)}
    if not trees or None in trees.values():
        return
    data = {"policy": _policy_key(ws), "format": fmt, "trees": trees, "sums": _numbers_out(dict(sums))}
    _write(_settled_file(ws), data)


# A report's running sums (reports/memo.py), one file per scope: valid for
# the tree id every month folder has at HEAD, in one policy and format; the
# instants it holds for are the memo's own business. The few most recently
# written are kept.

MEMOS_KEPT = 8


def _memo_file(ws: Workspace, scope: str) -> Path:
    return _dir(ws) / f"memo-{hashlib.sha256(scope.encode()).hexdigest()[:16]}.json"


def load_memo(
    ws: Workspace, snap: Snapshot, scope: str, fmt: int, numbers: Iterable[str]
) -> dict[str, Any] | None:
    """The report memo kept for ``scope`` at the folders as they are at HEAD,
    its long lists of ``numbers`` read back; None if there is none."""
    with _no_gc():
        data = _read(_memo_file(ws, scope), _policy_key(ws))
        try:
            if data is None or data["format"] != fmt or data["trees"] != snap.heads:
                return None
            memo = data["memo"]
            for name in numbers:
                value = memo[name]
                if type(value) is dict and len(value) == 1 and next(iter(value)) in _NUMBERS:
                    memo[name] = _from_stored(value)
            return dict(memo)
        except (AttributeError, TypeError, ValueError, KeyError):
            return None


def save_memo(
    ws: Workspace, snap: Snapshot, scope: str, memo: Mapping[str, Any], fmt: int, numbers: Iterable[str]
) -> None:
    """Keep a report memo for ``scope``, made at the folders of HEAD as ``snap`` saw them."""
    packed = dict(memo)
    for name in numbers:
        packed[name] = _packed_numbers(packed[name])
    path = _memo_file(ws, scope)
    _write(path, {"policy": _policy_key(ws), "format": fmt, "trees": snap.heads, "memo": packed})
    with contextlib.suppress(OSError):
        others = sorted(path.parent.glob("memo-*.json"), key=lambda p: -p.stat().st_mtime)
        for old in others[MEMOS_KEPT:]:
            old.unlink()


# Long lists of numbers in the cells of sums (hours to reply and resolve,
# closing instants by month) are kept as the bytes of 8-byte little-endian
# arrays in base64, which Python reads back some 20x faster than JSON
# numbers; exact both ways. Only a cell's values and the values of a
# mapping in a cell are looked at.
_NUMBERS = {"\x1ff8": "d", "\x1fi8": "q"}
_LONG = 16  # shorter lists stay JSON


def _packed_numbers(value: Any) -> Any:
    """A long list of floats, or of 64-bit integers, as packed text; anything else as it is."""
    if isinstance(value, list) and len(value) >= _LONG:
        if all(type(x) is float for x in value):
            return {"\x1ff8": _to_text("d", value)}
        if all(type(x) is int and -(2**63) <= x < 2**63 for x in value):
            return {"\x1fi8": _to_text("q", value)}
    return value


def _numbers_out(sums: dict[str, Any]) -> dict[str, Any]:
    out = _packed_numbers
    cells = {}
    for key, cell in sums["cells"].items():
        cells[key] = {
            name: {k: out(v) for k, v in value.items()} if isinstance(value, dict) else out(value)
            for name, value in cell.items()
        }
    return {**sums, "cells": cells}


def _numbers_in(sums: dict[str, Any]) -> dict[str, Any]:
    """Sums as stored, their long lists of numbers read back (in place)."""
    for cell in sums["cells"].values():
        for name, value in cell.items():
            if type(value) is dict:
                if len(value) == 1 and next(iter(value)) in _NUMBERS:
                    cell[name] = _from_stored(value)
                else:
                    for key, inner in value.items():
                        if type(inner) is dict and len(inner) == 1 and next(iter(inner)) in _NUMBERS:
                            value[key] = _from_stored(inner)
    return sums


def _to_text(code: str, numbers: list[Any]) -> str:
    packed = array.array(code, numbers)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def _from_stored(value: dict[str, Any]) -> list[Any]:
    ((key, text),) = value.items()
    packed = array.array(_NUMBERS[key])
    try:
        packed.frombytes(base64.b64decode(text, validate=True))  # ValueError: not whole numbers
    except (binascii.Error, TypeError) as exc:
        raise ValueError(str(exc)) from exc
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tolist()


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


# Opening a case file: never through a symbolic link (ELOOP: _entry names
# it), and never waiting on a FIFO put in its place (read empty, then the
# blob is read from git).
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPEN_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0)


class _Link(Exception):
    """The case file is a symbolic link."""


def _work_tree_bytes(path: str) -> bytes:
    """A file's bytes, in a few system calls (pathlib's is_symlink and
    read_bytes took four times as long: ~60 us of a case's ~1 ms in a cold
    build)."""
    if not _NOFOLLOW and os.path.islink(path):
        raise _Link
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError:
        if os.path.islink(path):  # ELOOP on Linux and macOS, EMLINK on FreeBSD
            raise _Link from None
        raise
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _committed(ws: Workspace, rel: str, blob: str) -> bytes | None:
    """The file as committed: from the work tree when it is unchanged there
    (cheap), else from git. Raises _Link for a symbolic link."""
    with contextlib.suppress(OSError):
        data = _work_tree_bytes(f"{ws.root}/{rel}")
        if blob_id(data) == blob:
            return data
    from complaintctl.store import gitread

    return gitread.blob_bytes(ws.root, blob)


def _entry(ws: Workspace, rel: str, blob: str) -> dict[str, Any]:
    """Parse one committed case into a row, or record why it cannot be read."""
    try:
        data = _committed(ws, rel, blob)
    except _Link:
        return {"error": f"{rel}: is a symbolic link; case files must be plain files"}
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
CHUNK = 500  # a month with more files to parse than this is read on a worker process (if two are)


_workers_ws: dict[str, Workspace] = {}


def _read_away(
    root: str, month: str, key: str, head: str | None, each: Each | None
) -> tuple[int, str | None, Any]:
    """On a worker process, the month folder of tree ``head`` (HEAD's, when
    the snapshot was taken): (files parsed, the tree if that is what was read,
    the month read or what ``each`` made of it).

    The cyclic collector stays off while a month is read: the rows it makes
    are acyclic (a case file in complaintctl's layout leaves no cycles
    behind, see yamlfast), and with a month of them held it would scan them
    again and again. What a file read otherwise left is collected before the
    next month, when the rows are gone."""
    if root not in _workers_ws:
        _workers_ws[root] = Workspace(Path(root))  # the policy read once per worker
        gc.freeze()  # the modules and the policy: never scanned again
    ws = _workers_ws[root]
    gc.disable()
    gc.collect()
    listed = _listing(ws, [month], head)[month]
    tree = head if tree_id(listed) == head else None
    read, parsed = _read_month(ws, month, key, _load_shard(ws, month, key), _plan(listed), tree, parse=_entry)
    return parsed, tree, each(ws, read) if each else read


def _cores() -> int:
    """The cores this process may run on (a container or CI runner may allow fewer than the machine has)."""
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


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
