"""Pure: money rules of offers: approval limits, double refunds, the bottom line.

docs/domain.md#approval: compensation above what a handler may grant needs approval from
someone whose limit covers it; a billing error is refunded twice the
overcharge, 2 x (charged - due); once a bottom-line offer is refused, no later
offer may exceed it, whatever tier the case goes to.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from complaintctl.core.policy import Policy
from complaintctl.core.records import money
from complaintctl.errors import RuleError, UsageError

UNLIMITED = None


def limit_of(policy: Policy, actor: str, currency: str) -> Decimal | None:
    """The largest offer ``actor`` may make or approve alone (None: no limit).

    The highest limit among the actor's roles counts; a role without a limit
    for this currency may approve nothing in it. With no team listed in the
    policy there is nobody to ask, so there is no limit.
    """
    member = policy.member(actor)
    if member is None:
        return UNLIMITED if not policy.team else Decimal(0)
    best: Decimal | None = Decimal(0)
    for role in member.roles:
        if role not in policy.approval_limits:
            continue
        limits = policy.approval_limits[role]
        if limits is None:
            return UNLIMITED
        amount = limits.get(currency)
        if amount is not None and best is not None and amount > best:
            best = amount
    return best


def covers(limit: Decimal | None, amount: Decimal) -> bool:
    return limit is None or amount <= limit


def approvers(policy: Policy, currency: str, amount: Decimal, exclude: set[str]) -> list[str]:
    return [
        m.id for m in policy.team if m.id not in exclude and covers(limit_of(policy, m.id, currency), amount)
    ]


def double_refund(charged: str, due: str, currency: str, policy: Policy) -> tuple[Decimal, str]:
    """2 x (charged - due), and the arithmetic as it is shown to the customer."""
    c = money(charged, currency, policy)
    d = money(due, currency, policy)
    if c <= d:
        raise UsageError(
            f"charged {currency} {c} is not more than due {currency} {d}: there is no overcharge",
            fix="check the bill; a double refund is for an overcharge only",
        )
    amount = 2 * (c - d)
    return amount, f"2 × ({currency} {c} − {currency} {d}) = {currency} {amount}"


def bottom_line(case: Mapping[str, Any], withdrawn: bool = False) -> Mapping[str, Any] | None:
    """The lowest refused bottom-line offer: the cap on every later offer
    (``withdrawn``: a withdrawn one too, so that recording the customer's
    refusal as a withdrawal does not lift the cap)."""
    ended = ("refused", "withdrawn") if withdrawn else ("refused",)
    refused = [o for o in case.get("offers", ()) if o.get("bottom_line") and o["status"] in ended]
    return min(refused, key=lambda o: Decimal(o["amount"]), default=None)


def accepted_offer(case: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The settlement that stands: the last offer the customer accepted (an
    earlier one stays accepted after a reopen and a new agreement)."""
    accepted = [o for o in case.get("offers", ()) if o["status"] == "accepted"]
    return accepted[-1] if accepted else None


def cap_of(case: Mapping[str, Any], withdrawn: bool = False) -> dict[str, Any] | None:
    """What caps every offer on ``case``: its own lowest refused bottom-line
    offer, or one carried from an earlier case on the same matter (the
    case's ``cap``, recorded at 'open'), whichever is lower. The cap follows
    the matter, so a new complaint does not reopen the bargaining."""
    found = []
    own = bottom_line(case, withdrawn)
    if own is not None:
        found.append(
            {
                "amount": own["amount"],
                "currency": own["currency"],
                "case": case["id"],
                "offer": own["no"],
                "status": own["status"],
            }
        )
    if case.get("cap"):
        found.append(dict(case["cap"]))
    return min(found, key=lambda c: Decimal(c["amount"]), default=None)


def check_cap(case: Mapping[str, Any], amount: Decimal, currency: str, withdrawn: bool = False) -> None:
    cap = cap_of(case, withdrawn)
    if cap is None:
        return
    where = "" if cap["case"] == case["id"] else f" of {cap['case']} (the same matter)"
    label = f"offer {cap['offer']}{where} ({cap['currency']} {cap['amount']})"
    if currency != cap["currency"]:
        raise RuleError(
            f"the {cap['status']} bottom-line {label} caps every later offer, "
            f"which must be in {cap['currency']}",
            where=case["id"],
            fix=f"make the offer in {cap['currency']}",
        )
    if amount > Decimal(cap["amount"]):
        raise RuleError(
            f"{currency} {amount} exceeds the {cap['status']} bottom-line {label}; "
            "after a bottom line is refused no offer may exceed it, whatever the tier",
            where=case["id"],
            fix=f"offer at most {cap['currency']} {cap['amount']}, or close the case",
        )
