"""The lifecycle and rules, as pure functions.

Each command takes the policy, the case (a mapping as parsed), the actor, the
event time and ``now``, and returns a ``Change``: the event to append and the
fields to set. It raises ``RuleError`` (or ``UsageError`` for a bad value)
when the policy does not allow the change. Nothing here reads a file, runs
git or looks at the clock.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import severity as severity_rules
from .errors import RuleError, UsageError
from .model import SCHEMA, check_email, check_phone, check_text, format_time, money, parse_time
from .policy import Policy, Transition

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


@dataclass(frozen=True)
class NewCase:
    """The fields of ``open``, as typed (validated here)."""

    customer: str
    channel: str
    category: str
    summary: str
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    account: str | None = None
    demand: str | None = None
    urgent: bool = False
    severity: str | None = None
    subject_staff: tuple[str, ...] = ()
    owner: str | None = None
    reason: str | None = None
    matter: str | None = None
    cause: str | None = None
    risk: bool = False
    lawsuit: bool = False
    media: bool = False
    collective: int | None = None


CAUSES = ("internal", "external", "unknown")


def flag_values(
    risk: bool = False,
    lawsuit: bool = False,
    media: bool = False,
    collective: int | None = None,
    cause: str | None = None,
) -> dict[str, Any]:
    """The flags a command sets, validated; only what was given."""
    values: dict[str, Any] = {
        k: True for k, on in (("risk", risk), ("lawsuit", lawsuit), ("media", media)) if on
    }
    if collective is not None:
        if collective < 2:
            raise UsageError(
                f"--collective {collective}: a collective complaint has 2 or more people",
                fix="give the number of people",
            )
        values["collective"] = collective
    if cause is not None:
        _choice(cause, CAUSES, "cause", "internal (our fault), external, unknown")
        values["cause"] = cause
    return values


# ---------------------------------------------------------------- checks


def check_actor(policy: Policy, actor: str) -> None:
    check_text(actor, "--as")
    if policy.team and policy.member(actor) is None:
        raise RuleError(
            f"'{actor}' is not on the team in policy.yaml",
            fix="act as a listed member with --as, or add them under 'team:'",
        )


def check_recusal(case: Case, actor: str) -> None:
    if actor in case.get("subject_staff", ()):
        raise RuleError(
            f"{actor} is named in the complaint and may not act on it (recusal)",
            where=case["id"],
            fix="ask a colleague to act with --as",
        )


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


def _prepare(
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
    check_time(case, at, now)
    return transition


def _change(
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


def customer_keys(customer: Mapping[str, Any]) -> set[str]:
    """What identifies a customer across cases: phone digits, e-mail, account."""
    keys = set()
    if customer.get("phone"):
        keys.add("phone:" + "".join(c for c in str(customer["phone"]) if c.isdigit())[-11:])
    if customer.get("email"):
        keys.add("email:" + str(customer["email"]).strip().lower())
    if customer.get("account"):
        keys.add("account:" + str(customer["account"]).strip().lower())
    return keys


def is_final(policy: Policy, case: Case) -> bool:
    """Ended in a way after which the same matter is not accepted again."""
    resolution = policy.resolutions.get(case.get("resolution") or "")
    if resolution is None:
        return False
    return resolution.final or (resolution.final_when_executed and bool(case.get("executed")))


def open_case(
    policy: Policy,
    new: NewCase,
    case_id: str,
    actor: str,
    at: datetime,
    now: datetime,
    earlier: Sequence[Case] = (),
    peers: Sequence[severity_rules.Peer] = (),
) -> tuple[dict[str, Any], Change]:
    """A new case record, and its 'open' change. ``earlier``: cases of the
    same customer (by ``customer_keys``), to find repeats and final outcomes;
    ``peers``: other customers' cases on the same category and ``matter``."""
    check_actor(policy, actor)
    check_time(None, at, now)
    _choice(new.channel, policy.channels, "channel", "channels")
    _choice(new.category, policy.categories, "category", "categories")
    severity = new.severity or policy.default_severity
    _choice(severity, policy.severities, "severity", "severities")
    for text, what in ((new.customer, "--customer"), (new.summary, "--summary")):
        if not text.strip():
            raise UsageError(f"{what} is empty", fix=f"give {what} some text")
    optional = {
        key: getattr(new, key)
        for key in ("phone", "email", "address", "account", "demand", "owner", "reason", "matter")
    }
    for key, value in optional.items():
        if value is not None and not value.strip():
            raise UsageError(f"--{key} is empty", fix=f"leave --{key} out or give it a value")
    for key, value in {"customer": new.customer, "summary": new.summary, **optional}.items():
        if value is not None:
            check_text(value, f"--{key}")
    for staff in new.subject_staff:
        if not staff.strip():
            raise UsageError("--subject-staff is empty", fix="name the member of staff")
        check_text(staff, "--subject-staff")
    if new.phone:
        check_phone(new.phone)
    if new.email:
        check_email(new.email)
    owner = new.owner or actor
    if policy.team and policy.member(owner) is None:
        raise RuleError(f"owner '{owner}' is not on the team in policy.yaml", fix="pick a listed member")
    if actor in new.subject_staff:
        raise RuleError(
            f"{actor} is named in the complaint and may not record it (recusal)",
            fix="ask a colleague to open it with --as",
        )
    if owner in new.subject_staff:
        raise RuleError(
            f"owner {owner} is named in the complaint and may not own it (recusal)",
            fix="give another --owner",
        )

    notices = []
    repeat_of = None
    same_matter = [c for c in earlier if c.get("category") == new.category]
    final = [c for c in same_matter if is_final(policy, c)]
    if final:
        old = final[-1]["id"]
        if not (policy.reopen_final_with_reason and new.reason):
            fix = f"see 'complaintctl show {old}'"
            if policy.reopen_final_with_reason:
                fix += "; to accept it anyway give --reason"
            raise RuleError(
                f"this matter was settled and closed for good in {old} (not accepted again)",
                fix=fix,
            )
    ended = [c for c in same_matter if c.get("resolution")]
    if ended:
        repeat_of = ended[-1]["id"]
        if policy.severity_rank(severity) < policy.severity_rank(policy.repeat_severity):
            severity = policy.repeat_severity
        notices.append(f"repeat complaint: {repeat_of} was about the same matter; severity {severity}")
    still_open = [c["id"] for c in same_matter if not c.get("resolution")]
    if still_open:
        notices.append(f"the customer also has open case(s) on this matter: {', '.join(still_open)}")

    flags = flag_values(new.risk, new.lawsuit, new.media, new.collective, new.cause)
    if new.matter is not None and not new.matter.strip():
        raise UsageError("--matter is empty", fix="give a short tag shared by complaints about one matter")

    customer: dict[str, Any] = {"name": new.customer}
    for key in ("phone", "email", "address", "account"):
        value = getattr(new, key)
        if value:
            customer[key] = value
    stamp = format_time(at)
    case: dict[str, Any] = {
        "schema": SCHEMA,
        "id": case_id,
        "state": policy.initial,
        "severity": severity,
        "urgent": new.urgent,
        "tier": policy.tiers[0].name,
        "owner": owner,
        "channel": new.channel,
        "category": new.category,
        "opened_at": stamp,
        "opened_by": actor,
        "customer": customer,
        "summary": new.summary,
    }
    if new.demand:
        case["demand"] = new.demand
    if new.subject_staff:
        case["subject_staff"] = list(dict.fromkeys(new.subject_staff))  # each person once
    if repeat_of:
        case["repeat_of"] = repeat_of
    if final:
        case["reopen_reason"] = new.reason
    if new.matter:
        case["matter"] = new.matter
    _set_flags(case, flags)
    event: dict[str, Any] = {"at": stamp, "by": actor, "action": "open", "to": policy.initial}
    if flags:
        event["set"] = dict(flags)
    case["events"] = [event]
    me = severity_rules.Peer(case_id, at, frozenset(customer_keys(customer) or {"name:" + new.customer}))
    rule_severity, rises = severity_rules.effective(policy, severity_rules.facts(case), at, [*peers, me])
    if rule_severity != case["severity"]:
        case["severity"] = rule_severity
        notices.append(f"severity {rule_severity}: {rises[0].reason}")
    if peers:
        case["related"] = sorted(p.case_id for p in peers)
    urgent = "urgent " if new.urgent else ""
    change = Change(
        case_id=case_id,
        action="open",
        actor=actor,
        at=at,
        from_state="",
        to_state=policy.initial,
        subject=f"Open {urgent}{new.category} complaint {case_id} ({new.channel})",
        event=event,
        notices=tuple(notices),
    )
    return case, change


def _set_flags(case: dict[str, Any], flags: Mapping[str, Any]) -> None:
    if "cause" in flags:
        case["cause"] = flags["cause"]
    marks = {k: v for k, v in flags.items() if k != "cause"}
    if marks:
        case["flags"] = {**case.get("flags", {}), **marks}


def _choice(value: str, allowed: Iterable[str], what: str, key: str) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise UsageError(
            f"unknown {what} '{value}'",
            fix=f"use one of: {', '.join(allowed)} (policy.yaml: {key})",
        )


# ---------------------------------------------------------------- commands


def note(
    policy: Policy,
    case: Case,
    actor: str,
    at: datetime,
    now: datetime,
    text: str,
    kind: str = "internal",
    channel: str | None = None,
) -> Change:
    _choice(kind, policy.note_kinds, "note kind", "note_kinds")
    if not text.strip():
        raise UsageError("the note is empty", fix="give the note some text")
    if kind == "contact-failed" and channel is None:
        raise UsageError("a failed contact attempt needs --channel", fix="say how you tried: --channel phone")
    if channel is not None:
        _choice(channel, policy.channels, "channel", "channels")
    transition = _prepare(policy, case, "note", actor, at, now, kind)
    return _change(
        case,
        transition,
        "note",
        actor,
        at,
        f"Note {kind} on {case['id']}",
        {"kind": kind, "channel": channel, "text": text},
    )


def propose(
    policy: Policy,
    case: Case,
    actor: str,
    at: datetime,
    now: datetime,
    amount: str | None,
    currency: str,
    kind: str,
    terms: str,
    bottom_line: bool = False,
    charged: str | None = None,
    due: str | None = None,
) -> Change:
    """An offer. Above the proposer's approval limit it waits for approval;
    with --overcharge the amount is the double refund of a billing error."""
    from . import offers

    _choice(kind, policy.offer_kinds, "offer kind", "offer_kinds")
    arithmetic = None
    if charged is not None or due is not None:
        if charged is None or due is None or amount is not None:
            raise UsageError(
                "an overcharge offer needs --charged and --due, and no --amount",
                fix="e.g. --overcharge --charged 180.00 --due 120.00",
            )
        value, arithmetic = offers.double_refund(charged, due, currency, policy)
        if kind not in ("refund", "credit"):  # DOMAIN: prefer account credit
            raise UsageError(
                f"a double refund is paid back, not given as '{kind}'",
                fix="use --kind credit (account credit) or --kind refund",
            )
    elif amount is None:
        raise UsageError("no --amount", fix="give --amount, or --overcharge --charged X --due Y")
    else:
        value = money(amount, currency, policy)
    if not terms.strip():
        raise UsageError("--terms is empty", fix="say what the company will do and by when")
    check_text(terms, "--terms")
    transition = _prepare(policy, case, "propose", actor, at, now)
    offers.check_cap(case, value, currency)
    pending = not offers.covers(offers.limit_of(policy, actor, currency), value)
    previous = list(case.get("offers", ()))
    number = len(previous) + 1
    updates: list[tuple[FieldPath, Any]] = [
        (("offers", i, "status"), "superseded")
        for i, offer in enumerate(previous)
        if offer["status"] in ("open", "pending-approval")
    ]
    offer: dict[str, Any] = {
        "no": number,
        "amount": str(value),
        "currency": currency,
        "kind": kind,
        "terms": terms,
        "status": "pending-approval" if pending else "open",
        "at": format_time(at),
        "by": actor,
    }
    if bottom_line:
        offer["bottom_line"] = True
    if arithmetic is not None:
        offer.update(
            charged=str(money(charged or "", currency, policy)), due=str(money(due or "", currency, policy))
        )
        offer["arithmetic"] = arithmetic
    updates.append((("offers", number - 1), offer))
    change = _change(
        case,
        transition,
        "propose",
        actor,
        at,
        f"Propose {currency} {value} {kind}{' (bottom line)' if bottom_line else ''} on {case['id']}"
        + (" (pending approval)" if pending else ""),
        {"offer": number},
        updates,
    )
    if pending:
        who = offers.approvers(policy, currency, value, {actor, *case.get("subject_staff", ())})
        names = ", ".join(who) or "nobody"
        note = f"offer {number} is above your limit and waits for approval by one of: {names}"
        change = dataclasses.replace(change, notices=(note,))
    return change


def _offer(case: Case, number: int) -> Mapping[str, Any]:
    found: list[Mapping[str, Any]] = [o for o in case.get("offers", ()) if o["no"] == number]
    if not found:
        raise RuleError(
            f"there is no offer {number}", where=case["id"], fix="see the offers with 'complaintctl show'"
        )
    return found[0]


def approve(policy: Policy, case: Case, actor: str, at: datetime, now: datetime, number: int) -> Change:
    """Approve an offer above its proposer's limit: by someone else whose limit covers it."""
    from decimal import Decimal

    from . import offers

    transition = _prepare(policy, case, "approve", actor, at, now)
    offer = _offer(case, number)
    if offer["status"] != "pending-approval":
        raise RuleError(
            f"offer {number} is {offer['status']}, not waiting for approval",
            where=case["id"],
            fix="only an offer above its proposer's limit needs approval",
        )
    if offer["by"] == actor:
        raise RuleError(
            f"{actor} made offer {number} and may not approve it", where=case["id"], fix="ask someone else"
        )
    value = Decimal(offer["amount"])
    if not offers.covers(offers.limit_of(policy, actor, offer["currency"]), value):
        who = offers.approvers(
            policy, offer["currency"], value, {offer["by"], *case.get("subject_staff", ())}
        )
        raise RuleError(
            f"{offer['currency']} {offer['amount']} is above {actor}'s approval limit",
            where=case["id"],
            fix=f"ask one of: {', '.join(who) or 'nobody (raise a limit in policy.yaml)'}",
        )
    index = number - 1
    return _change(
        case,
        transition,
        "approve",
        actor,
        at,
        f"Approve offer {number} ({offer['currency']} {offer['amount']} {offer['kind']}) on {case['id']}",
        {"offer": number},
        [(("offers", index, "status"), "open"), (("offers", index, "approved_by"), actor)],
    )


def refuse(
    policy: Policy,
    case: Case,
    actor: str,
    at: datetime,
    now: datetime,
    number: int,
    reason: str | None = None,
) -> Change:
    """The customer refuses an offer; a refused bottom line caps every later offer."""
    transition = _prepare(policy, case, "refuse", actor, at, now)
    offer = _offer(case, number)
    if offer["status"] != "open":
        raise RuleError(
            f"offer {number} is {offer['status']}; only an open offer can be refused",
            where=case["id"],
            fix="see the offers with 'complaintctl show'",
        )
    capped = " (bottom line: it now caps every later offer)" if offer.get("bottom_line") else ""
    return _change(
        case,
        transition,
        "refuse",
        actor,
        at,
        f"Customer refuses offer {number} ({offer['currency']} {offer['amount']}){capped} on {case['id']}",
        {"offer": number, "reason": reason},
        [(("offers", number - 1, "status"), "refused")],
    )


def _drafts(case: Case) -> list[Mapping[str, Any]]:
    return [e for e in case["events"] if e["action"] == "draft"]


def draft(policy: Policy, case: Case, actor: str, at: datetime, now: datetime, text: str) -> Change:
    """A written reply to the customer, to be signed off before it is sent."""
    if not text.strip():
        raise UsageError("the reply is empty", fix="write the reply text")
    transition = _prepare(policy, case, "draft", actor, at, now)
    number = len(_drafts(case)) + 1
    steps = " then ".join(s.name for s in policy.reply_signoffs) or "nothing"
    change = _change(
        case,
        transition,
        "draft",
        actor,
        at,
        f"Draft written reply {number} on {case['id']}",
        {"draft": number, "text": text},
    )
    return dataclasses.replace(change, notices=(f"draft {number} needs {steps} before it is sent",))


def signoffs_missing(policy: Policy, case: Case) -> tuple[int, list[str]]:
    """The latest draft's number, and the sign-offs it still lacks, in order."""
    drafts = _drafts(case)
    if not drafts:
        return 0, [s.name for s in policy.reply_signoffs]
    number = drafts[-1]["draft"]
    done = [e["signoff"] for e in case["events"] if e["action"] == "signoff" and e.get("draft") == number]
    return number, [s.name for s in policy.reply_signoffs if s.name not in done]


def signoff(policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
    """The next sign-off the latest draft needs, by someone holding its role."""
    transition = _prepare(policy, case, "signoff", actor, at, now)
    number, missing = signoffs_missing(policy, case)
    if number == 0:
        raise RuleError(
            "there is no draft reply to sign off", where=case["id"], fix="write one with 'complaintctl draft'"
        )
    if not missing:
        raise RuleError(
            f"draft {number} is fully signed off", where=case["id"], fix="send it with 'complaintctl send'"
        )
    step = next(s for s in policy.reply_signoffs if s.name == missing[0])
    member = policy.member(actor)
    if member is None or not set(member.roles) & set(step.roles):
        holders = [
            m.id
            for m in policy.team
            if set(m.roles) & set(step.roles) and m.id not in case.get("subject_staff", ())
        ]
        raise RuleError(
            f"draft {number} needs {step.name} next, by someone holding {' or '.join(step.roles)}",
            where=case["id"],
            fix=f"ask one of: {', '.join(holders) or 'nobody (edit policy.yaml)'}",
        )
    earlier = [
        e
        for e in case["events"]
        if e["action"] == "signoff" and e.get("draft") == number and e["by"] == actor
    ]
    if earlier:
        raise RuleError(
            f"{actor} already signed off draft {number} ({earlier[0]['signoff']}); "
            "each sign-off is by another person",
            where=case["id"],
            fix="ask someone else",
        )
    drafted_by = _drafts(case)[-1]["by"]
    if actor == drafted_by:
        raise RuleError(
            f"{actor} wrote draft {number} and may not sign it off", where=case["id"], fix="ask someone else"
        )
    return _change(
        case,
        transition,
        "signoff",
        actor,
        at,
        f"Sign off draft {number} on {case['id']}: {step.name}",
        {"draft": number, "signoff": step.name},
    )


def send(policy: Policy, case: Case, actor: str, at: datetime, now: datetime, channel: str) -> Change:
    """Record that the signed-off written reply went to the customer."""
    _choice(channel, policy.channels, "channel", "channels")
    transition = _prepare(policy, case, "send", actor, at, now)
    number, missing = signoffs_missing(policy, case)
    if number == 0:
        raise RuleError(
            "there is no draft reply to send", where=case["id"], fix="write one with 'complaintctl draft'"
        )
    if missing:
        raise RuleError(
            f"draft {number} cannot go out before {' and '.join(missing)}",
            where=case["id"],
            fix="run 'complaintctl signoff' as the people who hold those roles",
        )
    text = _drafts(case)[-1]["text"]
    return _change(
        case,
        transition,
        "send",
        actor,
        at,
        f"Send written reply {number} on {case['id']} ({channel})",
        {"draft": number, "channel": channel, "text": text},
    )


def withdraw(
    policy: Policy, case: Case, actor: str, at: datetime, now: datetime, number: int, reason: str
) -> Change:
    """The company takes back an offer that is still open or waiting for approval."""
    if not reason.strip():
        raise UsageError("--reason is empty", fix="say why the offer is taken back")
    transition = _prepare(policy, case, "withdraw", actor, at, now)
    offer = _offer(case, number)
    if offer["status"] not in ("open", "pending-approval"):
        raise RuleError(
            f"offer {number} is {offer['status']}; only an open or pending offer can be withdrawn",
            where=case["id"],
            fix="see the offers with 'complaintctl show'",
        )
    return _change(
        case,
        transition,
        "withdraw",
        actor,
        at,
        f"Withdraw offer {number} ({offer['currency']} {offer['amount']}) on {case['id']}",
        {"offer": number, "reason": reason},
        [(("offers", number - 1, "status"), "withdrawn")],
    )


def open_offer(case: Case) -> Mapping[str, Any] | None:
    return next((o for o in reversed(case.get("offers", ())) if o["status"] == "open"), None)


def agree(
    policy: Policy,
    case: Case,
    actor: str,
    at: datetime,
    now: datetime,
    offer_no: int | None = None,
    signed_by: str | None = None,
    channel: str | None = None,
) -> Change:
    transition = _prepare(policy, case, "agree", actor, at, now)
    if channel is not None:
        _choice(channel, policy.channels, "channel", "channels")
    current = open_offer(case)
    if current is None:
        pending = [o for o in case.get("offers", ()) if o["status"] == "pending-approval"]
        if pending:
            raise RuleError(
                f"offer {pending[-1]['no']} waits for approval and cannot be accepted yet",
                where=case["id"],
                fix=f"have it approved first: complaintctl approve {case['id']} {pending[-1]['no']}",
            )
        raise RuleError(
            "there is no open offer to agree to",
            where=case["id"],
            fix="run 'complaintctl propose' first",
        )
    if offer_no is not None and offer_no != current["no"]:
        raise RuleError(
            f"offer {offer_no} is not the open offer (offer {current['no']} is)",
            where=case["id"],
            fix=f"agree to offer {current['no']}, or propose again",
        )
    index = current["no"] - 1
    return _change(
        case,
        transition,
        "agree",
        actor,
        at,
        f"Agree offer {current['no']} ({current['currency']} {current['amount']} {current['kind']})"
        f" on {case['id']}",
        {"offer": current["no"], "signed_by": signed_by, "channel": channel},
        [(("offers", index, "status"), "accepted")],
    )


def escalate(
    policy: Policy,
    case: Case,
    actor: str,
    at: datetime,
    now: datetime,
    reason: str,
    to_user: str | None = None,
) -> Change:
    if not reason.strip():
        raise UsageError("--reason is empty", fix="say why the case goes up")
    transition = _prepare(policy, case, "escalate", actor, at, now)
    names = [t.name for t in policy.tiers]
    current = names.index(case["tier"])
    direct = names.index(policy.direct_tier)
    serious = case["urgent"] or case["severity"] == policy.severities[-1]
    target = direct if serious and current < direct else current + 1
    if target >= len(names):
        raise RuleError(
            f"the case is already at the top tier ({case['tier']})",
            where=case["id"],
            fix="record what happens next with 'complaintctl note'",
        )
    tier = policy.tiers[target]
    updates: list[tuple[FieldPath, Any]] = [(("tier",), tier.name)]
    if to_user is not None:
        member = policy.member(to_user)
        if policy.team and member is None:
            raise RuleError(f"'{to_user}' is not on the team in policy.yaml", fix="pick a listed member")
        if member is not None and not set(member.roles) & set(tier.roles):
            holders = [m.id for m in policy.team if set(m.roles) & set(tier.roles)]
            raise RuleError(
                f"{to_user} does not hold the {tier.name} tier",
                where=case["id"],
                fix=f"escalate to one of: {', '.join(holders) or 'nobody (edit policy.yaml)'}",
            )
        if to_user in case.get("subject_staff", ()):
            raise RuleError(
                f"{to_user} is named in the complaint and may not own it (recusal)",
                where=case["id"],
                fix="escalate to someone else",
            )
        updates.append((("owner",), to_user))
    to_text = f" ({to_user})" if to_user else ""
    return _change(
        case,
        transition,
        "escalate",
        actor,
        at,
        f"Escalate {case['id']} to {tier.name}{to_text}",
        {"tier_from": case["tier"], "tier_to": tier.name, "assignee": to_user, "reason": reason},
        updates,
    )


def close(
    policy: Policy,
    case: Case,
    actor: str,
    at: datetime,
    now: datetime,
    resolution: str,
    text: str | None = None,
    executed: bool = False,
) -> Change:
    _choice(resolution, policy.resolutions, "resolution", "resolutions")
    transition = _prepare(policy, case, "close", actor, at, now)
    spec = policy.resolutions[resolution]
    if spec.requires_state and case["state"] != spec.requires_state:
        raise RuleError(
            f"resolution '{resolution}' needs the case to be {spec.requires_state} (it is {case['state']})",
            where=case["id"],
            fix="record the customer's acceptance with 'complaintctl agree' first",
        )
    if executed and not spec.final_when_executed:
        raise UsageError(
            f"--executed applies to a settlement, not to resolution '{resolution}'",
            fix="drop --executed",
        )
    if spec.final_when_executed and not executed:
        # DOMAIN: carry out (落实), then close (结案): closing says it was done.
        raise RuleError(
            f"a case is closed as '{resolution}' only once the agreement has been carried out",
            where=case["id"],
            fix="close with --executed when the refund is paid or the repair done",
        )
    updates: list[tuple[FieldPath, Any]] = [
        (("resolution",), resolution),
        (("closed_at",), format_time(at)),
    ]
    if spec.final_when_executed:
        updates.append((("executed",), executed))
    return _change(
        case,
        transition,
        "close",
        actor,
        at,
        f"Close {case['id']} as {resolution}" + (" (executed)" if executed else ""),
        {"resolution": resolution, "executed": executed or None, "text": text},
        updates,
    )


def followup(
    policy: Policy,
    case: Case,
    actor: str,
    at: datetime,
    now: datetime,
    satisfaction: int | None = None,
    unreachable: bool = False,
    text: str | None = None,
) -> Change:
    if (satisfaction is None) == (not unreachable):
        raise UsageError("give either --satisfaction 1..5 or --unreachable", fix="say how the follow-up went")
    if satisfaction is not None and not 1 <= satisfaction <= 5:
        raise UsageError(f"--satisfaction {satisfaction} is outside 1..5", fix="use 1 (worst) to 5 (best)")
    transition = _prepare(policy, case, "followup", actor, at, now)
    if unreachable:
        missing = unreachable_missing(policy, case, at)
        if missing:
            raise RuleError(
                f"cannot record the customer as unreachable yet: {missing}",
                where=case["id"],
                fix=(
                    "record a written notice with 'note --kind notice --channel sms' and each failed "
                    "attempt with 'note --kind contact-failed --channel phone'"
                ),
            )
    outcome = f"satisfaction {satisfaction}/5" if satisfaction is not None else "customer unreachable"
    updates: list[tuple[FieldPath, Any]] = []
    if satisfaction is not None:
        updates.append((("satisfaction",), satisfaction))
    return _change(
        case,
        transition,
        "followup",
        actor,
        at,
        f"Follow up {case['id']}: {outcome}",
        {"satisfaction": satisfaction, "unreachable": unreachable or None, "text": text},
        updates,
    )


def unreachable_missing(policy: Policy, case: Case, at: datetime) -> str | None:
    """What is still missing before 'customer unreachable' may be recorded.

    DOMAIN: a written notice, then at least N further attempts within a
    window after it, each at least ``apart`` after the previous one counted.
    Only attempts since the case was last closed count.
    """
    rule = policy.unreachable
    if rule.attempts == 0:
        return None
    events = list(case["events"])
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
    return f"{have} at least {_hours(rule.apart_s)} apart; next allowed after {format_time(nxt)}"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h"


def wait(policy: Policy, case: Case, actor: str, at: datetime, now: datetime, reason: str) -> Change:
    if not reason.strip():
        raise UsageError("--reason is empty", fix="say what the customer has to do")
    transition = _prepare(policy, case, "wait", actor, at, now)
    return _change(
        case, transition, "wait", actor, at, f"Wait on the customer for {case['id']}", {"reason": reason}
    )


def resume(
    policy: Policy, case: Case, actor: str, at: datetime, now: datetime, text: str | None = None
) -> Change:
    transition = _prepare(policy, case, "resume", actor, at, now)
    return _change(case, transition, "resume", actor, at, f"Resume {case['id']}", {"text": text})


def flag(
    policy: Policy,
    case: Case,
    actor: str,
    at: datetime,
    now: datetime,
    values: Mapping[str, Any],
    reason: str,
) -> Change:
    """Record facts that bear on severity: lawsuit, media, risk, collective, cause."""
    if not values:
        raise UsageError("nothing to flag", fix="give --lawsuit, --media, --risk, --collective N or --cause")
    if not reason.strip():
        raise UsageError("--reason is empty", fix="say what happened")
    transition = _prepare(policy, case, "flag", actor, at, now)
    updates: list[tuple[FieldPath, Any]] = []
    if "cause" in values:
        updates.append((("cause",), values["cause"]))
    for key, value in values.items():
        if key != "cause":
            updates.append((("flags", key), value))
    words = ", ".join(f"{k} {v}" if not isinstance(v, bool) else k for k, v in values.items())
    return _change(
        case,
        transition,
        "flag",
        actor,
        at,
        f"Flag {case['id']}: {words}",
        {"set": dict(values), "reason": reason},
        updates,
    )


def lower(
    policy: Policy, case: Case, actor: str, at: datetime, now: datetime, to: str, reason: str
) -> Change:
    """Lower severity explicitly (the service has already recorded any rise)."""
    current = case["severity"]
    _choice(to, policy.severities, "severity", "severities")
    if not reason.strip():
        raise UsageError("--reason is empty", fix="say why the case is less serious than the rules say")
    transition = _prepare(policy, case, "lower", actor, at, now)
    if policy.severity_rank(to) >= policy.severity_rank(current):
        raise RuleError(
            f"severity is {current}; {to} is not lower",
            where=case["id"],
            fix="severity rises by itself; 'lower' only brings it down",
        )
    return _change(
        case,
        transition,
        "lower",
        actor,
        at,
        f"Lower severity of {case['id']} from {current} to {to}",
        {"severity_from": current, "severity": to, "reason": reason},
        [(("severity",), to)],
    )


def record_rise(case: Case, actor: str, at: datetime, to: str, reasons: Sequence[str]) -> Change:
    """The rise the rules made since the last change, written down as an event."""
    return Change(
        case_id=case["id"],
        action="severity",
        actor=actor,
        at=at,
        from_state=case["state"],
        to_state=case["state"],
        subject=f"Severity of {case['id']} rises to {to}",
        event={
            "at": format_time(at),
            "by": actor,
            "action": "severity",
            "severity_from": case["severity"],
            "severity": to,
            "reason": "; ".join(reasons),
        },
        updates=((("severity",), to),),
    )


def archive(policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
    transition = _prepare(policy, case, "archive", actor, at, now)
    return _change(case, transition, "archive", actor, at, f"Archive {case['id']}", {})


def reopen(policy: Policy, case: Case, actor: str, at: datetime, now: datetime, reason: str) -> Change:
    if not reason.strip():
        raise UsageError("--reason is empty", fix="say why the case is reopened")
    transition = _prepare(policy, case, "reopen", actor, at, now)
    if is_final(policy, case):
        raise RuleError(
            f"the case ended as '{case['resolution']}' and cannot be reopened (not accepted again)",
            where=case["id"],
            fix="record new facts with 'complaintctl note'",
        )
    updates: list[tuple[FieldPath, Any]] = [(("resolution",), None), (("closed_at",), None)]
    return _change(case, transition, "reopen", actor, at, f"Reopen {case['id']}", {"reason": reason}, updates)


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
