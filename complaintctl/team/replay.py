"""Re-derive a case from its events, and merge concurrent changes to one case.

Pure functions over parsed cases. ``redo`` re-runs the command that wrote an
event, with the arguments the event (and, for an offer's details, the case
the event came from) recorded, so every replayed event passes the same rules
a live command does. ``merge`` is the three-way merge of one case file that
``sync``, git's merge driver and ``verify`` all share: the events both sides
added are kept in time order, replayed on the common version, and the result
is refused (never guessed) when the two sides cannot both stand.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from complaintctl.core import events, lifecycle
from complaintctl.core.lifecycle import Change
from complaintctl.core.policy import Policy
from complaintctl.core.times import parse_time
from complaintctl.errors import ComplaintError, RuleError

Case = Mapping[str, Any]
Record = Mapping[str, Any]  # an event as recorded in a case file


class MergeConflict(RuleError):
    """Two versions of one case that cannot both stand."""


class Mismatch(RuleError):
    """A case file that its own events do not produce."""


def plain(value: Any) -> Any:
    """Round-trip YAML nodes as plain dicts, lists, str, int and bool."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    return value


# ---------------------------------------------------------------- redo


@dataclass
class Renumbering:
    """Offer numbers as one side wrote them -> as they are in the replayed case."""

    numbers: dict[int, int] = field(default_factory=dict)

    def __call__(self, number: int) -> int:
        return self.numbers.get(number, number)


# Recorded by the service next to the command's own fields (agree's files).
CARRIED = ("evidence", "letter")


def redo(
    policy: Policy, case: Case, event: Record, source: Case, offers: Renumbering | None = None
) -> Change:
    """The change that ``event`` makes to ``case``, re-checked by the rules.

    ``source`` is the version of the case the event was read from (it holds
    the details of the offers it proposed); ``offers`` renumbers its offers
    when the replayed case numbers them differently (a merge).
    """
    offers = offers if offers is not None else Renumbering()
    action = event.get("action")
    if action not in events.EVENTS or action == "open":
        raise Mismatch(f"unknown event '{action}' at {event.get('at')}", where=case["id"])
    at = parse_time(event["at"])
    # Replayed 'now' is the event's own time: never in the future.
    change = events.from_record(event, source, offers).decide(policy, case, event["by"], at, at)
    if action == "propose":
        offers.numbers[event["offer"]] = change.event["offer"]
    carried = {k: copy.deepcopy(plain(event[k])) for k in CARRIED if k in event}
    if carried:
        change = dataclasses.replace(change, event={**change.event, **carried})
    return change


def play(policy: Policy, case: Any, recorded: Sequence[Record], source: Case) -> list[Change]:
    """Apply ``recorded`` events to ``case`` in place, each re-run through the rules."""
    offers = Renumbering()
    changes = []
    for event in recorded:
        change = redo(policy, case, event, source, offers)
        lifecycle.apply(case, change)
        changes.append(change)
    return changes


# A rebase (git pull --rebase) replays a commit on a newer version of the
# case, so its events land out of place. sync refuses to push such a commit.
REWRITTEN = (
    "events already on record were changed or removed (a rebase rewrites them: use 'complaintctl sync', "
    "not 'git pull --rebase'; to go back, run 'git reset --keep ORIG_HEAD' right after the rebase, "
    "or reset to the commit 'git reflog' shows before it, then 'complaintctl sync')"
)


def check_version(policy: Policy, before: Case, after: Case) -> list[Change]:
    """The changes that turn ``before`` into ``after``; Mismatch if none do.

    The events of ``before`` must open ``after``'s list unchanged, and
    replaying the rest must give exactly ``after``.
    """
    old, new = list(before["events"]), list(after["events"])
    if plain(new[: len(old)]) != plain(old):
        raise Mismatch(
            REWRITTEN,
            where=after["id"],
        )
    replayed = copy.deepcopy(plain(before))
    try:
        changes = play(policy, replayed, new[len(old) :], after)
    except ComplaintError as exc:
        raise Mismatch(f"replay refused: {exc.what}", where=after["id"]) from None
    differs = _first_difference(replayed, plain(after))
    if differs:
        raise Mismatch(f"the file does not match its events ({differs})", where=after["id"])
    return changes


# Worked out at 'open' from other cases (repeats, the same matter): taken as
# recorded, since one file alone cannot re-derive them.
FROM_OTHER_CASES = ("repeat_of", "cap", "related", "reopen_reason")


def check_opening(policy: Policy, case: Case) -> None:
    """A case as first committed must be what 'open' makes of its own fields."""
    recorded = case["events"]
    if len(recorded) != 1 or recorded[0].get("action") != "open":
        raise Mismatch(
            f"added with {len(recorded)} event(s); complaintctl adds a case with its 'open' event only",
            where=case["id"],
        )
    at = parse_time(recorded[0]["at"])
    day = str(recorded[0]["at"])[:10]
    if str(case["id"])[2:10] != day.replace("-", ""):
        # 'open' names a case by the day it was received: the id, its folder and the reports' month agree.
        raise Mismatch(f"the id's date is not the day the case was received ({day})", where=case["id"])
    try:
        made, _ = events.Open.from_case(case).decide_open(policy, case["id"], recorded[0]["by"], at, at)
    except ComplaintError as exc:
        raise Mismatch(f"replay refused: {exc.what}", where=case["id"]) from None
    for key in FROM_OTHER_CASES:
        made.pop(key, None)
        if key in case:
            made[key] = plain(case[key])
    differs = _first_difference(plain(made), plain(case))
    if differs:
        raise Mismatch(f"the file does not match its opening ({differs})", where=case["id"])


def _first_difference(expected: Any, actual: Any, path: str = "") -> str | None:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in [*expected, *(k for k in actual if k not in expected)]:
            where = f"{path}.{key}" if path else str(key)
            if key not in actual:
                return f"{where} is missing"
            if key not in expected:
                return f"{where} should not be there"
            found = _first_difference(expected[key], actual[key], where)
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        for index, (a, b) in enumerate(zip(expected, actual, strict=False)):
            found = _first_difference(a, b, f"{path}[{index}]")
            if found:
                return found
        if len(expected) != len(actual):
            return f"{path} has {len(actual)} items, the events give {len(expected)}"
        return None
    if expected != actual:
        return f"{path} is {actual!r}, the events give {expected!r}"
    return None


# ---------------------------------------------------------------- merge


@dataclass(frozen=True)
class Merged:
    """A merged case, what each side added, and what the merge noticed."""

    case: Any
    ours: tuple[Record, ...]
    theirs: tuple[Record, ...]
    notes: tuple[str, ...] = ()


def describe(event: Record) -> str:
    """One event in a line, as a person would say it (no personal data)."""
    words = [str(event.get("action")), f"by {event.get('by')}", f"at {event.get('at')}"]
    for key in ("kind", "offer", "resolution", "tier_to", "severity"):
        if key in event:
            words.append(f"{key} {event[key]}")
    return " ".join(words)


def common_prefix(a: Sequence[Record], b: Sequence[Record]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if plain(x) != plain(y):
            break
        n += 1
    return n


def merge(policy: Policy, ours: Case, theirs: Case, starts: Iterable[Any]) -> Merged:
    """Both sides' events, in time order, replayed on a version they share.

    ``starts`` are earlier versions of the case, tried in turn (the merge
    base first, then older ones from history); the first whose events open
    both sides' lists is the one replayed on, in place (a round-trip document
    keeps its layout). A merge of merges can reorder events by time, so the
    merge base alone is not always such a version. Raises MergeConflict,
    naming both sides' changes, when an event of one side is refused after
    the other side's, or when a side is not what its own events give.
    """
    case_id = ours["id"]
    shared = common_prefix(ours["events"], theirs["events"])
    base = next((doc for doc in starts if len(doc["events"]) <= shared and _opens(doc, ours)), None)
    if base is None:
        raise MergeConflict(
            "no earlier version of the case that both sides share was found",
            where=case_id,
            fix="fetch the full history ('git fetch --unshallow') and try again",
        )
    for name, version in (("our", ours), ("their", theirs)):
        try:
            check_version(policy, base, version)
        except Mismatch as exc:
            raise MergeConflict(
                f"{name} version cannot be merged: {exc.what}",
                where=case_id,
                fix="run 'complaintctl verify' to find the commit that changed it by hand",
            ) from None
    start = len(base["events"])
    mine = [plain(e) for e in ours["events"][start:]]
    yours = [plain(e) for e in theirs["events"][start:]]
    # An event on both sides came through an earlier merge: it is kept once.
    # Its offer number may differ (that merge renumbered), so events are
    # compared by what they say, with the offer they name by its contents.
    mine_ids = [identity(e, ours) for e in mine]
    yours_ids = [identity(e, theirs) for e in yours]
    twin = {key: i for i, key in enumerate(yours_ids) if key in mine_ids}
    other = [e for e, key in zip(yours, yours_ids, strict=True) if key not in twin]
    only_mine = [e for e, key in zip(mine, mine_ids, strict=True) if key not in twin]
    # Time order; on a tie our events first. Each side keeps its own order.
    timeline: list[tuple[datetime, int, int, Any, Case]] = [
        (parse_time(e["at"]), 0, i, e, ours) for i, e in enumerate(mine)
    ]
    timeline += [(parse_time(e["at"]), 1, i, e, theirs) for i, e in enumerate(other)]
    timeline.sort(key=lambda item: item[:3])
    numbering = (Renumbering(), Renumbering())
    notes = []
    for _at, side, index, event, source in timeline:
        if event["action"] == "severity" and policy.severity_rank(event["severity"]) <= policy.severity_rank(
            base["severity"]
        ):
            notes.append(
                f"severity rise to {event['severity']} by {event['by']} at {event['at']} not repeated: "
                f"the other side's rise made the case {base['severity']} first"
            )
            continue
        try:
            change = redo(policy, base, event, source, numbering[side])
        except ComplaintError as exc:
            raise MergeConflict(
                _conflict_text(event, side, only_mine, other, exc),
                where=case_id,
                fix=_conflict_fix(case_id, side),
            ) from None
        key = mine_ids[index] if side == 0 else None
        if event["action"] == "propose" and key in twin:  # their copy is renumbered alike
            numbering[1].numbers[yours[twin[key]]["offer"]] = change.event["offer"]
        lifecycle.apply(base, change)
    return Merged(base, tuple(only_mine), tuple(other), tuple(notes))


# Fields a replay works out afresh (numbers, the state and tier before and
# after): they may differ between two copies of one event.
DERIVED = frozenset({"offer", "draft", "from", "to", "severity_from", "tier_from", "tier_to", "signoff"})


def identity(event: Record, source: Case) -> str:
    """What makes an event the same event on both sides, whatever its offer's number."""
    import json

    fields = {k: v for k, v in plain(event).items() if k not in DERIVED}
    if "offer" in event:
        offers = source.get("offers", ())
        offer: Mapping[str, Any] = next((o for o in offers if o["no"] == event["offer"]), {})
        keys = ("at", "by", "amount", "currency", "kind", "terms")
        fields["offer"] = {k: plain(offer.get(k)) for k in keys}
    return json.dumps(fields, sort_keys=True, ensure_ascii=False)


def _opens(doc: Case, case: Case) -> bool:
    return doc["id"] == case["id"] and common_prefix(doc["events"], case["events"]) == len(doc["events"])


def _conflict_text(event: Record, side: int, mine: list[Any], other: list[Any], exc: ComplaintError) -> str:
    who = ("ours", "theirs")
    here = "; ".join(describe(e) for e in mine) or "nothing"
    there = "; ".join(describe(e) for e in other) or "nothing"
    return (
        f"concurrent changes cannot both stand: {who[side]} '{describe(event)}' is refused after the "
        f"other side's changes ({exc.what}). Ours: {here}. Theirs: {there}"
    )


def _conflict_fix(case_id: str, side: int) -> str:
    return (
        "nothing was changed; decide with your colleague which side stands, then run "
        f"'complaintctl sync --keep-theirs {case_id}' or 'complaintctl sync --keep-ours {case_id}' "
        "(the other side's events on it are left out and listed in the merge commit)"
    )
