"""Pure: a month folder's report sums, so a report need not re-read old cases.

Most cases of a past month no longer change: closed and followed up, or open
with every clock long breached and severity at its top. From the instant
its timeline ends (``timeline.final_from``) what a case adds to a report
depends only on the report's scope, so those cases are summed once per cell
(category, owner, severity): counts, breakdowns, the hours to reply and to
resolve (kept whole, for medians), closing instants (for any period), and
the oldest open ones. The other cases of the month stay rows, evaluated on
each report. Sums serve a report only when they are exact for it
(``usable``); the caller reads the month's rows otherwise.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from complaintctl.core import timeline
from complaintctl.core.indexrow import IndexRow as Row
from complaintctl.core.privacy import mask_free_text
from complaintctl.reports.figures import (
    MONTHLY_CLOCK,
    NO_CAUSE,
    OLDEST_KEYS,
    Scope,
    Tally,
    add_money,
    measures_carried_out,
    merge_money,
)

FORMAT = 8  # of the sums; stored sums of another format are made again (8: lessons masked)
KEEP_OLDEST = 5
# What a report reads of a case still moving (its standing from the timeline,
# ``Tally.add``, ``_add_final``, the oldest open): a live row with a timeline is
# kept with these alone. One without (a case on a matter) is kept whole, facts
# and all: it is evaluated on every report.
LIVE_KEYS = (
    "category", "cause", "channel", "closed_at", "customer", "escalated_to", "first_reply_at", "id",
    "lessons", "matter", "measures", "opened_at", "owner", "repeat_of", "satisfaction", "settlement", "state",
    "timeline", "unreachable", "work_hours",
)  # fmt: skip
_END = datetime(9999, 1, 1, tzinfo=UTC)  # report.build shows the five oldest open cases


def summarise(
    items: Iterable[tuple[str, Row]], cutoff_us: int, problems: Iterable[str] = ()
) -> dict[str, Any]:
    """Sums of the month's cases (path, row; in path order) whose standing is
    final by ``cutoff_us``; the rest are kept as they are under "live"."""
    sums: dict[str, Any] = {
        "final_from": None,
        "opened": None,
        "cells": {},
        "live": [],
        "live_from": None,
        "problems": list(problems),
    }
    for rel, row in items:
        if not _add_final(sums, rel, row, cutoff_us):
            sums["live"].append([rel, live_row(row, cutoff_us)])
    sums["live_from"] = _live_from(sums["live"])
    return sums


def live_row(row: Row, cutoff_us: int) -> Row:
    """What the sums keep of a case still moving (see LIVE_KEYS): its
    timeline from the step in force at ``cutoff_us`` on (a report as of an
    earlier moment reads the month's rows; see ``_live_from``)."""
    line = row.get("timeline")
    if not line:
        return row
    first = 0
    while first + 1 < len(line) and line[first + 1][0] <= cutoff_us:
        first += 1
    kept: dict[str, Any] = {k: row[k] for k in LIVE_KEYS if k in row}  # type: ignore[literal-required]
    kept["timeline"] = line[first:]
    return cast(Row, kept)


def _live_from(live: Iterable[list[Any]]) -> int | None:
    """From when (microseconds) every live row kept without its facts can be
    looked up on its timeline: a report as of an earlier moment would have to
    evaluate one of them, and so reads the month's rows instead."""
    starts = [row["timeline"][0][0] for _, row in live if row.get("timeline")]
    return max(starts) if starts else None


def fold(sums: dict[str, Any], cutoff_us: int) -> bool:
    """Sum the live rows that have become final by ``cutoff_us``; True if any."""
    if not any(_final_by(row, cutoff_us) for _, row in sums["live"]):
        return False  # the usual case on a report: kept as they are, not copied again
    live = []
    for rel, row in sums["live"]:
        if not _add_final(sums, rel, row, cutoff_us):
            live.append([rel, live_row(row, cutoff_us)])
    changed = len(live) != len(sums["live"])
    sums["live"] = live
    sums["live_from"] = _live_from(live)
    return changed


def _final_by(row: Row, cutoff_us: int) -> bool:
    final = timeline.final_from(row)
    return final is not None and final <= cutoff_us


def _cell_key(category: str, owner: str, level: str) -> str:
    return "\x1f".join((category, owner, level))  # a JSON key; no such character in a name


def _add_final(sums: dict[str, Any], rel: str, row: Row, cutoff_us: int) -> bool:
    final = timeline.final_from(row)
    if final is None or final > cutoff_us:
        return False
    steps = row.get("timeline")
    assert steps, "final_from found a final step"
    st = timeline.from_entry(row, steps[-1], rel)
    opened_text = row["opened_at"]
    opened = datetime.fromisoformat(opened_text)
    opened_us = timeline.micros(opened)
    sums["final_from"] = max(final, sums["final_from"] or final)
    lo, hi = sums["opened"] or (opened_us, opened_us)
    sums["opened"] = [min(lo, opened_us), max(hi, opened_us)]
    cell = sums["cells"].setdefault(_cell_key(row["category"], row["owner"], st.level), _empty())
    closed_text = row.get("closed_at")
    if closed_text:
        closed = datetime.fromisoformat(closed_text)
        bisect.insort(cell["closed"].setdefault(closed_text[:7], []), timeline.micros(closed))
        cell["resolutions"].append((closed - opened).total_seconds() / 3600)
        if row.get("work_hours") is not None:
            cell["work_resolutions"].append(float(row["work_hours"]))  # type: ignore[arg-type]
    else:
        cell["open"] += 1
        cell["overdue"] += int(st.breached)
        cell["stalled"] += int(st.stalled)
        cell["oldest"].append([opened_us, rel, {k: row.get(k) for k in OLDEST_KEYS}])
        cell["oldest"].sort(key=lambda item: (item[0], item[1]))
        del cell["oldest"][KEEP_OLDEST:]
    # What a received case adds (all or none of the month's count as received).
    cell["received"] += 1
    _bump(cell["months"], opened_text[:7])
    cell["repeat"] += 1 if row.get("repeat_of") else 0
    _bump(cell["status"], row["state"])
    _bump(cell["channel"], row["channel"])
    _bump(cell["cause"], row.get("cause") or NO_CAUSE)
    reply = row.get("first_reply_at")
    if reply:
        cell["replies"].append((datetime.fromisoformat(reply) - opened).total_seconds() / 3600)
    for clock, outcome in st.outcomes.items():
        _bump(cell["decided"], clock)
        if outcome == "met":
            _bump(cell["met"], clock)
        if clock == MONTHLY_CLOCK:
            share = cell["month_limits"].setdefault(opened_text[:7], [0, 0])
            share[0] += outcome == "met"
            share[1] += 1
    for tier in row.get("escalated_to") or ():
        _bump(cell["tiers"], tier)
    score = row.get("satisfaction")
    if score is not None:
        _bump(cell["scores"], str(int(score)))
    cell["unreachable"] += 1 if row.get("unreachable") else 0
    # Every measure done is done before the case's last event, so before any
    # moment these sums serve (as of final_from or later).
    done, met = measures_carried_out(row, _END)
    cell["measures_done"] += done
    cell["measures_met"] += met
    # Agreed and noted before the case's last event too.
    deal = row.get("settlement")
    if deal:
        add_money(cell["money"], cell["doubles"], deal)
    # A report leaves the team: the customer's data in a lesson masked (privacy.mask_free_text).
    cell["lessons"] += [
        [row["id"], at, mask_free_text(text, row.get("customer"))] for at, text in row.get("lessons") or ()
    ]
    return True


def _empty() -> dict[str, Any]:
    return {
        "received": 0, "months": {}, "repeat": 0, "status": {}, "channel": {}, "cause": {},
        "replies": [], "resolutions": [], "decided": {}, "met": {}, "tiers": {},
        "scores": {}, "unreachable": 0, "closed": {}, "open": 0, "overdue": 0, "oldest": [],
        "measures_done": 0, "measures_met": 0, "stalled": 0, "money": {}, "doubles": {}, "lessons": [],
        "month_limits": {}, "work_resolutions": [],
    }  # fmt: skip


def well_formed(sums: Mapping[str, Any]) -> bool:
    """Whether stored sums have the shape ``summarise`` gives them (a file
    that parses but is not ours is made again, never half-used)."""
    shape = _empty()
    try:
        return (
            isinstance(sums["final_from"], int | None)
            and isinstance(sums["live_from"], int | None)
            and (sums["opened"] is None or [type(x) for x in sums["opened"]] == [int, int])
            and isinstance(sums["problems"], list)
            and all(
                len(key.split("\x1f")) == 3
                and cell.keys() == shape.keys()
                and all(type(cell[k]) is type(v) for k, v in shape.items())
                for key, cell in sums["cells"].items()
            )
        )
    except (AttributeError, KeyError, TypeError):
        return False


def merge(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The sums of several months as one, for months with no live rows and no
    problems: ``add`` of the result gives what ``add`` of each gives, for any
    scope the result is ``usable`` for (its range of receipt spans theirs, so
    a period that takes in all or none of it does so of each)."""
    out: dict[str, Any] = {
        "final_from": None, "opened": None, "cells": {}, "live": [], "live_from": None, "problems": [],
    }  # fmt: skip
    for sums in parts:
        assert not sums["live"] and not sums["problems"], "only settled months are merged"
        final = sums["final_from"]
        if final is not None:
            out["final_from"] = max(final, out["final_from"] or final)
        if sums["opened"] is not None:
            lo, hi = sums["opened"]
            have = out["opened"] or [lo, hi]
            out["opened"] = [min(have[0], lo), max(have[1], hi)]
        for key, cell in sums["cells"].items():
            _merge_cell(out["cells"].setdefault(key, _empty()), cell)
    return out


def _merge_cell(into: dict[str, Any], cell: Mapping[str, Any]) -> None:
    for name in ("received", "repeat", "unreachable", "open", "overdue", "stalled", "measures_done",
                 "measures_met"):  # fmt: skip
        into[name] += cell[name]
    for name in ("months", "status", "channel", "cause", "decided", "met", "tiers", "scores"):
        for key, n in cell[name].items():
            into[name][key] = into[name].get(key, 0) + n
    for name in ("replies", "resolutions", "work_resolutions"):  # in order: a report sorts them faster
        into[name] = sorted(into[name] + cell[name])
    into["lessons"] += cell["lessons"]
    for month, instants in cell["closed"].items():
        into["closed"][month] = sorted(into["closed"].get(month, []) + instants)
    for month, (met, decided) in cell["month_limits"].items():
        have = into["month_limits"].setdefault(month, [0, 0])
        have[0] += met
        have[1] += decided
    into["oldest"] = sorted(into["oldest"] + cell["oldest"], key=lambda item: (item[0], item[1]))
    del into["oldest"][KEEP_OLDEST:]
    merge_money(into["money"], cell["money"])
    merge_money(into["doubles"], cell["doubles"])


def _bump(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def _us(at: datetime | None) -> int | None:
    return None if at is None else timeline.micros(at)


def _received(sums: Mapping[str, Any], scope: Scope) -> bool | None:
    """Whether the summed cases were all received in the period (True), none
    were (False), or some were (None: the sums cannot tell which)."""
    if sums["opened"] is None:
        return False
    lo, hi = sums["opened"]
    since, until = _us(scope.since), _us(scope.until)
    if (since is None or lo >= since) and (until is None or hi < until):
        return True
    if (since is not None and hi < since) or (until is not None and lo >= until):
        return False
    return None


def usable(sums: Mapping[str, Any], scope: Scope, as_of: datetime) -> bool:
    at = timeline.micros(as_of)
    for start in (sums["final_from"], sums["live_from"]):
        if start is not None and at < start:
            return False
    return _received(sums, scope) is not None


def add(tally: Tally, sums: Mapping[str, Any]) -> None:
    """Add the summed cases of a month to a report (``usable`` must hold)."""
    scope = tally.scope
    received = _received(sums, scope)
    since, until = _us(scope.since), _us(scope.until)
    for key, cell in sums["cells"].items():
        category, owner, level = key.split("\x1f")
        if (
            (scope.category is not None and category != scope.category)
            or (scope.owner is not None and owner != scope.owner)
            or (scope.severity is not None and level != scope.severity)
        ):
            continue
        tally.open += cell["open"]
        tally.overdue += cell["overdue"]
        tally.stalled += cell["stalled"]
        for opened_us, rel, row in cell["oldest"]:
            tally.oldest.append((opened_us, rel, row, level))
        for month, instants in cell["closed"].items():
            first = 0 if since is None else bisect.bisect_left(instants, since)
            end = len(instants) if until is None else bisect.bisect_left(instants, until)
            if end > first:
                tally.resolved += end - first
                tally.months[month][1] += end - first
        if not received:
            continue
        tally.received += cell["received"]
        for month, n in cell["months"].items():
            tally.months[month][0] += n
        for month, (met, decided) in cell["month_limits"].items():
            tally.month_limits[month][0] += met
            tally.month_limits[month][1] += decided
        tally.repeat += cell["repeat"]
        counters = tally.counters
        counters["status"].update(cell["status"])
        counters["severity"][level] += cell["received"]
        counters["category"][category] += cell["received"]
        counters["channel"].update(cell["channel"])
        counters["cause"].update(cell["cause"])
        counters["owner"][owner] += cell["received"]
        tally.replies += cell["replies"]
        tally.resolutions += cell["resolutions"]
        tally.work_resolutions += cell["work_resolutions"]
        tally.decided.update(cell["decided"])
        tally.met.update(cell["met"])
        tally.tiers.update(cell["tiers"])
        for score, n in cell["scores"].items():
            tally.scores += [int(score)] * n
        tally.unreachable += cell["unreachable"]
        tally.measures_done += cell["measures_done"]
        tally.measures_met += cell["measures_met"]
        merge_money(tally.money, cell["money"])
        merge_money(tally.doubles, cell["doubles"])
        tally.lessons += [(category, case, at, text) for case, at, text in cell["lessons"]]
