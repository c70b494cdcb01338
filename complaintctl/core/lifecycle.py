"""The lifecycle: the ``Change`` one event makes, the guards events share,
and ``apply``, which writes a change into a case.

Every event (``events``) takes the policy, the case (a mapping as parsed),
the actor, the event time and ``now``, and returns a ``Change``: the event
to append and the fields to set. A guard raises ``RuleError`` (or
``UsageError`` for a bad value) when the policy does not allow the change.
Nothing here reads a file, runs git or looks at the clock.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from complaintctl.core.eventlog import live_events
from complaintctl.core.policy import CAUSES, Member, Policy, Transition
from complaintctl.core.records import check_text
from complaintctl.core.times import format_time, parse_time
from complaintctl.errors import RuleError, UsageError

Case = Mapping[str, Any]
FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Change:
    """What one command does to one case; the unit of one commit."""

    case_id: str
    action: str
    actor: str
    at: datetime
    from_state: str
    to_state: str
    subject: str
    event: dict[str, Any]
    updates: tuple[tuple[FieldPath, Any], ...] = ()
    notices: tuple[str, ...] = field(default=())

    def trailers(self) -> dict[str, str]:
        """The commit's machine-readable trailers (``Complaintctl-KEY: value``)."""
        return {
            "Case": self.case_id,
            "Action": self.action,
            "From": self.from_state or "-",
            "To": self.to_state,
            "Actor": self.actor,
        }


def flag_values(
    risk: bool = False,
    lawsuit: bool = False,
    media: bool = False,
    collective: int | None = None,
    cause: str | None = None,
    outside: bool = False,
) -> dict[str, Any]:
    """The flags a command sets, validated; only what was given."""
    values: dict[str, Any] = {
        k: True
        for k, on in (("risk", risk), ("lawsuit", lawsuit), ("media", media), ("outside", outside))
        if on
    }
    if collective is not None:
        if collective < 2:
            raise UsageError(
                f"--collective {collective}: a collective complaint has 2 or more people",
                fix="give the number of people",
            )
        values["collective"] = collective
    if cause is not None:
        choice(cause, CAUSES, "cause", "internal (our fault), external, unknown")
        values["cause"] = cause
    return values


# ---------------------------------------------------------------- checks


def check_actor(policy: Policy, actor: str) -> None:
    check_text(actor, "--as")
    check_member(policy, actor)


def check_member(
    policy: Policy,
    user: str,
    what: str = "",
    fix: str = "act as a listed member with --as, or add them under 'team:'",
) -> Member | None:
    """The team member ``user`` is; refused when the team is listed and they are not on it."""
    member = policy.member(user)
    if policy.team and member is None:
        raise RuleError(f"{what}'{user}' is not on the team in policy.yaml", fix=fix)
    return member


def is_subject(staff: Iterable[str], user: str) -> bool:
    """Named in the complaint (ids compared case-insensitively, as e-mail is)."""
    return user.casefold() in {s.casefold() for s in staff}


def check_not_subject(
    staff: Iterable[str], user: str, doing: str, fix: str, where: str | None = None, who: str = ""
) -> None:
    """Recusal: staff the complaint is about may not ``doing`` (act on it, own it, ...)."""
    if is_subject(staff, user):
        raise RuleError(
            f"{who}{user} is named in the complaint and may not {doing} (recusal)", where=where, fix=fix
        )


def check_recusal(case: Case, actor: str) -> None:
    fix = "a colleague acts on it, in their own name"
    check_not_subject(case.get("subject_staff", ()), actor, "act on it", fix, case["id"])


def check_time(case: Case | None, at: datetime, now: datetime) -> None:
    if at > now:
        raise UsageError(
            f"--at {format_time(at)} is in the future (now is {format_time(now)})",
            fix="give the time it really happened",
        )
    if case is not None:
        last = parse_time(case["events"][-1]["at"])
        if at < last:
            raise UsageError(
                f"--at {format_time(at)} is before the case's last event ({format_time(last)})",
                where=case["id"],
                fix="events are recorded in time order",
            )


def find_transition(policy: Policy, case: Case, command: str, kind: str | None = None) -> Transition:
    state = case["state"]
    transition = policy.transition(command, state, kind)
    if transition is None:
        allowed = ", ".join(policy.allowed_commands(state)) or "none"
        hint = f"commands allowed now: {allowed}"
        if command == "archive" and state != "archived" and policy.transition("followup", state):
            hint = "follow up first, archive after: run 'complaintctl followup' first"
        raise RuleError(f"cannot {command} a case that is {state}", where=case["id"], fix=hint)
    return transition


def prepare(
    policy: Policy,
    case: Case,
    command: str,
    actor: str,
    at: datetime,
    now: datetime,
    kind: str | None = None,
) -> Transition:
    check_actor(policy, actor)
    check_recusal(case, actor)
    transition = find_transition(policy, case, command, kind)
    if command in policy.owner_only:
        check_owner(policy, case, command, actor)
    check_time(case, at, now)
    return transition


def is_owner_or_above(policy: Policy, case: Case, actor: str) -> bool:
    """The case's owner, someone on a tier above the case's, or anyone when no team is listed."""
    if not policy.team:
        return True
    return actor.casefold() == str(case["owner"]).casefold() or policy.holds_tier_above(actor, case["tier"])


def check_owner(policy: Policy, case: Case, command: str, actor: str) -> None:
    """First-contact ownership (docs/domain.md#first-contact): the owner stays
    responsible until a recorded hand-over; a higher tier may step in."""
    if not is_owner_or_above(policy, case, actor):
        owner = case["owner"]
        raise RuleError(
            f"only the owner ({owner}) or someone on a higher tier may {command} this case",
            where=case["id"],
            fix=f"ask {owner} to hand it on"
            if command == "assign"
            else f"ask {owner}, or have it handed on first: "
            f"complaintctl assign {case['id']} --to {actor} --reason ...",
        )


def make_change(
    case: Case,
    transition: Transition,
    action: str,
    actor: str,
    at: datetime,
    subject: str,
    details: dict[str, Any],
    updates: Iterable[tuple[FieldPath, Any]] = (),
) -> Change:
    for key, value in details.items():
        if isinstance(value, str):
            check_text(value, f"the {key}")
    before = case["state"]
    after = transition.to or before
    event: dict[str, Any] = {"at": format_time(at), "by": actor, "action": action}
    if after != before:
        event["from"], event["to"] = before, after
    event.update({k: val for k, val in details.items() if val is not None})
    all_updates = list(updates)
    if after != before:
        all_updates.insert(0, (("state",), after))
    return Change(
        case_id=case["id"],
        action=action,
        actor=actor,
        at=at,
        from_state=before,
        to_state=after,
        subject=subject,
        event=event,
        updates=tuple(all_updates),
    )


# ---------------------------------------------------------------- open


def is_final(policy: Policy, case: Case) -> bool:
    """Ended in a way after which the same matter is not accepted again."""
    resolution = policy.resolutions.get(case.get("resolution") or "")
    if resolution is None:
        return False
    return resolution.final or (resolution.final_when_executed and bool(case.get("executed")))


def set_flags(case: dict[str, Any], flags: Mapping[str, Any]) -> None:
    if "cause" in flags:
        case["cause"] = flags["cause"]
    marks = {k: v for k, v in flags.items() if k != "cause"}
    if marks:
        case["flags"] = {**case.get("flags", {}), **marks}


def choice(value: str, allowed: Iterable[str], what: str, key: str) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise UsageError(
            f"unknown {what} '{value}'",
            fix=f"use one of: {', '.join(allowed)} (policy.yaml: {key})",
        )


# ---------------------------------------------------------------- commands


def find_offer(case: Case, number: int) -> Mapping[str, Any]:
    found: list[Mapping[str, Any]] = [o for o in case.get("offers", ()) if o["no"] == number]
    if not found:
        raise RuleError(
            f"there is no offer {number}", where=case["id"], fix="see the offers with 'complaintctl show'"
        )
    return found[0]


def drafts(case: Case) -> list[Mapping[str, Any]]:
    return [e for e in case["events"] if e["action"] == "draft"]


def tier_holders(policy: Policy, case: Case, tier: str) -> list[str]:
    """Who could own the case at ``tier``: members holding it, not named in the complaint."""
    roles = set(policy.tiers[policy.tier_index(tier)].roles)
    staff = case.get("subject_staff", ())
    return [m.id for m in policy.team if set(m.roles) & roles and not is_subject(staff, m.id)]


def signoffs_missing(policy: Policy, case: Case) -> tuple[int, list[str]]:
    """The latest draft's number, and the sign-offs it still lacks, in order."""
    written = drafts(case)
    if not written:
        return 0, [s.name for s in policy.reply_signoffs]
    number = written[-1]["draft"]
    done = [e["signoff"] for e in case["events"] if e["action"] == "signoff" and e.get("draft") == number]
    return number, [s.name for s in policy.reply_signoffs if s.name not in done]


def open_offer(case: Case) -> Mapping[str, Any] | None:
    return next((o for o in reversed(case.get("offers", ())) if o["status"] == "open"), None)


def unreachable_missing(policy: Policy, case: Case, at: datetime) -> str | None:
    """What is still missing before 'customer unreachable' may be recorded.

    docs/domain.md#unreachable: a written notice, then at least N further attempts within a
    window after it, each at least ``apart`` after the previous one counted.
    Only attempts since the case was last closed count.
    """
    rule = policy.unreachable
    if rule.attempts == 0:
        return None
    events = live_events(case["events"])  # a retracted attempt or notice does not count
    closes = [i for i, e in enumerate(events) if e["action"] == "close"]
    since = events[closes[-1] :] if closes else events
    notices = [parse_time(e["at"]) for e in since if e["action"] == "note" and e.get("kind") == "notice"]
    if not notices:
        return "no written notice on record"
    notice = notices[-1]
    window_end = notice + timedelta(seconds=rule.within_s)
    counted: list[datetime] = []
    for e in since:
        if e["action"] == "note" and e.get("kind") == "contact-failed":
            t = parse_time(e["at"])
            if notice <= t <= window_end and (
                not counted or (t - counted[-1]).total_seconds() >= rule.apart_s
            ):
                counted.append(t)
    if len(counted) >= rule.attempts:
        return None
    have = f"{len(counted)} of {rule.attempts} attempts"
    nxt = counted[-1] + timedelta(seconds=rule.apart_s) if counted else notice
    if nxt > window_end or at > window_end:
        return f"{have}; the window closed at {format_time(window_end)}: send a new written notice"
    return f"{have} at least {hours(rule.apart_s)} apart; next allowed after {format_time(nxt)}"


def hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h"


# ---------------------------------------------------------------- applying


def apply(case: Any, change: Change) -> None:
    """Apply a change in place to a mapping (plain or round-trip).

    A value of None removes the field; a list index one past the end appends.
    """
    for path, value in change.updates:
        parent = case
        for part, following in itertools.pairwise(path):
            if isinstance(parent, dict) and part not in parent:
                _set_key(parent, part, [] if isinstance(following, int) else {})
            parent = parent[part]
        last = path[-1]
        if isinstance(parent, list):
            assert isinstance(last, int)
            if last == len(parent):
                parent.append(value)
            else:
                parent[last] = value
        elif value is None:
            parent.pop(last, None)
        else:
            _set_key(parent, last, value)
    case["events"].append(change.event)


def _set_key(mapping: Any, key: Any, value: Any) -> None:
    # New top-level fields go before the (long) events list, so the record
    # reads top-down and a diff stays small.
    if key not in mapping and "events" in mapping and hasattr(mapping, "insert"):
        mapping.insert(list(mapping).index("events"), key, value)
    else:
        mapping[key] = value
