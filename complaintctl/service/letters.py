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
    from complaintctl.reports import letters as rnd

    what, fmt, lang = Document.parse(what), DocFormat.parse(fmt), Lang.parse(lang)
    source = {DocFormat.PDF: "html", DocFormat.MARKDOWN: "md"}.get(fmt, fmt.value)
    name = _name(what.value, source, lang.value)
    if what is Document.SUMMARY:
        case, status = reads.case_status(root, case_id)
        ws = workspace.find_workspace(root)
        context = {**_common(ws, lang.value), **_summary_context(ws, case, status, show_pii)}
        text = rnd.render(_templates(ws), name, context)
    else:
        ws, case = reads.load(root, case_id)
        if what is Document.AGREEMENT:
            text = agreement(ws, case, source, lang.value)
        else:
            text = rnd.render(_templates(ws), name, {**_reply_context(ws, case), **_common(ws, lang.value)})
    return rnd.to_pdf(text, name, _templates(ws)) if fmt is DocFormat.PDF else text


def _name(what: str, source: str, lang: str) -> str:
    return f"{what}.{source}.j2" if lang == "en" else f"{what}.{lang}.{source}.j2"


def _common(ws: Workspace, lang: str) -> dict[str, Any]:
    """What every document gets: the organisation's name and letterhead in
    the language, and the names of the policy's codes in it."""
    policy = ws.policy
    return {
        "organisation": policy.organisation_in(lang),
        "letterhead": policy.letterhead.get(lang, ""),
        "labels": policy.labels_in(lang),
        "people": {m.id: m.name for m in policy.team},
        "timezone": policy.timezone,
    }


def _summary_context(ws: Workspace, case: Any, status: Any, show_pii: bool) -> dict[str, Any]:
    """A case summary: where the case stands now (the effective severity,
    clocks, stall flag), its offers, agreement and measures, its history."""
    from complaintctl.core.privacy import mask_customer, mask_free_text, mask_name

    if not show_pii:  # free text too: a customer's name, phone or ID typed into a note
        name = str(case["customer"]["name"])
        case = {
            **case,
            **{k: mask_free_text(str(case[k]), name) for k in ("summary", "demand") if case.get(k)},
            "events": [
                {**e, "text": mask_free_text(str(e["text"]), name)} if e.get("text") else e
                for e in case["events"]
            ],
        }
    agreed = [dict(e) for e in case["events"] if e["action"] == "agree"]
    if agreed and agreed[-1].get("signed_by") and not show_pii:
        agreed[-1]["signed_by"] = mask_name(str(agreed[-1]["signed_by"]))  # who signed for the customer
    return {
        "case": case,
        "customer": case["customer"] if show_pii else mask_customer(dict(case["customer"])),
        "pii": show_pii,
        "level": status.level,
        "stalled": status.stalled,
        "clocks": [
            {
                "clock": c.clock,
                "status": c.status,
                "due": c.due.isoformat() if c.due else None,
                "stopped": c.stopped.isoformat() if c.stopped else None,
            }
            for c in status.clocks
        ],
        "offers": case.get("offers", []),
        "agreed": agreed[-1] if agreed else None,
        "measures": case.get("measures", []),
    }


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
        "customer": case["customer"],
        "draft": drafted,
        "signoffs": signed,
        "missing": missing,
        "author": member.name if member else drafted["by"],
    }


def _templates(ws: Workspace) -> list[Path]:
    return [ws.root / "templates", workspace.defaults_dir() / "templates"]


def agreement(ws: Workspace, case: Any, fmt: str, lang: str = "en") -> str:
    """The settlement agreement for the case's accepted offer (or the open
    one, marked for signature), in ``fmt`` (html, md) and ``lang``."""
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
        **_common(ws, lang),
        "case": case,
        "customer": case["customer"],
        "offer": offer,
        "money": money_words(offer),
        "accepted_at": agreed[-1]["at"] if agreed else offer["at"],
        "for_signature": not accepted,
        "handler": member.name if member else case["owner"],
    }
    return rnd.render(_templates(ws), _name("agreement", fmt, lang), context)


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
