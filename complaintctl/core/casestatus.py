"""Pure: where each case stands as of a moment: severity, clocks, stalls.

Works on index rows (see ``projection.row``), so ``show``, ``list``,
``overdue`` and ``report`` all compute the same figures the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from complaintctl.core import deadlines, severity
from complaintctl.core.deadlines import Calendar, ClockState
from complaintctl.core.indexrow import IndexRow as Row
from complaintctl.core.policy import Policy
from complaintctl.core.records import customer_identity
from complaintctl.core.severity import Rise


@dataclass(frozen=True)
class CaseStatus:
    row: Row
    level: str  # the effective severity
    rises: tuple[Rise, ...]
    clocks: tuple[ClockState, ...]
    stalled: str | None
    outcomes: Mapping[str, str]  # clock -> met, breached, running, warning, paused
    measures: tuple[ClockState, ...] = ()  # the execution clock of each planned measure

    @property
    def breached(self) -> list[ClockState]:
        """Clocks breached and still running (measures past due included): what
        someone must act on now."""
        return [c for c in (*self.clocks, *self.measures) if c.status == "breached" and c.stopped is None]

    @property
    def warnings(self) -> list[ClockState]:
        return [c for c in self.clocks if c.status == "warning"]

    def waiting_since(self, as_of: datetime) -> datetime | None:
        """When the case began the wait on the customer it is in as of then,
        if it is in one (its clocks are paused: ``overdue --warn`` lists it)."""
        for start, end in (self.row.get("severity_facts") or {}).get("waiting") or ():
            began = datetime.fromisoformat(start)
            if began <= as_of and (end is None or datetime.fromisoformat(end) > as_of):
                return began
        return None


def _customer(row: Row) -> frozenset[str]:
    return customer_identity(row["customer_keys"], row["customer"])


def peers_by_matter(rows: Iterable[Row]) -> dict[tuple[str, str], list[severity.Peer]]:
    groups: dict[tuple[str, str], list[severity.Peer]] = defaultdict(list)
    for row in rows:
        matter = row.get("matter")
        if matter:
            peer = severity.Peer(row["id"], datetime.fromisoformat(row["opened_at"]), _customer(row))
            groups[(row["category"], matter)].append(peer)
    return groups


@dataclass(frozen=True)
class Basis:
    """What ``status`` reads of a row that no moment changes: made once where
    one row is looked at many times (timeline.timeline)."""

    facts: deadlines.Facts
    fired: tuple[Rise, ...]  # every severity rule's rise, whenever (no peers)
    last_progress: datetime


def basis(policy: Policy, row: Row) -> Basis:
    fired = severity.rules_fired(policy, row["severity_facts"], None)
    return Basis(deadlines.facts_from_json(row["clock_facts"]), tuple(fired), _last_progress(policy, row))


def status(
    policy: Policy,
    row: Row,
    as_of: datetime,
    cal: Calendar | None,
    peers: Mapping[tuple[str, str], Sequence[severity.Peer]],
    known: Basis | None = None,
) -> CaseStatus:
    done = row.get("settled")
    if done and as_of >= datetime.fromisoformat(done["at"]):
        # Closed before as_of: only the follow-up clock can still run.
        if done["complete"]:
            return CaseStatus(row, done["level"], (), (), None, done["outcomes"])
        limit = policy.limits_for(done["level"], bool(row["urgent"])).get("followup")
        if limit is not None:
            closed = datetime.fromisoformat(done["at"])
            follow = deadlines.run_clock(
                "followup", limit, [(closed, None)], None, as_of, policy.time_limits.warn_at, cal
            )
            return CaseStatus(
                row, done["level"], (), (follow,), None, {**done["outcomes"], "followup": follow.status}
            )
    matter = row.get("matter")
    group = peers.get((row["category"], matter), ()) if matter else ()
    if group:  # other cases on the matter can raise it: nothing is known beforehand
        known = None
    fired = known.fired if known else None
    level, rises = severity.effective(policy, row["severity_facts"], as_of, group, fired)
    facts = known.facts if known else deadlines.facts_from_json(row["clock_facts"])
    limits = policy.limits_for(level, bool(row["urgent"]))
    states = tuple(deadlines.evaluate(facts, limits, as_of, policy.time_limits.warn_at, cal))
    stalled = None
    if not row.get("resolution") and row["state"] in policy.open_states:
        last = known.last_progress if known else _last_progress(policy, row)
        escalated_at = row.get("last_escalated_at")
        escalated = datetime.fromisoformat(escalated_at) if escalated_at else None
        late = [c for c in states if c.status == "breached" and c.stopped is None and c.due is not None]
        below = _below_direct_tier(policy, row, level)
        if below:
            stalled = below
        elif late and (escalated is None or escalated < min(c.due for c in late if c.due)):
            stalled = f"{late[0].clock.replace('_', ' ')} breached and not escalated"
        elif as_of - last >= timedelta(seconds=policy.stall_after_s):
            stalled = f"untouched since {last.isoformat(timespec='minutes')[:16].replace('T', ' ')}"
    outcomes = {c.clock: c.status for c in states}
    return CaseStatus(row, level, tuple(rises), states, stalled, outcomes, measure_clocks(row, as_of))


def measure_clocks(row: Row, as_of: datetime) -> tuple[ClockState, ...]:
    """Each planned measure against its due time (docs/domain.md#carry-out):
    met when done by then, breached when not done by then."""
    out = []
    for no, by, due_text, done_text in row.get("measures") or ():
        due = datetime.fromisoformat(due_text)
        done = datetime.fromisoformat(done_text) if done_text else None
        if done is not None and done > as_of:
            done = None  # as of then, not done yet
        end = done or as_of
        late = max(0.0, (end - due).total_seconds())
        status = (
            ("met" if done <= due else "breached") if done else ("breached" if as_of > due else "running")
        )
        left = None if done or as_of > due else (due - as_of).total_seconds()
        out.append(ClockState(f"measure {no} by {by}", status, _NO_LIMIT, due, due, done, late, left))
    return tuple(out)


_NO_LIMIT = deadlines.Limit(0.0, False)


def untouched_from(policy: Policy, row: Row) -> datetime:
    """From when the case counts as untouched (stalled) if nothing moves it."""
    return _last_progress(policy, row) + timedelta(seconds=policy.stall_after_s)


def _last_progress(policy: Policy, row: Row) -> datetime:
    """When the case last moved: its last event, or with rules.quiet_notes the
    last event that is not a quiet note (an internal note every 48 h is not
    progress; docs/domain.md#no-stalling)."""
    quiet = {f"note:{k}" for k in policy.rules.quiet_notes}
    if not quiet or "progress" not in row:
        return datetime.fromisoformat(row["last_at"])
    moves = [datetime.fromisoformat(at) for at, key in row["progress"] if key not in quiet]
    return max(moves) if moves else datetime.fromisoformat(row["opened_at"])


def _below_direct_tier(policy: Policy, row: Row, level: str) -> str | None:
    """docs/domain.md#escalation: an urgent or top-severity case belongs at
    direct_tier, and one from rules.escalate_from up above the first tier;
    below, it is flagged until escalated."""
    names = policy.tier_names
    if row["tier"] not in names:
        return None
    tier = names.index(row["tier"])
    serious = row["urgent"] or level == policy.severities[-1]
    if policy.rules.serious_at_direct_tier and serious and tier < names.index(policy.direct_tier):
        why = "urgent" if row["urgent"] else level
        return f"{why} but below the {policy.direct_tier} tier"
    start = policy.rules.escalate_from
    if start and tier == 0 and len(names) > 1 and policy.severity_rank(level) >= policy.severity_rank(start):
        return f"{level} but still at the {names[0]} tier"
    return None


def level(policy: Policy, row: Row, as_of: datetime, peers: Sequence[severity.Peer] = ()) -> str:
    """The effective severity only (cheap for settled cases)."""
    done = row.get("settled")
    if done and as_of >= datetime.fromisoformat(done["at"]):
        return str(done["level"])
    return severity.effective(policy, row["severity_facts"], as_of, peers)[0]


def statuses(policy: Policy, rows: Sequence[Row], as_of: datetime, cal: Calendar | None) -> list[CaseStatus]:
    peers = peers_by_matter(rows)
    return [status(policy, row, as_of, cal, peers) for row in rows]


def done_by(row: Row, as_of: datetime) -> bool:
    """Nothing of the case can be late or near its limit at ``as_of`` or after."""
    since = done_from(row)
    return since is not None and since <= as_of


def done_from(row: Row) -> datetime | None:
    """From when nothing of the case can be late or near its limit: when it
    was settled (indexrow.settled), if then every clock was stopped, every
    measure is done and it is on no matter (a later case on it can raise
    it); else None (not as the case stands)."""
    settled = row.get("settled")
    if (
        settled
        and settled.get("complete")
        and not row.get("matter")
        and all(m[3] for m in row.get("measures") or ())
    ):
        return datetime.fromisoformat(settled["at"])
    return None


def needs_calendar(policy: Policy) -> bool:
    return any(rule.limit.business for rules in policy.time_limits.rules.values() for rule in rules)
