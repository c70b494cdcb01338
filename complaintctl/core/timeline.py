"""Pure: what a report needs of a case, as a step function of time.

A report reads these things of each case as of a moment: its effective
severity, each reported clock if decided (met or breached), whether a
running clock is breached (overdue), and whether the case is stalled. Once every
event of a case lies in the past, these change only at known instants: when
a severity rule's time comes (unresolved for N days, a flag), just after a
running clock falls due, and when an untouched case turns stalled. ``timeline`` evaluates the case with
``casestatus.status`` at each of those instants, so a report can look its
standing up instead of re-running the clocks, and a month of cases that no
longer change can be summed once (see ``reportsums``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from complaintctl.core import casestatus
from complaintctl.core.deadlines import Calendar
from complaintctl.core.indexrow import IndexRow as Row
from complaintctl.core.policy import Policy

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TICK = timedelta(microseconds=1)
MAX_STEPS = 64  # a case changes a handful of times; more means something odd: evaluate live
DECIDED = ("met", "breached")
REPORTED = ("first_reply", "resolution", "keep_informed", "followup")


def micros(at: datetime) -> int:
    """An instant as whole microseconds since the epoch: exact, and cheap to compare."""
    return (at - EPOCH) // TICK


@dataclass(frozen=True)
class Standing:
    """A case as a report sees it (the attributes ``report.build`` reads)."""

    row: Row
    level: str
    outcomes: Mapping[str, str] = field(default_factory=dict)  # decided clocks only
    breached: bool = False  # a running clock is past due
    path: str = ""  # the file, to break ties in the order of the files
    stalled: bool = False  # open and stalled (docs/domain.md#no-stalling)


def of(status: casestatus.CaseStatus, path: str = "") -> Standing:
    outcomes = {c: status.outcomes[c] for c in REPORTED if status.outcomes.get(c) in DECIDED}
    return Standing(status.row, status.level, outcomes, bool(status.breached), path, bool(status.stalled))


def _times(row: Row) -> list[str]:
    """Every time a row holds: after the latest one no event is still to come."""
    out = [row["opened_at"], row["last_at"]]
    out += [t for t in (row.get("closed_at"), row.get("first_reply_at"), row.get("last_escalated_at")) if t]
    done = row.get("settled")
    if done:
        out.append(done["at"])
    f = row.get("clock_facts") or {}
    out += [t for t in (f.get("first_reply"), f.get("closed"), f.get("followed_up")) if t]
    out += f.get("contacts") or []
    for a, b in [*(f.get("open_spans") or ()), *(f.get("pauses") or ())]:
        out += [t for t in (a, b) if t]
    s = row.get("severity_facts") or {}
    out += list((s.get("flags") or {}).values())
    out += [at for _, at in s.get("collective") or ()]
    out += [t for t in (s.get("lowered"), s.get("closed")) if t]
    return out


def timeline(policy: Policy, row: Row, cal: Calendar | None) -> list[list[Any]] | None:
    """[[from_us, level, *REPORTED outcomes, overdue, stalled], ...], each entry
    holding from its instant until the next; None when the case must always
    be evaluated live (a --matter case: other cases can raise its severity).

    From the latest time the case holds on, nothing but time moves: the
    severity changes only at the instants its rules name, and with it the
    limits; under one limit a running clock changes what a report sees only
    when it falls due (breached is strictly after due). So the standing is
    constant between consecutive instants of those kinds.
    """
    if row.get("matter"):
        return None
    at = max(datetime.fromisoformat(t) for t in _times(row))
    done = row.get("settled")
    if done and done["complete"]:
        # Settled with every clock stopped: from then on (at is no earlier)
        # casestatus.status gives this, and nothing moves it: the one step
        # the loop below would make, without its look at the clocks.
        settled = casestatus.CaseStatus(row, done["level"], (), (), None, done["outcomes"])
        return [[micros(at), *_standing_values(of(settled), True)]]
    closed = bool(row.get("closed_at"))
    # A settled row (its time is among those above) stands as it was settled
    # from then on (casestatus.status reads only that): no rise moves it.
    known = None if row.get("settled") else casestatus.basis(policy, row)  # the same at every step
    rises = sorted({r.since for r in known.fired}) if known else []
    untouched = None if closed else casestatus.untouched_from(policy, row)
    out: list[list[Any]] = []
    for _ in range(MAX_STEPS):
        st = casestatus.status(policy, row, at, cal, {}, known)
        entry = [micros(at), *_standing_values(of(st), closed)]
        if not out or out[-1][1:] != entry[1:]:
            out.append(entry)
        nexts = [r for r in rises if r > at]
        nexts += [c.due + TICK for c in st.clocks if c.stopped is None and c.due is not None]
        if not closed:  # a closed case is never overdue nor stalled in a report (_standing_values)
            # A measure not carried out by its due time makes the case overdue then.
            nexts += [m.due + TICK for m in st.measures if m.stopped is None and m.due is not None]
            assert untouched is not None
            nexts.append(untouched)
        nexts = [t for t in nexts if t > at]
        if not nexts:
            return out
        at = min(nexts)
    return None


def _standing_values(st: Standing, closed: bool) -> list[Any]:
    # A closed case is never overdue (nor stalled) in a report: only open cases count.
    overdue = 0 if closed else int(st.breached)
    stalled = 0 if closed else int(st.stalled)
    return [st.level, *(st.outcomes.get(c) for c in REPORTED), overdue, stalled]


def final_from(row: Row) -> int | None:
    """From when (microseconds) the row's standing no longer changes."""
    line = row.get("timeline")
    return int(line[-1][0]) if line else None


def at(row: Row, when_us: int, path: str = "") -> Standing | None:
    """The row's standing at an instant, or None when it must be evaluated live."""
    line = row.get("timeline")
    if not line or when_us < line[0][0]:
        return None
    entry = line[0]
    for candidate in line[1:]:
        if candidate[0] > when_us:
            break
        entry = candidate
    return from_entry(row, entry, path)


def next_step(row: Row, when_us: int) -> int | None:
    """The first instant after ``when_us`` at which the row's standing (or
    whether it can be looked up at all) changes; None: never, or the row
    has no timeline (it is evaluated live at every moment)."""
    for entry in row.get("timeline") or ():
        if entry[0] > when_us:
            return int(entry[0])
    return None


def from_entry(row: Row, entry: list[Any], path: str = "") -> Standing:
    level, decided, overdue, stalled = entry[1], entry[2:-2], entry[-2], entry[-1]
    outcomes = {clock: outcome for clock, outcome in zip(REPORTED, decided, strict=True) if outcome}
    return Standing(row, level, outcomes, bool(overdue), path, bool(stalled))
