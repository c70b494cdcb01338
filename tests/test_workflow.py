"""The lifecycle and rules as tables, over plain data: no disk, no git."""

from __future__ import annotations

import copy
import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from complaintctl.core import deadlines, events, lifecycle, records
from complaintctl.errors import RuleError, UsageError
from complaintctl.store.policyfile import load

POLICY = load(Path(__file__).resolve().parent.parent / "policy.yaml")
T0 = datetime.fromisoformat("2026-11-20T09:00:00+08:00")
NOW = datetime.fromisoformat("2026-11-22T10:00:00+08:00")
ID = "C-20261120-7K3QX2"
ALICE, BOB, CAROL, DAVE, ERIN = (f"{n}@example.com" for n in ("alice", "bob", "carol", "dave", "erin"))


def new_case(**over: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "customer": "张三",
        "channel": "phone",
        "category": "billing",
        "summary": "Charged twice",
        "phone": "13812341234",
        "demand": "Refund the extra charge",
    }
    fields.update(over)
    case, _ = events.Open(**fields).decide_open(POLICY, ID, ALICE, T0, NOW)
    return case


def step(case: dict[str, Any], change: lifecycle.Change) -> dict[str, Any]:
    case = copy.deepcopy(case)
    lifecycle.apply(case, change)
    return case


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def in_state(state: str) -> dict[str, Any]:
    """A consistent case in each state, built only through the workflow."""
    case = new_case()
    path = {
        "open": [],
        "in-progress": ["reply"],
        "waiting": ["reply", "propose", "wait"],
        "proposed": ["reply", "propose"],
        "agreed": ["reply", "propose", "agree", "plan"],  # one measure planned, not yet done
        # Closed on the spot (explained): a settled, executed case could not be reopened.
        "closed": ["reply", "close"],
        "followed-up": ["reply", "close", "followup"],
        "archived": ["reply", "close", "followup", "archive"],
    }[state]
    for i, name in enumerate(path, start=1):
        case = step(case, COMMANDS[name](case, at(i)))
    assert case["state"] == state
    return case


def _lower(c: dict[str, Any], t: datetime) -> lifecycle.Change:
    # From 'important' any agent may lower (rules.lower_roles names hot and major).
    return events.Lower("general", "Supplier's fault").decide(
        POLICY, {**c, "severity": "important"}, ALICE, t, NOW
    )


def carried_out(c: dict[str, Any], t: datetime) -> dict[str, Any]:
    """An agreed case with every measure done (rules.measures_required)."""
    if not c.get("measures"):
        c = step(c, events.Plan("Refund CNY 180", "finance", "7d").decide(POLICY, c, ALICE, t, NOW))
    for m in c["measures"]:
        if m["status"] != "done":
            c = step(c, events.Execute(m["no"]).decide(POLICY, c, ALICE, t, NOW))
    return c


def _close(c: dict[str, Any], t: datetime) -> lifecycle.Change:
    if c["state"] == "agreed":
        return events.Close("agreed").decide(POLICY, carried_out(c, t), ALICE, t, NOW)
    return events.Close("explained").decide(POLICY, c, ALICE, t, NOW)


COMMANDS = {
    "reply": lambda c, t: events.Note("Apologised", "reply", "phone").decide(POLICY, c, ALICE, t, NOW),
    "note": lambda c, t: events.Note("Checked the meter").decide(POLICY, c, ALICE, t, NOW),
    "wait": lambda c, t: events.Wait("Meter photo").decide(POLICY, c, ALICE, t, NOW),
    "resume": lambda c, t: events.Resume().decide(POLICY, c, ALICE, t, NOW),
    "propose": lambda c, t: events.Propose(
        "180", "CNY", "refund", "Refund in 7 days", not_overcharge="Goodwill"
    ).decide(POLICY, c, ALICE, t, NOW),
    "refuse": lambda c, t: events.Refuse(1, "Too little").decide(POLICY, c, ALICE, t, NOW),
    "withdraw": lambda c, t: events.Withdraw(1, "Wrong amount").decide(POLICY, c, ALICE, t, NOW),
    "agree": lambda c, t: events.Agree(None, "张三", "phone").decide(POLICY, c, ALICE, t, NOW),
    # Erin holds every tier above the front line: who escalates to a tier they hold takes the case on.
    "escalate": lambda c, t: events.Escalate("Needs a supervisor").decide(POLICY, c, ERIN, t, NOW),
    "flag": lambda c, t: events.Flag("Threatens the press", risk=True).decide(POLICY, c, ALICE, t, NOW),
    "lower": _lower,
    "close": _close,
    "plan": lambda c, t: events.Plan("Refund", "finance", "7d").decide(POLICY, c, ALICE, t, NOW),
    "execute": lambda c, t: events.Execute(1).decide(POLICY, c, ALICE, t, NOW),
    "followup": lambda c, t: events.Followup(4).decide(POLICY, c, ALICE, t, NOW),
    "archive": lambda c, t: events.Archive().decide(POLICY, c, ALICE, t, NOW),
    "reopen": lambda c, t: events.Reopen("Refund never arrived").decide(POLICY, c, ALICE, t, NOW),
}

STATES = ("open", "in-progress", "waiting", "proposed", "agreed", "closed", "followed-up", "archived")
SAME = ("note", "escalate", "flag", "lower")  # commands that leave the state alone
# Hand-written from policy.yaml: the state each command leaves, or absent (refused).
TABLE = {
    "open": {**dict.fromkeys(SAME, "open"), "reply": "in-progress", "propose": "proposed", "close": "closed"},
    "in-progress": {**dict.fromkeys(SAME, "in-progress"), "reply": "in-progress", "wait": "waiting",
                    "propose": "proposed", "close": "closed"},
    "waiting": {**dict.fromkeys(SAME, "waiting"), "reply": "in-progress", "resume": "in-progress",
                "propose": "proposed", "agree": "agreed", "refuse": "in-progress", "withdraw": "in-progress", "close": "closed"},
    "proposed": {**dict.fromkeys(SAME, "proposed"), "reply": "proposed", "wait": "waiting", "propose": "proposed",
                 "agree": "agreed", "refuse": "in-progress", "withdraw": "in-progress", "close": "closed"},
    "agreed": {**dict.fromkeys(SAME, "agreed"), "reply": "agreed", "close": "closed", "plan": "agreed",
               "execute": "agreed"},
    "closed": {"note": "closed", "reply": "closed", "followup": "followed-up", "reopen": "in-progress"},
    "followed-up": {"note": "followed-up", "reply": "followed-up", "archive": "archived", "reopen": "in-progress"},
    "archived": {},
}  # fmt: skip
ALLOWED_NOW = {
    "open": "assign, close, correct, draft, escalate, flag, lower, note, propose, retract, send, signoff",
    "in-progress": "assign, close, correct, draft, escalate, flag, lower, note, propose, retract, send, signoff, wait",
    "waiting": "agree, approve, assign, close, correct, draft, escalate, flag, lower, note, propose, refuse, resume, retract, send, signoff, withdraw",
    "proposed": "agree, approve, assign, close, correct, draft, escalate, flag, lower, note, propose, refuse, retract, send, signoff, wait, withdraw",
    "agreed": "assign, close, correct, draft, escalate, execute, flag, lower, note, plan, retract, send, signoff",
    "closed": "correct, draft, followup, note, reopen, retract, send, signoff",
    "followed-up": "archive, correct, note, reopen, retract",
    "archived": "none",
}

ROWS = [(s, c) for s in STATES for c in COMMANDS]


@pytest.mark.parametrize(("state", "command"), ROWS, ids=[f"{s}-{c}" for s, c in ROWS])
def test_every_transition_allowed_or_refused(state: str, command: str) -> None:
    case = in_state(state)
    expected = TABLE[state].get(command)
    if expected is None:
        name = "note" if command == "reply" else command
        with pytest.raises(RuleError) as caught:
            COMMANDS[command](case, at(30))
        hint = f"commands allowed now: {ALLOWED_NOW[state]}"
        if command == "archive" and state in ("closed",):
            hint = "follow up first, archive after: run 'complaintctl followup' first"
        assert str(caught.value) == f"{ID}: cannot {name} a case that is {state}; {hint}"
    else:
        change = COMMANDS[command](case, at(30))
        after = step(case, change)
        assert after["state"] == expected
        assert change.from_state == state and change.to_state == expected
        assert after["events"][-1]["by"] == (ERIN if command == "escalate" else ALICE)
        assert after["events"][-1]["at"] == "2026-11-20T09:30:00+08:00"
        assert len(after["events"]) == len(case["events"]) + 1


def test_archive_before_followup_says_follow_up_first() -> None:
    with pytest.raises(RuleError, match="follow up first, archive after"):
        events.Archive().decide(POLICY, in_state("closed"), ALICE, at(30), NOW)


# ---------------------------------------------------------------- who may act


@pytest.mark.parametrize(
    ("actor", "message"),
    [
        ("mallory@example.com", "'mallory@example.com' is not on the team in policy.yaml; act as a listed "
         "member with --as, or add them under 'team:'"),
        (BOB, f"{ID}: {BOB} is named in the complaint and may not act on it (recusal); a colleague acts "
         "on it, in their own name"),
    ],
)  # fmt: skip
def test_outsiders_and_recused_staff_are_refused(actor: str, message: str) -> None:
    case = new_case(subject_staff=(BOB,))
    with pytest.raises(RuleError) as caught:
        events.Note("hello").decide(POLICY, case, actor, at(1), NOW)
    assert str(caught.value) == message


def test_recused_staff_cannot_open_or_own() -> None:
    with pytest.raises(RuleError, match="may not record it"):
        events.Open("X", "phone", "billing", "s", subject_staff=(ALICE,)).decide_open(
            POLICY, ID, ALICE, T0, NOW
        )
    with pytest.raises(RuleError, match="may not own it"):
        events.Open("X", "phone", "billing", "s", subject_staff=(BOB,), owner=BOB).decide_open(
            POLICY, ID, ALICE, T0, NOW
        )


def test_recused_staff_cannot_be_escalated_to() -> None:
    case = new_case(subject_staff=(CAROL,))
    with pytest.raises(RuleError, match=r"carol@example\.com is named in the complaint"):
        events.Escalate("why", CAROL).decide(POLICY, case, ALICE, at(1), NOW)


# ---------------------------------------------------------------- time


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (NOW + timedelta(seconds=1), "--at 2026-11-22T10:00:01+08:00 is in the future (now is "
         "2026-11-22T10:00:00+08:00); give the time it really happened"),
        (T0 - timedelta(minutes=1), f"{ID}: --at 2026-11-20T08:59:00+08:00 is before the case's last event "
         "(2026-11-20T09:00:00+08:00); events are recorded in time order"),
    ],
)  # fmt: skip
def test_event_times_are_checked(when: datetime, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        events.Note("hello").decide(POLICY, new_case(), ALICE, when, NOW)
    assert str(caught.value) == message


def test_event_at_the_same_second_as_the_last_is_allowed() -> None:
    assert (
        events.Note("same second").decide(POLICY, new_case(), ALICE, T0, NOW).event["at"]
        == "2026-11-20T09:00:00+08:00"
    )


# ---------------------------------------------------------------- offers


@pytest.mark.parametrize(
    ("amount", "currency", "stored", "error"),
    [
        ("240", "CNY", "240.00", None),
        ("240.5", "CNY", "240.50", None),
        ("1200.00", "CNY", "1200.00", None),
        (
            "1,200.00",
            "CNY",
            None,
            "amount '1,200.00' is not a plain number; use '.' for the decimals and no thousands separators, like 1200.50",
        ),
        (
            "2,40",
            "EUR",
            None,
            "amount '2,40' is not a plain number; use '.' for the decimals and no thousands separators, like 1200.50",
        ),
        (
            "1_000",
            "CNY",
            None,
            "amount '1_000' is not a plain number; use '.' for the decimals and no thousands separators, like 1200.50",
        ),
        (
            "١٢٠",
            "CNY",
            None,
            "amount '١٢٠' is not a plain number; use '.' for the decimals and no thousands separators, like 1200.50",
        ),
        (
            "1E+2",
            "CNY",
            None,
            "amount '1E+2' is not a plain number; write digits 0-9 and at most one '.', like 1200.50",
        ),
        ("0", "CNY", "0.00", None),
        ("1500", "JPY", "1500", None),
        (
            "240.001",
            "CNY",
            None,
            "amount '240.001' has more than 2 decimal places for CNY; round it to 2 places",
        ),
        ("15.5", "JPY", None, "amount '15.5' has more than 0 decimal places for JPY; round it to 0 places"),
        ("-5", "CNY", None, "amount '-5' must be zero or more; write it like 240.00"),
        ("ten", "CNY", None, "amount 'ten' is not a number; write it like 240.00"),
        ("NaN", "CNY", None, "amount 'NaN' is not a number; write it like 240.00"),
        (
            "1e400",
            "CNY",
            None,
            "amount '1e400' is not a plain number; write digits 0-9 and at most one '.', like 1200.50",
        ),
        (
            "100000000000000000000000000000",
            "CNY",
            None,
            "amount '100000000000000000000000000000' is too large; check the amount",
        ),
        (
            "10",
            "XXX",
            None,
            "unknown currency 'XXX'; use one of: CNY, USD, EUR, JPY (policy.yaml: currencies)",
        ),
    ],
)
def test_money_is_exact(amount: str, currency: str, stored: str | None, error: str | None) -> None:
    case = in_state("in-progress")
    if error:
        with pytest.raises(UsageError) as caught:
            events.Propose(amount, currency, "refund", "terms", not_overcharge="Goodwill").decide(
                POLICY, case, ALICE, at(30), NOW
            )
        assert str(caught.value) == error
    else:
        after = step(
            case,
            events.Propose(amount, currency, "refund", "t", not_overcharge="Goodwill").decide(
                POLICY, case, ALICE, at(30), NOW
            ),
        )
        assert after["offers"][-1]["amount"] == stored
        assert isinstance(after["offers"][-1]["amount"], str)


def test_a_new_offer_supersedes_the_open_one() -> None:
    case = in_state("proposed")
    change = events.Propose("150", "CNY", "credit", "Credit instead", not_overcharge="Goodwill").decide(
        POLICY, case, ALICE, at(30), NOW
    )
    after = step(case, change)
    assert [(o["no"], o["status"]) for o in after["offers"]] == [(1, "superseded"), (2, "open")]
    assert change.subject == f"Propose CNY 150.00 credit on {ID}"
    agreed = step(after, events.Agree().decide(POLICY, after, ALICE, at(31), NOW))
    assert [(o["no"], o["status"]) for o in agreed["offers"]] == [(1, "superseded"), (2, "accepted")]


def test_agree_names_the_open_offer() -> None:
    case = step(in_state("proposed"), events.Propose("1", "CNY", "refund", "t", not_overcharge="Goodwill").decide(POLICY, in_state("proposed"), ALICE, at(30), NOW))  # fmt: skip
    with pytest.raises(RuleError) as caught:
        events.Agree(offer_no=1).decide(POLICY, case, ALICE, at(31), NOW)
    assert (
        str(caught.value)
        == f"{ID}: offer 1 is not the open offer (offer 2 is); agree to offer 2, or propose again"
    )


# ---------------------------------------------------------------- closing


def test_agreed_resolution_needs_an_accepted_offer() -> None:
    with pytest.raises(RuleError) as caught:
        events.Close("agreed").decide(POLICY, in_state("proposed"), ALICE, at(30), NOW)
    assert str(caught.value) == (
        f"{ID}: resolution 'agreed' needs the case to be agreed (it is proposed); "
        "record the customer's acceptance with 'complaintctl agree' first"
    )


def test_executed_only_applies_to_settlements() -> None:
    with pytest.raises(UsageError, match="--executed applies to a settlement"):
        events.Close("explained", executed=True).decide(POLICY, in_state("open"), ALICE, at(30), NOW)


def test_unknown_resolution_lists_the_policy_ones() -> None:
    with pytest.raises(UsageError) as caught:
        events.Close("solved").decide(POLICY, in_state("open"), ALICE, at(30), NOW)
    assert str(caught.value) == (
        "unknown resolution 'solved'; use one of: agreed, explained, withdrawn, rejected, referred, referred-by-law, decided "
        "(policy.yaml: resolutions)"
    )


@pytest.mark.parametrize(
    ("resolution", "executed", "reopenable"),
    [("explained", False, True), ("agreed", True, False), ("decided", False, False)],
)
def test_final_outcomes_cannot_be_reopened(resolution: str, executed: bool, reopenable: bool) -> None:
    case = carried_out(in_state("agreed"), at(25)) if resolution == "agreed" else in_state("in-progress")
    closed = step(case, events.Close(resolution, executed=executed).decide(POLICY, case, ALICE, at(30), NOW))
    if reopenable:
        after = step(closed, events.Reopen("new facts").decide(POLICY, closed, ALICE, at(31), NOW))
        assert after["state"] == "in-progress" and "resolution" not in after and "closed_at" not in after
    else:
        with pytest.raises(RuleError, match=r"cannot be reopened \(not accepted again\)"):
            events.Reopen("new facts").decide(POLICY, closed, ALICE, at(31), NOW)


@pytest.mark.parametrize(
    ("satisfaction", "unreachable", "message"),
    [
        (None, False, "give either --satisfaction 1..5 or --unreachable; say how the follow-up went"),
        (4, True, "give either --satisfaction 1..5 or --unreachable; say how the follow-up went"),
        (0, False, "--satisfaction 0 is outside 1..5; use 1 (worst) to 5 (best)"),
        (6, False, "--satisfaction 6 is outside 1..5; use 1 (worst) to 5 (best)"),
    ],
)
def test_followup_arguments(satisfaction: int | None, unreachable: bool, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        events.Followup(satisfaction, unreachable).decide(POLICY, in_state("closed"), ALICE, at(30), NOW)
    assert str(caught.value) == message


# ---------------------------------------------------------------- escalation


@pytest.mark.parametrize(
    ("urgent", "severity", "tiers"),
    [
        (False, "general", ["supervisor", "manager", "executive"]),
        (True, "general", ["supervisor", "manager", "executive"]),
        (False, "major", ["supervisor", "manager", "executive"]),
    ],
)
def test_escalation_goes_tier_by_tier_to_the_top(urgent: bool, severity: str, tiers: list[str]) -> None:
    case = new_case(urgent=urgent, severity=severity)
    for i, tier in enumerate(tiers, start=1):
        case = step(case, events.Escalate("stuck").decide(POLICY, case, ERIN, at(i), NOW))
        assert (case["tier"], case["owner"]) == (tier, ERIN)
    with pytest.raises(RuleError) as caught:
        events.Escalate("stuck").decide(POLICY, case, ERIN, at(9), NOW)
    assert str(caught.value) == (
        f"{ID}: the case is already at the top tier (executive); record what happens next with 'complaintctl note'"
    )


def test_urgent_case_jumps_straight_to_the_supervisor_tier() -> None:
    policy = load(Path(__file__).resolve().parent.parent / "policy.yaml")
    policy = dataclasses.replace(policy, direct_tier="manager")
    case, _ = events.Open("X", "phone", "billing", "s", urgent=True).decide_open(policy, ID, ALICE, T0, NOW)
    assert (
        events.Escalate("urgent", DAVE).decide(policy, case, ALICE, at(1), NOW).event["tier_to"] == "manager"
    )
    calm, _ = events.Open("X", "phone", "billing", "s").decide_open(policy, ID, ALICE, T0, NOW)
    assert (
        events.Escalate("slow", CAROL).decide(policy, calm, ALICE, at(1), NOW).event["tier_to"]
        == "supervisor"
    )


def test_escalation_always_leaves_a_responsible_owner_at_the_new_tier() -> None:
    # An agent escalating without --to used to stay owner of a supervisor-tier case.
    case = new_case()
    with pytest.raises(RuleError) as caught:
        events.Escalate("stuck").decide(POLICY, case, ALICE, at(1), NOW)
    assert str(caught.value) == (
        f"{ID}: escalating to supervisor hands the case to someone who holds that tier; "
        f"give --to one of: {CAROL}, {DAVE}, {ERIN}"
    )
    taken = step(case, events.Escalate("stuck").decide(POLICY, case, CAROL, at(1), NOW))
    assert (taken["tier"], taken["owner"], taken["events"][-1]["assignee"]) == ("supervisor", CAROL, CAROL)


@pytest.mark.parametrize(
    ("to", "error"),
    [
        (CAROL, None),
        (DAVE, None),
        (BOB, f"{ID}: {BOB} does not hold the supervisor tier; escalate to one of: {CAROL}, {DAVE}, {ERIN}"),
        ("zed@example.com", "'zed@example.com' is not on the team in policy.yaml; pick a listed member"),
    ],
)
def test_escalate_to_a_person_who_holds_the_tier(to: str, error: str | None) -> None:
    case = new_case()
    if error:
        with pytest.raises(RuleError) as caught:
            events.Escalate("why", to).decide(POLICY, case, ALICE, at(1), NOW)
        assert str(caught.value) == error
    else:
        after = step(case, events.Escalate("why", to).decide(POLICY, case, ALICE, at(1), NOW))
        assert after["owner"] == to and after["tier"] == "supervisor"
        assert after["events"][-1]["assignee"] == to


# ---------------------------------------------------------------- open


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"phone": "12"}, "phone '12' does not look like a phone number; use digits, spaces, dashes, brackets "
         "and an optional leading +"),
        ({"phone": "call me"}, "phone 'call me' does not look like a phone number; use digits, spaces, dashes, "
         "brackets and an optional leading +"),
        ({"email": "zhang.example.com"}, "e-mail 'zhang.example.com' does not look like an address; write it "
         "like name@example.com"),
        ({"channel": "fax"}, "unknown channel 'fax'; use one of: phone, email, sms, in-person, chat, letter, "
         "social-media (policy.yaml: channels)"),
        ({"category": "misc"}, "unknown category 'misc'; use one of: product-quality, service-attitude, "
         "delivery-delay, billing, information-not-given, construction-quality, planning-design, sales-promise, "
         "property-management, other (policy.yaml: categories)"),
        ({"severity": "critical"}, "unknown severity 'critical'; use one of: general, important, hot, major "
         "(policy.yaml: severities)"),
        ({"summary": "  "}, "--summary is empty; give --summary some text"),
    ],
)  # fmt: skip
def test_open_validates_what_it_records(over: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        new_case(**over)
    assert str(caught.value) == message


@pytest.mark.parametrize("phone", ["13812341234", "+86 138 1234 1234", "021-6123-4567", "(021) 61234567"])
def test_plausible_phones_are_accepted(phone: str) -> None:
    assert new_case(phone=phone)["customer"]["phone"] == phone


def test_text_is_stored_as_given() -> None:
    case = new_case(customer="  欧阳 娜娜 ", summary="“引号” & <b>'x'</b>\n第二行", address="上海市 1 号")
    assert case["customer"] == {"name": "  欧阳 娜娜 ", "phone": "13812341234", "address": "上海市 1 号"}
    assert case["summary"] == "“引号” & <b>'x'</b>\n第二行"


@pytest.mark.parametrize("due", ["400000d", "99999999d", "9000000000h"])
def test_a_measure_is_not_due_after_the_year_2999(due: str) -> None:
    """'plan --due 400000d' was recorded, and verify then refused the tool's own
    commit (the replay reads the due time back as a date); '99999999d' crashed."""
    case = in_state("agreed")
    with pytest.raises(UsageError) as caught:
        events.Plan("Refund", "finance", due).decide(POLICY, case, ALICE, at(30), NOW)
    assert str(caught.value) == f"--due '{due}' ends after the year 2999; give a span of days or weeks"


@pytest.mark.parametrize("resolution", ["explained", "withdrawn", "rejected", "referred"])
def test_an_accepted_offer_is_carried_out_not_closed_around(resolution: str) -> None:
    """Closed as 'explained' or 'withdrawn', an agreed case left its measures
    undone, and a reopen let an agent pay a second time within their limit."""
    case = in_state("agreed")
    with pytest.raises(RuleError) as caught:
        events.Close(resolution).decide(POLICY, case, ALICE, at(30), NOW)
    assert str(caught.value) == (
        f"{ID}: the customer accepted offer 1: the case cannot be closed as '{resolution}'; "
        "carry the agreement out and close it as one of: agreed, referred-by-law, decided"
    )
    decided = events.Close("decided").decide(POLICY, case, ALICE, at(30), NOW)  # a court's decision
    assert decided.to_state == "closed"
    unbound = dataclasses.replace(
        POLICY, rules=dataclasses.replace(POLICY.rules, agreement_binds_close=False)
    )
    assert events.Close(resolution).decide(unbound, case, ALICE, at(30), NOW).to_state == "closed"


def test_agreed_is_closed_only_once_carried_out() -> None:
    """Carrying out (落实) is measures planned and done; 'executed' is then a fact."""
    proposed = in_state("proposed")
    agreed = step(proposed, events.Agree().decide(POLICY, proposed, ALICE, at(19), NOW))  # nothing planned
    planned = step(
        agreed, events.Plan("Refund CNY 180", "finance", "2d").decide(POLICY, agreed, ALICE, at(20), NOW)
    )
    planned = step(
        planned,
        events.Plan("Check the bill run", "billing", "7d").decide(POLICY, planned, ALICE, at(21), NOW),
    )
    half = step(planned, events.Execute(1, "Paid").decide(POLICY, planned, ALICE, at(22), NOW))
    for case, error in (
        (agreed, "no measures are planned for the agreement; a case is closed as 'agreed' once they are done; "
                 f"plan each with 'complaintctl plan {ID} TEXT --by WHO --due 7d'"),
        (half, f"1 measure(s) not done yet: measure 2 by billing, due 2026-11-27T09:21; "
               f"record each when done: complaintctl execute {ID} 2"),
    ):  # fmt: skip
        with pytest.raises(RuleError) as caught:
            events.Close("agreed", executed=True).decide(POLICY, case, ALICE, at(30), NOW)
        assert str(caught.value) == f"{ID}: {error}"
    done = step(half, events.Execute(2).decide(POLICY, half, BOB, at(25), NOW))
    closed = step(done, events.Close("agreed").decide(POLICY, done, ALICE, at(30), NOW))
    assert closed["executed"] is True and [m["done_by"] for m in closed["measures"]] == [ALICE, BOB]
    with pytest.raises(RuleError) as caught:
        events.Execute(2).decide(POLICY, done, ALICE, at(26), NOW)
    assert str(caught.value).startswith(f"{ID}: measure 2 was recorded done already")
    # A policy without rules.measures_required keeps the typed --executed.
    old = dataclasses.replace(POLICY, rules=dataclasses.replace(POLICY.rules, measures_required=False))
    with pytest.raises(RuleError) as caught:
        events.Close("agreed").decide(old, agreed, ALICE, at(30), NOW)
    assert str(caught.value) == (
        f"{ID}: a case is closed as 'agreed' only once the agreement has been carried out; "
        "close with --executed when the refund is paid or the repair done"
    )


def _closed(resolution: str, executed: bool = False, category: str = "billing") -> dict[str, Any]:
    case = carried_out(in_state("agreed"), at(20)) if resolution == "agreed" else in_state("in-progress")
    case["category"] = category
    return step(case, events.Close(resolution, executed=executed).decide(POLICY, case, ALICE, at(30), NOW))


@pytest.mark.parametrize(
    ("earlier", "severity", "repeat_of"),
    [
        ([], "general", None),
        (["explained"], "important", ID),
        (["explained:other"], "general", None),
    ],
)
def test_repeat_complaint_raises_severity(earlier: list[str], severity: str, repeat_of: str | None) -> None:
    cases = [
        _closed(e.split(":")[0], category="other" if e.endswith(":other") else "billing") for e in earlier
    ]
    case, change = events.Open("张三", "phone", "billing", "again", phone="13812341234", demand="Refund").decide_open(POLICY, "C-20261122-AAAAAA", ALICE, NOW, NOW, cases)  # fmt: skip
    assert case["severity"] == severity
    assert case.get("repeat_of") == repeat_of
    assert bool(change.notices) == bool(repeat_of)


def test_settled_and_executed_matter_is_not_accepted_again() -> None:
    old = _closed("agreed", executed=True)
    with pytest.raises(RuleError) as caught:
        events.Open("张三", "phone", "billing", "again").decide_open(POLICY, "C-20261122-AAAAAA", ALICE, NOW, NOW, [old])  # fmt: skip
    assert str(caught.value) == (
        f"this matter was settled and closed for good in {ID} (not accepted again); see 'complaintctl show {ID}'"
    )


def test_policy_may_allow_a_final_matter_again_with_a_reason() -> None:
    policy = dataclasses.replace(POLICY, reopen_final_with_reason=True)
    old = _closed("decided")
    with pytest.raises(RuleError, match="to accept it anyway give --reason"):
        events.Open("张三", "phone", "billing", "again").decide_open(policy, "C-20261122-AAAAAA", ALICE, NOW, NOW, [old])  # fmt: skip
    case, _ = events.Open("张三", "phone", "billing", "again", reason="New defect").decide_open(policy, "C-20261122-AAAAAA", ALICE, NOW, NOW, [old])  # fmt: skip
    assert case["reopen_reason"] == "New defect" and case["repeat_of"] == ID


@pytest.mark.parametrize(
    ("customer", "keys"),
    [
        ({"phone": "+86 138-1234-1234"}, {"phone:13812341234"}),
        ({"email": " Zhang@Example.COM "}, {"email:zhang@example.com"}),
        ({"account": "HT-1"}, {"account:ht1"}),
        # Written another way, or with an input method's full-width letters: the same account.
        ({"account": "ＡＣ-778 899"}, {"account:ac778899"}),
        ({"account": "ac778899"}, {"account:ac778899"}),
        ({"phone": "１３８ １２３４ １２３４"}, {"phone:13812341234"}),
        ({"email": "Ｚhang@example.com"}, {"email:zhang@example.com"}),
        ({"name": "张三"}, set()),
    ],
)
def test_customer_keys_normalise(customer: dict[str, str], keys: set[str]) -> None:
    assert records.customer_keys(customer) == keys


@pytest.mark.parametrize("tag", ["lift-b2", "Lift-B2", "LIFT-B2 ", " lift-b2", "ｌｉｆｔ-Ｂ2"])
def test_a_matter_tag_is_one_matter_however_it_is_typed(tag: str) -> None:
    """Three spellings of one tag were three matters: no hot spot, no cap."""
    assert records.matter_key(tag) == "lift-b2"
    assert records.matter_key("lift  b2") == "lift b2" != records.matter_key("lift-b2")


# ---------------------------------------------------------------- hand-over, corrections, retractions


@pytest.mark.parametrize(
    ("actor", "to", "error"),
    [
        (ALICE, BOB, None),  # the owner hands it on within the front line
        (CAROL, BOB, None),  # a higher tier may hand it on too
        (BOB, BOB, f"{ID}: only the owner ({ALICE}) or someone on a higher tier may assign this case; ask {ALICE} to hand it on"),
        (ALICE, CAROL, None),  # front-line work is open to the tiers above it too (policy: tiers)
        (ALICE, ALICE, f"{ID}: {ALICE} already owns the case; name someone else"),
        (ALICE, "zed@example.com", "'zed@example.com' is not on the team in policy.yaml; pick a listed member"),
    ],
)  # fmt: skip
def test_a_hand_over_stays_on_the_tier_and_is_the_owners(actor: str, to: str, error: str | None) -> None:
    case = new_case()
    event = events.Assign(to, "On leave")
    if error:
        with pytest.raises(RuleError) as caught:
            event.decide(POLICY, case, actor, at(1), NOW)
        assert str(caught.value) == error
        return
    after = step(case, event.decide(POLICY, case, actor, at(1), NOW))
    assert after["owner"] == to and after["events"][-1]["owner_from"] == ALICE


@pytest.mark.parametrize(
    ("field", "value", "stored", "error"),
    [
        ("phone", "13812341235", ("customer", "phone", "13812341235"), None),
        ("email", "z@example.com", ("customer", "email", "z@example.com"), None),
        ("category", "service-attitude", ("category", None, "service-attitude"), None),
        ("urgent", "yes", None, f"{ID}: only supervisor or manager or executive may correct 'urgent'; ask one of: {CAROL}, {DAVE}, {ERIN} (policy.yaml: rules.correct_roles)"),
        ("phone", "call me", None, "phone 'call me' does not look like a phone number; use digits, spaces, dashes, brackets and an optional leading +"),
        ("category", "misc", None, "unknown category 'misc'; use one of: product-quality, service-attitude, delivery-delay, billing, information-not-given, construction-quality, planning-design, sales-promise, property-management, other (policy.yaml: categories)"),
        ("urgent", "maybe", None, "urgent 'maybe': say yes or no; complaintctl correct ID urgent yes"),
        ("state", "closed", None, "'state' cannot be corrected; correct one of: name, phone, email, address, account, category, matter, demand, summary, cause, urgent, subject-staff"),
        ("subject-staff", ALICE, None, f"{ID}: {ALICE} owns the case and would be recused; hand it on first: complaintctl assign {ID} --to ... --reason ..."),
    ],
)  # fmt: skip
def test_a_correction_changes_one_recorded_fact(
    field: str, value: str, stored: tuple[str, str | None, Any] | None, error: str | None
) -> None:
    case = new_case(phone="13812341234")
    event = events.Correct(field, value, "Misheard")
    if error:
        with pytest.raises((RuleError, UsageError)) as caught:
            event.decide(POLICY, case, ALICE, at(1), NOW)
        assert str(caught.value) == error
        return
    after = step(case, event.decide(POLICY, case, ALICE, at(1), NOW))
    assert stored is not None
    key, sub, expected = stored
    assert (after[key][sub] if sub else after[key]) == expected
    assert after["events"][-1]["field"] == field


@pytest.mark.parametrize(
    ("steps", "error"),
    [
        # An agent un-marked 'urgent' and the two-hour breach was gone from the record.
        ([(ALICE, events.Correct("urgent", "yes", "Misheard"))], f"{ID}: only supervisor or manager or executive may correct 'urgent'; ask one of: {CAROL}, {DAVE}, {ERIN} (policy.yaml: rules.correct_roles)"),
        ([(CAROL, events.Correct("urgent", "yes", "Misheard"))], None),
        # An agent undid 'internal', then closed the case as outside our responsibility.
        ([(ALICE, events.Flag("Our plumber", cause="internal")), (ALICE, events.Correct("cause", "unknown", "Not sure"))],
         f"{ID}: only supervisor or manager or executive may change the cause from 'internal'; ask one of: {CAROL}, {DAVE}, {ERIN} (policy.yaml: rules.cause_undo_roles)"),
        ([(ALICE, events.Flag("Our plumber", cause="internal")), (ALICE, events.Flag("Not sure", cause="unknown"))],
         f"{ID}: only supervisor or manager or executive may change the cause from 'internal'; ask one of: {CAROL}, {DAVE}, {ERIN} (policy.yaml: rules.cause_undo_roles)"),
        ([(ALICE, events.Flag("Our plumber", cause="internal")), (CAROL, events.Correct("cause", "unknown", "Not ours after all"))], None),
        ([(ALICE, events.Flag("Not sure", cause="unknown")), (ALICE, events.Correct("cause", "internal", "Ours"))], None),
    ],
)  # fmt: skip
def test_who_may_undo_a_cause_or_un_mark_urgent(
    steps: list[tuple[str, events.Event]], error: str | None
) -> None:
    case = new_case()
    *before, (actor, last) = steps
    for i, (who, event) in enumerate(before, start=1):
        case = step(case, event.decide(POLICY, case, who, at(i), NOW))
    if error is None:
        case = step(case, last.decide(POLICY, case, actor, at(len(steps)), NOW))
        assert case["events"][-1]["action"] == last.action
        return
    with pytest.raises(RuleError) as caught:
        last.decide(POLICY, case, actor, at(len(steps)), NOW)
    assert str(caught.value) == error


def test_a_hand_over_goes_only_to_someone_holding_the_cases_tier() -> None:
    case = step(new_case(), events.Escalate("Stuck", CAROL).decide(POLICY, new_case(), ALICE, at(1), NOW))
    with pytest.raises(RuleError) as caught:
        events.Assign(BOB, "Back to Bob").decide(POLICY, case, CAROL, at(2), NOW)
    assert str(caught.value) == (
        f"{ID}: {BOB} does not hold the supervisor tier the case is at; hand it to one of: {DAVE}, {ERIN}, "
        "or escalate it"
    )


def test_subject_staff_named_later_is_recused_from_then_on() -> None:
    case = new_case()
    after = step(
        case,
        events.Correct("subject-staff", "Bob@Example.com", "He was rude").decide(
            POLICY, case, ALICE, at(1), NOW
        ),
    )
    with pytest.raises(RuleError, match="may not act on it"):
        events.Note("Checking").decide(POLICY, after, BOB, at(2), NOW)  # ids compare case-insensitively


def test_only_a_note_is_retracted_once_and_no_clock_counts_it() -> None:
    case = new_case()
    case = step(case, events.Note("Sorry", "reply", "phone").decide(POLICY, case, ALICE, at(1), NOW))
    assert deadlines.facts(case, ()).first_reply == at(1)
    after = step(case, events.Retract(2, "Wrong case").decide(POLICY, case, ALICE, at(2), NOW))
    assert deadlines.facts(after, ()).first_reply is None  # the reply no longer counts
    with pytest.raises(RuleError, match="event 2 is already retracted"):
        events.Retract(2, "again").decide(POLICY, after, ALICE, at(3), NOW)
    with pytest.raises(RuleError, match="event 1 is 'open', which cannot be retracted"):
        events.Retract(1, "all of it").decide(POLICY, after, ALICE, at(3), NOW)
    with pytest.raises(UsageError, match="there is no event 9"):
        events.Retract(9, "x").decide(POLICY, after, ALICE, at(3), NOW)
    with pytest.raises(
        RuleError, match=f"event 2 was recorded by {ALICE}; only they, the owner or a higher tier"
    ):
        events.Retract(2, "x").decide(POLICY, case, BOB, at(3), NOW)


@pytest.mark.parametrize(
    ("channel", "error"),
    [
        ("sms", None),
        ("letter", None),
        ("phone", f"{ID}: a notice goes to the customer in writing, not by phone; give --channel email or sms or letter (policy.yaml: written_channels)"),
        (None, f"{ID}: a notice goes to the customer in writing, not unsaid; give --channel email or sms or letter (policy.yaml: written_channels)"),
    ],
)  # fmt: skip
def test_the_notice_to_an_unreachable_customer_is_in_writing(channel: str | None, error: str | None) -> None:
    case = new_case()
    event = events.Note("We tried to reach you; please call 400-000-0000", "notice", channel)
    if error:
        with pytest.raises(RuleError) as caught:
            event.decide(POLICY, case, ALICE, at(1), NOW)
        assert str(caught.value) == error
    else:
        assert event.decide(POLICY, case, ALICE, at(1), NOW).event["channel"] == channel


def test_an_older_policy_without_the_ownership_keys_keeps_its_rules() -> None:
    # Histories written under such a policy must still replay (verify) as they were made.
    older = dataclasses.replace(POLICY, owner_only=(), self_only=())
    case = new_case()
    up = step(case, events.Escalate("Stuck").decide(older, case, ALICE, at(1), NOW))
    assert (up["tier"], up["owner"]) == ("supervisor", ALICE)
    closed = events.Close("explained").decide(older, case, BOB, at(1), NOW)
    assert closed.to_state == "closed"
