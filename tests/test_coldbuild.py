"""The cold index build: on several worker processes, each month's rows
file written as soon as its last case is parsed, it writes exactly the
files and rows the one-process build writes, problems included."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from complaintctl.store import caseindex, workspace
from tests.helpers import Workspace, git
from tests.test_report import twenty  # noqa: F401  (the fixture)


def build(root: Path) -> tuple[dict[str, bytes], caseindex.Rows]:
    shutil.rmtree(root / ".git" / "complaintctl", ignore_errors=True)
    rows = caseindex.read_rows(workspace.find_workspace(str(root)))
    files = {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted((root / ".git" / "complaintctl").rglob("*.json"))
    }
    return files, rows


def test_the_parallel_build_writes_what_the_serial_one_writes(
    ws: Workspace,
    twenty: list[str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = ws.case_file(twenty[3]).with_name("C-20261001-BAD000.yaml")
    broken.write_text("schema: 1\nid: [unclosed\n")
    git(ws.root, "add", str(broken))
    git(ws.root, "commit", "-qm", "A broken file on record")
    serial = build(ws.root)
    assert any("BAD000" in p.path for p in serial[1].problems)
    assert len(serial[1].rows) == 20 and len({p.split("-")[-1] for p in serial[0]}) > 1  # several months
    monkeypatch.setattr(caseindex, "PARALLEL_FROM", 1)
    monkeypatch.setattr(caseindex, "CHUNK", 3)  # months end inside chunks and across them
    monkeypatch.setattr(caseindex, "_cores", lambda: 2)
    parallel = build(ws.root)
    assert parallel[0] == serial[0]
    assert parallel[1] == serial[1]
    state: Any = git(ws.root, "status", "--porcelain")
    assert state == ""


def test_a_cold_report_on_worker_processes_is_the_one_read_here(
    run: Any,
    ws: Workspace,
    twenty: list[str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each month read on a worker process makes its report sums there: the
    report and every index file are those of the one-process build."""
    from concurrent.futures import ProcessPoolExecutor

    broken = ws.case_file(twenty[5]).with_name("C-20261001-BAD000.yaml")
    broken.write_text("schema: 1\nid: [unclosed\n")
    git(ws.root, "add", str(broken))
    git(ws.root, "commit", "-qm", "A broken file on record")
    sent: list[str] = []
    submit = ProcessPoolExecutor.submit

    def counted(pool: Any, call: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(args[1])  # the month
        return submit(pool, call, *args, **kwargs)

    def cold(*args: str) -> tuple[str, str, dict[str, bytes]]:
        shutil.rmtree(ws.root / ".git" / "complaintctl", ignore_errors=True)
        result = run("report", "--format", "json", *args)
        assert result.exit_code == 1 and "1 case file(s) left out" in result.stderr  # the broken one
        index = ws.root / ".git" / "complaintctl"
        # offrecord.json records the work tree's folders as last seen (by time), not the index
        files = {
            str(p.relative_to(index)): p.read_bytes()
            for p in sorted(index.rglob("*.json"))
            if p.name != "offrecord.json"
        }
        return result.stdout, result.stderr, files

    for args in [(), ("--since", "2026-10-10"), ("--as-of", "2026-10-20T12:00"), ("--category", "billing")]:
        serial = cold(*args)
        assert "BAD000" in serial[1] and any(name.startswith("v") and "sums-" in name for name in serial[2])
        with monkeypatch.context() as patch:
            patch.setattr(caseindex, "PARALLEL_FROM", 1)
            patch.setattr(caseindex, "CHUNK", 1)
            patch.setattr(caseindex, "_cores", lambda: 2)
            patch.setattr(ProcessPoolExecutor, "submit", counted)
            parallel = cold(*args)
        assert sent == ["2026-10", "2026-11"]  # a month to a process, the largest first
        sent.clear()
        assert parallel == serial, args
    state: Any = git(ws.root, "status", "--porcelain")
    assert state == ""


def test_a_cold_queue_parses_its_months_on_worker_processes(
    run: Any,
    ws: Workspace,
    twenty: list[str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """'list', 'open' and 'check' build the queue database a month at a
    time; the months with no rows file are parsed first on the worker
    processes, as a report's are (one month at a time, each was parsed on
    the command's own process), and the queue is the one-process build's."""
    from concurrent.futures import ProcessPoolExecutor

    sent: list[str] = []
    submit = ProcessPoolExecutor.submit

    def counted(pool: Any, call: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(args[1])  # the month
        return submit(pool, call, *args, **kwargs)

    def cold() -> tuple[str, dict[str, bytes]]:
        shutil.rmtree(ws.root / ".git" / "complaintctl", ignore_errors=True)
        result = run("list", "--json", "--limit", "0")  # the open queue
        assert result.exit_code == 0, result.stderr
        index = ws.root / ".git" / "complaintctl"
        files = {str(p.relative_to(index)): p.read_bytes() for p in sorted(index.rglob("rows-*.json"))}
        return result.stdout, files

    serial = cold()
    assert 0 < len(json.loads(serial[0])) < 20 and len(serial[1]) == 2
    with monkeypatch.context() as patch:
        patch.setattr(caseindex, "PARALLEL_FROM", 1)
        patch.setattr(caseindex, "CHUNK", 1)
        patch.setattr(caseindex, "_cores", lambda: 2)
        patch.setattr(ProcessPoolExecutor, "submit", counted)
        parallel = cold()
    assert sent == ["2026-10", "2026-11"]  # a month to a process, the largest first
    assert parallel == serial
    state: Any = git(ws.root, "status", "--porcelain")
    assert state == ""


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=80) | st.tuples(inner, inner) | st.dictionaries(st.text(), inner),
    max_leaves=200,
)


@given(JSON)
def test_index_files_are_written_as_json_dumps_writes_them(data: Any) -> None:
    """The index files are written a piece at a time, into the same text."""
    for long in (0, 2, 64):  # lists longer than this written an item at a time
        out = io.StringIO()
        caseindex._dump(data, out, long=long)
        assert out.getvalue() == json.dumps(data, ensure_ascii=False)


def test_a_report_reads_its_months_rows_one_month_at_a_time(
    run: Any,
    ws: Workspace,
    twenty: list[str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With its sums lost and the rows files kept, a report reads a month's
    rows file when it sums that month, and decodes its rows as it sums them,
    never a month's rows at once: all months first took ~650 MB at 100k
    cases, a month at once ~65 MB."""
    from complaintctl.reports import monthsums
    from complaintctl.service import reporting

    assert run("report").exit_code == 0  # the rows files and the sums
    expected = run("report", "--format", "json").stdout
    for lost in (ws.root / ".git" / "complaintctl").glob("v*/*"):
        if lost.name.startswith(("sums-", "memo-", "settled")):
            lost.unlink()
    seen: list[str] = []
    opened, part, summarise = caseindex._current_rows, reporting._month_part, monthsums.summarise

    def reading(wsp: Any, snap: Any, month: str, key: str) -> Any:
        seen.append(f"read {month}")
        return opened(wsp, snap, month, key)

    def summing(*args: Any) -> Any:
        seen.append(f"summed {args[-1].month}")
        return part(*args)

    def streamed(items: Any, *args: Any) -> Any:
        assert not isinstance(items, list | tuple)  # decoded as summed
        return summarise(items, *args)

    monkeypatch.setattr(caseindex, "_current_rows", reading)
    monkeypatch.setattr(reporting, "_month_part", summing)
    monkeypatch.setattr(monthsums, "summarise", streamed)
    again = run("report", "--format", "json")
    assert again.exit_code == 0 and again.stdout == expected
    months = [entry.split()[1] for entry in seen[::2]]
    assert len(months) > 1 and seen == [f"{what} {m}" for m in months for what in ("read", "summed")]


def test_a_report_its_sums_cannot_serve_reads_the_months_rows_again(
    run: Any,
    ws: Workspace,
    twenty: list[str],  # noqa: F811
) -> None:
    """Sums made now, but not exact for a report as of an earlier moment:
    the month's cases are read again from its rows file and added one by one."""
    index = ws.root / ".git" / "complaintctl"
    for args in [("--as-of", "2026-10-20T12:00"), ("--as-of", "2026-11-05T12:00", "--category", "billing")]:
        expected = run("report", "--format", "json", *args)  # the sums kept, not exact: rows read
        assert expected.exit_code == 0 and json.loads(expected.stdout)["received"] > 0
        for lost in index.glob("v*/*"):
            if lost.name.startswith(("sums-", "memo-", "settled")):
                lost.unlink()
        again = run("report", "--format", "json", *args)  # the sums made, then the rows read again
        assert sorted(p.name for p in index.glob("v*/sums-*"))
        assert again.stdout == expected.stdout, args


def test_freed_memory_is_handed_back_where_malloc_trim_is_and_nothing_happens_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """_give_back calls glibc's malloc_trim after each month read here; on a
    system without it (macOS, musl), it looks once, finds none, and does nothing."""
    import ctypes
    import sys

    calls: list[int] = []
    monkeypatch.setattr(caseindex, "_trim", None)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim  # noqa: B018
        except (OSError, AttributeError):
            pass
        else:
            caseindex._give_back()
            assert callable(caseindex._trim)
            monkeypatch.setattr(caseindex, "_trim", calls.append)
            caseindex._give_back()
            assert calls == [0]

    def missing(name: str) -> Any:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(caseindex, "_trim", None)
    monkeypatch.setattr(ctypes, "CDLL", missing)
    caseindex._give_back()
    caseindex._give_back()
    assert caseindex._trim is False


def test_a_case_file_is_read_as_committed_whatever_stands_in_its_place(
    ws: Workspace,
    twenty: list[str],  # noqa: F811
) -> None:
    """The index reads the committed file: from the work tree only when it
    holds those bytes, else from git; a FIFO put in a case file's place is
    not waited on; a symbolic link put in one's place is named as one."""
    import os

    first, second, third = (ws.case_file(i) for i in twenty[:3])
    before = build(ws.root)[1]
    assert not before.problems
    second.write_text(second.read_text().replace("summary:", "summary: edited", 1))  # not committed
    third.unlink()
    os.mkfifo(third)  # a reader that opened it would wait for a writer forever
    assert build(ws.root)[1].rows == before.rows
    first.unlink()
    first.symlink_to(second.name)
    rows = build(ws.root)[1]
    rel = str(first.relative_to(ws.root))
    assert [(p.path, p.message) for p in rows.problems] == [
        (rel, f"{rel}: is a symbolic link; case files must be plain files")
    ]
    assert rows.rows == [r for r in before.rows if r["id"] != twenty[0]]
