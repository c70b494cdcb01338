"""Pure: case statuses -> the figures a manager presents.

Definitions (also in docs/reports.md):

* received: cases opened in the period [since, until); resolved: cases
  closed in it; open: cases opened by ``as_of`` and not closed by then.
* breakdowns (status, severity, category, channel, owner, cause) count the
  received cases; severity is the effective one as of ``as_of``.
* time to first reply / to resolution: hours on the calendar from receipt,
  over received cases that had one (replied / closed) by ``as_of``; median,
  mean and 90th percentile (linear interpolation between closest ranks).
* within limit: of the clocks that have been decided (met, or breached), the
  share met.
* satisfaction: follow-ups with a score among received cases.
* stalled: open cases stalled as of ``as_of`` (as overdue, not by period).
* compensation and double refunds: the accepted offers of received cases,
  agreed by ``as_of``, by kind and currency (totals exact, as text).
* lessons: the lesson notes of received cases, by category.
* year before: received and resolved in the same period a year earlier.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from complaintctl.core.privacy import mask_free_text
from complaintctl.core.records import customer_identity
from complaintctl.core.timeline import REPORTED, Standing, micros


@dataclass(frozen=True)
class Scope:
    since: datetime | None = None
    until: datetime | None = None
    as_of: datetime | None = None
    category: str | None = None
    owner: str | None = None
    severity: str | None = None

    def matches(self, st: Standing) -> bool:
        return self.matches_row(st.row, st.level)

    def matches_row(self, row: Mapping[str, Any], level: str) -> bool:
        """In scope by category, owner and (effective) severity ``level``."""
        return (
            (self.category is None or row["category"] == self.category)
            and (self.owner is None or row["owner"] == self.owner)
            and (self.severity is None or level == self.severity)
        )

    def in_period(self, at: datetime) -> bool:
        """Within [since, until): a case received (or resolved) then counts."""
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
    resolution_work: Durations | None = None  # in working hours, of cases judged in them
    within_limit: dict[str, Share] = field(default_factory=dict)
    escalations: dict[str, int] = field(default_factory=dict)
    satisfaction_mean: float | None = None
    satisfaction: dict[str, int] = field(default_factory=dict)
    followed_up: int = 0
    reached: int = 0
    unreachable: int = 0
    reach_rate: Share = Share(0, 0)  # reached of followed up
    measures_on_time: Share = Share(0, 0)  # of the measures carried out, those done by their due time
    stalled: int = 0
    compensation: list[dict[str, Any]] = field(default_factory=list)  # kind, currency, cases, total
    double_refunds: list[dict[str, Any]] = field(default_factory=list)  # currency, cases, total
    lessons: list[dict[str, Any]] = field(default_factory=list)  # category, case, at, text
    year_before: dict[str, Any] | None = None  # since, until, received, resolved
    hot_spots: list[dict[str, Any]] = field(default_factory=list)
    trend: list[dict[str, Any]] = field(default_factory=list)
    oldest_open: list[dict[str, Any]] = field(default_factory=list)


def durations(hours: Sequence[float]) -> Durations:
    if not hours:
        return Durations(0, None, None, None)
    ordered = sorted(hours)
    n = len(ordered)
    return Durations(n, round(median(ordered), 2), round(mean(ordered), 2), round(p90(ordered), 2))


# statistics.median, .fmean and .quantiles(n=10, method="inclusive")[8], by
# the same formulas, on data already sorted: they sort it again each time
# (a report at 100k cases takes these of some 100k hours).


def median(ordered: Sequence[float]) -> float:
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def p90(ordered: Sequence[float]) -> float:
    """The 90th percentile, interpolated between closest ranks (the only value of one)."""
    if len(ordered) == 1:
        return ordered[0]
    j, delta = divmod(9 * (len(ordered) - 1), 10)
    return (ordered[j] * (10 - delta) + ordered[j + 1] * delta) / 10


def _ordered(counter: Counter[str], order: Sequence[str]) -> dict[str, int]:
    known = {name: counter[name] for name in order if counter[name]}
    extra = {n: counter[n] for n in sorted(counter) if n not in order}
    return {**known, **extra}


def measures_carried_out(row: Mapping[str, Any], as_of: datetime) -> tuple[int, int]:
    """(measures done by as_of, of them done by their due time)."""
    done = met = 0
    for _no, _by, due, done_at in row.get("measures") or ():
        if done_at and datetime.fromisoformat(done_at) <= as_of:
            done += 1
            met += datetime.fromisoformat(done_at) <= datetime.fromisoformat(due)
    return done, met


BREAKDOWNS = ("status", "severity", "category", "channel", "owner", "cause")
NO_CAUSE = "not recorded"  # the cause breakdown's name for a case with no cause yet
CLOCKS = REPORTED  # first reply, resolution, keep informed, follow-up
MONTHLY_CLOCK = "first_reply"  # the clock whose share within the limit is shown month by month


@dataclass
class Tally:
    """The running sums of one report. Cases are added one at a time
    (``add``), or a month of settled ones at once from stored sums
    (``reportsums.add``); the order of adding never changes the figures."""

    scope: Scope
    as_of: datetime
    received: int = 0
    resolved: int = 0
    open: int = 0
    overdue: int = 0
    repeat: int = 0
    unreachable: int = 0
    counters: dict[str, Counter[str]] = field(default_factory=lambda: {n: Counter() for n in BREAKDOWNS})
    replies: list[float] = field(default_factory=list)
    resolutions: list[float] = field(default_factory=list)
    work_resolutions: list[float] = field(default_factory=list)
    met: Counter[str] = field(default_factory=Counter)
    decided: Counter[str] = field(default_factory=Counter)
    tiers: Counter[str] = field(default_factory=Counter)
    scores: list[int] = field(default_factory=list)
    measures_done: int = 0
    measures_met: int = 0
    stalled: int = 0
    # kind\x1fcurrency -> [cases, total]; currency -> [cases, total] (double refunds)
    money: dict[str, list[Any]] = field(default_factory=dict)
    doubles: dict[str, list[Any]] = field(default_factory=dict)
    lessons: list[tuple[str, str, str, str]] = field(default_factory=list)  # category, case, at, text
    months: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    # month received -> [first replies within the limit, first-reply clocks decided]
    month_limits: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    groups: dict[tuple[str, str], list[tuple[Standing, bool]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    # Open cases that may be among the oldest: (opened in microseconds, file, row, severity).
    oldest: list[tuple[int, str, Mapping[str, Any], str]] = field(default_factory=list)

    def in_period(self, at: datetime) -> bool:
        return self.scope.in_period(at)

    def add(self, st: Standing) -> None:
        if not self.scope.matches(st):
            return
        row = st.row
        opened = datetime.fromisoformat(row["opened_at"])
        if opened > self.as_of:
            return
        closed_text = row.get("closed_at")
        closed = datetime.fromisoformat(closed_text) if closed_text else None
        is_closed = closed is not None and closed <= self.as_of
        if is_closed:
            assert closed is not None and closed_text is not None
            if self.in_period(closed):
                self.resolved += 1
                self.months[closed_text[:7]][1] += 1
        else:
            self.open += 1
            # What the table shows, not the row: at 100k cases ~20k rows open.
            self.oldest.append((micros(opened), st.path, {k: row.get(k) for k in OLDEST_KEYS}, st.level))
            if st.breached:
                self.overdue += 1
            if st.stalled:
                self.stalled += 1
        if not self.in_period(opened):
            return
        # A received case.
        self.received += 1
        self.months[row["opened_at"][:7]][0] += 1
        if row.get("repeat_of"):
            self.repeat += 1
        counters = self.counters
        counters["status"][row["state"]] += 1
        counters["severity"][st.level] += 1
        counters["category"][row["category"]] += 1
        counters["channel"][row["channel"]] += 1
        counters["owner"][row["owner"]] += 1
        counters["cause"][row.get("cause") or NO_CAUSE] += 1
        reply = row.get("first_reply_at")
        if reply:
            replied = datetime.fromisoformat(reply)
            if replied <= self.as_of:
                self.replies.append((replied - opened).total_seconds() / 3600)
        if is_closed:
            assert closed is not None
            self.resolutions.append((closed - opened).total_seconds() / 3600)
            if row.get("work_hours") is not None:
                self.work_resolutions.append(float(row["work_hours"]))  # type: ignore[arg-type]
        for clock, outcome in st.outcomes.items():  # decided clocks only; each of CLOCKS at most once
            if outcome in ("met", "breached") and clock in CLOCKS:
                self.decided[clock] += 1
                if outcome == "met":
                    self.met[clock] += 1
                if clock == MONTHLY_CLOCK:
                    share = self.month_limits[row["opened_at"][:7]]
                    share[0] += outcome == "met"
                    share[1] += 1
        tiers = row.get("escalated_to")
        if tiers:
            self.tiers.update(tiers)
        score = row.get("satisfaction")
        if score is not None:
            self.scores.append(int(score))
        if row.get("unreachable"):
            self.unreachable += 1
        if row.get("measures"):
            done, met = measures_carried_out(row, self.as_of)
            self.measures_done += done
            self.measures_met += met
        deal = row.get("settlement")
        if deal and datetime.fromisoformat(deal[4]) <= self.as_of:
            add_money(self.money, self.doubles, deal)
        for at, text in row.get("lessons") or ():
            if datetime.fromisoformat(at) <= self.as_of:
                masked = mask_free_text(text, row.get("customer"))  # a report leaves the team
                self.lessons.append((row["category"], row["id"], at, masked))
        matter = row.get("matter")
        if matter:
            self.groups[(row["category"], matter)].append((st, is_closed))


def add_money(money: dict[str, list[Any]], doubles: dict[str, list[Any]], deal: Sequence[Any]) -> None:
    """Count one accepted offer (an index row's ``settlement``) into the sums
    by kind and currency, and of double refunds by currency. Totals are kept
    as text so that stored sums stay exact."""
    amount, currency, kind, double = deal[0], deal[1], deal[2], deal[3]
    for sums, key in ((money, f"{kind}\x1f{currency}"), *(((doubles, currency),) if double else ())):
        cases, total = sums.get(key, [0, "0"])
        sums[key] = [cases + 1, str(Decimal(total) + Decimal(amount))]


def merge_money(into: dict[str, list[Any]], more: Mapping[str, Sequence[Any]]) -> None:
    for key, (cases, total) in more.items():
        have = into.get(key, [0, "0"])
        into[key] = [have[0] + cases, str(Decimal(have[1]) + Decimal(total))]


OLDEST_KEYS = ("id", "opened_at", "state", "owner", "category")  # what the oldest-open table needs of a row


def build(
    standings: Iterable[Standing],
    scope: Scope,
    as_of: datetime,
    orders: Mapping[str, Sequence[str]],
    oldest: int = 5,
    tally: Tally | None = None,
) -> Report:
    """The report over ``standings``, added to ``tally`` (sums already taken)."""
    # One pass over the cases, each time string parsed once: a report reads
    # 10k-100k cases and must stay well under a second.
    t = tally or Tally(scope, as_of)
    for st in standings:
        t.add(st)
    return finish(t, orders, oldest)


def orders_index(orders: Mapping[str, Sequence[str]], category: str) -> tuple[int, str]:
    known = list(orders.get("category", ()))
    return (known.index(category), "") if category in known else (len(known), category)


def finish(t: Tally, orders: Mapping[str, Sequence[str]], oldest: int = 5) -> Report:
    since, until, as_of = t.scope.since, t.scope.until, t.as_of
    report = Report(
        as_of=as_of.isoformat(timespec="minutes"),
        since=since.isoformat(timespec="minutes") if since else None,
        until=until.isoformat(timespec="minutes") if until else None,
    )
    report.received, report.resolved, report.open = t.received, t.resolved, t.open
    report.overdue, report.repeat, report.unreachable = t.overdue, t.repeat, t.unreachable
    for name in BREAKDOWNS:
        report.breakdowns[name] = _ordered(t.counters[name], orders.get(name, ()))
    report.first_reply = durations(t.replies)
    report.resolution = durations(t.resolutions)
    report.resolution_work = durations(t.work_resolutions)
    for clock in CLOCKS:
        report.within_limit[clock] = Share(t.met[clock], t.decided[clock])
    report.escalations = _ordered(t.tiers, orders.get("tier", ()))
    scores = t.scores
    report.satisfaction_mean = round(mean(scores), 2) if scores else None
    report.satisfaction = {str(n): scores.count(n) for n in range(1, 6)}
    report.reached = len(scores)
    report.followed_up = report.reached + report.unreachable
    report.reach_rate = Share(report.reached, report.followed_up)
    report.measures_on_time = Share(t.measures_met, t.measures_done)
    report.stalled = t.stalled
    for key, (cases, total) in sorted(t.money.items()):
        kind, currency = key.split("\x1f")
        report.compensation.append({"kind": kind, "currency": currency, "cases": cases, "total": total})
    report.double_refunds = [
        {"currency": currency, "cases": cases, "total": total}
        for currency, (cases, total) in sorted(t.doubles.items())
    ]
    report.lessons = [
        {"category": category, "case": case, "at": at, "text": text}
        for category, case, at, text in sorted(
            t.lessons, key=lambda item: (orders_index(orders, item[0]), item[2], item[1])
        )
    ]

    for (category, matter), members in sorted(t.groups.items()):
        customers = {customer_identity(m.row["customer_keys"], m.row["customer"]) for m, _ in members}
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
    report.trend = []
    for m, (r, c) in sorted(t.months.items()):
        met, decided = t.month_limits.get(m, (0, 0))
        share = Share(met, decided)
        report.trend.append(
            {
                "month": m,
                "received": r,
                "resolved": c,
                "first_reply_met": met,
                "first_reply_decided": decided,
                "first_reply_percent": share.percent,
            }
        )

    # The oldest first; on the same instant, in the order of the files.
    first = heapq.nsmallest(oldest, t.oldest, key=lambda item: (item[0], item[1]))
    report.oldest_open = [
        {
            "case": row["id"],
            "opened": row["opened_at"][:10],
            "days": int((as_of - datetime.fromisoformat(row["opened_at"])).total_seconds() // 86400),
            "state": row["state"],
            "severity": level,
            "owner": row["owner"],
            "category": row["category"],
        }
        for _, _, row, level in first
    ]
    return report
