"""Replay and the event merge, over plain data: no disk, no git."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from complaintctl.core import events, lifecycle
from complaintctl.store.policyfile import load
from complaintctl.team import replay
from complaintctl.team.replay import MergeConflict, Mismatch

POLICY = load(Path(__file__).resolve().parent.parent / "policy.yaml")
T0 = datetime.fromisoformat("2026-11-20T09:00:00+08:00")
ID = "C-20261120-7K3QX2"
ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"

Step = Callable[[dict[str, Any], datetime], lifecycle.Change]


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def opened() -> dict[str, Any]:
    new = events.Open(
        customer="张三",
        channel="phone",
        category="billing",
        summary="Charged twice",
        phone="13812341234",
        demand="Refund the extra charge",
    )
    case, _ = new.decide_open(POLICY, ID, ALICE, T0, at(1000))
    return case


def play(case: dict[str, Any], *steps: tuple[int, Step]) -> dict[str, Any]:
    case = copy.deepcopy(case)
    for minute, make in steps:
        lifecycle.apply(case, make(case, at(minute)))
    return case


def note(who: str, text: str) -> Step:
    return lambda c, t: events.Note(text).decide(POLICY, c, who, t, t)


def reply(who: str) -> Step:
    return lambda c, t: events.Note("Answered", "reply", "phone").decide(POLICY, c, who, t, t)


def propose(who: str, amount: str) -> Step:
    return lambda c, t: events.Propose(amount, "CNY", "refund", "Refund", not_overcharge="Goodwill").decide(
        POLICY, c, who, t, t
    )


def approve(who: str, number: int) -> Step:
    return lambda c, t: events.Approve(number).decide(POLICY, c, who, t, t)


def escalate(who: str) -> Step:
    return lambda c, t: events.Escalate("Manager please", CAROL).decide(POLICY, c, who, t, t)


def close(who: str) -> Step:
    return lambda c, t: events.Close("explained").decide(POLICY, c, who, t, t)


def merge(base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any]) -> replay.Merged:
    return replay.merge(POLICY, ours, theirs, [copy.deepcopy(base)])


def test_check_version_accepts_what_the_commands_wrote() -> None:
    base = play(opened(), (10, reply(ALICE)))
    after = play(base, (20, propose(ALICE, "900.00")), (30, approve(CAROL, 1)))
    changes = replay.check_version(POLICY, base, after)
    assert [(c.action, c.from_state, c.to_state) for c in changes] == [
        ("propose", "in-progress", "proposed"),
        ("approve", "proposed", "proposed"),
    ]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(state="closed"), "the file does not match its events (state is 'closed', the events give 'proposed')"),
        (lambda c: c["offers"][0].update(amount="9000.00"), "replay refused: CNY 9000.00 is above carol@example.com's approval limit"),
        (lambda c: c["events"][1].update(text="rewritten"), "events already on record were changed or removed"),
        (lambda c: c["events"].pop(), "the file does not match its events (offers[0].status is 'open', the events give 'pending-approval')"),
        (lambda c: c.update(extra=1), "the file does not match its events (extra should not be there)"),
    ],
)  # fmt: skip
def test_check_version_names_what_is_wrong(edit: Callable[[dict[str, Any]], Any], message: str) -> None:
    base = play(opened(), (10, reply(ALICE)))
    after = play(base, (20, propose(ALICE, "900.00")), (30, approve(CAROL, 1)))
    edit(after)
    with pytest.raises(Mismatch) as caught:
        replay.check_version(POLICY, base, after)
    assert caught.value.what.startswith(message)


def test_two_notes_are_kept_in_time_order() -> None:
    base = play(opened(), (10, reply(ALICE)))
    ours = play(base, (30, note(ALICE, "ours")))
    theirs = play(base, (20, note(BOB, "theirs")))
    merged = merge(base, ours, theirs)
    assert [e.get("text") for e in merged.case["events"][2:]] == ["theirs", "ours"]
    assert [e["action"] for e in merged.ours] == ["note"] and len(merged.theirs) == 1


def test_offers_on_both_sides_are_renumbered_and_approvals_follow() -> None:
    base = play(opened(), (10, reply(ALICE)))
    ours = play(base, (20, propose(ALICE, "50.00")))
    theirs = play(base, (30, propose(ALICE, "900.00")), (40, approve(CAROL, 1)))  # their offer 1
    case = merge(base, ours, theirs).case
    assert [(o["no"], o["amount"], o["status"], o.get("approved_by")) for o in case["offers"]] == [
        (1, "50.00", "superseded", None),
        (2, "900.00", "open", CAROL),
    ]
    assert [e.get("offer") for e in case["events"][2:]] == [1, 2, 2]


def test_propose_while_the_other_escalates() -> None:
    base = play(opened(), (10, reply(ALICE)))
    # The owner proposes while, concurrently, the case goes up to Carol.
    case = merge(base, play(base, (20, propose(ALICE, "50.00"))), play(base, (30, escalate(BOB)))).case
    assert (case["state"], case["tier"]) == ("proposed", "supervisor")


def test_close_while_the_other_proposes_is_a_conflict() -> None:
    base = play(opened(), (10, reply(ALICE)))
    ours = play(base, (20, close(ALICE)))
    theirs = play(base, (30, propose(ALICE, "50.00")))
    with pytest.raises(MergeConflict) as caught:
        merge(base, ours, theirs)
    assert caught.value.where == ID
    assert caught.value.what == (
        "concurrent changes cannot both stand: theirs 'propose by alice@example.com at "
        "2026-11-20T09:30:00+08:00 offer 1' is refused after the other side's changes (cannot propose a "
        "case that is closed). Ours: close by alice@example.com at 2026-11-20T09:20:00+08:00 resolution "
        "explained. Theirs: propose by alice@example.com at 2026-11-20T09:30:00+08:00 offer 1"
    )


def test_a_side_changed_by_hand_is_not_merged() -> None:
    base = play(opened(), (10, reply(ALICE)))
    ours = play(base, (20, note(ALICE, "ours")))
    ours["summary"] = "edited by hand"
    with pytest.raises(MergeConflict) as caught:
        merge(base, ours, play(base, (30, note(BOB, "theirs"))))
    assert caught.value.what == (
        "our version cannot be merged: the file does not match its events "
        "(summary is 'edited by hand', the events give 'Charged twice')"
    )


def test_a_merge_of_merges_starts_from_an_older_common_version() -> None:
    base = play(opened(), (10, reply(ALICE)))
    a1 = play(base, (30, note(ALICE, "a1")))
    b1 = play(base, (20, note(BOB, "b1")))
    first = merge(base, b1, a1).case  # b1 then a1
    a2 = play(a1, (40, note(ALICE, "a2")))  # Alice has not seen b1
    with pytest.raises(MergeConflict):  # a1 alone is not a version both extend
        replay.merge(POLICY, a2, first, [copy.deepcopy(a1)])
    merged = replay.merge(POLICY, a2, first, [copy.deepcopy(a1), copy.deepcopy(base)])
    assert [e.get("text") for e in merged.case["events"][2:]] == ["b1", "a1", "a2"]
    assert [e.get("text") for e in merged.ours] == ["a2"]
    assert [e.get("text") for e in merged.theirs] == ["b1"]


def test_a_severity_rise_on_both_sides_is_kept_once() -> None:
    base = play(opened(), (10, reply(ALICE)))

    def rise(who: str) -> Step:
        return lambda c, t: events.Rise("hot", ("3 customers on one matter",)).decide(POLICY, c, who, t, t)

    ours = play(base, (20, rise(ALICE)), (20, note(ALICE, "ours")))
    theirs = play(base, (25, rise(BOB)), (25, note(BOB, "theirs")))
    merged = merge(base, ours, theirs)
    assert [e["action"] for e in merged.case["events"][2:]] == ["severity", "note", "note"]
    assert merged.case["severity"] == "hot"
    assert merged.notes == (
        "severity rise to hot by bob@example.com at 2026-11-20T09:25:00+08:00 not repeated: "
        "the other side's rise made the case hot first",
    )


def test_an_offer_renumbered_by_an_earlier_merge_is_not_proposed_twice() -> None:
    """A proposes, C has A's version; B's earlier offer renumbers A's to 2 in
    B's merge; C's next merge must see that offer 2 there is A's offer 1."""
    base = play(opened(), (10, reply(ALICE)))
    v_a = play(base, (60, propose(ALICE, "50.00")))
    v_b = play(base, (30, propose(ALICE, "40.00")))
    first = merge(base, v_b, v_a).case
    assert [o["amount"] for o in first["offers"]] == ["40.00", "50.00"]
    v_c = play(
        v_a, (90, note(CAROL, "c")), (100, lambda c, t: events.Refuse(1).decide(POLICY, c, CAROL, t, t))
    )
    merged = replay.merge(POLICY, v_c, first, [copy.deepcopy(v_a), copy.deepcopy(base)])
    case = merged.case
    assert [(o["no"], o["amount"], o["by"], o["status"]) for o in case["offers"]] == [
        (1, "40.00", ALICE, "superseded"),
        (2, "50.00", ALICE, "refused"),  # Carol refused Alice's offer, now number 2
    ]
    assert [e["action"] for e in case["events"][2:]] == ["propose", "propose", "note", "refuse"]
    assert [e["action"] for e in merged.ours] == ["note", "refuse"]
    assert [e["amount"] if "amount" in e else e["action"] for e in merged.theirs] == ["propose"]
