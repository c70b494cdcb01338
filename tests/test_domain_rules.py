"""The field's rules against a hurried or dishonest agent (issue: every rule
holds), as tables over plain data. Each row tries a way around a rule; the
same rows under a policy without ``rules:`` show the old behaviour, so a
history made before the rules still replays."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from complaintctl.core import events, severity
from complaintctl.core.policy import DomainRules
from complaintctl.errors import RuleError, UsageError
from tests.test_workflow import ALICE, BOB, CAROL, ID, NOW, POLICY, T0, at, in_state, new_case, step

OLD = dataclasses.replace(POLICY, rules=DomainRules())  # a policy from before the rules


def _open(policy: Any, **over: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    fields = {
        "customer": "张三",
        "channel": "phone",
        "category": "billing",
        "summary": "Charged twice",
        **over,
    }
    case, change = events.Open(**fields).decide_open(policy, ID, ALICE, T0, NOW)
    return case, change.notices


# ---------------------------------------------------------------- 2. record fields


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({}, "not yet recorded: what the customer asks for (--demand); a way to reach the customer "
             f"(--phone, --email, --address or --account); add it with 'complaintctl correct {ID} FIELD VALUE'"),
        ({"demand": "Refund"}, "not yet recorded: a way to reach the customer (--phone, --email, --address "
                               f"or --account); add it with 'complaintctl correct {ID} FIELD VALUE'"),
        ({"account": "HT-1"}, "not yet recorded: what the customer asks for (--demand); "
                              f"add it with 'complaintctl correct {ID} FIELD VALUE'"),
        ({"account": "HT-1", "demand": "Refund"}, None),
    ],
)  # fmt: skip
def test_a_complaint_without_demand_or_contact_is_never_silent(
    fields: dict[str, Any], said: str | None
) -> None:
    _case, notices = _open(POLICY, **fields)
    assert [n for n in notices if n.startswith("not yet")] == ([said] if said else [])
    assert not [n for n in _open(OLD, **fields)[1] if n.startswith("not yet")]


def test_no_offer_before_the_demand_is_recorded() -> None:
    case = new_case(demand=None)
    propose = events.Propose("100.00", "CNY", "refund", "Refund", not_overcharge="Goodwill")
    with pytest.raises(RuleError) as caught:
        propose.decide(POLICY, case, ALICE, at(5), NOW)
    assert str(caught.value) == (
        f"{ID}: the customer's demand is not recorded; an offer answers it; "
        f"record it first: complaintctl correct {ID} demand TEXT --reason ..."
    )
    propose.decide(OLD, case, ALICE, at(5), NOW)
    fixed = step(
        case, events.Correct("demand", "Refund", "Asked on the phone").decide(POLICY, case, ALICE, at(4), NOW)
    )
    assert propose.decide(POLICY, fixed, ALICE, at(5), NOW).to_state == "proposed"


# ---------------------------------------------------------------- 3. responsibility

HOLDERS = "ask one of: carol@example.com, dave@example.com, erin@example.com"


@pytest.mark.parametrize(
    ("actor", "make", "error"),
    [
        (ALICE, lambda: events.Flag("Supplier's fault", cause="external"),
         f"{ID}: only supervisor or manager or executive may set the cause to 'external'; {HOLDERS} "
         "(policy.yaml: rules.cause_roles)"),
        (ALICE, lambda: events.Correct("cause", "external", "Supplier's fault"),
         f"{ID}: only supervisor or manager or executive may set the cause to 'external'; {HOLDERS} "
         "(policy.yaml: rules.cause_roles)"),
        (ALICE, lambda: events.Flag("Our billing run", cause="internal"), None),
        (CAROL, lambda: events.Flag("Supplier's fault", cause="external"), None),
    ],
)  # fmt: skip
def test_only_a_supervisor_calls_a_case_external(actor: str, make: Any, error: str | None) -> None:
    case = in_state("in-progress")
    if error is None:
        assert make().decide(POLICY, case, actor, at(9), NOW).to_state == "in-progress"
        return
    with pytest.raises(RuleError) as caught:
        make().decide(POLICY, case, actor, at(9), NOW)
    assert str(caught.value) == error
    make().decide(OLD, case, actor, at(9), NOW)


def test_our_fault_is_never_closed_as_outside_our_responsibility() -> None:
    case = in_state("in-progress")
    case = step(
        case, events.Flag("Our billing run", cause="internal").decide(POLICY, case, ALICE, at(9), NOW)
    )
    with pytest.raises(RuleError) as caught:
        events.Close("rejected").decide(POLICY, case, ALICE, at(10), NOW)
    assert str(caught.value) == (
        f"{ID}: the cause is recorded as internal (our fault): the case cannot be closed as 'rejected'; "
        "close it another way, or correct the cause first (complaintctl correct ID cause ...)"
    )
    assert events.Close("explained").decide(POLICY, case, ALICE, at(10), NOW).to_state == "closed"
    assert events.Close("rejected").decide(OLD, case, ALICE, at(10), NOW).to_state == "closed"


# ---------------------------------------------------------------- 13. severity


@pytest.mark.parametrize(
    ("severity", "actor", "error"),
    [
        ("hot", ALICE, f"{ID}: only supervisor or manager or executive may lower a hot case; {HOLDERS} "
                       "(policy.yaml: rules.lower_roles)"),
        ("major", BOB, f"{ID}: only supervisor or manager or executive may lower a major case; {HOLDERS} "
                       "(policy.yaml: rules.lower_roles)"),
        ("hot", CAROL, None),
        ("important", ALICE, None),
    ],
)  # fmt: skip
def test_who_lowers_a_serious_case_is_policy(severity: str, actor: str, error: str | None) -> None:
    case = {**in_state("in-progress"), "severity": severity}
    lower = events.Lower("general", "Misread the call")
    if error is None:
        assert lower.decide(POLICY, case, actor, at(9), NOW).event["severity"] == "general"
        return
    with pytest.raises(RuleError) as caught:
        lower.decide(POLICY, case, actor, at(9), NOW)
    assert str(caught.value) == error
    lower.decide(OLD, case, actor, at(9), NOW)


# ---------------------------------------------------------------- 9. consent evidence


@pytest.mark.parametrize(
    ("severity", "signed_by", "evidence", "error"),
    [
        ("major", None, 0, "give --signed-by and --evidence"),
        ("major", "Zhang San", 0, "give --evidence"),
        ("hot", None, 1, None),  # below consent_from: major
        ("major", "Zhang San", 1, None),
    ],
)
def test_a_serious_settlement_is_signed_and_its_consent_kept(
    severity: str, signed_by: str | None, evidence: int, error: str | None
) -> None:
    case = {**in_state("proposed"), "severity": severity}
    agree = events.Agree(signed_by=signed_by, evidence=evidence)
    if error is None:
        assert agree.decide(POLICY, case, ALICE, at(9), NOW).to_state == "agreed"
        return
    with pytest.raises(RuleError) as caught:
        agree.decide(POLICY, case, ALICE, at(9), NOW)
    assert str(caught.value) == (
        f"{ID}: a major case's agreement needs who signed it and proof of consent; "
        f"{error} (policy.yaml: rules.consent_from)"
    )
    agree.decide(OLD, case, ALICE, at(9), NOW)


# ---------------------------------------------------------------- 11. written replies


@pytest.mark.parametrize("channel", ["letter", "email"])
def test_a_written_reply_goes_through_sign_off(channel: str) -> None:
    case = new_case()
    reply = events.Note("尊敬的客户：…不予支持", "reply", channel)
    with pytest.raises(RuleError) as caught:
        reply.decide(POLICY, case, ALICE, at(9), NOW)
    assert str(caught.value) == (
        f"{ID}: a reply by {channel} goes out through draft, sign-off and send; write it with "
        f"'complaintctl draft {ID} --text ...' (policy.yaml: rules.signed_off_replies)"
    )
    reply.decide(OLD, case, ALICE, at(9), NOW)
    for other in ("phone", "sms", "in-person"):  # not in rules.signed_off_replies
        assert events.Note("Called back", "reply", other).decide(POLICY, case, ALICE, at(9), NOW)


# ---------------------------------------------------------------- 7. bottom line


def test_a_bottom_line_recorded_as_withdrawn_still_caps() -> None:
    case = in_state("in-progress")
    case = step(case, events.Propose("1000.00", "CNY", "refund", "Last offer", bottom_line=True, not_overcharge="Goodwill").decide(POLICY, case, CAROL, at(9), NOW))  # fmt: skip
    case = step(case, events.Withdraw(1, "Customer said no").decide(POLICY, case, CAROL, at(10), NOW))
    higher = events.Propose("1500.00", "CNY", "refund", "More", not_overcharge="Goodwill")
    with pytest.raises(RuleError) as caught:
        higher.decide(POLICY, case, CAROL, at(11), NOW)
    assert str(caught.value).startswith(
        f"{ID}: CNY 1500.00 exceeds the withdrawn bottom-line offer 1 (CNY 1000.00); "
    )
    higher.decide(OLD, case, CAROL, at(11), NOW)


def test_a_new_case_on_the_same_matter_carries_the_cap() -> None:
    cap = {
        "amount": "1000.00",
        "currency": "CNY",
        "case": "C-20261101-BBBBBB",
        "offer": 2,
        "status": "refused",
    }
    fields = {"customer": "张三", "channel": "phone", "category": "billing", "summary": "Again",
              "phone": "13812341234", "demand": "More money"}  # fmt: skip
    case, change = events.Open(**fields).decide_open(POLICY, ID, ALICE, T0, NOW, caps=[cap])
    assert case["cap"] == cap
    assert "the bottom line CNY 1000.00 refused in C-20261101-BBBBBB caps every offer on this case" in (
        change.notices
    )
    case = step(case, events.Note("Sorry", "reply", "phone").decide(POLICY, case, ALICE, at(1), NOW))
    with pytest.raises(RuleError) as caught:
        events.Propose("1500.00", "CNY", "refund", "More", not_overcharge="Goodwill").decide(
            POLICY, case, CAROL, at(2), NOW
        )
    assert str(caught.value).startswith(
        f"{ID}: CNY 1500.00 exceeds the refused bottom-line offer 2 of C-20261101-BBBBBB (the same matter) "
        "(CNY 1000.00); "
    )
    events.Propose("1000.00", "CNY", "refund", "The same", not_overcharge="Goodwill").decide(
        POLICY, case, CAROL, at(2), NOW
    )


# ---------------------------------------------------------------- 8. double refund


@pytest.mark.parametrize(
    ("category", "propose", "error"),
    [
        ("billing", {"amount": "60"}, "money on a billing complaint is the double refund of an overcharge, "
                                      "or is said not to be one"),
        ("billing", {"amount": "60", "not_overcharge": "  "}, "--not-overcharge is empty"),
        ("billing", {"amount": "60", "not_overcharge": "The bill was right; goodwill"}, None),
        ("billing", {"amount": None, "charged": "90", "due": "60"}, None),  # 2 x 30
        ("billing", {"amount": None, "charged": "90", "due": "60", "not_overcharge": "x"}, "contradict"),
        ("delivery-delay", {"amount": "60"}, None),  # not in rules.overcharge_categories
    ],
)  # fmt: skip
def test_money_on_a_billing_case_is_a_double_refund_or_says_why_not(
    category: str, propose: dict[str, Any], error: str | None
) -> None:
    case = in_state("in-progress")
    case["category"] = category
    offer = events.Propose(currency="CNY", kind="credit", terms="Credit", **propose)
    if error:
        with pytest.raises((RuleError, UsageError), match=error):
            offer.decide(POLICY, case, CAROL, at(9), NOW)
        if propose.get("not_overcharge") is None:
            offer.decide(OLD, case, CAROL, at(9), NOW)  # before the rule
        return
    made = step(case, offer.decide(POLICY, case, CAROL, at(9), NOW))["offers"][-1]
    assert made["amount"] == "60.00"  # 60 as typed, or 2 x (90 - 60)
    assert made.get("not_overcharge") == propose.get("not_overcharge")
    assert ("arithmetic" in made) == (propose["amount"] is None)


def _paid(double: bool) -> dict[str, Any]:
    case = in_state("in-progress")
    money = (
        {"amount": None, "charged": "90", "due": "60"} if double else {"amount": "60", "not_overcharge": "No"}
    )
    case = step(case, events.Propose(currency="CNY", kind="credit", terms="Credit", **money).decide(POLICY, case, CAROL, at(9), NOW))  # fmt: skip
    case = step(case, events.Agree(signed_by="张三").decide(POLICY, case, ALICE, at(10), NOW))
    case = step(
        case,
        events.Plan("Credit CNY 60", "finance", at(20).isoformat()).decide(POLICY, case, ALICE, at(11), NOW),
    )
    return step(case, events.Execute(1).decide(POLICY, case, ALICE, at(12), NOW))


def test_closing_a_paid_double_refund_records_how_the_customer_was_told() -> None:
    case = _paid(double=True)
    with pytest.raises(
        RuleError, match=r"the record says the customer was told, and how; tell them, then close"
    ):
        events.Close("agreed").decide(POLICY, case, ALICE, at(13), NOW)
    with pytest.raises(UsageError, match=r"unknown channel 'pigeon'"):
        events.Close("agreed", told="pigeon").decide(POLICY, case, ALICE, at(13), NOW)
    closed = step(case, events.Close("agreed", told="sms").decide(POLICY, case, ALICE, at(13), NOW))
    assert closed["events"][-1]["told"] == "sms" and closed["executed"] is True
    events.Close("agreed", executed=True).decide(OLD, case, ALICE, at(13), NOW)  # before the rule
    single = _paid(double=False)
    events.Close("agreed").decide(POLICY, single, ALICE, at(13), NOW)  # no double refund: nothing to tell
    with pytest.raises(UsageError, match=r"--told records that the customer was told a double refund"):
        events.Close("agreed", told="sms").decide(POLICY, single, ALICE, at(13), NOW)


# ---------------------------------------------------------------- 12. not accepted again


def _settled_for_good(resolution: str = "agreed", matter: str | None = "oct-bill") -> dict[str, Any]:
    from tests.test_workflow import _closed

    old = _closed(resolution, executed=resolution == "agreed")
    if matter:
        old["matter"] = matter
    return old


@pytest.mark.parametrize(
    ("old", "new", "when", "refused"),
    [
        ({}, {"matter": "oct-bill"}, T0, True),  # the same matter tag
        ({}, {"matter": "nov-bill"}, T0, False),  # another bill: no longer over-blocked
        ({"matter": None}, {}, T0, True),  # same category, soon after
        ({"matter": None}, {}, T0.replace(year=2027, month=7), False),  # same category, 7 months on
        ({"resolution": "referred-by-law", "matter": None}, {}, T0, True),  # the law sent it elsewhere: final
        ({"resolution": "referred", "matter": None}, {}, T0, False),  # a mere referral is not final
    ],
)
def test_not_accepted_again_follows_the_matter(
    old: dict[str, Any], new: dict[str, Any], when: Any, refused: bool
) -> None:
    earlier = _settled_for_good(old.get("resolution", "agreed"), old.get("matter", "oct-bill"))
    fields = {"customer": "张三", "channel": "phone", "category": "billing", "summary": "Again",
              "phone": "13812341234", "demand": "Refund", **new}  # fmt: skip
    opening = events.Open(**fields)
    if refused:
        with pytest.raises(RuleError, match=r"not accepted again"):
            opening.decide_open(POLICY, "C-20261122-AAAAAA", ALICE, when, when, [earlier])
    else:
        case, _ = opening.decide_open(POLICY, "C-20261122-AAAAAA", ALICE, when, when, [earlier])
        assert case["id"] == "C-20261122-AAAAAA"


# ---------------------------------------------------------------- 13. severity


def test_outside_help_makes_a_case_important() -> None:
    case, notices = _open(POLICY, phone="13812341234", demand="Fix the lift", outside=True)
    assert case["severity"] == "important" and case["flags"] == {"outside": True}
    assert "severity important: needs outside expertise or another company's help" in notices
    flagged = step(
        new_case(),
        events.Flag("The lift maker must look at it", outside=True).decide(
            POLICY, new_case(), ALICE, at(5), NOW
        ),
    )
    level, rises = severity.effective(POLICY, severity.facts(flagged), at(6))
    assert (level, rises[0].reason) == ("important", "needs outside expertise or another company's help")
    no_rule = dataclasses.replace(
        POLICY, severity_rules=dataclasses.replace(POLICY.severity_rules, outside=None)
    )
    assert severity.effective(no_rule, severity.facts(flagged), at(6))[0] == "general"


DAY = 24 * 60


@pytest.mark.parametrize(
    ("waits", "hot_at"),
    [
        ([], 7 * DAY),  # never waited: hot 7 days after receipt
        ([(1 * DAY, 3 * DAY)], 9 * DAY),  # two days waiting on the customer: two days later
        ([(1 * DAY, 2 * DAY), (4 * DAY, 5 * DAY)], 9 * DAY),  # two waits of a day each
        ([(1 * DAY, None)], None),  # still waiting: the customer's delay, never ours
        ([(8 * DAY, 9 * DAY)], 7 * DAY),  # a wait after it turned hot changes nothing
    ],
)  # fmt: skip
def test_days_waiting_on_the_customer_are_not_ours(waits: list[Any], hot_at: int | None) -> None:
    case = in_state("in-progress")
    for start, end in waits:
        case = step(
            case,
            events.Wait("Waiting for the bill copy").decide(POLICY, case, ALICE, at(start), at(40 * DAY)),
        )
        if end is not None:
            case = step(case, events.Resume().decide(POLICY, case, ALICE, at(end), at(40 * DAY)))
    facts = severity.facts(case)
    late = at(40 * DAY)
    rises = [r for r in severity.rules_fired(POLICY, facts, late) if r.severity == "hot"]
    assert [r.since for r in rises] == ([at(hot_at)] if hot_at is not None else [])
    old = [r for r in severity.rules_fired(OLD, facts, late) if r.severity == "hot"]
    assert [r.since for r in old] == [at(7 * DAY)]  # before the rule every day counted
