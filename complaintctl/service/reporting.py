"""The month-end report: figures from stored month sums and case timelines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from complaintctl.core import times
from complaintctl.errors import UsageError
from complaintctl.service import reads
from complaintctl.service.choices import ReportFormat
from complaintctl.store import workspace
from complaintctl.store.workspace import Workspace


@dataclass(frozen=True)
class ReportRequest:
    since: str | None = None
    until: str | None = None
    as_of: str | None = None
    category: str | None = None
    owner: str | None = None
    severity: str | None = None


def _scope(ws: Workspace, req: ReportRequest) -> Any:
    from complaintctl.core.records import refuse_blank
    from complaintctl.reports import figures as rep

    refuse_blank(req.owner, "--owner")  # a blank filter picked every case
    policy = ws.policy
    tz = policy.timezone
    if req.category is not None and req.category not in policy.categories:
        raise UsageError(
            f"unknown category '{req.category}'", fix=f"use one of: {', '.join(policy.categories)}"
        )
    if req.severity is not None and req.severity not in policy.severities:
        raise UsageError(
            f"unknown severity '{req.severity}'", fix=f"use one of: {', '.join(policy.severities)}"
        )
    scope = rep.Scope(
        since=times.parse_at(req.since, tz, what="--since") if req.since else None,
        until=times.parse_at(req.until, tz, what="--until") if req.until else None,
        category=req.category,
        owner=req.owner,
        severity=req.severity,
    )
    if scope.since and scope.until and scope.until <= scope.since:
        raise UsageError(
            f"--until {req.until} is not after --since {req.since}",
            fix="give a period that ends after it starts",
        )
    return scope


def report(root: str | None, req: ReportRequest) -> tuple[Any, list[str], Workspace, list[str]]:
    """The report's figures for the request, the files left out, the
    workspace, and the case files not read because they differ from HEAD."""
    from complaintctl.reports import figures as rep

    ws = workspace.find_workspace(root)
    policy = ws.policy
    scope = _scope(ws, req)
    orders = {
        "status": list(policy.states),
        "severity": list(reversed(policy.severities)),
        "category": list(policy.categories),
        "channel": list(policy.channels),
        "tier": [t.name for t in policy.tiers],
        "cause": ["internal", "external", "unknown", "not recorded"],
    }
    when = reads.when_of(ws, req.as_of)
    tally, slow, problems, uncommitted = _tallied(ws, scope, when)
    figures = rep.build(_evaluated(ws, slow, when), scope, when, orders, tally=tally)
    if scope.since and scope.until:  # the same period a year earlier, for comparison
        import dataclasses

        before = dataclasses.replace(
            scope, since=_year_earlier(scope.since), until=_year_earlier(scope.until)
        )
        tally, slow, _problems, _uncommitted = _tallied(ws, before, when)
        earlier = rep.build(_evaluated(ws, slow, when), before, when, orders, tally=tally, oldest=0)
        figures.year_before = {
            "since": earlier.since,
            "until": earlier.until,
            "received": earlier.received,
            "resolved": earlier.resolved,
        }
    return figures, problems, ws, uncommitted


def _history(ws: Workspace, req: ReportRequest, figures: Any) -> tuple[list[dict[str, Any]], str | None]:
    """Received and resolved for each of the 12 months up to the period's
    end (whatever the period), in the report's scope; and the month still
    running, if it is one of them. From the month sums: cheap."""
    import dataclasses

    from complaintctl.reports import figures as rep

    scope = _scope(ws, req)
    when = reads.when_of(ws, req.as_of)
    end = scope.until or when
    last = (end - timedelta(microseconds=1)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    first = last
    for _ in range(11):
        first = (first - timedelta(days=1)).replace(day=1)
    until = (last + timedelta(days=32)).replace(day=1)
    wide = dataclasses.replace(scope, since=first, until=until)
    tally, slow, _problems, _uncommitted = _tallied(ws, wide, when)
    built = rep.build(_evaluated(ws, slow, when), wide, when, {}, tally=tally, oldest=0)
    counted = {t["month"]: t for t in built.trend}
    months = []
    at = first
    while at < until:
        key = at.strftime("%Y-%m")
        row = counted.get(key, {})
        months.append(
            {
                "month": key,
                "received": row.get("received", 0),
                "resolved": row.get("resolved", 0),
                "first_reply_percent": row.get("first_reply_percent"),
            }
        )
        at = (at + timedelta(days=32)).replace(day=1)
    running = when.strftime("%Y-%m")
    return months, running if first <= when < until else None


def _year_earlier(at: datetime) -> datetime:
    """The same moment a year before (29 February: the 28th)."""
    try:
        return at.replace(year=at.year - 1)
    except ValueError:
        return at.replace(year=at.year - 1, day=28)


def _tallied(ws: Workspace, scope: Any, when: datetime) -> tuple[Any, list[Any], list[str], list[str]]:
    """A report's tally of every case but those to evaluate live, those
    (path, row), the files left out and those not on record: kept from the
    last report in the scope where that holds now (reports/memo.py), else
    from the month sums and the cases' timelines, and then kept."""
    from complaintctl.core import timeline
    from complaintctl.reports import memo
    from complaintctl.store import caseindex

    snap = caseindex.snapshot(ws)
    name, at_us = memo.name(scope), timeline.micros(when)
    data = caseindex.load_memo(ws, snap, name, memo.FORMAT, memo.NUMBERS)
    found = memo.restored(data, scope, when, at_us) if data is not None else None
    if found is not None:
        return (*found, snap.uncommitted())
    tally, slow, problems, uncommitted, until = _report_parts(ws, snap, scope, when)
    kept = memo.kept(tally, slow, problems, at_us, until)
    caseindex.save_memo(ws, snap, name, kept, memo.FORMAT, memo.NUMBERS)
    return tally, slow, problems, uncommitted


def _report_parts(
    ws: Workspace, snap: Any, scope: Any, when: datetime
) -> tuple[Any, list[Any], list[str], list[str], int | None]:
    """A report's tally of every case but those to evaluate live: each
    month's stored sums where they are exact for it, the other cases looked
    up on their timelines a month at a time (at 100k cases ~20k are open:
    their rows held at once took ~95 MB). Also the cases to evaluate live
    (path, row), the files left out, those not on record, and the first
    instant after ``when`` at which the tally may change (None: never).
    (The tally's figures do not depend on the order cases are added in:
    durations are sorted, sums exact, lessons sorted.)"""
    import functools

    from complaintctl.core import timeline
    from complaintctl.reports import figures as rep
    from complaintctl.reports import monthsums
    from complaintctl.store import caseindex

    tally = rep.Tally(scope, when)
    # Sums made now hold only cases already final now (and by when).
    cutoff = timeline.micros(min(when, times.now(ws.policy.timezone)))
    at_us = timeline.micros(when)
    parts: dict[str, tuple[list[Any], list[str]]] = {}  # month -> (cases to evaluate live, files left out)
    until: int | None = None

    def add(month: str, split: tuple[list[Any], list[Any], int | None], problems: list[str]) -> None:
        nonlocal until
        looked, slow, step = split
        for st in looked:
            tally.add(st)
        parts[month] = (slow, problems)
        if step is not None and (until is None or step < until):
            until = step

    # The settled months' sums as one file, when it is exact for the report.
    stored = caseindex.load_settled(ws, snap, monthsums.FORMAT, monthsums.well_formed)
    covered: list[str] = []
    if stored is not None and monthsums.usable(stored[1], scope, when):
        covered = stored[0]
        monthsums.add(tally, stored[1])
    settled: dict[str, dict[str, Any]] = {}  # months read now with no case still moving
    unsummed = []
    for month in snap.months():
        if month in covered:
            continue
        sums = caseindex.load_sums(ws, snap, month, monthsums.FORMAT, monthsums.well_formed)
        if sums is None or not monthsums.usable(sums, scope, when):
            unsummed.append((month, sums is None))
            if sums is not None and _settled(sums):
                settled[month] = sums
            continue
        # Folding may widen the sums' range of receipt: only when the period is everything.
        if scope.since is None and scope.until is None and monthsums.fold(sums, cutoff):
            caseindex.save_sums(ws, snap.tree(month), month, sums, monthsums.FORMAT)
        monthsums.add(tally, sums)
        add(month, _split(sums["live"], at_us), sums["problems"])
        if _settled(sums):
            settled[month] = sums
    missing = frozenset(month for month, lost in unsummed if lost)
    each = functools.partial(_month_part, cutoff, scope, when, missing)

    def take(month: str, part: tuple[dict[str, Any] | None, bool, Any, list[str]]) -> None:
        made, exact, split, problems = part
        if made is not None and _settled(made):
            settled[month] = made
        if exact and made is not None:  # exact: sums were made
            monthsums.add(tally, made)
        add(month, split, problems)

    caseindex.month_rows(ws, snap, [month for month, _ in unsummed], each=each, take=take)
    _keep_settled(ws, snap, stored, covered, settled)
    slow, problems = [], []
    for month in sorted(parts):
        slow += parts[month][0]
        problems += parts[month][1]
    return tally, slow, problems, snap.uncommitted(), until


def _month_part(
    cutoff: int, scope: Any, when: datetime, missing: frozenset[str], ws: Workspace, read: Any
) -> tuple[dict[str, Any] | None, bool, tuple[list[Any], list[Any], int | None], list[str]]:
    """What a month read afresh adds to a report, made where it was read (a
    worker process on a cold build, see caseindex.month_rows): its sums, made
    and stored when it had none at HEAD's tree (when they are settled or
    exact for the report); whether they are exact for it; the rows the
    report still adds one by one (every row when the sums are not exact),
    split (_split) as they are read; the files left out."""
    from complaintctl.core import timeline
    from complaintctl.reports import monthsums
    from complaintctl.store import caseindex

    at_us = timeline.micros(when)
    problems = [p.message for p in read.problems]
    if read.month in missing and read.tree:
        sums = monthsums.summarise(read.items, cutoff, problems)
        caseindex.save_sums(ws, read.tree, read.month, sums, monthsums.FORMAT)
        if monthsums.usable(sums, scope, when):
            return sums, True, _split(sums["live"], at_us), sums["problems"]
        # read.items may come from the rows file as iterated: read once more,
        # without the sums' rows still moving (take needs the sums if settled)
        kept = sums if _settled(sums) else None
        del sums
        return kept, False, _split(read.items, at_us), problems
    return None, False, _split(read.items, at_us), problems


def _settled(sums: Mapping[str, Any]) -> bool:
    """A month whose sums hold every case of it: none still moving, none unreadable."""
    return not sums["live"] and not sums["problems"] and sums["opened"] is not None


def _keep_settled(
    ws: Workspace,
    snap: Any,
    stored: tuple[list[str], dict[str, Any]] | None,
    covered: list[str],
    settled: Mapping[str, Mapping[str, Any]],
) -> None:
    """Store the settled months' sums as one when months read one by one now
    would widen (or make) the stored file."""
    from complaintctl.reports import monthsums
    from complaintctl.store import caseindex

    have = set(stored[0]) if stored is not None else set()
    if not settled or set(settled) <= have:
        return
    parts = [settled[month] for month in sorted(settled)]  # as read, whatever order they came back in
    months = set(settled)
    if stored is not None and covered:  # added to this report: still exact
        parts.append(stored[1])
        months |= have
    caseindex.save_settled(ws, snap, months, monthsums.merge(parts), monthsums.FORMAT)


def _split(items: Iterable[Any], at_us: int) -> tuple[list[Any], list[Any], int | None]:
    """The cases received by ``at_us``: the standings of those looked up on
    their timeline, the cases (path, row) to evaluate live (on a --matter,
    or ``at_us`` is before their last event), and the first instant after
    ``at_us`` at which any of that changes (None: never)."""
    from complaintctl.core import timeline

    looked, slow = [], []
    until: int | None = None
    for rel, row in items:
        opened = timeline.micros(datetime.fromisoformat(row["opened_at"]))
        if opened > at_us:
            step: int | None = opened  # received later
        else:
            st = timeline.at(row, at_us, rel)
            if st is None:
                slow.append((rel, row))
            else:
                looked.append(st)
            step = timeline.next_step(row, at_us)
        if step is not None and (until is None or step < until):
            until = step
    return looked, slow, until


def _evaluated(ws: Workspace, slow: Sequence[Any], when: datetime) -> list[Any]:
    """How each case stands as of when, evaluated: on a --matter (its peers
    are the other such cases), or when is before its last event."""
    from complaintctl.core import casestatus, timeline
    from complaintctl.store import caseindex

    if not slow:
        return []
    reads.attach_early(ws, slow, when)
    peers = casestatus.peers_by_matter(row for _, row in slow)
    cal = caseindex.calendar(ws)
    return [timeline.of(casestatus.status(ws.policy, row, when, cal, peers), rel) for rel, row in slow]


def report_text(
    root: str | None,
    req: ReportRequest,
    fmt: ReportFormat = ReportFormat.TABLE,
    table: str | None = None,
    lang: str = "en",
    bom: bool = False,
) -> tuple[str | bytes, list[str], list[str]]:
    """The report in a format (table, markdown, csv, json, html: text; xlsx:
    bytes) and language (en, zh; json is the same in both), the case files
    left out of it, and those not read because they differ from HEAD."""
    from complaintctl.reports import tables

    fmt = ReportFormat.parse(fmt)
    figures, problems, ws, uncommitted = report(root, req)
    words = tables.Words(lang, ws.policy.labels_in(lang), {m.id: m.name for m in ws.policy.team})
    items = tables.tables(figures, words)
    if fmt is ReportFormat.JSON:
        return tables.to_json(figures), problems, uncommitted
    if fmt is ReportFormat.XLSX:
        return tables.to_xlsx(items), problems, uncommitted
    if fmt is ReportFormat.CSV:
        names = [t.name for t in items]
        wanted = table or "summary"
        if wanted not in names:
            raise UsageError(f"no table '{wanted}'", fix=f"use --table with one of: {', '.join(names)}")
        return tables.to_csv(items[names.index(wanted)], bom).rstrip("\n"), problems, uncommitted
    if fmt is ReportFormat.HTML:
        from complaintctl.reports import letters

        history, partial = _history(ws, req, figures)
        known = {"category": list(ws.policy.categories), "severity": list(ws.policy.severities)}
        target = ws.policy.report_targets.get("first_reply")
        context = tables.html_context(
            figures, items, ws.policy.organisation_in(lang), words, known, history, partial, target
        )
        search = [ws.root / "templates", workspace.defaults_dir() / "templates"]
        return letters.render(search, "report.html.j2", context), problems, uncommitted
    return tables.to_text(items, markdown=fmt is ReportFormat.MARKDOWN), problems, uncommitted


def case_rows(
    root: str | None, req: ReportRequest, limit: int
) -> tuple[Sequence[dict[str, Any]], int, list[str], list[str]]:
    """The cases a report counts as received (``report --cases``): opened in
    the period and by --as-of, in the scope's category, owner and effective
    severity; the first ``limit`` (0: all) in path order, in their public
    form, and how many there are. No figures are computed."""
    ws = workspace.find_workspace(root)
    scope = _scope(ws, req)
    when = reads.when_of(ws, req.as_of)

    def received(row: Mapping[str, Any], level: str) -> bool:
        opened = datetime.fromisoformat(row["opened_at"])
        return opened <= when and scope.in_period(opened) and scope.matches_row(row, level)

    return reads.cases_where(ws, when, received, limit)
