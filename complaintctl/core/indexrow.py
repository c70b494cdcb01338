"""Pure: one case record -> one flat row, the unit of the bulk index.

``list``, ``report`` and the repeat lookup at ``open`` read these rows, never
the case files themselves; a row holds only plain JSON values. With the
policy given, a row also keeps what no later moment can change
(``settled``) and its report standing over time (``timeline.timeline``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, NotRequired, TypedDict

from complaintctl.core import deadlines, severity
from complaintctl.core.eventlog import live_events
from complaintctl.core.offers import accepted_offer
from complaintctl.core.policy import Policy
from complaintctl.core.records import customer_keys, matter_key

VERSION = 12  # 11: waits, settlement, lessons, working hours, timelines; 12: matter and account keys folded


# Policy fields that no row, month sum or report figure reads: who is on the
# team and what each may do, and how letters and reports name and present
# things. A change to these alone ('team add', a new letterhead) keeps the
# index; a change to any other field rebuilds it. tests/test_policykey.py
# makes rows with each of these changed and checks they are the same.
NOT_IN_ROWS = frozenset(
    {
        "organisation",
        "organisation_names",
        "letterhead",
        "letter_language",
        "labels",
        "report_targets",
        "team",
        "roles",
        "policy_roles",
        "owner_only",
        "self_only",
        "approval_limits",
        "reply_signoffs",
        "evidence_max_bytes",
        "allowed_signers",
    }
)


def policy_key(policy: Policy) -> str:
    """The digest of what the index's files depend on in the policy: every
    field but NOT_IN_ROWS, as canonical JSON (sets sorted, mappings in their
    order, which the report's tables follow)."""
    import dataclasses
    import hashlib
    import json

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            named = [[f.name, plain(getattr(value, f.name))] for f in dataclasses.fields(value)]
            return [type(value).__name__, named]
        if isinstance(value, Mapping):
            return ["map", [[plain(k), plain(v)] for k, v in value.items()]]
        if isinstance(value, (frozenset, set)):
            return ["set", sorted((plain(v) for v in value), key=json.dumps)]
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, (date, time)):  # datetime is a date
            return value.isoformat()
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        if isinstance(value, Decimal):
            return ["decimal", str(value)]
        raise TypeError(f"policy_key cannot encode a {type(value).__name__}")  # a new field type: add it here

    fields = [
        [f.name, plain(getattr(policy, f.name))]
        for f in dataclasses.fields(policy)
        if f.name not in NOT_IN_ROWS
    ]
    text = json.dumps([VERSION, fields], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Settled(TypedDict):
    """What no later moment can change of a closed case (see ``settled``)."""

    at: str
    level: str
    outcomes: dict[str, str]
    complete: bool


class IndexRow(TypedDict):
    """One case as the index keeps it: plain JSON values only.

    The keys every reader may rely on; ``timeline`` is there when the row was
    made with the policy, and settled rows may drop ``clock_facts`` and
    ``severity_facts`` (read back from the case file when needed).
    """

    id: str
    state: str
    severity: str
    urgent: bool
    tier: str
    owner: str
    channel: str
    category: str
    opened_at: str
    closed_at: str | None
    resolution: str | None
    executed: bool
    satisfaction: int | None
    customer: str
    customer_keys: list[str]
    summary: str
    demand: str | None
    repeat_of: str | None
    first_reply_at: str | None
    escalations: int
    last_escalated_at: str | None
    escalated_to: list[str]
    unreachable: bool
    events: int
    last_at: str
    # [time, action, kind] of the last event that was not a note, and of the last note of each kind
    progress: list[list[Any]]
    matter: str | None
    cause: str | None
    measures: list[list[Any]]  # [no, by, due, done_at or None] of each planned measure
    # [amount, currency, kind, double refund?, agreed at] of the accepted offer, if any
    settlement: list[Any] | None
    lessons: list[list[str]]  # [at, text] of each lesson note (note --kind lesson) not taken back
    # Working hours from receipt to close, for a closed case whose resolution
    # clock counts working time (the unit that judges it); else None.
    work_hours: NotRequired[float | None]
    clock_facts: NotRequired[dict[str, Any]]
    severity_facts: NotRequired[dict[str, Any]]
    settled: Settled | None
    timeline: NotRequired[list[list[Any]] | None]
    blob: NotRequired[str]  # the case file's git blob id, set by the index


def settled(
    case: Mapping[str, Any],
    policy: Policy,
    cal: deadlines.Calendar | None,
    f: deadlines.Facts | None = None,
    sev: Mapping[str, Any] | None = None,
) -> Settled | None:
    """For a closed case, what no later moment can change: its severity and
    the outcome of each stopped clock (so reports need not re-run them).
    ``f`` and ``sev``: the case's clock and severity facts, if already made.

    Not for cases on a --matter: a later complaint on it can still raise them.
    """
    if not case.get("closed_at") or case.get("matter"):
        return None
    if f is None:
        f = deadlines.facts(case, policy.time_limits.pause_states)
    assert f.closed is not None
    end = max(f.closed, f.followed_up or f.closed)
    level, _ = severity.effective(policy, severity.facts(case) if sev is None else sev, end)
    limits = policy.limits_for(level, bool(case["urgent"]))
    states = deadlines.evaluate(f, limits, end, policy.time_limits.warn_at, cal)
    outcomes = {c.clock: c.status for c in states if c.stopped is not None}
    # Complete: no clock is left running (the follow-up, if any, is done).
    complete = all(c.stopped is not None for c in states)
    return {"at": end.isoformat(), "level": level, "outcomes": outcomes, "complete": complete}


LESSON = "lesson"  # the note kind a report gathers as lessons learned (docs/reports.md)


def _settlement(case: Mapping[str, Any]) -> list[Any] | None:
    """What the customer accepted, and when (the last 'agree')."""
    offer = accepted_offer(case)
    if offer is None:
        return None
    agreed = next(
        (
            e["at"]
            for e in reversed(case["events"])
            if e["action"] == "agree" and e.get("offer") == offer["no"]
        ),
        case["opened_at"],
    )
    return [offer["amount"], offer["currency"], offer["kind"], bool(offer.get("arithmetic")), agreed]


def _progress(events: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """The last event that is not a note, and the last note of each kind:
    enough to tell the last progress whatever note kinds a policy calls quiet."""
    last: dict[str, str] = {}
    for e in events:
        key = f"note:{e.get('kind') or 'internal'}" if e["action"] == "note" else "change"
        last[key] = e["at"]
    return [[at, key] for key, at in sorted(last.items())]


def row(
    case: Mapping[str, Any],
    pause_states: Sequence[str] = (),
    policy: Policy | None = None,
    cal: deadlines.Calendar | None = None,
) -> IndexRow:
    events = case["events"]
    facts = deadlines.facts(case, pause_states)
    sev = severity.facts(case)
    same_pauses = policy is not None and tuple(pause_states) == tuple(policy.time_limits.pause_states)
    out: IndexRow = {
        "id": case["id"],
        "state": case["state"],
        "severity": case["severity"],
        "urgent": bool(case["urgent"]),
        "tier": case["tier"],
        "owner": case["owner"],
        "channel": case["channel"],
        "category": case["category"],
        "opened_at": case["opened_at"],
        "closed_at": case.get("closed_at"),
        "resolution": case.get("resolution"),
        "executed": bool(case.get("executed")),
        "satisfaction": case.get("satisfaction"),
        "customer": case["customer"]["name"],
        "customer_keys": sorted(customer_keys(case["customer"])),
        "summary": case["summary"],
        "demand": case.get("demand"),
        "repeat_of": case.get("repeat_of"),
        # The moment the first-reply clock stopped: one definition (deadlines.facts).
        "first_reply_at": facts.first_reply.isoformat() if facts.first_reply else None,
        "escalations": sum(1 for e in events if e["action"] == "escalate"),
        "last_escalated_at": next((e["at"] for e in reversed(events) if e["action"] == "escalate"), None),
        "escalated_to": [e["tier_to"] for e in events if e["action"] == "escalate" and e.get("tier_to")],
        "unreachable": any(e["action"] == "followup" and e.get("unreachable") for e in events),
        "events": len(events),
        "last_at": events[-1]["at"],
        "progress": _progress(events),
        # As cases are grouped by it (hot spots, peers, repeats): one definition, records.matter_key.
        "matter": matter_key(case["matter"]) if case.get("matter") else None,
        "cause": case.get("cause"),
        "measures": [[m["no"], m["by"], m["due"], m.get("done_at")] for m in case.get("measures", ())],
        "settlement": _settlement(case),
        "lessons": [[e["at"], e["text"]] for e in live_events(events) if e.get("kind") == LESSON],
        "clock_facts": deadlines.facts_to_json(facts),
        "severity_facts": sev,
        # (settled reads only the facts: made once here when its pauses are these)
        "settled": settled(case, policy, cal, facts if same_pauses else None, sev)
        if policy is not None
        else None,
    }
    if policy is not None:
        from complaintctl.core import timeline

        out["work_hours"] = _work_hours(case, policy, cal, out["settled"])
        out["timeline"] = timeline.timeline(policy, out, cal)
    return out


def _work_hours(
    case: Mapping[str, Any], policy: Policy, cal: deadlines.Calendar | None, done: Settled | None
) -> float | None:
    """Receipt to close in working hours, when the case's resolution limit
    (at the severity it closed with) counts working time."""
    closed = case.get("closed_at")
    if not closed or cal is None:
        return None
    level = done["level"] if done else case["severity"]
    limit = policy.limits_for(level, bool(case["urgent"])).get("resolution")
    if limit is None or not limit.business:
        return None
    opened = datetime.fromisoformat(case["opened_at"])
    return round(deadlines.work_seconds(cal, opened, datetime.fromisoformat(closed)) / 3600, 4)
