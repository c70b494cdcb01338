"""Letters and summaries: the context each template gets, and rendering it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from complaintctl.core import lifecycle
from complaintctl.errors import RuleError
from complaintctl.service import reads
from complaintctl.service.choices import DocFormat, Document, Lang
from complaintctl.store import workspace
from complaintctl.store.workspace import Workspace


def render(
    root: str | None,
    case_id: str,
    what: Document,
    fmt: DocFormat,
    show_pii: bool = False,
    lang: Lang = Lang.EN,
) -> str | bytes:
    """A letter or summary as text (html, md) or bytes (pdf)."""
    from complaintctl.core.privacy import mask_customer
    from complaintctl.reports import letters as rnd

    what, fmt, lang = Document.parse(what), DocFormat.parse(fmt), Lang.parse(lang)
    ws, case = reads.load(root, case_id)
    source = {DocFormat.PDF: "html", DocFormat.MARKDOWN: "md"}.get(fmt, fmt.value)
    name = f"{what.value}.{source}.j2" if lang is Lang.EN else f"{what.value}.{lang.value}.{source}.j2"
    organisation = ws.policy.organisation_in(lang.value)
    if what is Document.AGREEMENT:
        text = agreement(ws, case, source, name, organisation)
    elif what is Document.REPLY:
        text = rnd.render(_templates(ws), name, {**_reply_context(ws, case), "organisation": organisation})
    else:
        context: dict[str, Any] = {"case": case, "organisation": organisation}
        context["customer"] = case["customer"] if show_pii else mask_customer(dict(case["customer"]))
        text = rnd.render(_templates(ws), name, context)
    return rnd.to_pdf(text, name) if fmt is DocFormat.PDF else text


def _reply_context(ws: Workspace, case: Any) -> dict[str, Any]:
    number, missing = lifecycle.signoffs_missing(ws.policy, case)
    if number == 0:
        raise RuleError(
            "there is no draft reply", where=case["id"], fix="write one with 'complaintctl draft'"
        )
    drafted = [e for e in case["events"] if e["action"] == "draft"][-1]
    signed = [e for e in case["events"] if e["action"] == "signoff" and e.get("draft") == number]
    member = ws.policy.member(drafted["by"])
    return {
        "case": case,
        "organisation": ws.policy.organisation,
        "customer": case["customer"],
        "draft": drafted,
        "signoffs": signed,
        "missing": missing,
        "author": member.name if member else drafted["by"],
    }


def _templates(ws: Workspace) -> list[Path]:
    return [ws.root / "templates", workspace.defaults_dir() / "templates"]


def agreement(
    ws: Workspace, case: Any, fmt: str, name: str | None = None, organisation: str | None = None
) -> str:
    """The settlement agreement for the case's accepted offer."""
    from complaintctl.reports import letters as rnd

    accepted = [o for o in case.get("offers", ()) if o["status"] == "accepted"]
    # Before 'agree': the open offer, printed for the customer to sign, marked so.
    chosen = accepted or [o for o in case.get("offers", ()) if o["status"] == "open"]
    if not chosen:
        raise RuleError(
            "no accepted or open offer to put in an agreement",
            where=case["id"],
            fix="make one with 'complaintctl propose' (an offer waiting for approval is not printed)",
        )
    offer = chosen[-1]
    agreed = [e for e in case["events"] if e["action"] == "agree" and e.get("offer") == offer["no"]]
    member = ws.policy.member(case["owner"])
    context = {
        "case": case,
        "organisation": organisation or ws.policy.organisation,
        "customer": case["customer"],
        "offer": offer,
        "money": money_words(offer),
        "accepted_at": agreed[-1]["at"] if agreed else offer["at"],
        "for_signature": not accepted,
        "handler": member.name if member else case["owner"],
    }
    return rnd.render(_templates(ws), name or f"agreement.{fmt}.j2", context)


def money_words(offer: Any) -> dict[str, str]:
    """The offer's amounts as a contract prints them: thousands separated,
    and for CNY in capitals (大写) too; the double refund's figures labelled."""
    from decimal import Decimal

    from complaintctl.core.capitals import capitals

    def grouped(text: str) -> str:
        return f"{Decimal(text):,.{max(0, -Decimal(text).as_tuple().exponent)}f}"  # type: ignore[operator]

    out = {"amount": grouped(offer["amount"]), "capitals": ""}
    if offer["currency"] == "CNY":
        out["capitals"] = "人民币" + capitals(Decimal(offer["amount"]))
    if "charged" in offer and "due" in offer:
        charged, due = Decimal(offer["charged"]), Decimal(offer["due"])
        out.update(
            charged=grouped(offer["charged"]), due=grouped(offer["due"]), over=grouped(str(charged - due))
        )
    return out
