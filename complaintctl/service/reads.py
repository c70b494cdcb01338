"""Reading commands: one case, the list, the overdue clocks, a case's git log."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, overload

from complaintctl.core import times
from complaintctl.errors import NotFoundError, UsageError
from complaintctl.store import caseindex, workspace
from complaintctl.store.workspace import Workspace


def load(root: str | None, case_id: str) -> tuple[Workspace, dict[str, Any]]:
    ws = workspace.find_workspace(root)
    _rel, _text, data = workspace.load_case(ws, case_id)
    return ws, data


def matter_peers(ws: Workspace, category: str, matter: str | None) -> list[Any]:
    """Cases on the same category and matter, committed: their rows in the
    queue database, so no other case is read (every row at 100k cases is
    ~4 s and 650 MB)."""
    if not matter:
        return []
    from complaintctl.core import casestatus
    from complaintctl.store import caseindex

    rows = caseindex.lookup(ws, (), (category, matter)).peers
    return list(casestatus.peers_by_matter(rows).get((category, matter), []))  # type: ignore[arg-type]


@dataclass(frozen=True)
class ListQuery:
    """What 'list' shows: open cases by default, oldest received first."""

    status: tuple[str, ...] = ()  # these states (any, open or not)
    every: bool = False  # every state, not only open cases
    owner: str | None = None
    category: str | None = None
    severity: str | None = None  # the effective severity
    matter: str | None = None
    since: str | None = None  # received at or after
    until: str | None = None  # received before
    overdue: bool = False  # a clock or a measure past its limit
    stalled: bool = False
    search: str | None = None  # words in the summary, demand or matter (case-insensitive)
    customer: str | None = None  # a phone, e-mail or account


def me(root: str | None) -> str:
    """Who 'list --mine' means: COMPLAINTCTL_USER, else git user.email."""
    from complaintctl.service.changes import operator_of

    who = operator_of(workspace.find_workspace(root))
    if not who:
        raise UsageError("who are you? no COMPLAINTCTL_USER and no git user.email", fix="use --owner EMAIL")
    return who.strip()


def query_rows(
    root: str | None, query: ListQuery, limit: int = 0
) -> tuple[Sequence[dict[str, Any]], int, list[str], list[str]]:
    """The first ``limit`` (0: all) of the rows ``query`` asks for (with
    their effective severity), sorted by time received; how many it asks
    for; the files that could not be read; those not on record. The daily
    queue's rows are decoded only when read (see QueueRows); any other
    list is read a month at a time, keeping the rows it shows (see _every_row)."""
    from complaintctl.core.records import customer_keys, matter_key, refuse_blank, require_text

    for value, option in ((query.owner, "--owner"), (query.matter, "--matter"), (query.search, "--search")):
        refuse_blank(value, option)  # a blank filter picked every case
    ws = workspace.find_workspace(root)
    policy = ws.policy
    for value, known, what in (
        (query.category, policy.categories, "category"),
        (query.severity, policy.severities, "severity"),
    ):
        if value is not None and value not in known:
            raise UsageError(f"unknown {what} '{value}'", fix=f"use one of: {', '.join(known)}")
    _check_states(ws, query.status)
    tz = policy.timezone
    since = times.parse_at(query.since, tz, what="--since") if query.since else None
    until = times.parse_at(query.until, tz, what="--until") if query.until else None
    if since and until and until <= since:
        raise UsageError(
            f"--until {query.until} is not after --since {query.since}",
            fix="give a period that ends after it starts",
        )
    keys: set[str] = set()
    if query.customer is not None:
        # No key filters nothing: it listed every case as the customer's.
        fix = "give the customer's phone, e-mail or account number"
        require_text(query.customer, "the customer key", fix)
        typed = query.customer.strip()
        keys = customer_keys(
            {"phone": typed if any(c.isdigit() for c in typed) else None, "email": typed, "account": typed}
        )
    # The daily queue (open cases, or states a case is open in) is queried in
    # the queue database; --all, a closed state or a customer lookup read every row.
    open_states = policy.open_states
    queue = not (query.every or keys) and all(s in open_states for s in query.status)
    words = query.search.casefold().split() if query.search else []

    def picked(row: Mapping[str, Any]) -> bool:
        """The filters a row answers without its severity or clocks."""
        opened = datetime.fromisoformat(row["opened_at"])
        return not (
            (query.owner and row["owner"].casefold() != query.owner.casefold())
            or (query.category and row["category"] != query.category)
            or (query.matter and row.get("matter") != matter_key(query.matter))
            or (since and opened < since)
            or (until and opened >= until)
            or (keys and not keys & set(row["customer_keys"]))
            or (words and not all(w in caseindex.search_text(row) for w in words))
        )

    if queue and not (query.severity or query.overdue or query.stalled):
        page, problems, uncommitted = _queue_page(ws, query, since, until, words)
        shown = page if limit <= 0 else page[:limit]
        return shown, len(page), problems, uncommitted
    if not queue:
        return _every_row(ws, query, picked, limit)
    # The effective severity (or the clocks) of every open case decides: all of them.
    return _queue_judged(ws, query, picked, limit)


def cases_where(
    ws: Workspace, when: datetime, accept: Callable[[Mapping[str, Any], str], bool], limit: int
) -> tuple[KeptRows, int, list[str], list[str]]:
    """The first ``limit`` (0: all) committed cases, in path order, that
    ``accept(row, level)`` takes (``level``: the effective severity as of
    ``when``), in their public form (PUBLIC_KEYS, the severity as of when);
    how many it takes; the files that could not be read; those not on
    record. Read a month at a time: the rows kept are those shown, and
    those on a matter until every case on it is known (list_rows held every
    row: ~700 MB at 100k cases)."""
    from collections import defaultdict

    from complaintctl.core import casestatus, timeline

    when_us = timeline.micros(when)
    snap = caseindex.snapshot(ws)
    problems: list[str] = []
    peers: dict[tuple[str, str], list[Any]] = defaultdict(list)  # every case's, as list_rows has them
    taken: list[bytes] = []  # public rows, kept in path order (KeptRows)
    on_matter: list[tuple[int, Any]] = []  # judged once every case on the matter is known
    total = 0

    def judge(place: int, row: Any, level: str) -> None:
        nonlocal total
        if accept(row, level):
            total += 1
            public = {k: row.get(k) for k in PUBLIC_KEYS}
            public["severity"] = level
            taken.append(KeptRows.packed(public, f"{place:020d}"))

    for place, found in enumerate(_committed(ws, snap, when)):
        if isinstance(found, caseindex.Problem):
            problems.append(found.message)
        elif found[1].get("matter"):
            for key, group in casestatus.peers_by_matter([found[1]]).items():
                peers[key] += group
            on_matter.append((place, found[1]))
        elif limit <= 0 or len(taken) < limit:
            judge(place, found[1], _level(ws, found[1], when, when_us, {}))
        elif accept(found[1], _level(ws, found[1], when, when_us, {})):
            total += 1  # after the first ``limit`` taken in path order: counted, not kept
    for place, row in on_matter:
        judge(place, row, _level(ws, row, when, when_us, peers))
    taken.sort()
    return KeptRows(taken if limit <= 0 else taken[:limit]), total, problems, snap.uncommitted()


# Added to the time received so that any year from 1 on has 20 non-negative digits.
_US_BEFORE_1970 = 63_000_000_000_000_000


def _received(row: Mapping[str, Any]) -> tuple[datetime, str]:
    """The order of every list: oldest received first."""
    return datetime.fromisoformat(row["opened_at"]), row["id"]


def _every_row(
    ws: Workspace, query: ListQuery, picked: Callable[[Mapping[str, Any]], bool], limit: int
) -> tuple[KeptRows, int, list[str], list[str]]:
    """The first ``limit`` (0: all) rows of every committed case in the
    query's states that ``picked`` accepts and its severity and clocks let
    through, read a month at a time: a row is kept only while it is among
    those shown (its public keys: see PUBLIC_KEYS), or while its severity or
    clocks wait for the cases on its matter; how many there are; the files
    that could not be read; those not on record."""
    import heapq
    from collections import defaultdict

    from complaintctl.core import casestatus, timeline

    policy = ws.policy
    now = times.now(policy.timezone)
    now_us = timeline.micros(now)
    cal = caseindex.calendar(ws)
    clocks = query.overdue or query.stalled
    snap = caseindex.snapshot(ws)
    problems: list[str] = []
    # The peers of a matter: every case's for the severity (as list_rows
    # has them), those in the states asked for for the clocks.
    every: dict[tuple[str, str], list[Any]] = defaultdict(list)
    in_states: dict[tuple[str, str], list[Any]] = defaultdict(list)

    def finish(row: Mapping[str, Any], level: str | None) -> dict[str, Any] | None:
        """The row as shown, if its severity and clocks let it through."""
        if level is None:
            level = _level(ws, row, now, now_us, every)
        if query.severity and level != query.severity:
            return None
        if clocks:
            st = casestatus.status(policy, row, now, cal, in_states)  # type: ignore[arg-type]
            if (query.overdue and not st.breached) or (query.stalled and not st.stalled):
                return None
        shown = {k: row.get(k) for k in PUBLIC_KEYS}
        shown["severity"] = level
        return shown

    def rows() -> Iterator[dict[str, Any]]:
        on_matter = []  # rows whose severity or clocks need every case on their matter
        for found in _committed(ws, snap, now):
            if isinstance(found, caseindex.Problem):
                problems.append(found.message)
                continue
            row = found[1]
            wanted = not query.status or row["state"] in query.status
            if row.get("matter"):
                for key, group in casestatus.peers_by_matter([row]).items():
                    every[key] += group  # in the order of the cases, as when every row was held
                    if wanted:
                        in_states[key] += group
                if wanted and picked(row):
                    on_matter.append(row)
            elif wanted and picked(row):
                shown = finish(row, _level(ws, row, now, now_us, {}))
                if shown is not None:
                    yield shown
        for row in on_matter:
            shown = finish(row, None)
            if shown is not None:
                yield shown

    total = 0

    def counted() -> Iterator[dict[str, Any]]:
        nonlocal total
        for row in rows():
            total += 1
            yield row

    kept = map(KeptRows.packed, counted())
    # nsmallest: sorted(...)[:limit], holding limit rows at a time
    chosen = heapq.nsmallest(limit, kept) if limit > 0 else sorted(kept)
    return KeptRows(chosen), total, problems, snap.uncommitted()


class KeptRows(Sequence[dict[str, Any]]):
    """Rows shown by 'list' (PUBLIC_KEYS, in order) kept as bytes, a sixth
    of what they take as dicts (``list --all --limit 0`` keeps 100k), each
    decoded when read: what orders them, a NUL, the UTF-8 JSON of the
    values. By default what orders them is the time received (µs, 20
    digits) and the case id: bytes compare as ``_received`` orders rows (an
    id that is the start of another sorts first)."""

    @staticmethod
    def packed(row: Mapping[str, Any], order: str | None = None) -> bytes:
        """The row as kept, sorted by ``order`` (text with no NUL; default:
        as received)."""
        from complaintctl.core import timeline

        assert tuple(row) == PUBLIC_KEYS, "a shown row has the public keys, in order"
        if order is None:
            received = timeline.micros(datetime.fromisoformat(row["opened_at"])) + _US_BEFORE_1970
            order = f"{received:020d}{row['id']}"
        return f"{order}\0".encode() + json.dumps(list(row.values()), ensure_ascii=False).encode()

    def __init__(self, texts: list[bytes]) -> None:
        self._texts = texts

    def _row(self, text: bytes) -> dict[str, Any]:
        return dict(zip(PUBLIC_KEYS, json.loads(text[text.index(0) + 1 :]), strict=True))

    def __len__(self) -> int:
        return len(self._texts)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return map(self._row, self._texts)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self._row(text) for text in self._texts[index]]
        return self._row(self._texts[index])


class QueueRows(Sequence[dict[str, Any]]):
    """The queue's rows in order, each read and decoded (with its effective
    severity) only when asked for: 'list' shows 50 of thousands and counts
    the rest. Iterating over all of them (``--limit 0``) gives their public
    keys (all 'list' prints), kept packed between the passes of a table."""

    def __init__(
        self,
        keys: list[str],
        fetch: Callable[[list[str]], list[str]],
        decode: Callable[[str], dict[str, Any]],
        again: Callable[[caseindex.Damaged], list[dict[str, Any]]],
    ) -> None:
        self._keys = keys  # what fetch takes: the rows' paths
        self._fetch = fetch  # the rows' JSON texts, in that order
        self._decode = decode
        self._again = again  # every row, read afresh (the database was damaged)
        self._rows: list[dict[str, Any]] | None = None  # every row, once read afresh
        self._kept: KeptRows | None = None

    def __len__(self) -> int:
        return len(self._keys) if self._rows is None else len(self._rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self._rows is None and self._kept is None:  # all of them (--limit 0)
            # Read once, a slice at a time, and kept as KeptRows: a whole row
            # (its timeline, clock facts) held 19k open cases in 210 MiB at 100k.
            kept: list[bytes] = []
            for start in range(0, len(self._keys), 1000):
                part = self[start : start + 1000]
                if self._read_afresh():  # the database was damaged: every row read afresh
                    return iter(self)
                for row in part:
                    kept.append(KeptRows.packed({k: row.get(k) for k in PUBLIC_KEYS}, f"{len(kept):020d}"))
            self._kept = KeptRows(kept)
        return iter(self._rows if self._rows is not None else self._kept or ())

    def _read_afresh(self) -> bool:
        return self._rows is not None

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if self._rows is None:
            try:
                if isinstance(index, slice):
                    return [self._decode(text) for text in self._fetch(self._keys[index])]
                return self._decode(self._fetch([self._keys[index]])[0])
            except caseindex.Damaged as exc:
                self._rows = self._again(exc)
        return self._rows[index]


def _queue_page(
    ws: Workspace, query: ListQuery, since: datetime | None, until: datetime | None, words: list[str]
) -> tuple[QueueRows, list[str], list[str]]:
    """The daily queue through the queue database: filtered, counted and
    sorted there; a row is read and decoded when shown."""
    from complaintctl.core import casestatus, timeline

    where = caseindex.Where(
        states=query.status,
        owner=query.owner,
        category=query.category,
        matter=query.matter,
        since_us=timeline.micros(since) if since else None,
        until_us=timeline.micros(until) if until else None,
        words=tuple(words),
    )

    def use(found: caseindex.Queue) -> tuple[Any, ...]:
        snap = found.snap
        if found.on_disk:  # the paths now, the rows of the page later

            def fetch(paths: list[str]) -> list[str]:
                return caseindex.rows_later(ws, snap, paths)

            keys = found.paths(where)
        else:  # a database in memory: read now

            def fetch(paths: list[str]) -> list[str]:
                return paths

            keys = [text for _path, text in found.texts(where)]
        problems = [p.message for p in found.problems()]
        return keys, fetch, found.peers(where), problems, snap.uncommitted()

    keys, fetch, peer_rows, problems, uncommitted = caseindex.with_queue(ws, use)
    now = times.now(ws.policy.timezone)
    now_us = timeline.micros(now)
    peers = casestatus.peers_by_matter(peer_rows)

    def decode(text: str) -> dict[str, Any]:
        return _with_severity(ws, caseindex.loads(text), now, now_us, peers)

    def again(why: caseindex.Damaged) -> list[dict[str, Any]]:
        if not isinstance(why, caseindex.Changed):  # damaged: made afresh; changed: read again
            caseindex.forget_queue(ws)
        return list(_queue_page(ws, query, since, until, words)[0])

    return QueueRows(keys, fetch, decode, again), problems, uncommitted


def _queue_judged(
    ws: Workspace, query: ListQuery, picked: Callable[[Mapping[str, Any]], bool], limit: int
) -> tuple[KeptRows, int, list[str], list[str]]:
    """The first ``limit`` (0: all) open cases in the query's states that
    ``picked`` accepts and whose effective severity (and, for --overdue or
    --stalled, clocks) the query lets through, oldest received first, read
    from the queue database a row at a time and kept in their public form;
    how many; the files that could not be read; those not on record."""
    from complaintctl.core import casestatus, timeline

    policy = ws.policy
    where = caseindex.Where(states=query.status)
    now = times.now(policy.timezone)
    now_us = timeline.micros(now)
    clocks = query.overdue or query.stalled

    def use(found: caseindex.Queue) -> tuple[KeptRows, int, list[str], list[str]]:
        peers = casestatus.peers_by_matter(found.peers(where))  # type: ignore[arg-type]
        # The clocks of a case on a matter weigh the open cases on it in these states.
        in_states, cal = {}, None
        if clocks:
            on_matter = [caseindex.loads(text) for _path, text in found.each_text(where, on_matter=True)]
            in_states = casestatus.peers_by_matter(on_matter)
            cal = caseindex.calendar(ws)
        kept: list[bytes] = []
        total = 0
        for path, text in found.each_text(where):  # in the order shown
            row = _with_severity(ws, caseindex.loads(text), now, now_us, peers)
            if not query.status and row.get("resolution"):
                continue  # the daily queue: open cases
            if not picked(row) or (query.severity and row["severity"] != query.severity):
                continue
            if clocks:
                attach_early(ws, [(path, row)], now)
                st = casestatus.status(policy, row, now, cal, in_states)  # type: ignore[arg-type]
                if (query.overdue and not st.breached) or (query.stalled and not st.stalled):
                    continue
            total += 1
            if limit <= 0 or len(kept) < limit:
                public = {k: row.get(k) for k in PUBLIC_KEYS}
                kept.append(KeptRows.packed(public, f"{len(kept):020d}"))
        problems = [p.message for p in found.problems()]
        return KeptRows(kept), total, problems, found.snap.uncommitted()

    return caseindex.with_queue(ws, use)


def _check_states(ws: Workspace, status: Sequence[str]) -> None:
    for state in status:
        if state not in ws.policy.states:
            raise UsageError(
                f"unknown status '{state}'",
                fix=f"use one of: {', '.join(ws.policy.states)}",
            )


def _with_severity(
    ws: Workspace, row: dict[str, Any], now: datetime, now_us: int, peers: Mapping[Any, Sequence[Any]]
) -> dict[str, Any]:
    """The row with its effective severity as of now (``now_us`` the same instant)."""
    return {**row, "severity": _level(ws, row, now, now_us, peers)}


def _level(
    ws: Workspace, row: Mapping[str, Any], now: datetime, now_us: int, peers: Mapping[Any, Sequence[Any]]
) -> str:
    """The row's effective severity as of now (``now_us`` the same instant)."""
    from complaintctl.core import casestatus

    level = _level_alone(row, now, now_us)
    if level is not None:
        return level
    matter = row.get("matter")
    group = peers.get((row["category"], matter), []) if matter else []
    return casestatus.level(ws.policy, row, now, group)  # type: ignore[arg-type]


def _level_alone(row: Mapping[str, Any], now: datetime, now_us: int) -> str | None:
    """The effective severity when the row alone tells it: an open case's
    is on its timeline, a settled case's was fixed when it settled (cheaper
    than the rules); None when the rules must weigh the cases on its matter."""
    from complaintctl.core import timeline

    if not row.get("settled"):
        st = timeline.at(row, now_us)  # type: ignore[arg-type]
        return None if st is None else str(st.level)
    settled = row["settled"]
    return str(settled["level"]) if now >= datetime.fromisoformat(settled["at"]) else None


def list_rows(
    root: str | None, status: Sequence[str] = (), when: datetime | None = None
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Every committed case's index row with its effective severity as of
    ``when`` (default now), the case files that could not be read, and those
    that differ from the last commit (not read)."""

    ws = workspace.find_workspace(root)
    _check_states(ws, status)
    from complaintctl.core import casestatus, timeline

    now = when or times.now(ws.policy.timezone)
    result = caseindex.read_rows(ws)
    attach_early(ws, list(zip(result.paths, result.rows, strict=True)), now)
    peers = casestatus.peers_by_matter(result.rows)
    now_us = timeline.micros(now)
    rows = [
        _with_severity(ws, row, now, now_us, peers)  # type: ignore[arg-type]
        for row in result.rows
        if not status or row["state"] in status
    ]
    return rows, [p.message for p in result.problems], result.uncommitted


def case_ids(start: str) -> list[str]:
    """Ids of the cases in the current workspace that start with ``start``
    (shell completion: never fails loudly)."""
    try:
        ws = workspace.find_workspace(None)
    except Exception:
        return []
    typed = start.upper()
    found = (ws.root / "cases").glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/C-*.yaml")
    return sorted(path.stem for path in found if path.stem.startswith(typed))


def history(root: str | None, case_id: str) -> tuple[str, list[dict[str, str]]]:
    """The case's full id and its commits, oldest first."""
    from complaintctl.store import gitread

    ws = workspace.find_workspace(root)
    case_id = workspace.resolve_id(ws, case_id)
    rel, path = ws.case_path(case_id)
    if not path.exists():
        raise NotFoundError(f"no case {case_id}", where=rel, fix="run 'complaintctl list' to see the cases")
    return case_id, gitread.case_log(ws.root, rel)


def when_of(ws: Workspace, text: str | None) -> datetime:
    now = times.now(ws.policy.timezone)
    return times.parse_at(text, ws.policy.timezone, what="--as-of") if text else now


def case_status(root: str | None, case_id: str, as_of: str | None = None) -> tuple[dict[str, Any], Any]:
    """One case and where it stands (severity, clocks, stall) as of a moment."""
    from complaintctl.core import casestatus, indexrow
    from complaintctl.core.records import matter_key

    ws, case = load(root, case_id)
    policy = ws.policy
    row = indexrow.row(case, policy.time_limits.pause_states)
    peers = {}
    if case.get("matter"):
        key = (case["category"], matter_key(case["matter"]))
        peers = {key: matter_peers(ws, case["category"], case["matter"])}
    return case, casestatus.status(policy, row, when_of(ws, as_of), caseindex.calendar(ws), peers)


def overdue(
    root: str | None, as_of: str | None = None, warn: bool = False
) -> tuple[list[dict[str, Any]], list[str], datetime, list[str]]:
    """What 'overdue' lists as of ``as_of`` (sorted: see core/overdue.py),
    the files that could not be read, the moment, the files not on record.

    Read from the queue database when every closed case was settled by
    then: the open cases and the closed ones not settled for good (a
    follow-up or a measure to come, or on a matter), a row at a time; the
    other cases cannot be late (at 100k cases most are). Else (an --as-of
    before a case was closed; a queue file that cannot be used) every case,
    a month at a time."""
    import sqlite3

    from complaintctl.core import timeline

    ws = workspace.find_workspace(root)
    when = when_of(ws, as_of)
    try:
        with caseindex.stored_queue(ws) as queue:
            until = queue.settled_until() if queue is not None else None
            if queue is not None and (until is None or until <= timeline.micros(when)):
                unsettled = ((rel, caseindex.loads(text)) for rel, text in queue.each_unsettled())
                items, problems = _late(ws, when, warn, itertools.chain(queue.problems(), unsettled))
                return items, problems, when, queue.snap.uncommitted()
    except (sqlite3.DatabaseError, caseindex.Damaged) as exc:
        if not isinstance(exc, sqlite3.OperationalError):  # not locked: damaged
            caseindex.forget_queue(ws)
    snap = caseindex.snapshot(ws)
    items, problems = _late(ws, when, warn, _committed(ws, snap, when))
    return items, problems, when, snap.uncommitted()


def _late(
    ws: Workspace, when: datetime, warn: bool, found: Iterable[tuple[str, Any] | Any]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The items of these cases (rows, and problems: files that could not be
    read) as of ``when``, and the problems' messages. A case settled for
    good by then is passed over, and no row is kept but those on a matter,
    whose severity waits for every case on it."""
    from collections import defaultdict

    from complaintctl.core import casestatus
    from complaintctl.core import overdue as listing

    policy = ws.policy
    cal = caseindex.calendar(ws)
    items: list[dict[str, Any]] = []
    problems: list[str] = []
    on_matter: list[Any] = []  # rows on a matter, evaluated when all its peers are known
    peers: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for entry in found:
        if isinstance(entry, caseindex.Problem):
            problems.append(entry.message)
            continue
        row = entry[1]
        if datetime.fromisoformat(row["opened_at"]) > when or casestatus.done_by(row, when):
            continue
        if row.get("matter"):
            on_matter.append(row)
            for key, group in casestatus.peers_by_matter([row]).items():
                peers[key] += group  # in the order of the cases, as when every row was held
        else:
            items += listing.items(casestatus.status(policy, row, when, cal, {}), warn, when)
    for row in on_matter:
        items += listing.items(casestatus.status(policy, row, when, cal, peers), warn, when)
    items.sort(key=listing.sort_key)
    return items, problems


def _committed(
    ws: Workspace, snap: caseindex.Snapshot, when: datetime
) -> Iterator[tuple[str, Any] | caseindex.Problem]:
    """Every committed case's row in path order, a month folder at a time,
    one row held at a time (see caseindex.each_row), those settled after
    ``when`` with their raw facts (as attach_early gives them); the
    unreadable files as problems."""
    facts: dict[str, dict[str, Any]] = {}  # the facts file of the month being read, once read
    for rel, entry in caseindex.each_row(ws, snap, snap.months()):
        if isinstance(entry, caseindex.Problem):
            yield entry
            continue
        row: Any = entry
        if "clock_facts" not in row and datetime.fromisoformat(row["settled"]["at"]) > when:
            if caseindex.month_of(rel) not in facts:
                facts.clear()
            caseindex.attach_facts(ws, [(rel, row)], facts)
        yield rel, row


def attach_early(ws: Workspace, items: Sequence[Any], when: datetime) -> None:
    """Settled rows carry no raw facts; those settled after when need them."""
    from complaintctl.store import caseindex

    early = [
        (rel, row)
        for rel, row in items
        if "clock_facts" not in row and datetime.fromisoformat(row["settled"]["at"]) > when
    ]
    caseindex.attach_facts(ws, early)


def uncommitted_note(paths: Sequence[str]) -> str | None:
    """The one line that says which case files were not read, and why."""
    if not paths:
        return None
    more = f" and {len(paths) - 1} more" if len(paths) > 1 else ""
    return (
        f"not counted: {paths[0]}{more} differ(s) from the last commit (not on record); "
        "'complaintctl check' names them, 'complaintctl repair' puts them back"
    )


# What ``list --json`` prints of a row, in this order: the index's own keys
# (blob ids, timelines, raw facts, customer keys) stay out, so the output is
# the same whether the index was cold or warm.
PUBLIC_KEYS = (
    "id",
    "state",
    "severity",
    "urgent",
    "tier",
    "owner",
    "channel",
    "category",
    "matter",
    "customer",
    "summary",
    "demand",
    "opened_at",
    "first_reply_at",
    "last_at",
    "closed_at",
    "resolution",
    "executed",
    "satisfaction",
    "repeat_of",
    "escalations",
    "last_escalated_at",
    "escalated_to",
    "unreachable",
    "events",
)


def public_rows(rows: Iterable[Mapping[str, Any]], show_pii: bool) -> list[dict[str, Any]]:
    """Rows as ``list --json`` prints them: public keys only, names masked
    unless ``show_pii``."""
    return list(each_public_row(rows, show_pii))


def each_public_row(rows: Iterable[Mapping[str, Any]], show_pii: bool) -> Iterator[dict[str, Any]]:
    """``public_rows`` one at a time (a printer of 100k rows holds none twice)."""
    from complaintctl.core.privacy import mask_free_text, mask_name

    for row in rows:
        item = {k: row.get(k) for k in PUBLIC_KEYS}
        if not show_pii:
            item["customer"] = mask_name(row["customer"])
            for key in ("summary", "demand"):
                if item[key]:
                    item[key] = mask_free_text(str(item[key]), row["customer"])
        yield item
