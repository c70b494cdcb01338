"""'list' beyond the open queue and 'overdue' read the cases a month at a
time and keep only what they print: they give what the paths that held
every row gave (kept here as the oracles), on a workspace over three months
with a matter whose cases span two of them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from complaintctl.cli.text import list_table, overdue_items
from complaintctl.core import casestatus
from complaintctl.core.records import case_relpath, customer_keys
from complaintctl.service import reads
from complaintctl.store import caseindex
from complaintctl.store import workspace as wsmod
from tests.helpers import Workspace, every_status, open_args
from tests.test_report import START, stamp, twenty  # noqa: F401  (the fixture)

NOWS = [
    "2026-10-09T12:00:00+08:00",
    "2026-11-03T12:00:00+08:00",
    "2026-11-22T10:00:00+08:00",
    "2027-01-15T09:00:00+08:00",
]


@pytest.fixture
def spread(run: Any, ws: Workspace, twenty: list[str]) -> list[str]:  # noqa: F811
    """The twenty cases; three more on their matter in November from other
    customers; and a matter of three customers, the first on 30 October and
    the two others in November, which makes the first hot on 2 November
    (the same matter from 3 customers within 30 days), its folder read
    before theirs."""
    ids = list(twenty)
    for k in range(3):
        at = START + timedelta(days=40 + k)
        over = {"at": stamp(at), "phone": f"1390000{k:04d}", "customer": f"Later {k}", "matter": "oct-batch"}
        result = run(*open_args(**over))
        assert result.exit_code == 0, result.stderr
        ids.append(result.stdout.strip())
    for k, at in enumerate(["2026-10-30T10:00", "2026-11-01T10:00", "2026-11-02T10:00"]):
        over = {"at": at, "phone": f"1370000{k:04d}", "customer": f"Wave {k}", "matter": "wave"}
        result = run(*open_args(**over))
        assert result.exit_code == 0, result.stderr
        ids.append(result.stdout.strip())
    return ids


def old_list(root: str, query: reads.ListQuery) -> list[dict[str, Any]]:
    """What query_rows gave for a list beyond the open queue when it held every row."""
    from complaintctl.core import times

    ws = wsmod.find_workspace(root)
    rows, _problems, _uncommitted = reads.list_rows(root, query.status)
    open_states = ws.policy.open_states
    if not (query.every or query.customer) and all(s in open_states for s in query.status):
        # The daily queue: cases in a state a case is open in.
        rows = [r for r in rows if r["state"] in open_states]
        if not query.status:
            rows = [r for r in rows if not r.get("resolution")]
    keys = customer_keys({"phone": query.customer, "email": query.customer, "account": query.customer})
    since = times.parse_at(query.since, ws.policy.timezone) if query.since else None
    chosen = [
        row
        for row in rows
        if not (
            (query.owner and row["owner"].casefold() != query.owner.casefold())
            or (query.category and row["category"] != query.category)
            or (query.severity and row["severity"] != query.severity)
            or (query.matter and row.get("matter") != query.matter)
            or (since and datetime.fromisoformat(row["opened_at"]) < since)
            or (query.customer and not keys & set(row["customer_keys"]))
        )
    ]
    if query.overdue or query.stalled:
        now = times.now(ws.policy.timezone)
        reads.attach_early(ws, [(case_relpath(r["id"]), r) for r in chosen], now)
        peers = casestatus.peers_by_matter(rows)  # type: ignore[arg-type]
        cal = caseindex.calendar(ws)
        kept = []
        for row in chosen:
            st = casestatus.status(ws.policy, row, now, cal, peers)  # type: ignore[arg-type]
            if not ((query.overdue and not st.breached) or (query.stalled and not st.stalled)):
                kept.append(row)
        chosen = kept
    chosen.sort(key=lambda r: (datetime.fromisoformat(r["opened_at"]), r["id"]))
    return chosen


QUERIES = [
    reads.ListQuery(every=True),
    reads.ListQuery(status=("closed", "followed-up")),
    reads.ListQuery(status=("open", "closed")),
    reads.ListQuery(every=True, owner="BOB@example.com"),
    reads.ListQuery(every=True, category="billing", since="2026-10-05T00:00"),
    reads.ListQuery(every=True, severity="hot"),
    reads.ListQuery(every=True, severity="general"),
    reads.ListQuery(every=True, matter="oct-batch"),
    reads.ListQuery(every=True, matter="wave", severity="hot"),
    reads.ListQuery(every=True, overdue=True),
    reads.ListQuery(every=True, stalled=True),
    reads.ListQuery(status=("closed",), overdue=True),
    reads.ListQuery(severity="hot"),  # the queue, judged a row at a time
    reads.ListQuery(overdue=True),
    reads.ListQuery(stalled=True, owner="alice@example.com"),
    reads.ListQuery(matter="wave", overdue=True),
    reads.ListQuery(status=("open",), severity="general"),
    reads.ListQuery(customer="13900000001"),
    reads.ListQuery(customer="13800000002"),
]


@pytest.mark.parametrize("now", NOWS)
def test_lists_beyond_the_queue_are_what_holding_every_row_gave(
    ws: Workspace, spread: list[str], now: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPLAINTCTL_NOW", now)
    root = str(ws.root)
    seen = set()
    for query in QUERIES:
        oracle = old_list(root, query)
        seen.add(len(oracle))
        for limit in (0, 1, 3, 50):
            shown, total, problems, uncommitted = reads.query_rows(root, query, limit)
            expected = oracle if limit <= 0 else oracle[:limit]
            assert (total, problems, uncommitted) == (len(oracle), [], []), query
            assert reads.public_rows(shown, True) == reads.public_rows(expected, True), (query, limit)
            assert "".join(list_table(shown, False, True)) == "".join(list_table(expected, False, True))
    assert len(seen) > 4  # the queries pick different rows


@pytest.mark.parametrize(
    "as_of",
    ["2026-10-09T12:00", "2026-11-03T12:00", "2026-11-12T09:00", "2026-12-01T09:00", "2027-02-01T09:00"],
)
def test_overdue_is_what_holding_every_row_gave(
    ws: Workspace, spread: list[str], as_of: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    when, pairs, oracle = every_status(ws.root, as_of)
    assert len({caseindex.month_of(rel) for rel, row in pairs if row.get("matter")}) == (
        2 if as_of >= "2026-11" else 1
    )
    # From the queue database (the open and the unsettled cases) once every
    # closed case was settled by then; else every row, a month at a time.
    settled = [datetime.fromisoformat(r["settled"]["at"]) for _, r in pairs if r.get("settled")]
    from_queue = max(settled) <= when
    assert from_queue == (as_of >= "2026-11-12")  # (the last case is closed between these)
    every_row = caseindex.each_row
    read: list[str] = []
    monkeypatch.setattr(caseindex, "each_row", lambda *a: read.append("every row") or every_row(*a))
    for warn in (False, True):
        items, problems, _when, uncommitted = reads.overdue(str(ws.root), as_of, warn)
        assert items == overdue_items(oracle, warn, when) and (problems, uncommitted) == ([], [])
        assert items or as_of < "2026-10-10"
    assert read == ([] if from_queue else ["every row"] * 2)
    [queue] = (ws.root / ".git" / "complaintctl").glob("v*/queue.sqlite")
    queue.write_bytes(b"not a database" + queue.read_bytes()[14:])  # damaged: made again, same answer
    assert reads.overdue(str(ws.root), as_of, True)[0] == overdue_items(oracle, True, when)


def test_each_row_gives_what_month_rows_gives_from_any_rows_file(ws: Workspace, spread: list[str]) -> None:
    """Decoded a row at a time from a rows file made for the folder's tree;
    through month_rows from a missing, stale or damaged one (damaged after
    some rows were given: the rest follow, none twice)."""
    from tests.helpers import git

    broken = ws.case_file(spread[3]).with_name("C-20261001-BAD000.yaml")
    broken.write_text("schema: 1\nid: [unclosed\n")
    git(ws.root, "add", str(broken))
    git(ws.root, "commit", "-qm", "A broken file on record")
    found = wsmod.find_workspace(str(ws.root))
    snap = caseindex.snapshot(found, status=False)
    months = snap.months()

    def oracle(month: str) -> list[Any]:
        loaded = caseindex.month_rows(found, snap, [month])
        pairs: list[Any] = [*loaded.items[month], *((p.path, p) for p in loaded.problems[month])]
        return sorted(pairs, key=lambda pair: str(pair[0]))

    caseindex.read_rows(
        found
    )  # the rows files made (a fresh parse keeps raw facts that a rows file does not)
    expected = {month: oracle(month) for month in months}
    assert any(isinstance(e, caseindex.Problem) for pairs in expected.values() for _, e in pairs)
    assert list(caseindex.each_row(found, snap, months)) == [p for m in months for p in expected[m]]
    rows_file = found.git_dir() / "complaintctl" / f"v{caseindex.indexrow.VERSION}" / f"rows-{months[0]}.json"
    text = rows_file.read_text()
    stale = text.replace(f'"tree": "{snap.tree(months[0])}"', '"tree": "0000"')
    assert stale != text
    cut = text[: text.index('{"v"', text.index('{"v"') + 1) + 10]  # damaged in its second row

    def no_facts(pairs: list[Any]) -> list[Any]:
        """A case parsed afresh carries its raw facts and no blob id; one read back from the file, not all."""
        return [(rel, {k: v for k, v in e.items() if k not in (*caseindex.FACTS, "blob")} if isinstance(e, dict) else e)
                for rel, e in pairs]  # fmt: skip

    for damaged in (stale, cut, "", "{}"):
        rows_file.write_text(damaged)
        got = list(caseindex.each_row(found, snap, months[:1]))
        assert no_facts(got) == no_facts(expected[months[0]]) and len(got) == len(expected[months[0]])
        assert rows_file.read_text() == text  # made again


def test_the_queue_is_built_from_rows_files_a_row_at_a_time_or_from_the_folder(
    run: Any, ws: Workspace, spread: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first build of queue.sqlite takes each month from its rows file, a
    row at a time, when that file was made for HEAD's tree; from a missing,
    stale or damaged one (damaged after some rows were read, and after the
    first of them went into the file) it reads the folder: the queue, the
    lookups and the problems are the same."""
    monkeypatch.setattr(caseindex, "PART_ROWS", 1)  # a month's rows inserted one by one
    found = wsmod.find_workspace(str(ws.root))
    folder = found.git_dir() / "complaintctl" / f"v{caseindex.indexrow.VERSION}"

    def seen() -> tuple[str, str, str, list[Any]]:
        import sqlite3

        (folder / "queue.sqlite").unlink(missing_ok=True)
        queue = run("list", "--limit", "0", "--json")
        everyone = run("list", "--all", "--limit", "0", "--json")
        customer = run("customer", "13812341234")
        assert queue.exit_code == 0 and everyone.exit_code == 0, queue.stderr
        # Every table's rows, none twice (their rows as JSON left out: one
        # parsed afresh holds its raw facts, one read from a rows file not all).
        con = sqlite3.connect(folder / "queue.sqlite")
        tables = [
            sorted(
                (
                    tuple(c for c in r if not str(c).startswith("{"))
                    for r in con.execute(f"SELECT * FROM {t}")
                ),
                key=repr,
            )
            for t in ("months", *caseindex._FILED)
        ]
        con.close()
        return queue.stdout, everyone.stdout, customer.stdout, tables

    expected = seen()  # rows files made by the first read, then the queue from the folders
    assert json.loads(expected[0]) and (folder / "queue.sqlite").is_file()
    assert seen() == expected  # from the rows files
    months = caseindex.snapshot(found, status=False).months()
    for month in months:
        rows_file = folder / f"rows-{month}.json"
        text = rows_file.read_text()
        cut = text[: text.index('{"v"', text.index('{"v"') + 1) + 10]  # damaged in its second row
        stale = text.replace('"tree": "', '"tree": "0', 1)
        for damaged in (cut, stale, ""):
            rows_file.write_text(damaged)
            assert seen() == expected, (month, damaged[:40])
        rows_file.unlink()
        assert seen() == expected


def test_a_cold_index_is_made_for_every_month_at_once_then_read_a_row_at_a_time(
    ws: Workspace, spread: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """each_row on months with no rows file (a fresh clone) has them made
    together, so that month_rows can give them to worker processes, not a
    month at a time on this one."""
    import shutil

    found = wsmod.find_workspace(str(ws.root))
    snap = caseindex.snapshot(found, status=False)
    months = snap.months()
    expected = list(caseindex.each_row(found, snap, months))  # the rows files made
    shutil.rmtree(found.git_dir() / "complaintctl")
    calls: list[list[str]] = []
    real = caseindex.month_rows

    def spy(ws_: Any, snap_: Any, asked: list[str], *args: Any, **kwargs: Any) -> Any:
        calls.append(list(asked))
        return real(ws_, snap_, asked, *args, **kwargs)

    monkeypatch.setattr(caseindex, "month_rows", spy)
    got = list(caseindex.each_row(found, snap, months))
    assert len(months) > 1 and calls == [months]  # all at once; then each decoded from its file
    assert [(rel, e if isinstance(e, caseindex.Problem) else {k: v for k, v in e.items() if k not in caseindex.FACTS}) for rel, e in got] == [
        (rel, e if isinstance(e, caseindex.Problem) else {k: v for k, v in e.items() if k not in caseindex.FACTS}) for rel, e in expected
    ]  # fmt: skip
    calls.clear()
    assert list(caseindex.each_row(found, snap, months)) == got and calls == []  # warm: no parse


@given(
    st.lists(
        st.tuples(
            st.datetimes(
                min_value=datetime(1900, 1, 1), max_value=datetime(9998, 1, 1), timezones=st.timezones()
            ),
            st.text(alphabet="C-0129AXZ", min_size=1, max_size=6),
        ),
        max_size=12,
    )
)
def test_kept_rows_sort_and_read_back_as_received(items: list[tuple[datetime, str]]) -> None:
    """'list' keeps the rows it shows as bytes and sorts those: the order is
    the time received, then the case id, and each reads back as it was."""
    rows = []
    for at, case_id in items:
        row: dict[str, Any] = dict.fromkeys(reads.PUBLIC_KEYS)
        row.update(id=case_id, opened_at=at.isoformat(), summary="漏发配件 ∑", urgent=True, satisfaction=3)
        rows.append(row)
    kept = reads.KeptRows(sorted(map(reads.KeptRows.packed, rows)))
    expected = sorted(rows, key=lambda r: (datetime.fromisoformat(r["opened_at"]), r["id"]))
    assert list(kept) == expected
    assert len(kept) == len(rows) and kept[0:2] == expected[0:2]
    if rows:
        assert kept[-1] == expected[-1]


def _whole(n: int) -> dict[str, Any]:
    """A row as the queue database holds it: the public keys and the rest."""
    return {**{k: f"{k}-{n}" for k in reads.PUBLIC_KEYS}, "timeline": [[n] * 50], "clock_facts": {"n": n}}


@pytest.mark.parametrize("damaged_at", [None, 0, 1000, 2000])
def test_the_whole_queue_is_read_once_and_kept_as_it_is_printed(damaged_at: int | None) -> None:
    """'list --limit 0' lays out a table in two passes: the queue's rows
    are fetched once, a slice at a time, and kept with their public keys
    only (whole rows of 19k open cases took 210 MiB at 100k). A database
    found damaged part of the way is read afresh, and each row still comes
    once, in order."""
    keys = [str(n) for n in range(2500)]
    fetched: list[int] = []
    afresh: list[str] = []

    def fetch(paths: list[str]) -> list[str]:
        if damaged_at is not None and int(paths[0]) == damaged_at:
            raise caseindex.Damaged("damaged")
        fetched.append(len(paths))
        return paths

    def again(why: caseindex.Damaged) -> list[dict[str, Any]]:
        afresh.append(str(why))
        return [_whole(int(k)) for k in keys]

    rows = reads.QueueRows(keys, fetch, lambda text: _whole(int(text)), again)
    public = [{k: f"{k}-{n}" for k in reads.PUBLIC_KEYS} for n in range(2500)]
    for _ in range(2):
        got = list(rows)
        assert [r["id"] for r in got] == [f"id-{n}" for n in range(2500)]
        if damaged_at is None:
            assert got == public
        else:
            assert [{k: r[k] for k in reads.PUBLIC_KEYS} for r in got] == public
    assert len(rows) == 2500
    assert afresh == ([] if damaged_at is None else ["damaged"])
    assert fetched == [1000, 1000, 500][: None if damaged_at is None else damaged_at // 1000]


def _queue_tables(ws: Workspace) -> dict[str, list[tuple[Any, ...]]]:
    import sqlite3

    [path] = (ws.root / ".git" / "complaintctl").glob("v*/queue.sqlite")
    con = sqlite3.connect(path)
    try:
        # (A stored row read from a rows file has its keys in another order
        # than one read from its case file, and its blob id (the index's own
        # key): the same row decoded, the blob left out.)
        return {
            table: sorted(
                tuple(_decoded(v) for v in found) for found in con.execute(f"SELECT * FROM {table}")
            )
            for table in ("months", *caseindex._FILED)  # (meta: the policy key and format)
        }
    finally:
        con.close()


def _decoded(value: Any) -> Any:
    if isinstance(value, str) and value[:1] == "{":
        return sorted((k, json.dumps(v)) for k, v in json.loads(value).items() if k != "blob")
    return value


def test_the_queue_brought_forward_commit_by_commit_is_the_one_made_afresh(run: Any, ws: Workspace) -> None:
    """Every table of queue.sqlite (the open cases, the closed ones overdue
    still reads, when each was settled ...), kept up to date a changed file
    at a time, is what a first build of the same commit makes."""
    from tests.helpers import git

    def same_as_afresh() -> None:
        assert run("overdue").exit_code in (0, 1)
        kept = _queue_tables(ws)
        for path in (ws.root / ".git" / "complaintctl").glob("v*/queue.sqlite"):
            path.unlink()
        assert run("overdue").exit_code in (0, 1)
        afresh = _queue_tables(ws)
        assert afresh == kept
        assert kept["watch"] or kept["queue_rows"] or not kept["settled_at"]

    ids = [run(*open_args(phone=f"1380000000{i}", at=f"2026-11-2{i}T09:00")).stdout.strip() for i in range(3)]
    same_as_afresh()
    steps = [
        ["note", ids[0], "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-20T09:30"],
        ["close", ids[0], "--resolution", "rejected", "--at", "2026-11-20T10:00"],  # a follow-up to come
        ["followup", ids[0], "--satisfaction", "4", "--at", "2026-11-21T10:00"],  # settled for good
        ["close", ids[1], "--resolution", "withdrawn", "--at", "2026-11-21T11:00"],
        ["reopen", ids[0], "--reason", "Called again", "--at", "2026-11-22T09:30"],
    ]
    for args in steps:
        result = run(*args)
        assert result.exit_code == 0, (args, result.stderr)
        same_as_afresh()
    git(ws.root, "checkout", "-q", "HEAD~2")  # back in history: months at other trees
    same_as_afresh()
