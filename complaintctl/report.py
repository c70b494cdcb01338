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

    def in_period(self, stamp: str | None) -> bool:
        if stamp is None:
            return False
        at = datetime.fromisoformat(stamp)
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)


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


def _hours(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 3600


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
    chosen = [st for st in statuses if scope.matches(st)]
    stamp = as_of.isoformat()
    before = [st for st in chosen if datetime.fromisoformat(st.row["opened_at"]) <= as_of]
    received = [st for st in before if scope.in_period(st.row["opened_at"])]

    def closed_by(st: CaseStatus) -> bool:
        closed = st.row.get("closed_at")
        return closed is not None and datetime.fromisoformat(closed) <= as_of

    report = Report(
        as_of=as_of.isoformat(timespec="minutes"),
        since=scope.since.isoformat(timespec="minutes") if scope.since else None,
        until=scope.until.isoformat(timespec="minutes") if scope.until else None,
    )
    report.received = len(received)
    report.resolved = sum(1 for st in before if closed_by(st) and scope.in_period(st.row["closed_at"]))
    still_open = [st for st in before if not closed_by(st)]
    report.open = len(still_open)
    report.overdue = sum(1 for st in still_open if st.breached)
    report.repeat = sum(1 for st in received if st.row.get("repeat_of"))

    keys = {
        "status": "state",
        "severity": None,
        "category": "category",
        "channel": "channel",
        "owner": "owner",
    }
    for name, key in keys.items():
        counter = Counter(st.level if key is None else str(st.row[key]) for st in received)
        report.breakdowns[name] = _ordered(counter, orders.get(name, ()))

    replies = [
        _hours(st.row["opened_at"], st.row["first_reply_at"])
        for st in received
        if st.row.get("first_reply_at") and datetime.fromisoformat(st.row["first_reply_at"]) <= as_of
    ]
    report.first_reply = durations(replies)
    report.resolution = durations(
        [_hours(st.row["opened_at"], st.row["closed_at"]) for st in received if closed_by(st)]
    )
    for clock in ("first_reply", "resolution"):
        decided = [st.outcomes[clock] for st in received if st.outcomes.get(clock) in ("met", "breached")]
        report.within_limit[clock] = Share(decided.count("met"), len(decided))

    tiers: Counter[str] = Counter(t for st in received for t in st.row.get("escalated_to") or ())
    report.escalations = _ordered(tiers, orders.get("tier", ()))

    scores = [int(st.row["satisfaction"]) for st in received if st.row.get("satisfaction") is not None]
    report.satisfaction_mean = round(statistics.fmean(scores), 2) if scores else None
    report.satisfaction = {str(n): scores.count(n) for n in range(1, 6)}
    report.reached = len(scores)
    report.unreachable = sum(1 for st in received if st.row.get("unreachable"))
    report.followed_up = report.reached + report.unreachable

    groups: dict[tuple[str, str], list[CaseStatus]] = defaultdict(list)
    for st in received:
        if st.row.get("matter"):
            groups[(st.row["category"], st.row["matter"])].append(st)
    for (category, matter), members in sorted(groups.items()):
        customers = {frozenset(m.row["customer_keys"] or ["name:" + m.row["customer"]]) for m in members}
        if len(customers) >= 2:
            report.hot_spots.append(
                {
                    "category": category,
                    "matter": matter,
                    "cases": len(members),
                    "customers": len(customers),
                    "open": sum(1 for m in members if not closed_by(m)),
                }
            )
    report.hot_spots.sort(key=lambda h: (-h["customers"], h["category"], h["matter"]))

    months: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for st in before:
        if scope.in_period(st.row["opened_at"]):
            months[st.row["opened_at"][:7]][0] += 1
        if closed_by(st) and scope.in_period(st.row["closed_at"]):
            months[st.row["closed_at"][:7]][1] += 1
    report.trend = [{"month": m, "received": r, "resolved": c} for m, (r, c) in sorted(months.items())]

    still_open.sort(key=lambda st: datetime.fromisoformat(st.row["opened_at"]))
    report.oldest_open = [
        {
            "case": st.row["id"],
            "opened": st.row["opened_at"][:10],
            "days": int(_hours(st.row["opened_at"], stamp) // 24),
            "state": st.row["state"],
            "severity": st.level,
            "owner": st.row["owner"],
            "category": st.row["category"],
        }
        for st in still_open[:oldest]
    ]
    return report
