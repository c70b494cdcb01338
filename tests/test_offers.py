"""Offers: approval limits per role and currency, approval, the bottom line, double refunds."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from complaintctl.core import events, lifecycle, offers
from complaintctl.errors import RuleError, UsageError
from complaintctl.store.policyfile import load

POLICY = load(Path(__file__).resolve().parent.parent / "policy.yaml")
T0 = datetime.fromisoformat("2026-11-20T09:00:00+08:00")
NOW = datetime.fromisoformat("2026-11-22T10:00:00+08:00")
ID = "C-20261120-7K3QX2"
ALICE, BOB, CAROL, DAVE, ERIN = (f"{n}@example.com" for n in ("alice", "bob", "carol", "dave", "erin"))


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def step(case: dict[str, Any], change: lifecycle.Change) -> dict[str, Any]:
    case = copy.deepcopy(case)
    lifecycle.apply(case, change)
    return case


def new_case(**over: Any) -> dict[str, Any]:
    fields = {"phone": "13812341234", "demand": "Refund the extra charge", **over}
    case, _ = events.Open("张三", "phone", "billing", "Charged twice", **fields).decide_open(
        POLICY, ID, ALICE, T0, NOW
    )
    return step(case, events.Note("Sorry", "reply", "phone").decide(POLICY, case, ALICE, at(1), NOW))


@pytest.mark.parametrize(
    ("actor", "currency", "limit"),
    [
        (ALICE, "CNY", Decimal("200.00")),
        (ALICE, "USD", Decimal("30.00")),
        (ALICE, "JPY", Decimal("4000")),
        (CAROL, "CNY", Decimal("2000.00")),
        (DAVE, "CNY", None),  # manager: no limit
        (ERIN, "EUR", None),  # executive and legal: the higher role counts
        ("mallory@example.com", "CNY", Decimal(0)),  # not on the team
    ],
)
def test_limits_per_role_and_currency(actor: str, currency: str, limit: Decimal | None) -> None:
    assert offers.limit_of(POLICY, actor, currency) == limit


@pytest.mark.parametrize(
    ("actor", "amount", "currency", "status"),
    [
        (ALICE, "200.00", "CNY", "open"),
        (ALICE, "200.01", "CNY", "pending-approval"),
        (ALICE, "30", "USD", "open"),
        (ALICE, "31", "USD", "pending-approval"),
        (CAROL, "2000", "CNY", "open"),
        (CAROL, "2000.01", "CNY", "pending-approval"),
        (DAVE, "99999", "CNY", "open"),
    ],
)
def test_offers_above_the_limit_wait_for_approval(
    actor: str, amount: str, currency: str, status: str
) -> None:
    case = new_case()
    change = events.Propose(amount, currency, "refund", "Refund", not_overcharge="Goodwill").decide(
        POLICY, case, actor, at(2), NOW
    )
    assert step(case, change)["offers"][0]["status"] == status
    assert change.subject.endswith("(pending approval)") == (status == "pending-approval")


def pending(amount: str = "1500") -> dict[str, Any]:
    case = new_case()
    return step(
        case,
        events.Propose(amount, "CNY", "refund", "Refund", not_overcharge="Goodwill").decide(
            POLICY, case, ALICE, at(2), NOW
        ),
    )


@pytest.mark.parametrize(
    ("approver", "amount", "error"),
    [
        (CAROL, "1500", None),
        (DAVE, "1500", None),
        (
            BOB,
            "1500",
            f"{ID}: CNY 1500.00 is above bob@example.com's approval limit; ask one of: {CAROL}, {DAVE}, {ERIN}",
        ),
        (
            CAROL,
            "2500",
            f"{ID}: CNY 2500.00 is above carol@example.com's approval limit; ask one of: {DAVE}, {ERIN}",
        ),
        (ALICE, "1500", f"{ID}: alice@example.com made offer 1 and may not approve it; ask someone else"),
    ],
)
def test_approval(approver: str, amount: str, error: str | None) -> None:
    case = pending(amount)
    if error:
        with pytest.raises(RuleError) as caught:
            events.Approve(1).decide(POLICY, case, approver, at(3), NOW)
        assert str(caught.value) == error
        return
    after = step(case, events.Approve(1).decide(POLICY, case, approver, at(3), NOW))
    assert after["offers"][0]["status"] == "open" and after["offers"][0]["approved_by"] == approver
    agreed = step(after, events.Agree().decide(POLICY, after, ALICE, at(4), NOW))
    assert agreed["state"] == "agreed"


def test_a_pending_offer_cannot_be_accepted_and_approval_is_recused() -> None:
    case = pending()
    with pytest.raises(RuleError) as caught:
        events.Agree().decide(POLICY, case, ALICE, at(3), NOW)
    assert str(caught.value) == (
        f"{ID}: offer 1 waits for approval and cannot be accepted yet; have it approved first: complaintctl approve {ID} 1"
    )
    recused = new_case(subject_staff=(CAROL,))
    recused = step(
        recused,
        events.Propose("1500", "CNY", "refund", "R", not_overcharge="Goodwill").decide(
            POLICY, recused, ALICE, at(2), NOW
        ),
    )
    with pytest.raises(RuleError, match="recusal"):
        events.Approve(1).decide(POLICY, recused, CAROL, at(3), NOW)
    with pytest.raises(RuleError, match="offer 1 is open, not waiting for approval"):
        approved = step(case, events.Approve(1).decide(POLICY, case, CAROL, at(3), NOW))
        events.Approve(1).decide(POLICY, approved, DAVE, at(4), NOW)


def test_refused_bottom_line_caps_every_later_offer_whatever_the_tier() -> None:
    case = new_case()
    case = step(
        case,
        events.Propose("500", "CNY", "refund", "Final", True, not_overcharge="Goodwill").decide(
            POLICY, case, CAROL, at(2), NOW
        ),
    )
    case = step(case, events.Refuse(1, "Wants 2000").decide(POLICY, case, ALICE, at(3), NOW))
    assert case["state"] == "in-progress" and case["offers"][0]["status"] == "refused"
    for i in range(3):  # up to the executive tier (Erin holds each tier above the front line)
        case = step(case, events.Escalate("Customer insists").decide(POLICY, case, ERIN, at(4 + i), NOW))
    assert case["tier"] == "executive"
    with pytest.raises(RuleError) as caught:
        events.Propose("500.01", "CNY", "refund", "More", not_overcharge="Goodwill").decide(
            POLICY, case, ERIN, at(10), NOW
        )
    assert str(caught.value) == (
        f"{ID}: CNY 500.01 exceeds the refused bottom-line offer 1 (CNY 500.00); after a bottom line is refused no "
        "offer may exceed it, whatever the tier; offer at most CNY 500.00, or close the case"
    )
    with pytest.raises(RuleError, match="must be in CNY"):
        events.Propose("60", "USD", "refund", "Dollars", not_overcharge="Goodwill").decide(
            POLICY, case, ERIN, at(10), NOW
        )
    again = step(
        case,
        events.Propose("500", "CNY", "refund", "The same", not_overcharge="Goodwill").decide(
            POLICY, case, ERIN, at(10), NOW
        ),
    )
    assert again["offers"][-1]["status"] == "open"


def test_a_refused_ordinary_offer_does_not_cap() -> None:
    case = new_case()
    case = step(
        case,
        events.Propose("100", "CNY", "refund", "R", not_overcharge="Goodwill").decide(
            POLICY, case, ALICE, at(2), NOW
        ),
    )
    case = step(case, events.Refuse(1).decide(POLICY, case, ALICE, at(3), NOW))
    case = step(
        case,
        events.Propose("150", "CNY", "refund", "More", not_overcharge="Goodwill").decide(
            POLICY, case, ALICE, at(4), NOW
        ),
    )
    assert case["offers"][-1]["status"] == "open"
    with pytest.raises(RuleError, match="offer 1 is refused; only an open offer can be refused"):
        events.Refuse(1).decide(POLICY, case, ALICE, at(5), NOW)


@pytest.mark.parametrize(
    ("charged", "due", "amount", "arithmetic", "error"),
    [
        ("180.00", "120.00", "120.00", "2 × (CNY 180.00 − CNY 120.00) = CNY 120.00", None),
        ("120.01", "120", "0.02", "2 × (CNY 120.01 − CNY 120.00) = CNY 0.02", None),
        ("1000", "0", "2000.00", "2 × (CNY 1000.00 − CNY 0.00) = CNY 2000.00", None),
        ("120", "120", None, None, "charged CNY 120.00 is not more than due CNY 120.00: there is no overcharge; check the bill; a double refund is for an overcharge only"),
        ("100", "120", None, None, "charged CNY 100.00 is not more than due CNY 120.00: there is no overcharge; check the bill; a double refund is for an overcharge only"),
        ("100.001", "50", None, None, "amount '100.001' has more than 2 decimal places for CNY; round it to 2 places"),
    ],
)  # fmt: skip
def test_double_refund(
    charged: str, due: str, amount: str | None, arithmetic: str | None, error: str | None
) -> None:
    case = new_case()
    if error:
        with pytest.raises(UsageError) as caught:
            events.Propose(None, "CNY", "credit", "Credit", False, charged, due).decide(
                POLICY, case, DAVE, at(2), NOW
            )
        assert str(caught.value) == error
        return
    change = events.Propose(None, "CNY", "credit", "Credit", False, charged, due).decide(
        POLICY, case, DAVE, at(2), NOW
    )
    offer = step(case, change)["offers"][0]
    assert (offer["amount"], offer["kind"], offer["arithmetic"]) == (amount, "credit", arithmetic)


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("repair", "a double refund is paid back, not given as 'repair'; use --kind credit (account credit) or --kind refund"),
        ("bribe", "unknown offer kind 'bribe'; use one of: refund, credit, replacement, repair, goodwill, other (policy.yaml: offer_kinds)"),
    ],
)  # fmt: skip
def test_double_refund_kind_is_refund_or_credit(kind: str, error: str) -> None:
    with pytest.raises(UsageError) as caught:
        events.Propose(None, "CNY", kind, "R", False, "180", "120").decide(
            POLICY, new_case(), DAVE, at(2), NOW
        )
    assert str(caught.value) == error


def test_double_refund_above_the_limit_waits_like_any_offer() -> None:
    case = new_case()
    change = events.Propose(None, "CNY", "refund", "R", False, "300", "150").decide(
        POLICY, case, ALICE, at(2), NOW
    )
    assert step(case, change)["offers"][0]["status"] == "pending-approval"
    assert change.notices == (
        f"offer 1 is above your limit and waits for approval by one of: {CAROL}, {DAVE}, {ERIN}",
    )


# ---------------------------------------------------------------- written replies


def drafted() -> dict[str, Any]:
    case, _ = events.Open("张三", "letter", "billing", "Charged twice").decide_open(
        POLICY, ID, ALICE, T0, NOW
    )
    return step(case, events.Draft("Dear Mr Zhang, ...").decide(POLICY, case, ALICE, at(1), NOW))


@pytest.mark.parametrize(
    ("signers", "error"),
    [
        ([], f"{ID}: draft 1 cannot go out before legal review and supervisor approval; run 'complaintctl signoff' as the people who hold those roles"),
        ([ERIN], f"{ID}: draft 1 cannot go out before supervisor approval; run 'complaintctl signoff' as the people who hold those roles"),
        ([ERIN, CAROL], None),
        ([ERIN, DAVE], None),
    ],
)  # fmt: skip
def test_a_written_reply_goes_out_after_legal_then_supervisor(signers: list[str], error: str | None) -> None:
    case = drafted()
    for i, who in enumerate(signers):
        case = step(case, events.Signoff().decide(POLICY, case, who, at(2 + i), NOW))
    if error:
        with pytest.raises(RuleError) as caught:
            events.Send("letter").decide(POLICY, case, ALICE, at(9), NOW)
        assert str(caught.value) == error
        return
    sent = step(case, events.Send("letter").decide(POLICY, case, ALICE, at(9), NOW))
    assert sent["state"] == "in-progress" and sent["events"][-1]["text"] == "Dear Mr Zhang, ..."


@pytest.mark.parametrize(
    ("signers", "error"),
    [
        ([CAROL], f"{ID}: draft 1 needs legal review next, by someone holding legal; ask one of: {ERIN}"),
        ([ERIN, ERIN], f"{ID}: erin@example.com already signed off draft 1 (legal review); each sign-off is by another person; ask someone else"),
        # Erin holds executive too, but signed already: she is not suggested.
        ([ERIN, BOB], f"{ID}: draft 1 needs supervisor approval next, by someone holding supervisor or manager or executive; ask one of: {CAROL}, {DAVE}"),
        ([ERIN, CAROL, DAVE], f"{ID}: draft 1 is fully signed off; send it with 'complaintctl send'"),
    ],
)  # fmt: skip
def test_sign_offs_come_in_order_from_the_right_roles(signers: list[str], error: str) -> None:
    case = drafted()
    with pytest.raises(RuleError) as caught:
        for i, who in enumerate(signers):
            case = step(case, events.Signoff().decide(POLICY, case, who, at(2 + i), NOW))
    assert str(caught.value) == error


def test_a_new_draft_needs_new_sign_offs_and_authors_do_not_sign_their_own() -> None:
    case = drafted()
    for i, who in enumerate([ERIN, CAROL]):
        case = step(case, events.Signoff().decide(POLICY, case, who, at(2 + i), NOW))
    case = step(case, events.Draft("Second version").decide(POLICY, case, CAROL, at(5), NOW))
    with pytest.raises(RuleError, match="draft 2 cannot go out before legal review and supervisor approval"):
        events.Send("letter").decide(POLICY, case, ALICE, at(6), NOW)
    case = step(case, events.Signoff().decide(POLICY, case, ERIN, at(6), NOW))
    with pytest.raises(RuleError, match=r"carol@example\.com wrote draft 2 and may not sign it off"):
        events.Signoff().decide(POLICY, case, CAROL, at(7), NOW)
