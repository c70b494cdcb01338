"""Plain-text views of cases, lists, logs and reports (tabulate lives here)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from .privacy import mask_name
from .report import Report


def _short(text: str, width: int) -> str:
    """One line of at most ``width`` terminal columns (CJK counts double)."""
    from wcwidth import wcswidth

    text = " ".join(str(text).split())
    if wcswidth(text) <= width:
        return text
    while text and wcswidth(text) > width - 1:
        text = text[:-1]
    return text + "…"


def show_text(case: Mapping[str, Any]) -> str:
    customer = case["customer"]
    who = ", ".join(str(customer[k]) for k in ("name", "phone", "email", "account") if customer.get(k))
    lines = [
        f"{case['id']}  {case['state']}  {case['severity']}{'  URGENT' if case['urgent'] else ''}",
        f"Customer:  {who}",
    ]
    if customer.get("address"):
        lines.append(f"Address:   {customer['address']}")
    lines += [
        f"Received:  {case['opened_at']} by {case['channel']} (recorded by {case['opened_by']})",
        f"Category:  {case['category']}",
        f"Owner:     {case['owner']} (tier {case['tier']})",
        f"Summary:   {case['summary']}",
    ]
    if case.get("demand"):
        lines.append(f"Demand:    {case['demand']}")
    if case.get("subject_staff"):
        lines.append(f"Recused:   {', '.join(case['subject_staff'])}")
    if case.get("repeat_of"):
        lines.append(f"Repeat of: {case['repeat_of']}")
    if case.get("resolution"):
        executed = " (executed)" if case.get("executed") else ""
        lines.append(f"Closed:    {case.get('closed_at')} as {case['resolution']}{executed}")
    if case.get("satisfaction") is not None:
        lines.append(f"Follow-up: satisfaction {case['satisfaction']}/5")
    offers = case.get("offers") or []
    if offers:
        lines.append("Offers:")
        for o in offers:
            lines.append(
                f"  {o['no']}. {o['currency']} {o['amount']} {o['kind']} [{o['status']}] {o['terms']}"
            )
    lines.append("Events:")
    for e in case["events"]:
        move = f" {e['from']} -> {e['to']}" if "from" in e else ""
        kind = f" ({e['kind']})" if e.get("kind") else ""
        text = e.get("text") or e.get("reason") or ""
        lines.append(f"  {e['at']}  {e['by']}  {e['action']}{kind}{move}{'  ' + text if text else ''}")
    return "\n".join(lines)


def list_table(rows: Sequence[Mapping[str, Any]], show_pii: bool = False) -> str:
    if not rows:
        return "No cases."
    from tabulate import tabulate

    table = [
        (
            r["id"],
            r["opened_at"][:10],
            r["state"],
            r["severity"] + ("!" if r["urgent"] else ""),
            r["category"],
            r["owner"],
            _short(r["customer"] if show_pii else mask_name(r["customer"]), 12),
            _short(r["summary"], 28),
        )
        for r in rows
    ]
    headers = ("Case", "Opened", "Status", "Severity", "Category", "Owner", "Customer", "Summary")
    return str(tabulate(table, headers=headers, tablefmt="simple"))


def log_table(entries: Sequence[Mapping[str, str]]) -> str:
    from tabulate import tabulate

    table = [
        (
            e["date"][:16].replace("T", " "),
            e["commit"],
            e["author"],
            f"{e['from']} -> {e['to']}" if e["from"] not in ("", "-") else e["to"],
            e["subject"] + ("" if e["by_tool"] == "yes" else "  [not made by complaintctl]"),
        )
        for e in entries
    ]
    return str(tabulate(table, headers=("When", "Commit", "Author", "State", "Change"), tablefmt="simple"))


def report_text(report: Report) -> str:
    from tabulate import tabulate

    parts = [
        f"Cases: {report.total}   open: {report.open}   closed: {report.closed}",
    ]
    if report.satisfaction_mean is not None:
        parts.append(
            f"Satisfaction at follow-up: {report.satisfaction_mean} of 5 ({report.followed_up} reached)"
        )
    for breakdown in report.breakdowns:
        parts.append("")
        parts.append(str(tabulate(breakdown.counts, headers=(breakdown.title, "Cases"), tablefmt="simple")))
    return "\n".join(parts)


def report_json(report: Report) -> str:
    data = asdict(report)
    data["breakdowns"] = {b.title: dict(b.counts) for b in report.breakdowns}
    return json.dumps(data, ensure_ascii=False, indent=2)
