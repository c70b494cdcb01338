"""Pure: case statuses -> the figures a manager presents.

Definitions (also in docs/reports.md):

* received: cases opened in the period [since, until); resolved: cases
  closed in it; open: cases opened by ``as_of`` and not closed by then.
* breakdowns (status, severity, category, channel, owner) count the
  received cases; severity is the effective one as of ``as_of``.
* time to first reply / to resolution: hours on the calendar from receipt,
  over received cases that had one (replied / closed) by ``as_of``; median,
  mean and 90th percentile (linear interpolation between closest ranks).
* within limit: of the clocks that have been decided (met, or breached), the
  share met.
* satisfaction: follow-ups with a score among received cases.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .monitor import CaseStatus


@dataclass(frozen=True)
class Scope:
    since: datetime | None = None
    until: datetime | None = None
    as_of: datetime | None = None
    category: str | None = None
    owner: str | None = None
    severity: str | None = None

    def matches(self, st: CaseStatus) -> bool:
        row = st.row
        return (
            (self.category is None or row["category"] == self.category)
            and (self.owner is None or row["owner"] == self.owner)
            and (self.severity is None or st.level == self.severity)
        )


@dataclass(frozen=True)
class Durations:
    count: int
    median_h: float | None
    mean_h: float | None
    p90_h: float | None


@dataclass(frozen=True)
class Share:
    met: int
    decided: int

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.met / self.decided, 1) if self.decided else None


@dataclass
class Report:
    as_of: str
    since: str | None
    until: str | None
    received: int = 0
    resolved: int = 0
    open: int = 0
    overdue: int = 0
    repeat: int = 0
    breakdowns: dict[str, dict[str, int]] = field(default_factory=dict)
    first_reply: Durations | None = None
    resolution: Durations | None = None
    within_limit: dict[str, Share] = field(default_factory=dict)
    escalations: dict[str, int] = field(default_factory=dict)
    satisfaction_mean: float | None = None
    satisfaction: dict[str, int] = field(default_factory=dict)
    followed_up: int = 0
    reached: int = 0
    unreachable: int = 0
    hot_spots: list[dict[str, Any]] = field(default_factory=list)
    trend: list[dict[str, Any]] = field(default_factory=list)
    oldest_open: list[dict[str, Any]] = field(default_factory=list)


def durations(hours: Sequence[float]) -> Durations:
    if not hours:
        return Durations(0, None, None, None)
    ordered = sorted(hours)
    p90 = ordered[0] if len(ordered) == 1 else statistics.quantiles(ordered, n=10, method="inclusive")[8]
    return Durations(
        len(ordered),
        round(statistics.median(ordered), 2),
        round(statistics.fmean(ordered), 2),
        round(p90, 2),
    )


def _ordered(counter: Counter[str], order: Sequence[str]) -> dict[str, int]:
    known = {name: counter[name] for name in order if counter[name]}
    extra = {n: counter[n] for n in sorted(counter) if n not in order}
    return {**known, **extra}


def build(
    statuses: Iterable[CaseStatus],
    scope: Scope,
    as_of: datetime,
    orders: Mapping[str, Sequence[str]],
    oldest: int = 5,
) -> Report:
    # One pass over the cases, each time string parsed once: a report reads
    # 10k-100k cases and must stay well under a second.
    since, until = scope.since, scope.until

    def in_period(at: datetime) -> bool:
        return (since is None or at >= since) and (until is None or at < until)

    report = Report(
        as_of=as_of.isoformat(timespec="minutes"),
        since=since.isoformat(timespec="minutes") if since else None,
        until=until.isoformat(timespec="minutes") if until else None,
    )
    names = ("status", "severity", "category", "channel", "owner")
    counters: dict[str, Counter[str]] = {name: Counter() for name in names}
    replies: list[float] = []
    resolutions: list[float] = []
    decided: dict[str, list[str]] = {"first_reply": [], "resolution": []}
    tiers: Counter[str] = Counter()
    scores: list[int] = []
    groups: dict[tuple[str, str], list[tuple[CaseStatus, bool]]] = defaultdict(list)
    months: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    still_open: list[tuple[datetime, CaseStatus]] = []
    for st in statuses:
        if not scope.matches(st):
            continue
        row = st.row
        opened = datetime.fromisoformat(row["opened_at"])
        if opened > as_of:
            continue
        closed_text = row.get("closed_at")
        closed = datetime.fromisoformat(closed_text) if closed_text else None
        is_closed = closed is not None and closed <= as_of
        if is_closed:
            assert closed is not None and closed_text is not None
            if in_period(closed):
                report.resolved += 1
                months[closed_text[:7]][1] += 1
        else:
            still_open.append((opened, st))
            if st.breached:
                report.overdue += 1
        if not in_period(opened):
            continue
        # A received case.
        report.received += 1
        months[row["opened_at"][:7]][0] += 1
        if row.get("repeat_of"):
            report.repeat += 1
        counters["status"][row["state"]] += 1
        counters["severity"][st.level] += 1
        counters["category"][row["category"]] += 1
        counters["channel"][row["channel"]] += 1
        counters["owner"][row["owner"]] += 1
        reply = row.get("first_reply_at")
        if reply:
            replied = datetime.fromisoformat(reply)
            if replied <= as_of:
                replies.append((replied - opened).total_seconds() / 3600)
        if is_closed:
            assert closed is not None
            resolutions.append((closed - opened).total_seconds() / 3600)
        for clock, outcomes in decided.items():
            outcome = st.outcomes.get(clock)
            if outcome in ("met", "breached"):
                outcomes.append(outcome)
        tiers.update(row.get("escalated_to") or ())
        if row.get("satisfaction") is not None:
            scores.append(int(row["satisfaction"]))
        if row.get("unreachable"):
            report.unreachable += 1
        if row.get("matter"):
            groups[(row["category"], row["matter"])].append((st, is_closed))

    report.open = len(still_open)
    for name in names:
        report.breakdowns[name] = _ordered(counters[name], orders.get(name, ()))
    report.first_reply = durations(replies)
    report.resolution = durations(resolutions)
    for clock, outcomes in decided.items():
        report.within_limit[clock] = Share(outcomes.count("met"), len(outcomes))
    report.escalations = _ordered(tiers, orders.get("tier", ()))
    report.satisfaction_mean = round(statistics.fmean(scores), 2) if scores else None
    report.satisfaction = {str(n): scores.count(n) for n in range(1, 6)}
    report.reached = len(scores)
    report.followed_up = report.reached + report.unreachable

    for (category, matter), members in sorted(groups.items()):
        customers = {frozenset(m.row["customer_keys"] or ["name:" + m.row["customer"]]) for m, _ in members}
        if len(customers) >= 2:
            report.hot_spots.append(
                {
                    "category": category,
                    "matter": matter,
                    "cases": len(members),
                    "customers": len(customers),
                    "open": sum(1 for _, done in members if not done),
                }
            )
    report.hot_spots.sort(key=lambda h: (-h["customers"], h["category"], h["matter"]))
    report.trend = [{"month": m, "received": r, "resolved": c} for m, (r, c) in sorted(months.items())]

    still_open.sort(key=lambda pair: pair[0])
    report.oldest_open = [
        {
            "case": st.row["id"],
            "opened": st.row["opened_at"][:10],
            "days": int((as_of - opened).total_seconds() // 86400),
            "state": st.row["state"],
            "severity": st.level,
            "owner": st.row["owner"],
            "category": st.row["category"],
        }
        for opened, st in still_open[:oldest]
    ]
    return report
