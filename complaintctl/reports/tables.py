"""A report as named tables, and those tables as text, Markdown, CSV, JSON,
an Excel workbook or a printable one-file HTML page with SVG charts; in
English or Chinese (``Words``), the policy's codes named by its ``labels``."""

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


@dataclass(frozen=True)
class Pct:
    """A share in percent: printed '92.8%', a number in CSV and Excel."""

    value: float | None

    def __str__(self) -> str:
        return "-" if self.value is None else f"{self.value:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _share(count: int, total: int) -> Pct:
    return Pct(round(100.0 * count / total, 1) if total else None)


# The Chinese of every title, header and figure name (report --lang zh).
ZH = {
    "Figure": "指标", "Value": "数值", "Received": "受理", "Resolved": "办结", "Open now": "当前未结",
    "Overdue now": "当前超时", "Stalled now": "当前停滞", "Repeat complaints": "重复投诉",
    "Received a year before": "去年同期受理", "Resolved a year before": "去年同期办结",
    "Cases": "件数", "Share": "占比", "Status": "状态", "Severity": "级别", "Category": "类别",
    "Channel": "渠道", "Owner": "负责人", "Cause": "原因", "Received by": "受理分布：",
    "status": "状态", "severity": "级别", "category": "类别", "channel": "渠道", "owner": "负责人",
    "cause": "原因", "Time taken (hours)": "用时（小时）", "Measure": "指标", "Median": "中位数",
    "Mean": "平均", "90th pct": "90 分位", "First reply": "首次答复", "Resolution": "解决",
    "Resolution, in working hours": "解决（工作小时）",
    "Within the time limit": "时限内完成", "Clock": "时限项目", "Met": "达标", "Decided": "已判定",
    "measures carried out": "落实措施", "Escalations by tier reached": "升级（按到达层级）",
    "Tier": "层级", "Escalations": "升级次数", "Settlements agreed: compensation": "和解补偿",
    "Kind": "方式", "Currency": "币种", "Total": "合计", "double refunds (of the above)": "其中双倍返还",
    "Satisfaction at follow-up": "回访满意度", "Score": "评分", "Customers": "客户数", "Average": "平均分",
    "Reached": "回访到", "Unreachable": "联系不上", "Reach rate": "回访率", "of 5": "分",
    "Hot spots: one matter, several customers": "热点：同一事项多位客户", "Matter": "事项", "Open": "未结",
    "Month by month": "逐月", "Month": "月份", "Lessons learned, by category": "经验教训（按类别）",
    "Case": "案件", "Lesson": "经验教训", "Oldest open cases": "最早的未结案件", "Opened": "受理日期",
    "Days": "天数", "the start": "开始", "to": "至", "as of": "截至", "not recorded": "未记录",
    "Received and resolved, month by month": "逐月受理与办结", "Received by category": "按类别受理",
    "Received by severity": "按级别受理", "Satisfaction at follow-up (1 to 5)": "回访满意度（1 至 5 分）",
    "Complaints report": "投诉处理报告", "in the period": "本期", "now": "当前",
    "a year before": "去年同期", "satisfaction (of 5)": "满意度（满分 5）",
    "the month still running": "当月未结束",
    "First replies within the limit, month by month (%)": "逐月首次答复及时率（%）",
    "First reply within the limit": "首次答复及时率", "Target": "目标",
    "Made by complaintctl. No customer contact data is included; lessons are staff notes. Times taken are "
    "calendar hours from receipt unless said to be working hours.":
        "由 complaintctl 生成。不含客户联系信息；经验教训为员工记录。"
        "用时除注明工作小时外，均为自受理起的日历小时。",
}  # fmt: skip

# Which policy label group names the keys of each breakdown.
GROUPS = {"status": "states", "severity": "severities", "category": "categories", "channel": "channels",
          "cause": "causes"}  # fmt: skip


class Words:
    """The report's words in one language: fixed text, and the policy's codes."""

    def __init__(
        self,
        lang: str = "en",
        labels: Mapping[str, Mapping[str, str]] | None = None,
        people: Mapping[str, str] | None = None,
    ) -> None:
        self.lang = lang
        self.labels = labels or {}
        self.people = people or {}

    def person(self, user: str) -> str:
        """A team member by name (the id when not on the team)."""
        return self.people.get(user, user)

    def __call__(self, text: str) -> str:
        return ZH.get(text, text) if self.lang == "zh" else text

    def code(self, code: str, group: str) -> str:
        if self.lang != "zh":
            return code
        return self.labels.get(group, {}).get(code, ZH.get(code, code))

    def month(self, month: str) -> str:
        return f"{month[:4]}年{int(month[5:7])}月" if self.lang == "zh" else month


def tables(r: Report, words: Words | None = None) -> list[Table]:
    w = words or Words()
    period = f"{r.since or w('the start')} {w('to')} {r.until or r.as_of}"
    title = (
        f"投诉统计：{period}（{w('as of')} {r.as_of}）"
        if w.lang == "zh"
        else f"Complaints from {period} (as of {r.as_of})"
    )
    year: list[tuple[Any, ...]] = []
    if r.year_before:
        y = r.year_before
        span = f"({_day(y['since'])} {w('to')} {_day(y['until'])})"
        year = [(f"{w('Received a year before')} {span}", y["received"]),
                (f"{w('Resolved a year before')} {span}", y["resolved"])]  # fmt: skip
    out = [
        Table(
            "summary",
            title,
            (w("Figure"), w("Value")),
            [
                (w("Received"), r.received),
                (w("Resolved"), r.resolved),
                (w("Open now"), r.open),
                (w("Overdue now"), r.overdue),
                (w("Stalled now"), r.stalled),
                (w("Repeat complaints"), r.repeat),
                *year,
            ],
        )
    ]
    for name, counts in r.breakdowns.items():
        total = sum(counts.values())
        group = GROUPS.get(name, "")
        out.append(
            Table(
                name,
                f"{w('Received by')}{w(name)}" if w.lang == "zh" else f"Received by {name}",
                (w(name.capitalize()), w("Cases"), w("Share")),
                [
                    (w.person(k) if name == "owner" else w.code(k, group), v, _share(v, total))
                    for k, v in counts.items()
                ],
            )
        )
    times: list[tuple[Any, ...]] = []
    for label, d in (
        ("First reply", r.first_reply),
        ("Resolution", r.resolution),
        ("Resolution, in working hours", r.resolution_work),
    ):
        if label.endswith("working hours") and not (d and d.count):
            continue  # no case judged in working hours: no row
        d = d or Durations(0, None, None, None)
        times.append((w(label), d.count, _num(d.median_h), _num(d.mean_h), _num(d.p90_h)))
    out.append(
        Table(
            "times",
            w("Time taken (hours)"),
            (w("Measure"), w("Cases"), w("Median"), w("Mean"), w("90th pct")),
            times,
        )
    )
    limits: list[tuple[Any, ...]] = [
        (
            w.code(k, "clocks") if w.lang == "zh" else k.replace("_", " "),
            s.met,
            s.decided,
            _share(s.met, s.decided),
        )
        for k, s in r.within_limit.items()
    ]
    done = r.measures_on_time
    limits.append((w("measures carried out"), done.met, done.decided, _share(done.met, done.decided)))
    out.append(
        Table("limits", w("Within the time limit"), (w("Clock"), w("Met"), w("Decided"), w("Share")), limits)
    )
    out.append(
        Table(
            "escalations",
            w("Escalations by tier reached"),
            (w("Tier"), w("Escalations")),
            [(w.code(k, "tiers"), v) for k, v in r.escalations.items()],
        )
    )
    money: list[tuple[Any, ...]] = [
        (w.code(m["kind"], "offer_kinds"), m["currency"], m["cases"], m["total"]) for m in r.compensation
    ]
    money += [
        (w("double refunds (of the above)"), d["currency"], d["cases"], d["total"]) for d in r.double_refunds
    ]
    out.append(
        Table(
            "money",
            w("Settlements agreed: compensation"),
            (w("Kind"), w("Currency"), w("Cases"), w("Total")),
            money,
        )
    )
    sat_rows: list[tuple[Any, ...]] = [
        (f"{k} {w('of 5')}" if w.lang == "zh" else f"{k} of 5", v) for k, v in r.satisfaction.items()
    ]
    sat_rows += [
        (w("Average"), _num(r.satisfaction_mean)),
        (w("Reached"), r.reached),
        (w("Unreachable"), r.unreachable),
        (w("Reach rate"), _share(r.reached, r.followed_up)),
    ]
    out.append(Table("satisfaction", w("Satisfaction at follow-up"), (w("Score"), w("Customers")), sat_rows))
    out.append(
        Table(
            "hotspots",
            w("Hot spots: one matter, several customers"),
            (w("Category"), w("Matter"), w("Customers"), w("Cases"), w("Open")),
            [
                (w.code(h["category"], "categories"), h["matter"], h["customers"], h["cases"], h["open"])
                for h in r.hot_spots
            ],
        )
    )
    out.append(
        Table(
            "trend",
            w("Month by month"),
            (w("Month"), w("Received"), w("Resolved"), w("First reply within the limit")),
            [
                (
                    w.month(t["month"]),
                    t["received"],
                    t["resolved"],
                    _share(t["first_reply_met"], t["first_reply_decided"]),
                )
                for t in r.trend
            ],
        )
    )
    out.append(
        Table(
            "lessons",
            w("Lessons learned, by category"),
            (w("Category"), w("Case"), w("Lesson")),
            [
                (w.code(x["category"], "categories"), x["case"], " ".join(x["text"].split()))
                for x in r.lessons
            ],
        )
    )
    out.append(
        Table(
            "oldest",
            w("Oldest open cases"),
            (w("Case"), w("Opened"), w("Days"), w("Status"), w("Severity"), w("Owner")),
            [
                (
                    o["case"],
                    o["opened"],
                    o["days"],
                    w.code(o["state"], "states"),
                    w.code(o["severity"], "severities"),
                    w.person(o["owner"]),
                )
                for o in r.oldest_open
            ],
        )
    )
    # What needs attention first: the summary, then hot spots and the backlog by age.
    first = ("summary", "hotspots", "oldest")
    return sorted(out, key=lambda t: first.index(t.name) if t.name in first else len(first))


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
    starts with = + - @ (or a tab or return) gets a leading apostrophe. A
    share is its number (percent)."""
    from complaintctl.core.columns import spreadsheet_cell

    if isinstance(value, Pct):
        return "" if value.value is None else value.value
    return spreadsheet_cell(value)


def _headers(table: Table) -> list[str]:
    """Headers as CSV and Excel show them: a column of shares says its unit."""
    percent = {i for row in table.rows for i, c in enumerate(row) if isinstance(c, Pct)}
    return [f"{h} (%)" if i in percent else h for i, h in enumerate(table.headers)]


def to_csv(table: Table, bom: bool = False) -> str:
    """One table as CSV; ``bom`` starts it with a UTF-8 byte order mark, so
    that Excel on Chinese Windows reads Chinese names right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([_cell(h) for h in _headers(table)])
    writer.writerows([_cell(c) for c in row] for row in table.rows)
    return ("\ufeff" if bom else "") + out.getvalue()


def to_xlsx(items: Sequence[Table]) -> bytes:
    """An Excel workbook, one sheet per table (empty ones too, so a sheet's
    place never moves): numbers as numbers, shares as percentages."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for table in items:
        sheet = book.create_sheet(table.name[:31])
        sheet.append([table.title])
        sheet["A1"].font = Font(bold=True)
        sheet.append(_headers(table))
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append([_excel(c) for c in row])
            for c, cell in zip(row, sheet[sheet.max_row], strict=True):
                if isinstance(c, Pct):
                    cell.number_format = "0.0%"
        for column in sheet.iter_cols(min_row=2):
            width = max(len(str(c.value if c.value is not None else "")) for c in column)
            sheet.column_dimensions[column[0].column_letter].width = min(60, max(8, width + 2))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _excel(value: Any) -> Any:
    """A cell's value in Excel: shares as fractions (shown as percentages),
    figures kept as text for exactness ('530.50', '8.5') as numbers."""
    if isinstance(value, Pct):
        return None if value.value is None else value.value / 100
    if isinstance(value, str) and value.replace(".", "", 1).isdigit():
        return float(value)
    return _cell(value)


# ---------------------------------------------------------------- the HTML page


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float


def bars(items: Sequence[tuple[str, float]], width: float = 480, height: float = 160) -> list[Bar]:
    """Bars as report templates before the pygal charts drew them (``charts``
    in the context): a workspace's own older copy of report.html.j2 still
    renders after an upgrade."""
    if not items:
        return []
    top = max(v for _, v in items) or 1
    slot = width / len(items)
    gap = min(slot * 0.2, 12)
    plot = height - 20
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


def html_context(
    r: Report,
    items: Sequence[Table],
    organisation: str,
    words: Words,
    known: Mapping[str, Sequence[str]],
    history: Sequence[Mapping[str, Any]],
    partial: str | None,
    target: int | None = None,
) -> Mapping[str, Any]:
    """What templates/report.html.j2 gets: the figures, the tables, and the
    charts as SVG. ``known``: every category and severity (a zero is shown);
    ``history``: received and resolved for the 12 months up to the period's
    end; ``partial``: the month still running, if it is among them."""
    from markupsafe import Markup

    from complaintctl.reports import charts

    w = words
    severities = list(known.get("severity", ()))
    by_severity = r.breakdowns.get("severity", {})
    by_category = r.breakdowns.get("category", {})
    categories = [*known.get("category", ()), *(c for c in by_category if c not in known.get("category", ()))]
    months = [{**m, "label": w.month(str(m["month"]))} for m in history]
    drawn = {
        "within": charts.within_limit(
            months,
            w("First replies within the limit, month by month (%)"),
            {"share": w("First reply within the limit"), "target": w("Target")},
            target,
            partial,
        ),
        "months": charts.months(
            months,
            w("Received and resolved, month by month"),
            {"received": w("Received"), "resolved": w("Resolved")},
            partial,
        ),
        "category": charts.counts(
            [(w.code(c, "categories"), by_category.get(c, 0)) for c in categories],
            w("Received by category"),
            "category",
            horizontal=True,
        ),
        "severity": charts.counts(
            [(w.code(s, "severities"), by_severity.get(s, 0)) for s in severities],
            w("Received by severity"),
            "severity",
            colours=charts.SEVERITY_COLOURS[-len(severities) :] if severities else None,
        ),
        "satisfaction": charts.counts(
            [(k, v) for k, v in r.satisfaction.items()],
            w("Satisfaction at follow-up (1 to 5)"),
            "satisfaction",
        ),
    }
    return {
        "report": r,
        "tables": items,
        "organisation": organisation,
        "w": w,
        "lang": "zh-CN" if w.lang == "zh" else "en",
        "partial": partial,
        "svg": {name: Markup(svg) for name, svg in drawn.items()},  # our own SVG, not escaped
        "numeric": numeric,
        "charts": {  # the older templates' bars (see ``bars``)
            "received": bars([(t["month"], t["received"]) for t in r.trend]),
            "resolved": bars([(t["month"], t["resolved"]) for t in r.trend]),
            "category": bars(list(by_category.items())),
            "severity": bars(list(by_severity.items())),
            "satisfaction": bars([(f"{k}", v) for k, v in r.satisfaction.items()]),
        },
    }


def numeric(cell: Any) -> bool:
    """A cell shown right-aligned: a count, a share, an amount or hours."""
    if isinstance(cell, Pct | int | float) and not isinstance(cell, bool):
        return True
    return isinstance(cell, str) and (cell == "-" or cell.replace(".", "", 1).isdigit())
