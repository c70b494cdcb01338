"""A report as named tables, and those tables as text, Markdown, CSV, JSON
or a printable one-file HTML page with inline SVG charts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from complaintctl.reports.figures import Durations, Report


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _share(count: int, total: int) -> str:
    return f"{100.0 * count / total:.1f}%" if total else "-"


def tables(r: Report) -> list[Table]:
    period = f"{r.since or 'the start'} to {r.until or r.as_of}"
    out = [
        Table(
            "summary",
            f"Complaints from {period} (as of {r.as_of})",
            ("Figure", "Value"),
            [
                ("Received", r.received),
                ("Resolved", r.resolved),
                ("Open now", r.open),
                ("Overdue now", r.overdue),
                ("Stalled now", r.stalled),
                ("Repeat complaints", r.repeat),
                *(
                    (
                        (f"Received a year before ({_day(y['since'])} to {_day(y['until'])})", y["received"]),
                        (f"Resolved a year before ({_day(y['since'])} to {_day(y['until'])})", y["resolved"]),
                    )
                    if (y := r.year_before)
                    else ()
                ),
            ],
        )
    ]
    for name, counts in r.breakdowns.items():
        total = sum(counts.values())
        out.append(
            Table(
                name,
                f"Received by {name}",
                (name.capitalize(), "Cases", "Share"),
                [(k, v, _share(v, total)) for k, v in counts.items()],
            )
        )
    times: list[tuple[Any, ...]] = []
    for label, d in (("First reply", r.first_reply), ("Resolution", r.resolution)):
        d = d or Durations(0, None, None, None)
        times.append((label, d.count, _num(d.median_h), _num(d.mean_h), _num(d.p90_h)))
    out.append(
        Table("times", "Time taken (hours)", ("Measure", "Cases", "Median", "Mean", "90th pct"), times)
    )
    out.append(
        Table(
            "limits",
            "Within the time limit",
            ("Clock", "Met", "Decided", "Share"),
            [
                *(
                    (k.replace("_", " "), s.met, s.decided, _share(s.met, s.decided))
                    for k, s in r.within_limit.items()
                ),
                (
                    "measures carried out",
                    r.measures_on_time.met,
                    r.measures_on_time.decided,
                    _share(r.measures_on_time.met, r.measures_on_time.decided),
                ),
            ],
        )
    )
    out.append(
        Table(
            "escalations", "Escalations by tier reached", ("Tier", "Escalations"), list(r.escalations.items())
        )
    )
    money: list[tuple[Any, ...]] = [
        (m["kind"], m["currency"], m["cases"], m["total"]) for m in r.compensation
    ]
    money += [
        ("double refunds (of the above)", d["currency"], d["cases"], d["total"]) for d in r.double_refunds
    ]
    out.append(
        Table("money", "Settlements agreed: compensation", ("Kind", "Currency", "Cases", "Total"), money)
    )
    sat_rows: list[tuple[Any, ...]] = [(f"{k} of 5", v) for k, v in r.satisfaction.items()]
    sat_rows += [
        ("Average", _num(r.satisfaction_mean)),
        ("Reached", r.reached),
        ("Unreachable", r.unreachable),
        ("Reach rate", _share(r.reached, r.followed_up)),
    ]
    out.append(Table("satisfaction", "Satisfaction at follow-up", ("Score", "Customers"), sat_rows))
    out.append(
        Table(
            "hotspots",
            "Hot spots: one matter, several customers",
            ("Category", "Matter", "Customers", "Cases", "Open"),
            [(h["category"], h["matter"], h["customers"], h["cases"], h["open"]) for h in r.hot_spots],
        )
    )
    out.append(
        Table(
            "trend",
            "Month by month",
            ("Month", "Received", "Resolved"),
            [(t["month"], t["received"], t["resolved"]) for t in r.trend],
        )
    )
    out.append(
        Table(
            "lessons",
            "Lessons learned, by category",
            ("Category", "Case", "Lesson"),
            [(x["category"], x["case"], " ".join(x["text"].split())) for x in r.lessons],
        )
    )
    out.append(
        Table(
            "oldest",
            "Oldest open cases",
            ("Case", "Opened", "Days", "Status", "Severity", "Owner"),
            [
                (o["case"], o["opened"], o["days"], o["state"], o["severity"], o["owner"])
                for o in r.oldest_open
            ],
        )
    )
    return out


def _day(iso: str) -> str:
    return iso[:10]


def to_json(r: Report) -> str:
    data = asdict(r)
    data["within_limit"] = {
        k: {"met": s.met, "decided": s.decided, "percent": s.percent} for k, s in r.within_limit.items()
    }
    for key in ("reach_rate", "measures_on_time"):
        share = getattr(r, key)
        data[key] = {"met": share.met, "decided": share.decided, "percent": share.percent}
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)


def to_text(items: Sequence[Table], markdown: bool = False) -> str:
    parts = []
    for t in items:
        if not t.rows:
            continue
        if markdown:
            from tabulate import tabulate

            body = tabulate(t.rows, headers=t.headers, tablefmt="github", disable_numparse=True)
            parts.append(f"## {t.title}\n\n{body}")
        else:
            # The same layout as tabulate's 'simple', without importing it (~25 ms).
            from complaintctl.core.columns import columns

            parts.append(f"{t.title}\n{columns(t.headers, [tuple(map(str, row)) for row in t.rows])}")
    return "\n\n".join(parts)


def _cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text, never runs as a formula: text that
    starts with = + - @ (or a tab or return) gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([_cell(h) for h in table.headers])
    writer.writerows([_cell(c) for c in row] for row in table.rows)
    return out.getvalue()


# ---------------------------------------------------------------- charts


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float


def bars(items: Sequence[tuple[str, float]], width: float = 480, height: float = 160) -> list[Bar]:
    """Vertical bars scaled to the tallest, in an SVG box of width x height."""
    if not items:
        return []
    top = max(v for _, v in items) or 1
    slot = width / len(items)
    gap = min(slot * 0.2, 12)
    plot = height - 20  # room for labels
    return [
        Bar(
            label,
            value,
            round(i * slot + gap / 2, 1),
            round(plot - plot * value / top, 1),
            round(slot - gap, 1),
            round(plot * value / top, 1),
        )
        for i, (label, value) in enumerate(items)
    ]


def html_context(r: Report, items: Sequence[Table], organisation: str) -> Mapping[str, Any]:
    trend = [(t["month"], t["received"]) for t in r.trend]
    resolved = [(t["month"], t["resolved"]) for t in r.trend]
    return {
        "report": r,
        "tables": items,
        "organisation": organisation,
        "charts": {
            "received": bars(trend),
            "resolved": bars(resolved),
            "category": bars(list(r.breakdowns.get("category", {}).items())),
            "severity": bars(list(r.breakdowns.get("severity", {}).items())),
            "satisfaction": bars([(f"{k}", v) for k, v in r.satisfaction.items()]),
        },
    }
