"""Plain-text views of cases, lists, logs and reports (tabulate lives here)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from complaintctl.cli.colour import BOLD, RED, SEVERITY, YELLOW, paint
from complaintctl.core.casestatus import CaseStatus
from complaintctl.core.columns import table as two_pass_table
from complaintctl.core.deadlines import ClockState, format_span, left_text
from complaintctl.core.eventlog import event_key, retracted
from complaintctl.core.privacy import mask_free_text, mask_name

# Characters that change how the text after them is shown: terminal control
# codes, and the bidi embeddings, overrides and isolates (U+202E makes the
# rest of a line read backwards). Printed as <U+XXXX> on screens.
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """Text safe to print on a terminal: control and bidi characters shown by code."""
    return _HIDDEN.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def _short(text: str, width: int) -> str:
    """One line of at most ``width`` terminal columns (CJK counts double)."""
    text = " ".join(str(text).split())
    if text.isascii():  # the common case: one column a character
        return text if len(text) <= width else text[: width - 1] + "…"
    from complaintctl.core.columns import wcswidth

    if wcswidth(text) <= width:  # (also a text wcswidth cannot measure: -1)
        return text
    # The longest start that fits in width - 1 columns: measured on fewer
    # characters a start never takes more columns (no control character is
    # in it), so it is found by halving, not by dropping a character at a time.
    low, high = 0, len(text) - 1
    while low < high:
        mid = (low + high + 1) // 2
        if wcswidth(text[:mid]) <= width - 1:
            low = mid
        else:
            high = mid - 1
    return text[:low] + "…"


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat(timespec="minutes").replace("T", " ")


def clock_line(state: ClockState) -> str:
    name = state.clock.replace("_", " ")
    limit = (
        f"{state.limit.seconds / 3600:g}h business"
        if state.limit.business
        else format_span(state.limit.seconds)
    )
    if state.status == "met":
        return f"{name}: met (due {_when(state.due)}, done {_when(state.stopped)}; limit {limit})"
    if state.status == "breached":
        done = f", done {_when(state.stopped)}" if state.stopped else ""
        late = format_span(state.late_seconds)
        return f"{name}: BREACHED (due {_when(state.due)}, {late} late{done}; limit {limit})"
    if state.status == "paused":
        return f"{name}: paused while waiting on the customer ({left_text(state)} left; limit {limit})"
    word = "running" if state.status == "running" else "WARNING"
    return f"{name}: {word} (due {_when(state.due)}, {left_text(state)} left; limit {limit})"


_CLOCK_STYLE = {"breached": RED, "warning": YELLOW}


def show_text(case: Mapping[str, Any], status: CaseStatus | None = None, colour: bool = False) -> str:
    customer = case["customer"]
    who = ", ".join(str(customer[k]) for k in ("name", "phone", "email", "account") if customer.get(k))
    level = status.level if status else case["severity"]
    styles: dict[int, str] = {}  # line number -> style, on a terminal
    lines = [
        f"{case['id']}  {case['state']}  {level}{'  URGENT' if case['urgent'] else ''}",
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
    if case.get("cap"):
        cap = case["cap"]
        lines.append(
            f"Capped:    {cap['currency']} {cap['amount']}, the bottom line {cap['status']} in {cap['case']}"
        )
    if case.get("resolution"):
        executed = " (executed)" if case.get("executed") else ""
        lines.append(f"Closed:    {case.get('closed_at')} as {case['resolution']}{executed}")
    if case.get("satisfaction") is not None:
        lines.append(f"Follow-up: satisfaction {case['satisfaction']}/5")
    if case.get("matter"):
        related = f" (related: {', '.join(case['related'])})" if case.get("related") else ""
        lines.append(f"Matter:    {case['matter']}{related}")
    flags = [k if v is True else f"{k} {v}" for k, v in (case.get("flags") or {}).items()]
    if flags or case.get("cause"):
        lines.append(f"Flags:     {', '.join(flags) or '-'}; cause {case.get('cause', 'unknown')}")
    if status is not None:
        for rise in status.rises:
            lines.append(f"Severity:  {rise.severity}: {rise.reason} (since {_when(rise.since)})")
        if status.stalled:
            styles[len(lines)] = RED
            lines.append(f"STALLED:   {status.stalled}; escalate it or record progress")
        if status.clocks:
            lines.append("Clocks:")
            for c in status.clocks:
                styles[len(lines)] = _CLOCK_STYLE.get(c.status, "")
                lines.append(f"  {clock_line(c)}")
    offers = case.get("offers") or []
    if offers:
        lines.append("Offers:")
        for o in offers:
            mark = " bottom line" if o.get("bottom_line") else ""
            lines.append(
                f"  {o['no']}. {o['currency']} {o['amount']} {o['kind']} [{o['status']}{mark}] {o['terms']}"
            )
            if o.get("arithmetic"):
                lines.append(f"     double refund: {o['arithmetic']}")
            if o.get("not_overcharge"):
                lines.append(f"     not an overcharge: {o['not_overcharge']}")
            if o.get("approved_by"):
                lines.append(f"     approved by {o['approved_by']}")
    measures = case.get("measures") or []
    if measures:
        lines.append("Measures:")
        for m in measures:
            done = f"done {m['done_at'][:16]} by {m['done_by']}" if m["status"] == "done" else "open"
            lines.append(f"  {m['no']}. {m['text']} (by {m['by']}, due {m['due'][:16]}) [{done}]")
    lines.append("Events:")
    gone = retracted(case["events"])
    keys = {event_key(e): i for i, e in enumerate(case["events"], 1)}
    for i, e in enumerate(case["events"], 1):
        move = f" {e['from']} -> {e['to']}" if "from" in e else ""
        kind = f" ({e['kind']})" if e.get("kind") else ""
        text = e.get("text") or e.get("reason") or ""
        if e["action"] == "correct":
            text = f"{e['field']}: {e.get('was', '')} -> {e['value']}; {text}"
        elif e["action"] == "retract":
            text = f"takes back #{keys.get(str(e['retracts']), '?')}; {text}"
        elif e["action"] == "assign":
            text = f"{e.get('owner_from')} -> {e['assignee']}; {text}"
        mark = "  [retracted]" if event_key(e) in gone else ""
        lines.append(
            f"  #{i:<3}{e['at']}  {e['by']}  {e['action']}{kind}{move}{'  ' + text if text else ''}{mark}"
        )
    # visible() first: a code in the record is shown, never obeyed.
    return "\n".join(paint(visible(line), styles.get(i, ""), colour) for i, line in enumerate(lines))


JSON_FORMAT = 1  # of show --json (docs/json.md); raised when a key changes meaning


def show_json(case: Mapping[str, Any], status: CaseStatus) -> str:
    """``show --json``: the record as stored, and where it stands as of then."""

    def clock(c: ClockState) -> dict[str, Any]:
        return {
            "clock": c.clock,
            "status": c.status,
            "due": c.due.isoformat() if c.due else None,
            "stopped": c.stopped.isoformat() if c.stopped else None,
            "late_seconds": int(c.late_seconds),
            "left_seconds": None if c.left_seconds is None else int(c.left_seconds),
        }

    data = {
        "format": JSON_FORMAT,
        "case": case,
        "severity": status.level,
        "stalled": status.stalled,
        "clocks": [clock(c) for c in status.clocks],
        "measures": [clock(c) for c in status.measures],
    }
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


# The queue's columns: headers, and the public keys that fill them (rows_output).
LIST_HEADERS = ("Case", "Opened", "Status", "Severity", "Category", "Owner", "Customer", "Summary")


def list_table(
    rows: Sequence[Mapping[str, Any]], show_pii: bool = False, wide: bool = False, colour: bool = False
) -> Iterator[str]:
    """The queue as a table, in pieces (a line at a time after the first,
    each after a newline); on a terminal, rows coloured by severity (urgent:
    bold). Read once, for the widths, keeping each row's cells as one text
    for the lines; never held laid out: ``list --all --limit 0`` prints 100k
    rows."""
    from complaintctl.core.columns import laid_out, widths

    if not rows:
        yield "No cases."
        return

    def summary(r: Mapping[str, Any]) -> str:
        return str(r["summary"]) if show_pii else mask_free_text(str(r["summary"]), r["customer"])

    def cells(r: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(
            visible(c)  # before the layout: widths stay true
            for c in (
                r["id"],
                r["opened_at"][:10],
                r["state"],
                r["severity"] + ("!" if r["urgent"] else ""),
                r["category"],
                r["owner"],
                _short(r["customer"] if show_pii else mask_name(r["customer"]), 12),
                " ".join(summary(r).split()) if wide else _short(summary(r), 40),
            )
        )

    def style(r: Mapping[str, Any]) -> str:
        return ";".join(s for s in (SEVERITY.get(r["severity"], ""), BOLD if r["urgent"] else "") if s)

    # A row's cells and style joined by NULs (visible() leaves none in a
    # cell): making them again for the lines decoded every row again (~15%
    # of 'list --limit 0').
    kept: list[str] = []

    def measured(r: Mapping[str, Any]) -> tuple[str, ...]:
        made = cells(r)
        kept.append("\0".join((*made, style(r) if colour else "")))
        return made

    def shown() -> Iterator[tuple[list[str], str]]:
        for text in kept:
            *made, code = text.split("\0")
            yield made, code

    sizes = widths(LIST_HEADERS, map(measured, rows))
    for i, line in enumerate(laid_out(LIST_HEADERS, sizes, shown())):
        yield f"\n{line}" if i else line


LIST_COLUMNS = ("id", "opened_at", "state", "severity", "category", "owner", "customer", "summary")


def rows_output(public: Callable[[], Iterable[Mapping[str, Any]]], fmt: str) -> Iterator[str]:
    """``list``/``customer``/``report --cases`` for scripts and documents, in
    pieces (their concatenation is the text, without its last newline):
    json and csv carry every public key (docs/json.md), a row at a time;
    markdown and html the columns of the table, tabulate's layout made in
    two passes over ``public()`` (the widths, then the lines), never held
    laid out."""
    if fmt == "json":
        return batched(_json_list(public()))
    if fmt == "csv":
        return batched(_csv_rows(public()))
    from complaintctl.core.columns import markdown_cell

    cell = markdown_cell if fmt == "markdown" else str
    style = "github" if fmt == "markdown" else "html"

    def cells() -> Iterator[list[str]]:
        return ([cell(r[k]) if r[k] is not None else "" for k in LIST_COLUMNS] for r in public())

    laid = two_pass_table(LIST_HEADERS, cells, style)
    if laid is None:  # a column of numbers alone, or no rows: tabulate's own
        from tabulate import tabulate

        return iter([str(tabulate(list(cells()), headers=LIST_HEADERS, tablefmt=style))])
    return batched(f"\n{line}" if i else line for i, line in enumerate(laid))


def _json_list(items: Iterable[Any]) -> Iterator[str]:
    """What ``json.dumps(list(items), ensure_ascii=False, indent=2)`` gives,
    an item at a time (a string in JSON never holds a raw newline)."""
    first = True
    for item in items:
        text = json.dumps(item, ensure_ascii=False, indent=2).replace("\n", "\n  ")
        yield ("[\n  " if first else ",\n  ") + text
        first = False
    yield "[]" if first else "\n]"


def _csv_rows(public: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """A header of the first row's keys, then a line a row, formulas defused;
    no newline after the last."""
    import csv
    import io

    from complaintctl.core.columns import spreadsheet_cell

    out = io.StringIO()
    writer: Any = None
    held = ""  # the newline after the last line written, given only if another follows
    for row in public:
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n")
            writer.writeheader()
        writer.writerow({k: spreadsheet_cell(v) for k, v in row.items()})  # no formulas
        text = held + out.getvalue()
        out.seek(0)
        out.truncate()
        body = text.rstrip("\n")
        held = text[len(body) :]
        yield body
    if writer is None:
        yield ""  # no rows: no header either


def log_json(case_id: str, entries: Sequence[Mapping[str, str]]) -> str:
    """``log --json`` (docs/json.md): the case's commits, oldest first."""
    return json.dumps({"format": 1, "case": case_id, "commits": list(entries)}, ensure_ascii=False, indent=2)


def log_table(entries: Sequence[Mapping[str, str]]) -> str:
    from tabulate import tabulate

    table = [
        (
            e["date"][:16].replace("T", " "),
            e["commit"],
            e["author"],
            f"{e['from']} -> {e['to']}" if e["from"] not in ("", "-", e["to"]) else e["to"],
            e["subject"] + ("" if e["by_tool"] == "yes" else "  [not made by complaintctl]"),
        )
        for e in entries
    ]
    return visible(
        str(tabulate(table, headers=("When", "Commit", "Author", "State", "Change"), tablefmt="simple"))
    )


def overdue_items(
    statuses: Sequence[CaseStatus], warn: bool, as_of: datetime | None = None
) -> list[dict[str, Any]]:
    """One item per breached (and with warn, nearly breached) running clock, sorted."""
    from complaintctl.core import overdue

    found = [item for st in statuses for item in overdue.items(st, warn, as_of)]
    found.sort(key=overdue.sort_key)
    return found


def overdue_output(
    items: Sequence[Mapping[str, Any]],
    fmt: str,
    as_of: datetime,
    problems: Sequence[str] = (),
    colour: bool = False,
) -> Iterator[str]:
    """What 'overdue' prints, in pieces (their concatenation is the text,
    without its last newline): at 100k cases the items run to ~50k, and
    the whole text, or tabulate's or json's list of its parts, doubled the
    memory of the items themselves."""
    return batched(_overdue_parts(items, fmt, as_of, problems, colour))


def batched(parts: Iterator[str], size: int = 1 << 16) -> Iterator[str]:
    """Small pieces joined into pieces of about ``size`` characters."""
    held: list[str] = []
    count = 0
    for part in parts:
        held.append(part)
        count += len(part)
        if count >= size:
            yield "".join(held)
            held, count = [], 0
    if held:
        yield "".join(held)


def _overdue_parts(
    items: Sequence[Mapping[str, Any]],
    fmt: str,
    as_of: datetime,
    problems: Sequence[str],
    colour: bool,
) -> Iterator[str]:
    late = sum(1 for i in items if i["status"] == "breached")
    waiting = sum(1 for i in items if i["status"] == "waiting")
    near = len(items) - late - waiting
    stamp = as_of.isoformat(timespec="minutes")
    counts = f"{late} overdue, {near} near their limit" + (
        f", {waiting} waiting on the customer" if waiting else ""
    )
    if fmt == "json":
        report = {"as_of": stamp, "overdue": late, "warnings": near, "waiting": waiting, "items": items}
        if problems:
            report["unreadable"] = list(problems)  # the list is incomplete
        # json.dumps with an indent is this same pure-Python encoder, joined.
        yield from json.JSONEncoder(indent=2).iterencode(report)
        return
    if fmt == "github":
        for i in items:
            yield _annotation(i) + "\n"
        for problem in problems:  # an unreadable case is shown on its file too
            where, _, what = problem.partition(": ")
            yield f"::error file={where.split(':')[0]},title=Unreadable case file::{what}\n"
        yield f"{counts}, as of {stamp}{_incomplete(problems)}"
        return
    if not items:
        yield f"No case is overdue as of {stamp}{_incomplete(problems)}."
        return
    words = {
        "breached": paint("OVERDUE", RED, colour),
        "warning": paint("warning", YELLOW, colour),
        "waiting": "waiting",
    }

    def table() -> Iterator[tuple[Any, ...]]:
        for i in items:
            yield (
                i["case"],
                i["clock"].replace("_", " "),
                words[i["status"]],
                _stamp(i["due"]) if i["due"] else "-",
                i["late"] or (f"{i['left']} left" if i["left"] else f"since {_stamp(i['since'])}"),
                i["owner"],
                i["tier"],
                i["severity"] + (" (stalled)" if i["stalled"] else ""),
            )

    headers = ("Case", "Clock", "Status", "Due", "Late", "Owner", "Tier", "Severity")
    summary = f"{counts}, as of {stamp}{_incomplete(problems)}"
    laid = two_pass_table(headers, table)  # tabulate's layout, a row at a time
    if laid is None:  # numbers, several lines or control codes in a cell: tabulate's own
        from tabulate import tabulate

        yield str(tabulate(list(table()), headers=headers, tablefmt="simple")) + "\n" + summary
        return
    for line in laid:
        yield line + "\n"
    yield summary


def _annotation(i: Mapping[str, Any]) -> str:
    """One overdue item as a GitHub Actions annotation line."""
    if i["status"] == "waiting":
        return (
            f"::notice file={i['file']},title=Waiting on the customer::{i['case']} has waited on "
            f"the customer since {_stamp(i['since'])} (owner {i['owner']}, tier {i['tier']})"
        )
    level, title = ("error", "Overdue") if i["status"] == "breached" else ("warning", "Near its limit")
    clock = i["clock"].replace("_", " ")
    how = f"{i['late']} late" if i["status"] == "breached" else f"{i['left']} left"
    stalled = f"; stalled: {i['stalled']}" if i["stalled"] else ""
    return (
        f"::{level} file={i['file']},title={title}: {clock}::{i['case']} {clock} was due "
        f"{_stamp(i['due'])}, {how} "
        f"(owner {i['owner']}, tier {i['tier']}, "
        f"{i['severity']}){stalled}"
    )


def _stamp(iso: str) -> str:
    """An ISO time as overdue prints it: to the minute, the offset kept."""
    return iso[:16].replace("T", " ") + iso[19:]


def _incomplete(problems: Sequence[str]) -> str:
    return f" ({len(problems)} case file(s) could not be read: incomplete)" if problems else ""


def case_lines(
    rows: Sequence[Mapping[str, Any]], total: int, show_pii: bool, fmt: str = "table", public: Any = None
) -> Iterator[str]:
    """``report --cases`` in pieces (see rows_output): the list table of
    ``rows`` (the first of ``total``); in another format, ``public`` turns
    rows into their public form, a row at a time."""
    if fmt != "table":
        return rows_output(lambda: public(rows, show_pii), fmt)
    return batched(_case_table(rows, total, show_pii))


def _case_table(rows: Sequence[Mapping[str, Any]], total: int, show_pii: bool) -> Iterator[str]:
    yield from list_table(rows, show_pii)
    if len(rows) < total:
        yield f"\n(showing {len(rows)} of {total}; use --limit 0 for all)"
    if show_pii:
        yield "\nContains customer personal data (--show-pii): do not pass it on."
