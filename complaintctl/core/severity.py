"""Pure: the severity a case has by the policy's rules, as of a moment.

Severity follows the facts: flags (lawsuit, media, risk, a collective
complaint), time unresolved (unless the cause is external), and the same
matter raised by several customers. Each rule that fires says why and since
when. The effective severity is the highest of the recorded one and the rules
that fired after the last explicit ``lower``; it never falls by itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from complaintctl.core.policy import Policy

FLAGS = ("risk", "lawsuit", "media", "outside")


@dataclass(frozen=True)
class Rise:
    severity: str
    reason: str
    since: datetime


@dataclass(frozen=True)
class Peer:
    """Another case on the same category and matter."""

    case_id: str
    opened: datetime
    customer: frozenset[str]


def facts(case: Mapping[str, Any]) -> dict[str, Any]:
    """What the rules need from a case, as JSON-able data (for the index)."""
    flags: dict[str, str] = {}
    collective: list[tuple[int, str]] = []
    lowered = None
    waiting: list[list[str | None]] = []  # [start, end or None] of each wait on the customer
    paused = None  # the state 'wait' moved the case into (policy names it)
    for event in case["events"]:
        if event["action"] == "wait" and paused is None:
            paused = event.get("to")
            waiting.append([event["at"], None])
        elif paused is not None and event.get("from") == paused and event.get("to") != paused:
            waiting[-1][1] = event["at"]
            paused = None
        for key, value in (event.get("set") or {}).items():
            if key in FLAGS and value and key not in flags:
                flags[key] = event["at"]
            elif key == "collective" and value:
                collective.append((int(value), event["at"]))
        if event["action"] == "lower":
            lowered = event["at"]
    return {
        "recorded": case["severity"],
        "opened": case["opened_at"],
        "closed": case.get("closed_at"),
        "cause": case.get("cause", "unknown"),
        "flags": flags,
        "collective": collective,
        "lowered": lowered,
        "waiting": waiting,
    }


def _counted(opened: datetime, span: timedelta, waits: Sequence[Sequence[str | None]]) -> datetime | None:
    """When ``span`` of time not spent waiting on the customer has passed
    since ``opened``; None while a wait that began before then goes on."""
    t, left = opened, span
    for start_text, end_text in waits:
        start = datetime.fromisoformat(str(start_text))
        end = datetime.fromisoformat(end_text) if end_text else None
        if end is not None and end <= t:
            continue
        if start >= t + left:
            break
        left -= max(start - t, timedelta(0))  # counted before this wait began
        if end is None:
            return None
        t = end
    return t + left


def _same_matter(rule: tuple[int, int, str], me: datetime, peers: Sequence[Peer]) -> Rise | None:
    needed, days, severity = rule
    window = timedelta(days=days)
    best: datetime | None = None
    ordered = sorted(peers, key=lambda p: p.opened)
    for anchor in ordered:
        if not anchor.opened <= me <= anchor.opened + window:
            continue
        seen: list[frozenset[str]] = []
        for peer in ordered:
            if not anchor.opened <= peer.opened <= anchor.opened + window:
                continue
            if not any(peer.customer & s for s in seen):
                seen.append(peer.customer)
            if len(seen) >= needed:
                if best is None or peer.opened < best:
                    best = peer.opened
                break
    if best is None:
        return None
    return Rise(severity, f"the same matter from {needed} customers within {days} days", best)


def rules_fired(
    policy: Policy, f: Mapping[str, Any], as_of: datetime | None, peers: Sequence[Peer] = ()
) -> list[Rise]:
    """Every rule that has fired by ``as_of`` (None: whenever), ignoring explicit lowering."""
    rules = policy.severity_rules
    fired: list[Rise] = []
    for flag in FLAGS:
        if flag in f["flags"] and getattr(rules, flag) is not None:
            label = {
                "risk": "could lead to a lawsuit or media exposure",
                "lawsuit": "lawsuit filed",
                "media": "in the media",
                "outside": "needs outside expertise or another company's help",
            }
            fired.append(Rise(getattr(rules, flag), label[flag], datetime.fromisoformat(f["flags"][flag])))
    for people, at in f["collective"]:
        for threshold, severity in rules.collective:
            if people >= threshold:
                fired.append(
                    Rise(severity, f"collective complaint of {people} people", datetime.fromisoformat(at))
                )
    opened = datetime.fromisoformat(f["opened"])
    if f["cause"] != "external":
        end = datetime.fromisoformat(f["closed"]) if f["closed"] else None
        # docs/domain.md#severity: days spent waiting on the customer are not ours.
        waits = f.get("waiting", ()) if policy.rules.waiting_stops_unresolved else ()
        for days, severity in rules.unresolved:
            since = _counted(opened, timedelta(days=days), waits)
            if since is not None and (end is None or since <= end):
                reason = f"unresolved for {days} days" + (
                    " (not counting waits on the customer)" if waits else ""
                )
                fired.append(Rise(severity, reason, since))
    if rules.same_matter is not None and peers:
        rise = _same_matter(rules.same_matter, opened, peers)
        if rise is not None:
            fired.append(rise)
    return fired if as_of is None else [r for r in fired if r.since <= as_of]


def effective(
    policy: Policy,
    f: Mapping[str, Any],
    as_of: datetime,
    peers: Sequence[Peer] = (),
    fired: Sequence[Rise] | None = None,
) -> tuple[str, list[Rise]]:
    """The severity now, and the rises above the recorded severity behind it.
    ``fired``: ``rules_fired(policy, f, None, peers)``, if already made."""
    rank = policy.severity_rank
    recorded = f["recorded"]
    lowered = datetime.fromisoformat(f["lowered"]) if f["lowered"] else None
    rises = [
        r
        for r in (rules_fired(policy, f, as_of, peers) if fired is None else fired)
        if r.since <= as_of and rank(r.severity) > rank(recorded) and (lowered is None or r.since > lowered)
    ]
    rises.sort(key=lambda r: (-rank(r.severity), r.since))
    return (rises[0].severity if rises else recorded), rises
