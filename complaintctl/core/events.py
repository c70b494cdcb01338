"""Typed events: one class per action a case records.

Each event holds the fields its command takes, ``decide`` checks them
against the policy and the case (the guard) and returns the ``Change`` it
makes (the effect, the event record to append, the commit's subject); and
``from_record`` reads the same event back from a case file, so ``replay``,
``verify``, ``sync``'s merge and the state-machine tests re-run exactly what
a live command ran. ``EVENTS`` maps each recorded ``action`` to its class.

Pure: no file, git or clock. The guards shared by several events live in
``lifecycle``.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Self, dataclass_transform

from complaintctl.core import severity as severity_rules
from complaintctl.core.eventlog import event_key, retracted
from complaintctl.core.lifecycle import (
    Case,
    Change,
    FieldPath,
    check_actor,
    check_member,
    check_not_subject,
    check_owner,
    check_time,
    choice,
    drafts,
    find_offer,
    flag_values,
    is_final,
    is_owner_or_above,
    is_subject,
    make_change,
    open_offer,
    prepare,
    set_flags,
    signoffs_missing,
    tier_holders,
    unreachable_missing,
)
from complaintctl.core.policy import CAUSES, CONTACT_FIELDS, CORRECTABLE, Policy
from complaintctl.core.records import (
    SCHEMA,
    check_email,
    check_phone,
    check_text,
    customer_identity,
    customer_keys,
    matter_key,
    money,
    refuse_blank,
    require_text,
)
from complaintctl.core.times import format_time, parse_time
from complaintctl.errors import RuleError, UsageError

Record = Mapping[str, Any]
# Offer numbers as one side wrote them -> as they are in the replayed case.
Renumber = Callable[[int], int]


def require_roles(
    policy: Policy, actor: str, roles: Sequence[str], doing: str, where: str | None, key: str
) -> None:
    """A rule of who may do what (a key of policy.yaml's rules:): refused,
    suggesting only people who hold one of ``roles``."""
    if roles and not policy.holds_any(actor, roles):
        raise RuleError(
            f"only {' or '.join(roles)} may {doing}",
            where=where,
            fix=f"ask one of: {', '.join(policy.holders(roles)) or 'nobody'} (policy.yaml: rules.{key})",
        )


def check_cause(
    policy: Policy, case_id: str | None, cause: str | None, actor: str, was: str | None = None
) -> None:
    """Who may set a cause, and who may change one recorded before, is
    policy (rules.cause_roles, rules.cause_undo_roles): an agent may not call
    a case 'external' to keep it from turning hot, nor undo 'internal' to
    close it as outside our responsibility (docs/domain.md#responsibility)."""
    roles = policy.rules.cause_roles.get(cause or "", ())
    require_roles(policy, actor, roles, f"set the cause to '{cause}'", case_id, "cause_roles")
    if was and cause != was:
        undo = policy.rules.cause_undo_roles.get(was, ())
        require_roles(policy, actor, undo, f"change the cause from '{was}'", case_id, "cause_undo_roles")


def check_correct(policy: Policy, case_id: str, name: str, actor: str) -> None:
    """Who may correct a field is policy (rules.correct_roles): un-marking
    'urgent' clears its two-hour limit and any breach of it."""
    roles = policy.rules.correct_roles.get(name, ())
    require_roles(policy, actor, roles, f"correct '{name}'", case_id, "correct_roles")


OPEN_RECUSED_FIX = "a colleague opens it, in their own name"


def same_number(number: int) -> int:
    return number


def offer_details(source: Case, number: int) -> Mapping[str, Any]:
    """An offer as the case an event was read from lists it."""
    for offer in source.get("offers", ()):
        if offer["no"] == number:
            return dict(offer)
    raise RuleError(f"event proposes offer {number}, which the case does not list", where=source["id"])


@dataclass_transform(kw_only_default=False)
class Event:
    """One action on one case: its fields, its guard and effect (``decide``).

    Subclasses declare their fields as annotated class attributes, in order,
    with defaults, as a frozen dataclass would. They are built by this class
    instead of ``@dataclass``: 24 generated classes cost ~16 ms at every start
    of the tool (measured), and every changing command imports them all.
    mypy reads them as dataclasses (``dataclass_transform``).
    """

    action: ClassVar[str]
    _fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = inspect.get_annotations(cls)  # the class's own, as written (strings)
        names = [n for n, kind in own.items() if not str(kind).startswith(("ClassVar", "_"))]
        cls._fields = (*cls._fields, *(n for n in names if not n.startswith("_")))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(self._fields):
            raise TypeError(f"{type(self).__name__} takes {len(self._fields)} fields, got {len(args)}")
        values = dict(zip(self._fields, args, strict=False))
        for name, value in kwargs.items():
            if name not in self._fields or name in values:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated field '{name}'")
            values[name] = value
        for name in self._fields:
            if name not in values:
                if not hasattr(type(self), name):
                    raise TypeError(f"{type(self).__name__}: missing field '{name}'")
                values[name] = getattr(type(self), name)
            object.__setattr__(self, name, values[name])

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot set '{name}'")

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Event)
            and type(other) is type(self)
            and self.field_values() == other.field_values()
        )

    def __hash__(self) -> int:
        return hash((type(self), tuple(self.field_values().items())))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.field_values().items())})"

    def field_values(self) -> dict[str, Any]:
        """The fields and their values, in order."""
        return {name: getattr(self, name) for name in self._fields}

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed."""
        return type(self)(**{**self.field_values(), **changes})

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        raise NotImplementedError

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Event:
        """The event as recorded in ``e``; ``source`` is the case it was read
        from (it holds the details of the offers it proposed), ``offers``
        renumbers the offers it names when a merge numbered them anew."""
        raise NotImplementedError


def same_matter_as(policy: Policy, new: Open, old: Case, at: datetime) -> bool:
    """Whether an earlier case of the customer was about the matter of ``new``
    (docs/domain.md#not-accepted-again): the matter tag when both carry one;
    else the same category, within rules.same_matter_within of its end."""
    if new.matter and old.get("matter"):
        return matter_key(new.matter) == matter_key(str(old["matter"]))
    if old.get("category") != new.category:
        return False
    window = policy.rules.same_matter_within_s
    if window is None:
        return True
    ended = old.get("closed_at") or old["opened_at"]
    return (at - datetime.fromisoformat(ended)).total_seconds() <= window


def settled_in(policy: Policy, same_matter: Sequence[Case]) -> tuple[str, str] | None:
    """(the case, how) where a matter was settled, of a customer's earlier
    cases on it (index rows): closed for good, or an offer accepted and not
    yet closed (a second case paid a second time); None if neither."""
    final = [c for c in same_matter if is_final(policy, c)]
    if final:
        return final[-1]["id"], f"was settled and closed for good in {final[-1]['id']}"
    settling = [c for c in same_matter if not c.get("resolution") and c.get("settlement")]
    if settling:
        old = settling[-1]["id"]
        return old, f"is being settled in {old}: the customer accepted an offer there"
    return None


def missing_on_open(policy: Policy, new: Open) -> list[str]:
    """What policy wants a complaint to carry and this one lacks (docs/domain.md#record):
    by default the demand (诉求) and one way to reach the customer. 'open'
    records the complaint anyway (first contact is never turned away) and says
    what is missing; 'propose' waits for the demand."""
    required = policy.rules.required_on_open
    missing = []
    if "demand" in required and not new.demand:
        missing.append("what the customer asks for (--demand)")
    if "contact" in required and not any(getattr(new, key) for key in CONTACT_FIELDS):
        missing.append("a way to reach the customer (--phone, --email, --address or --account)")
    missing += [
        f"the customer's {key} (--{key})"
        for key in CONTACT_FIELDS
        if key in required and not getattr(new, key)
    ]
    return missing


class Open(Event):
    """A new complaint: the fields of ``open``, as typed (validated in ``decide_open``)."""

    action: ClassVar[str] = "open"
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
    outside: bool = False

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        raise TypeError("'open' makes a case: use decide_open")

    def decide_open(
        self,
        policy: Policy,
        case_id: str,
        actor: str,
        at: datetime,
        now: datetime,
        earlier: Sequence[Case] = (),
        peers: Sequence[severity_rules.Peer] = (),
        caps: Sequence[Mapping[str, Any]] = (),
    ) -> tuple[dict[str, Any], Change]:
        """A new case record, and its 'open' change. ``earlier``: cases of the
        same customer (by ``customer_keys``), to find repeats and final outcomes;
        ``peers``: other customers' cases on the same category and ``matter``;
        ``caps``: the refused bottom lines of the customer's earlier cases on
        the same matter (``offers.cap_of``): the lowest caps this case too."""
        new = self
        check_actor(policy, actor)
        check_time(None, at, now)
        choice(new.channel, policy.channels, "channel", "channels")
        choice(new.category, policy.categories, "category", "categories")
        severity = new.severity or policy.default_severity
        choice(severity, policy.severities, "severity", "severities")
        for text, what in ((new.customer, "--customer"), (new.summary, "--summary")):
            require_text(text, what, f"give {what} some text")
        optional = {
            key: getattr(new, key)
            for key in ("phone", "email", "address", "account", "demand", "owner", "reason", "matter")
        }
        for key, value in optional.items():
            refuse_blank(value, f"--{key}")
        for key, value in {"customer": new.customer, "summary": new.summary, **optional}.items():
            if value is not None:
                check_text(value, f"--{key}")
        for staff in new.subject_staff:
            require_text(staff, "--subject-staff", "name the member of staff")
            check_text(staff, "--subject-staff")
        if new.phone:
            check_phone(new.phone)
        if new.email:
            check_email(new.email)
        check_cause(policy, None, new.cause, actor)
        owner = new.owner or actor
        check_member(policy, owner, "owner ", "pick a listed member")
        check_not_subject(new.subject_staff, actor, "record it", OPEN_RECUSED_FIX)
        check_not_subject(new.subject_staff, owner, "own it", "give another --owner", who="owner ")

        notices = []
        missing = missing_on_open(policy, new)
        if missing:
            notices.append(
                f"not yet recorded: {'; '.join(missing)}; "
                f"add it with 'complaintctl correct {case_id} FIELD VALUE'"
            )
        repeat_of = None
        same_matter = [c for c in earlier if same_matter_as(policy, new, c, at)]
        settled = settled_in(policy, same_matter)
        if settled and not (policy.reopen_final_with_reason and new.reason):
            old, what = settled
            fix = f"see 'complaintctl show {old}'"
            if policy.reopen_final_with_reason:
                fix += "; to accept it anyway give --reason"
            raise RuleError(f"this matter {what} (not accepted again)", fix=fix)
        ended = [c for c in same_matter if c.get("resolution")]
        if ended:
            repeat_of = ended[-1]["id"]
            if policy.severity_rank(severity) < policy.severity_rank(policy.repeat_severity):
                severity = policy.repeat_severity
            notices.append(f"repeat complaint: {repeat_of} was about the same matter; severity {severity}")
        still_open = [c["id"] for c in same_matter if not c.get("resolution")]
        if still_open:
            notices.append(f"the customer also has open case(s) on this matter: {', '.join(still_open)}")

        flags = flag_values(new.risk, new.lawsuit, new.media, new.collective, new.cause, new.outside)
        if new.matter is not None and not new.matter.strip():
            raise UsageError(
                "--matter is empty", fix="give a short tag shared by complaints about one matter"
            )

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
        cap = min(caps, key=lambda c: Decimal(c["amount"]), default=None)
        if cap is not None:  # docs/domain.md#bottom-line: the cap follows the matter
            case["cap"] = dict(cap)
            notices.append(
                f"the bottom line {cap['currency']} {cap['amount']} {cap['status']} in {cap['case']} "
                "caps every offer on this case"
            )
        if settled:
            case["reopen_reason"] = new.reason
        if new.matter:
            case["matter"] = new.matter
        set_flags(case, flags)
        event: dict[str, Any] = {"at": stamp, "by": actor, "action": "open", "to": policy.initial}
        if flags:
            event["set"] = dict(flags)
        case["events"] = [event]
        me = severity_rules.Peer(case_id, at, customer_identity(customer_keys(customer), new.customer))
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

    @classmethod
    def from_case(cls, case: Case) -> Open:
        """The 'open' that made ``case`` as first recorded (for replay)."""
        customer = case["customer"]
        flags = case.get("flags", {})
        return cls(
            customer=customer["name"],
            channel=case["channel"],
            category=case["category"],
            summary=case["summary"],
            phone=customer.get("phone"),
            email=customer.get("email"),
            address=customer.get("address"),
            account=customer.get("account"),
            demand=case.get("demand"),
            urgent=bool(case.get("urgent")),
            severity=case["severity"],
            subject_staff=tuple(case.get("subject_staff", ())),
            owner=case["owner"],
            reason=case.get("reopen_reason"),
            matter=case.get("matter"),
            cause=case.get("cause"),
            risk=bool(flags.get("risk")),
            lawsuit=bool(flags.get("lawsuit")),
            media=bool(flags.get("media")),
            collective=flags.get("collective"),
            outside=bool(flags.get("outside")),
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Open:
        return cls.from_case(source)


class Note(Event):
    action: ClassVar[str] = "note"
    text: str
    kind: str = "internal"
    channel: str | None = None

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        text, kind, channel = self.text, self.kind, self.channel
        choice(kind, policy.note_kinds, "note kind", "note_kinds")
        if not text.strip():
            raise UsageError("the note is empty", fix="give the note some text")
        if kind == "contact-failed" and channel is None:
            raise UsageError(
                "a failed contact attempt needs --channel", fix="say how you tried: --channel phone"
            )
        if channel is not None:
            choice(channel, policy.channels, "channel", "channels")
        written = policy.written_channels
        if kind == "notice" and written is not None and channel not in written:
            # docs/domain.md#unreachable: the notice before 'unreachable' is in writing.
            raise RuleError(
                f"a notice goes to the customer in writing, not {'by ' + channel if channel else 'unsaid'}",
                where=case["id"],
                fix=f"give --channel {' or '.join(written)} (policy.yaml: written_channels)",
            )
        if kind == "reply" and channel in policy.rules.signed_off_replies and policy.reply_signoffs:
            # docs/domain.md#written-replies: a written answer is reviewed before it goes out.
            raise RuleError(
                f"a reply by {channel} goes out through draft, sign-off and send",
                where=case["id"],
                fix=f"write it with 'complaintctl draft {case['id']} --text ...' (policy.yaml: "
                "rules.signed_off_replies)",
            )
        transition = prepare(policy, case, "note", actor, at, now, kind)
        return make_change(
            case,
            transition,
            "note",
            actor,
            at,
            f"Note {kind} on {case['id']}",
            {"kind": kind, "channel": channel, "text": text},
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Note:
        return cls(text=e["text"], kind=e["kind"], channel=e.get("channel"))


class Propose(Event):
    """An offer. Above the proposer's approval limit it waits for approval;
    with --overcharge the amount is the double refund of a billing error."""

    action: ClassVar[str] = "propose"
    amount: str | None
    currency: str | None  # None: the policy's first currency
    kind: str
    terms: str
    bottom_line: bool = False
    charged: str | None = None
    due: str | None = None
    not_overcharge: str | None = None  # why money on a billing case is not a double refund

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        amount, currency, kind, terms, bottom_line, charged, due = (
            self.amount,
            self.currency or next(iter(policy.currencies)),
            self.kind,
            self.terms,
            self.bottom_line,
            self.charged,
            self.due,
        )
        from complaintctl.core import offers

        choice(kind, policy.offer_kinds, "offer kind", "offer_kinds")
        if "demand" in policy.rules.required_on_open and not case.get("demand"):
            # docs/domain.md#record: an offer answers what the customer asked for.
            raise RuleError(
                "the customer's demand is not recorded; an offer answers it",
                where=case["id"],
                fix=f"record it first: complaintctl correct {case['id']} demand TEXT --reason ...",
            )
        arithmetic = None
        if charged is not None or due is not None:
            if charged is None or due is None or amount is not None:
                raise UsageError(
                    "an overcharge offer needs --charged and --due, and no --amount",
                    fix="e.g. --overcharge --charged 180.00 --due 120.00",
                )
            value, arithmetic = offers.double_refund(charged, due, currency, policy)
            if kind not in ("refund", "credit"):  # docs/domain.md#double-refund: prefer account credit
                raise UsageError(
                    f"a double refund is paid back, not given as '{kind}'",
                    fix="use --kind credit (account credit) or --kind refund",
                )
        elif amount is None:
            raise UsageError("no --amount", fix="give --amount, or --overcharge --charged X --due Y")
        else:
            value = money(amount, currency, policy)
            if case["category"] in policy.rules.overcharge_categories and not self.not_overcharge:
                # docs/domain.md#double-refund: an overcharge is paid back twice, never once.
                raise RuleError(
                    f"money on a {case['category']} complaint is the double refund of an overcharge, "
                    "or is said not to be one",
                    where=case["id"],
                    fix="propose --overcharge --charged X --due Y, or say why it is not an overcharge: "
                    "--not-overcharge 'the bill was right; goodwill'",
                )
        if self.not_overcharge is not None:
            if arithmetic is not None:
                raise UsageError("--overcharge and --not-overcharge contradict each other", fix="give one")
            require_text(self.not_overcharge, "--not-overcharge", "say why this is not an overcharge")
            check_text(self.not_overcharge, "--not-overcharge")
        require_text(terms, "--terms", "say what the company will do and by when")
        check_text(terms, "--terms")
        transition = prepare(policy, case, "propose", actor, at, now)
        offers.check_cap(case, value, currency, policy.rules.bottom_line_withdrawn_caps)
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
                charged=str(money(charged or "", currency, policy)),
                due=str(money(due or "", currency, policy)),
            )
            offer["arithmetic"] = arithmetic
        if self.not_overcharge is not None:
            offer["not_overcharge"] = self.not_overcharge
        updates.append((("offers", number - 1), offer))
        change = make_change(
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

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Propose:
        offer = offer_details(source, e["offer"])
        overcharge = "arithmetic" in offer
        return cls(
            amount=None if overcharge else offer["amount"],
            currency=offer["currency"],
            kind=offer["kind"],
            terms=offer["terms"],
            bottom_line=bool(offer.get("bottom_line")),
            charged=offer.get("charged") if overcharge else None,
            due=offer.get("due") if overcharge else None,
            not_overcharge=offer.get("not_overcharge"),
        )


class Approve(Event):
    """Approve an offer above its proposer's limit: by someone else whose limit covers it."""

    action: ClassVar[str] = "approve"
    number: int

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        (number,) = (self.number,)
        from decimal import Decimal

        from complaintctl.core import offers

        transition = prepare(policy, case, "approve", actor, at, now)
        offer = find_offer(case, number)
        if offer["status"] != "pending-approval":
            raise RuleError(
                f"offer {number} is {offer['status']}, not waiting for approval",
                where=case["id"],
                fix="only an offer above its proposer's limit needs approval",
            )
        if offer["by"] == actor:
            raise RuleError(
                f"{actor} made offer {number} and may not approve it",
                where=case["id"],
                fix="ask someone else",
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
        return make_change(
            case,
            transition,
            "approve",
            actor,
            at,
            f"Approve offer {number} ({offer['currency']} {offer['amount']} {offer['kind']}) on {case['id']}",
            {"offer": number},
            [(("offers", index, "status"), "open"), (("offers", index, "approved_by"), actor)],
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Approve:
        return cls(number=offers(e["offer"]))


class Refuse(Event):
    """The customer refuses an offer; a refused bottom line caps every later offer."""

    action: ClassVar[str] = "refuse"
    number: int
    reason: str | None = None

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        number, reason = self.number, self.reason
        transition = prepare(policy, case, "refuse", actor, at, now)
        offer = find_offer(case, number)
        if offer["status"] != "open":
            raise RuleError(
                f"offer {number} is {offer['status']}; only an open offer can be refused",
                where=case["id"],
                fix="see the offers with 'complaintctl show'",
            )
        capped = " (bottom line: it now caps every later offer)" if offer.get("bottom_line") else ""
        return make_change(
            case,
            transition,
            "refuse",
            actor,
            at,
            f"Customer refuses offer {number} ({offer['currency']} {offer['amount']}){capped}"
            f" on {case['id']}",
            {"offer": number, "reason": reason},
            [(("offers", number - 1, "status"), "refused")],
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Refuse:
        return cls(number=offers(e["offer"]), reason=e.get("reason"))


class Draft(Event):
    """A written reply to the customer, to be signed off before it is sent."""

    action: ClassVar[str] = "draft"
    text: str

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        (text,) = (self.text,)
        if not text.strip():
            raise UsageError("the reply is empty", fix="write the reply text")
        transition = prepare(policy, case, "draft", actor, at, now)
        number = len(drafts(case)) + 1
        steps = " then ".join(s.name for s in policy.reply_signoffs) or "nothing"
        change = make_change(
            case,
            transition,
            "draft",
            actor,
            at,
            f"Draft written reply {number} on {case['id']}",
            {"draft": number, "text": text},
        )
        return dataclasses.replace(change, notices=(f"draft {number} needs {steps} before it is sent",))

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Draft:
        return cls(text=e["text"])


class Signoff(Event):
    """The next sign-off the latest draft needs, by someone holding its role."""

    action: ClassVar[str] = "signoff"

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        transition = prepare(policy, case, "signoff", actor, at, now)
        number, missing = signoffs_missing(policy, case)
        if number == 0:
            raise RuleError(
                "there is no draft reply to sign off",
                where=case["id"],
                fix="write one with 'complaintctl draft'",
            )
        if not missing:
            raise RuleError(
                f"draft {number} is fully signed off",
                where=case["id"],
                fix="send it with 'complaintctl send'",
            )
        step = next(s for s in policy.reply_signoffs if s.name == missing[0])
        member = policy.member(actor)
        signed = {
            e["by"].casefold()
            for e in case["events"]
            if e["action"] == "signoff" and e.get("draft") == number
        }
        drafted_by = drafts(case)[-1]["by"]
        if member is None or not set(member.roles) & set(step.roles):
            # Only people who could give it: not the writer, not one who signed already.
            holders = [
                m.id
                for m in policy.team
                if set(m.roles) & set(step.roles)
                and not is_subject(case.get("subject_staff", ()), m.id)
                and m.id.casefold() not in signed | {drafted_by.casefold()}
            ]
            if not policy.team:
                fix = "nobody can: the team in policy.yaml is empty; add people with 'complaintctl team add'"
            else:
                fix = (
                    f"ask one of: {', '.join(holders) or 'nobody (give the role to someone in policy.yaml)'}"
                )
            raise RuleError(
                f"draft {number} needs {step.name} next, by someone holding {' or '.join(step.roles)}",
                where=case["id"],
                fix=fix,
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
        if actor == drafted_by:
            raise RuleError(
                f"{actor} wrote draft {number} and may not sign it off",
                where=case["id"],
                fix="ask someone else",
            )
        return make_change(
            case,
            transition,
            "signoff",
            actor,
            at,
            f"Sign off draft {number} on {case['id']}: {step.name}",
            {"draft": number, "signoff": step.name},
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Signoff:
        return cls()


class Send(Event):
    """Record that the signed-off written reply went to the customer."""

    action: ClassVar[str] = "send"
    channel: str

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        (channel,) = (self.channel,)
        choice(channel, policy.channels, "channel", "channels")
        transition = prepare(policy, case, "send", actor, at, now)
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
        text = drafts(case)[-1]["text"]
        return make_change(
            case,
            transition,
            "send",
            actor,
            at,
            f"Send written reply {number} on {case['id']} ({channel})",
            {"draft": number, "channel": channel, "text": text},
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Send:
        return cls(channel=e["channel"])


class Withdraw(Event):
    """The company takes back an offer that is still open or waiting for approval."""

    action: ClassVar[str] = "withdraw"
    number: int
    reason: str

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        number, reason = self.number, self.reason
        require_text(reason, "--reason", "say why the offer is taken back")
        transition = prepare(policy, case, "withdraw", actor, at, now)
        offer = find_offer(case, number)
        if offer["status"] not in ("open", "pending-approval"):
            raise RuleError(
                f"offer {number} is {offer['status']}; only an open or pending offer can be withdrawn",
                where=case["id"],
                fix="see the offers with 'complaintctl show'",
            )
        return make_change(
            case,
            transition,
            "withdraw",
            actor,
            at,
            f"Withdraw offer {number} ({offer['currency']} {offer['amount']}) on {case['id']}",
            {"offer": number, "reason": reason},
            [(("offers", number - 1, "status"), "withdrawn")],
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Withdraw:
        return cls(number=offers(e["offer"]), reason=e["reason"])


class Agree(Event):
    action: ClassVar[str] = "agree"
    offer_no: int | None = None
    signed_by: str | None = None
    channel: str | None = None
    evidence: int = 0  # files of the customer's consent filed with it

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        offer_no, signed_by, channel = self.offer_no, self.signed_by, self.channel
        transition = prepare(policy, case, "agree", actor, at, now)
        consent = policy.rules.consent_from
        if consent and policy.severity_rank(case["severity"]) >= policy.severity_rank(consent):
            # docs/domain.md#consent: a serious case's settlement is signed, and the proof kept.
            missing = [w for w, ok in (("--signed-by", signed_by), ("--evidence", self.evidence)) if not ok]
            if missing:
                raise RuleError(
                    f"a {case['severity']} case's agreement needs who signed it and proof of consent",
                    where=case["id"],
                    fix=f"give {' and '.join(missing)} (policy.yaml: rules.consent_from)",
                )
        if channel is not None:
            choice(channel, policy.channels, "channel", "channels")
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
        return make_change(
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

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Agree:
        return cls(
            offer_no=offers(e["offer"]),
            signed_by=e.get("signed_by"),
            channel=e.get("channel"),
            evidence=len(e.get("evidence") or ()),
        )


class Escalate(Event):
    action: ClassVar[str] = "escalate"
    reason: str
    to_user: str | None = None

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        reason, to_user = self.reason, self.to_user
        require_text(reason, "--reason", "say why the case goes up")
        transition = prepare(policy, case, "escalate", actor, at, now)
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
            member = check_member(policy, to_user, fix="pick a listed member")
            if member is not None and not set(member.roles) & set(tier.roles):
                holders = tier_holders(policy, case, tier.name)
                raise RuleError(
                    f"{to_user} does not hold the {tier.name} tier",
                    where=case["id"],
                    fix=f"escalate to one of: {', '.join(holders) or 'nobody (edit policy.yaml)'}",
                )
            check_not_subject(
                case.get("subject_staff", ()), to_user, "own it", "escalate to someone else", case["id"]
            )
        elif not policy.owner_only:
            pass  # first-contact ownership is off (an older policy): the owner stays
        elif (
            policy.team
            and not is_subject(case.get("subject_staff", ()), actor)
            and policy.holds_tier(actor, tier.name)
        ):
            to_user = actor  # who escalates to a tier they hold takes the case on
        elif policy.team:
            # docs/domain.md#first-contact: a case always has a responsible owner at its tier.
            holders = tier_holders(policy, case, tier.name)
            raise RuleError(
                f"escalating to {tier.name} hands the case to someone who holds that tier",
                where=case["id"],
                fix=f"give --to one of: {', '.join(holders) or 'nobody (edit policy.yaml)'}",
            )
        if to_user is not None:
            updates.append((("owner",), to_user))
        to_text = f" ({to_user})" if to_user else ""
        return make_change(
            case,
            transition,
            "escalate",
            actor,
            at,
            f"Escalate {case['id']} to {tier.name}{to_text}",
            {"tier_from": case["tier"], "tier_to": tier.name, "assignee": to_user, "reason": reason},
            updates,
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Escalate:
        return cls(reason=e["reason"], to_user=e.get("assignee"))


class Close(Event):
    action: ClassVar[str] = "close"
    resolution: str
    text: str | None = None
    executed: bool = False
    told: str | None = None  # the channel the customer was told through that a double refund is done

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        resolution, text, executed = self.resolution, self.text, self.executed
        choice(resolution, policy.resolutions, "resolution", "resolutions")
        transition = prepare(policy, case, "close", actor, at, now)
        spec = policy.resolutions[resolution]
        if spec.requires_state and case["state"] != spec.requires_state:
            raise RuleError(
                f"resolution '{resolution}' needs the case to be {spec.requires_state}"
                f" (it is {case['state']})",
                where=case["id"],
                fix="record the customer's acceptance with 'complaintctl agree' first",
            )
        if policy.rules.agreement_binds_close and not (spec.requires_state or spec.final):
            from complaintctl.core.offers import accepted_offer

            accepted = accepted_offer(case)
            if accepted is not None:
                # docs/domain.md#carry-out: an agreement is carried out, not closed around.
                bound = [n for n, r in policy.resolutions.items() if r.requires_state or r.final]
                raise RuleError(
                    f"the customer accepted offer {accepted['no']}: "
                    f"the case cannot be closed as '{resolution}'",
                    where=case["id"],
                    fix=f"carry the agreement out and close it as one of: {', '.join(bound)}",
                )
        if resolution == policy.rules.outside_responsibility and case.get("cause") == "internal":
            # docs/domain.md#responsibility: a fault of ours is never "outside our responsibility".
            raise RuleError(
                f"the cause is recorded as internal (our fault): the case cannot be closed as '{resolution}'",
                where=case["id"],
                fix="close it another way, or correct the cause first (complaintctl correct ID cause ...)",
            )
        if executed and not spec.final_when_executed:
            raise UsageError(
                f"--executed applies to a settlement, not to resolution '{resolution}'",
                fix="drop --executed",
            )
        if spec.final_when_executed and policy.rules.measures_required:
            # docs/domain.md#carry-out: "executed" is a fact of the measures, not a word typed.
            measures = list(case.get("measures", ()))
            if not measures:
                raise RuleError(
                    f"no measures are planned for the agreement; a case is closed as '{resolution}' "
                    "once they are done",
                    where=case["id"],
                    fix=f"plan each with 'complaintctl plan {case['id']} TEXT --by WHO --due 7d'",
                )
            waiting = [m for m in measures if m["status"] != "done"]
            if waiting:
                first = waiting[0]
                raise RuleError(
                    f"{len(waiting)} measure(s) not done yet: measure {first['no']} by {first['by']}, "
                    f"due {first['due'][:16]}",
                    where=case["id"],
                    fix=f"record each when done: complaintctl execute {case['id']} {first['no']}",
                )
            executed = True
        if spec.final_when_executed and not executed:
            # docs/domain.md#carry-out: carry out (落实), then close (结案): closing says it was done.
            raise RuleError(
                f"a case is closed as '{resolution}' only once the agreement has been carried out",
                where=case["id"],
                fix="close with --executed when the refund is paid or the repair done",
            )
        told = self._told(policy, case, executed)
        updates: list[tuple[FieldPath, Any]] = [
            (("resolution",), resolution),
            (("closed_at",), format_time(at)),
        ]
        if spec.final_when_executed:
            updates.append((("executed",), executed))
        return make_change(
            case,
            transition,
            "close",
            actor,
            at,
            f"Close {case['id']} as {resolution}" + (" (executed)" if executed else ""),
            {"resolution": resolution, "executed": executed or None, "text": text, "told": told},
            updates,
        )

    def _told(self, policy: Policy, case: Case, executed: bool) -> str | None:
        """docs/domain.md#double-refund: tell the customer once it is done, and record it."""
        if self.told is None:
            if executed and policy.rules.double_refund_told and _double_refund(case):
                raise RuleError(
                    "a double refund was paid: the record says the customer was told, and how",
                    where=case["id"],
                    fix="tell them, then close with --told CHANNEL (e.g. --told sms)",
                )
            return None
        if not (executed and _double_refund(case)):
            raise UsageError(
                "--told records that the customer was told a double refund was paid; this close settles none",
                fix="drop --told",
            )
        choice(self.told, policy.channels, "channel", "channels")
        return self.told

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Close:
        return cls(
            resolution=e["resolution"],
            text=e.get("text"),
            executed=bool(e.get("executed")),
            told=e.get("told"),
        )


def _double_refund(case: Case) -> bool:
    """The settlement that stands is the double refund of an overcharge."""
    from complaintctl.core.offers import accepted_offer

    offer = accepted_offer(case)
    return bool(offer and offer.get("arithmetic"))


class Followup(Event):
    action: ClassVar[str] = "followup"
    satisfaction: int | None = None
    unreachable: bool = False
    text: str | None = None

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        satisfaction, unreachable, text = self.satisfaction, self.unreachable, self.text
        if (satisfaction is None) == (not unreachable):
            raise UsageError(
                "give either --satisfaction 1..5 or --unreachable", fix="say how the follow-up went"
            )
        if satisfaction is not None and not 1 <= satisfaction <= 5:
            raise UsageError(
                f"--satisfaction {satisfaction} is outside 1..5", fix="use 1 (worst) to 5 (best)"
            )
        transition = prepare(policy, case, "followup", actor, at, now)
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
        return make_change(
            case,
            transition,
            "followup",
            actor,
            at,
            f"Follow up {case['id']}: {outcome}",
            {"satisfaction": satisfaction, "unreachable": unreachable or None, "text": text},
            updates,
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Followup:
        return cls(
            satisfaction=e.get("satisfaction"), unreachable=bool(e.get("unreachable")), text=e.get("text")
        )


class Wait(Event):
    action: ClassVar[str] = "wait"
    reason: str

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        (reason,) = (self.reason,)
        require_text(reason, "--reason", "say what the customer has to do")
        transition = prepare(policy, case, "wait", actor, at, now)
        return make_change(
            case, transition, "wait", actor, at, f"Wait on the customer for {case['id']}", {"reason": reason}
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Wait:
        return cls(reason=e["reason"])


class Resume(Event):
    action: ClassVar[str] = "resume"
    text: str | None = None

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        (text,) = (self.text,)
        transition = prepare(policy, case, "resume", actor, at, now)
        return make_change(case, transition, "resume", actor, at, f"Resume {case['id']}", {"text": text})

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Resume:
        return cls(text=e.get("text"))


class Flag(Event):
    """Record facts that bear on severity: lawsuit, media, risk, collective,
    outside help, cause."""

    action: ClassVar[str] = "flag"
    reason: str
    risk: bool = False
    lawsuit: bool = False
    media: bool = False
    collective: int | None = None
    cause: str | None = None
    outside: bool = False

    def values(self) -> dict[str, Any]:
        """The flags this event sets, validated; only what was given."""
        return flag_values(self.risk, self.lawsuit, self.media, self.collective, self.cause, self.outside)

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        values, reason = self.values(), self.reason
        if not values:
            raise UsageError(
                "nothing to flag", fix="give --lawsuit, --media, --risk, --outside, --collective N or --cause"
            )
        require_text(reason, "--reason", "say what happened")
        transition = prepare(policy, case, "flag", actor, at, now)
        updates: list[tuple[FieldPath, Any]] = []
        if "cause" in values:
            check_cause(policy, case["id"], values["cause"], actor, case.get("cause"))
            updates.append((("cause",), values["cause"]))
        for key, value in values.items():
            if key != "cause":
                updates.append((("flags", key), value))
        words = ", ".join(f"{k} {v}" if not isinstance(v, bool) else k for k, v in values.items())
        return make_change(
            case,
            transition,
            "flag",
            actor,
            at,
            f"Flag {case['id']}: {words}",
            {"set": dict(values), "reason": reason},
            updates,
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Flag:
        values = dict(e["set"])
        return cls(
            reason=e["reason"],
            risk=bool(values.get("risk")),
            lawsuit=bool(values.get("lawsuit")),
            media=bool(values.get("media")),
            collective=values.get("collective"),
            cause=values.get("cause"),
            outside=bool(values.get("outside")),
        )


class Lower(Event):
    """Lower severity explicitly (the service has already recorded any rise)."""

    action: ClassVar[str] = "lower"
    to: str
    reason: str

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        to, reason = self.to, self.reason
        current = case["severity"]
        choice(to, policy.severities, "severity", "severities")
        require_text(reason, "--reason", "say why the case is less serious than the rules say")
        transition = prepare(policy, case, "lower", actor, at, now)
        if policy.severity_rank(to) >= policy.severity_rank(current):
            raise RuleError(
                f"severity is {current}; {to} is not lower",
                where=case["id"],
                fix="severity rises by itself; 'lower' only brings it down",
            )
        roles = policy.rules.lower_roles.get(current, ())
        require_roles(policy, actor, roles, f"lower a {current} case", case["id"], "lower_roles")
        return make_change(
            case,
            transition,
            "lower",
            actor,
            at,
            f"Lower severity of {case['id']} from {current} to {to}",
            {"severity_from": current, "severity": to, "reason": reason},
            [(("severity",), to)],
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Lower:
        return cls(to=e["severity"], reason=e["reason"])


class Archive(Event):
    action: ClassVar[str] = "archive"

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        transition = prepare(policy, case, "archive", actor, at, now)
        return make_change(case, transition, "archive", actor, at, f"Archive {case['id']}", {})

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Archive:
        return cls()


class Reopen(Event):
    action: ClassVar[str] = "reopen"
    reason: str

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        (reason,) = (self.reason,)
        require_text(reason, "--reason", "say why the case is reopened")
        transition = prepare(policy, case, "reopen", actor, at, now)
        if is_final(policy, case):
            raise RuleError(
                f"the case ended as '{case['resolution']}' and cannot be reopened (not accepted again)",
                where=case["id"],
                fix="record new facts with 'complaintctl note'",
            )
        updates: list[tuple[FieldPath, Any]] = [(("resolution",), None), (("closed_at",), None)]
        return make_change(
            case, transition, "reopen", actor, at, f"Reopen {case['id']}", {"reason": reason}, updates
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Reopen:
        return cls(reason=e["reason"])


class Rise(Event):
    """A rise of severity the rules made since the last change, written down
    by the service before the command's own event (never typed by a user)."""

    action: ClassVar[str] = "severity"
    to: str
    reasons: tuple[str, ...]

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        to, reasons = self.to, self.reasons
        if policy.severity_rank(to) <= policy.severity_rank(case["severity"]):
            raise RuleError(
                f"severity rise to {to} when the case is already {case['severity']}", where=case["id"]
            )
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

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Rise:
        return cls(to=e["severity"], reasons=(e["reason"],))


class Assign(Event):
    """Hand the case to a colleague on its tier (首问负责制: the owner stays
    responsible until a recorded hand-over; docs/domain.md#first-contact)."""

    action: ClassVar[str] = "assign"
    to_user: str
    reason: str

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        to_user, reason = self.to_user.strip(), self.reason
        require_text(to_user, "--to", "name the colleague who takes the case on")
        check_text(to_user, "--to")
        require_text(reason, "--reason", "say why the case is handed on")
        transition = prepare(policy, case, "assign", actor, at, now)
        check_owner(policy, case, "assign", actor)
        owner = str(case["owner"])
        if to_user.casefold() == owner.casefold():
            raise RuleError(f"{owner} already owns the case", where=case["id"], fix="name someone else")
        check_member(policy, to_user, fix="pick a listed member")
        holders = tier_holders(policy, case, case["tier"])
        if policy.team and not policy.holds_tier(to_user, case["tier"]):
            raise RuleError(
                f"{to_user} does not hold the {case['tier']} tier the case is at",
                where=case["id"],
                fix=f"hand it to one of: {', '.join(h for h in holders if h != owner) or 'nobody'}, "
                "or escalate it",
            )
        check_not_subject(
            case.get("subject_staff", ()), to_user, "own it", "hand it to someone else", case["id"]
        )
        return make_change(
            case,
            transition,
            "assign",
            actor,
            at,
            f"Hand {case['id']} to {to_user}",
            {"assignee": to_user, "owner_from": owner, "reason": reason},
            [(("owner",), to_user)],
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Assign:
        return cls(to_user=e["assignee"], reason=e["reason"])


class Correct(Event):
    """Correct a recorded fact (a mistyped phone, the wrong category), with a
    reason; the earlier value stays in the event. ``subject-staff`` adds one
    more person the complaint is about (recused from then on)."""

    action: ClassVar[str] = "correct"
    field: str
    value: str
    reason: str

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        name, reason = self.field, self.reason
        if name not in CORRECTABLE:
            raise UsageError(f"'{name}' cannot be corrected", fix=f"correct one of: {', '.join(CORRECTABLE)}")
        require_text(self.value, "the new value", "give the corrected value")
        check_text(self.value, "the new value")
        require_text(reason, "--reason", "say what was wrong")
        transition = prepare(policy, case, "correct", actor, at, now)
        path = CORRECTABLE[name]
        old: Any = case
        for part in path:
            old = old.get(part) if isinstance(old, Mapping) else None
        value: Any = self.value.strip()
        if name == "phone":
            check_phone(value)
        elif name == "email":
            check_email(value)
        elif name == "category":
            choice(value, policy.categories, "category", "categories")
        elif name == "cause":
            choice(value, CAUSES, "cause", "internal (our fault), external, unknown")
            check_cause(policy, case["id"], value, actor, old)
        elif name == "urgent":
            if value not in ("yes", "no"):
                raise UsageError(f"urgent '{value}': say yes or no", fix="complaintctl correct ID urgent yes")
            value = value == "yes"
        check_correct(policy, case["id"], name, actor)
        updates: list[tuple[FieldPath, Any]]
        if name == "subject-staff":
            staff = list(case.get("subject_staff", ()))
            if is_subject(staff, value):
                raise RuleError(
                    f"{value} is already named in the complaint", where=case["id"], fix="nothing to do"
                )
            if is_subject([value], str(case["owner"])):
                raise RuleError(
                    f"{value} owns the case and would be recused",
                    where=case["id"],
                    fix=f"hand it on first: complaintctl assign {case['id']} --to ... --reason ...",
                )
            check_not_subject([value], actor, "name themself", "ask a colleague to correct it")
            old, updates = None, [(("subject_staff", len(staff)), value)]
        else:
            if old == value:
                raise RuleError(f"{name} is already that", where=case["id"], fix="nothing to correct")
            updates = [(path, value)]
        return make_change(
            case,
            transition,
            "correct",
            actor,
            at,
            f"Correct {name} of {case['id']}",
            {"field": name, "value": value, "was": old, "reason": reason},
            updates,
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Correct:
        value = e["value"]
        if isinstance(value, bool):
            value = "yes" if value else "no"
        return cls(field=e["field"], value=str(value), reason=e["reason"])


def due_time(text: str, at: datetime, tz_name: str) -> datetime:
    """'7d', '48h', '90m' after ``at`` (policy.yaml's way of writing a span),
    or a date and time (policy time zone)."""
    from datetime import timedelta

    from complaintctl.core.policy import span_seconds
    from complaintctl.core.times import parse_at

    seconds = span_seconds(text)
    if seconds is None:
        return parse_at(text, tz_name, what="--due")
    try:
        due = at + timedelta(seconds=seconds)
    except OverflowError:  # '99999999d': past any date Python knows
        due = None
    if due is None or due.year > 2999:
        # The same bound as a date given (times.parse_at): a replay reads the due time back as one.
        raise UsageError(f"--due '{text}' ends after the year 2999", fix="give a span of days or weeks")
    return due


class Plan(Event):
    """One measure that carries out the accepted offer (落实, docs/domain.md#carry-out):
    what is done, by whom (a person or a department), and by when."""

    action: ClassVar[str] = "plan"
    text: str
    responsible: str
    due: str  # a time with its offset (the CLI turns '7d' into one)

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        require_text(self.text, "the measure", "say what will be done, e.g. 'Refund CNY 561 to the account'")
        require_text(self.responsible, "--by", "name who carries it out: a person or a department")
        transition = prepare(policy, case, "plan", actor, at, now)
        accepted = [o for o in case.get("offers", ()) if o["status"] == "accepted"]
        if not accepted:
            raise RuleError(
                "no accepted offer to carry out",
                where=case["id"],
                fix="record the customer's acceptance with 'complaintctl agree' first",
            )
        due = due_time(self.due, at, policy.timezone)
        if due <= at:
            raise UsageError(
                f"the measure is due {format_time(due)}, not after it is planned ({format_time(at)})",
                fix="give --due a later time, or a span such as 7d",
            )
        number = len(case.get("measures", ())) + 1
        measure = {
            "no": number,
            "offer": accepted[-1]["no"],
            "text": self.text,
            "by": self.responsible,
            "due": format_time(due),
            "status": "open",
        }
        return make_change(
            case,
            transition,
            "plan",
            actor,
            at,
            f"Plan measure {number} on {case['id']} (by {self.responsible}, due {format_time(due)[:10]})",
            {
                "measure": number,
                "text": self.text,
                "responsible": self.responsible,
                "due_at": format_time(due),
            },
            [(("measures", number - 1), measure)],
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Plan:
        return cls(text=e["text"], responsible=e["responsible"], due=e["due_at"])


class Execute(Event):
    """A planned measure is done: by whom and when (the execution clock stops)."""

    action: ClassVar[str] = "execute"
    number: int
    text: str | None = None
    evidence: int = 0  # files filed with it (service layer)

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        transition = prepare(policy, case, "execute", actor, at, now)
        measures = list(case.get("measures", ()))
        if not 1 <= self.number <= len(measures):
            raise UsageError(
                f"there is no measure {self.number} (the case has {len(measures)})",
                fix=f"see the measures with 'complaintctl show {case['id']}'",
            )
        measure = measures[self.number - 1]
        if measure["status"] == "done":
            raise RuleError(
                f"measure {self.number} was recorded done already ({measure['done_at']})",
                where=case["id"],
                fix="nothing to do",
            )
        index = self.number - 1
        late = at > parse_time(measure["due"])
        return make_change(
            case,
            transition,
            "execute",
            actor,
            at,
            f"Carry out measure {self.number} on {case['id']}" + (" (late)" if late else ""),
            {"measure": self.number, "text": self.text},
            [
                (("measures", index, "status"), "done"),
                (("measures", index, "done_at"), format_time(at)),
                (("measures", index, "done_by"), actor),
            ],
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Execute:
        return cls(number=e["measure"], text=e.get("text"), evidence=len(e.get("evidence") or ()))


# Events that may be taken back, as recorded by mistake. Never a sent letter,
# an offer or its acceptance, a close (a settlement carried out), and nothing
# on an archived case (its lifecycle allows no 'retract').
RETRACTABLE = ("note",)


class Retract(Event):
    """Take back an event recorded by mistake (a note on the wrong case, a
    reply that never happened): it stays in the record, marked, and no clock
    counts it any more."""

    action: ClassVar[str] = "retract"
    target: int | str  # the event's number as 'show' lists it, or its recorded key
    reason: str

    def decide(self, policy: Policy, case: Case, actor: str, at: datetime, now: datetime) -> Change:
        require_text(self.reason, "--reason", "say why the event was a mistake")
        transition = prepare(policy, case, "retract", actor, at, now)
        recorded = list(case["events"])
        if isinstance(self.target, int):
            if not 1 <= self.target <= len(recorded):
                raise UsageError(
                    f"there is no event {self.target} (the case has {len(recorded)})",
                    fix=f"see the numbers with 'complaintctl show {case['id']}'",
                )
            number, event = self.target, recorded[self.target - 1]
        else:
            found = [(i, e) for i, e in enumerate(recorded, 1) if event_key(e) == self.target]
            if not found:
                raise RuleError(f"no event {self.target} to retract", where=case["id"])
            number, event = found[0]
        key = event_key(event)
        if event["action"] not in RETRACTABLE:
            raise RuleError(
                f"event {number} is '{event['action']}', which cannot be retracted",
                where=case["id"],
                fix="only a note can be taken back; record what really happened with another event",
            )
        if key in retracted(recorded):
            raise RuleError(f"event {number} is already retracted", where=case["id"], fix="nothing to do")
        by = str(event["by"])
        if policy.team and by.casefold() != actor.casefold() and not is_owner_or_above(policy, case, actor):
            raise RuleError(
                f"event {number} was recorded by {by}; only they, the owner or a higher tier may retract it",
                where=case["id"],
                fix=f"ask {by} or {case['owner']}",
            )
        return make_change(
            case,
            transition,
            "retract",
            actor,
            at,
            f"Retract event {number} ({event['action']}) on {case['id']}",
            {"retracts": key, "reason": self.reason},
        )

    @classmethod
    def from_record(cls, e: Record, source: Case, offers: Renumber) -> Retract:
        return cls(target=str(e["retracts"]), reason=e["reason"])


EVENTS: dict[str, type[Event]] = {
    cls.action: cls
    for cls in (
        Open,
        Note,
        Propose,
        Approve,
        Refuse,
        Draft,
        Signoff,
        Send,
        Withdraw,
        Agree,
        Escalate,
        Close,
        Followup,
        Wait,
        Resume,
        Flag,
        Lower,
        Archive,
        Reopen,
        Rise,
        Assign,
        Correct,
        Retract,
        Plan,
        Execute,
    )
}


def from_record(e: Record, source: Case, offers: Renumber = same_number) -> Event:
    """The typed event a recorded one is; RuleError for an unknown action."""
    cls = EVENTS.get(str(e.get("action")))
    if cls is None:
        raise RuleError(f"unknown event '{e.get('action')}' at {e.get('at')}", where=source["id"])
    return cls.from_record(e, source, offers)
