"""Clock arithmetic, severity rules and the unreachable rule, as tables."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complaintctl.core import deadlines, events, lifecycle, severity
from complaintctl.core.deadlines import Calendar, Limit
from complaintctl.core.policy import LimitRule
from complaintctl.store import calendar
from complaintctl.store.policyfile import load

POLICY = load(Path(__file__).resolve().parent.parent / "policy.yaml")
TZ = ZoneInfo("Asia/Shanghai")
NINE_TO_SIX = (time(9), time(18))
HOLIDAY = date(2026, 11, 23)  # a Monday, for the tests' own calendar
CAL = Calendar(TZ, dict.fromkeys(range(5), NINE_TO_SIX), lambda d: d.weekday() < 5 and d != HOLIDAY)
CAL_NO_HOLIDAY = Calendar(TZ, dict.fromkeys(range(5), NINE_TO_SIX), lambda d: d.weekday() < 5)
ALICE = "alice@example.com"


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


H = 3600.0


@pytest.mark.parametrize(
    ("start", "limit", "cal", "due"),
    [
        (
            "2026-11-20T17:00",
            Limit(48 * H, False),
            None,
            "2026-11-22T17:00",
        ),  # calendar runs over the weekend
        (
            "2026-11-20T17:00",
            Limit(16 * H, True),
            CAL_NO_HOLIDAY,
            "2026-11-24T15:00",
        ),  # Fri 1h, Mon 9h, Tue 6h
        ("2026-11-20T17:00", Limit(16 * H, True), CAL, "2026-11-25T15:00"),  # Monday is a holiday
        ("2026-11-21T10:00", Limit(2 * H, True), CAL, "2026-11-24T11:00"),  # opened on Saturday
        ("2026-11-24T07:00", Limit(9 * H, True), CAL, "2026-11-24T18:00"),  # before opening: the whole day
        ("2026-11-24T18:00", Limit(1 * H, True), CAL, "2026-11-25T10:00"),  # at closing time
    ],
)
def test_due_dates(start: str, limit: Limit, cal: Calendar | None, due: str) -> None:
    state = deadlines.run_clock("first_reply", limit, [(t(start), None)], None, t(start), 0.8, cal)
    assert state.due == t(due)


def test_china_make_up_working_saturday_and_national_day() -> None:
    cal = calendar.build(POLICY)
    assert cal is not None
    # Fri 9 Oct 17:00 + 3 working hours: Fri 1h, then Sat 10 Oct is an official working day.
    assert deadlines.add_work(cal, t("2026-10-09T17:00"), 3 * H) == t("2026-10-10T11:00")
    # 30 Sep 17:00 + 2h: 1h that day, then the National Day holiday until 8 Oct (a Thursday).
    assert deadlines.add_work(cal, t("2026-09-30T17:00"), 2 * H) == t("2026-10-08T10:00")


WORK_CAL = calendar.build(POLICY)  # shared by the examples: its running total grows both ways


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31)).map(lambda d: d.replace(tzinfo=TZ)),
    seconds=st.one_of(
        st.integers(1, 400 * 3600).map(float),  # whole seconds, as limits are
        st.sampled_from([H, 8 * H, 9 * H, 16 * H, 40 * H]),  # whole working days and hours
        st.integers(1, 10**12).map(lambda us: us / 10**6),  # what is left of a limit after spans
    ),
)
def test_add_work_gives_the_first_instant_with_that_much_working_time(
    start: datetime, seconds: float
) -> None:
    assert WORK_CAL is not None
    due = deadlines.add_work(WORK_CAL, start, seconds)
    tick = timedelta(microseconds=1)
    assert due > start
    assert deadlines.work_seconds(WORK_CAL, start, due) == pytest.approx(seconds, abs=1e-6)
    assert deadlines.work_seconds(WORK_CAL, start, due - tick) < seconds


def test_a_calendar_looked_at_late_first_then_early_answers_as_a_new_one() -> None:
    late, early = t("2026-12-30T17:00"), t("2025-02-03T10:00")
    used = calendar.build(POLICY)
    assert used is not None
    deadlines.add_work(used, late, 30 * H)  # its running total starts at the end of 2026
    for start in (early, late, t("2025-09-30T17:30")):
        fresh = calendar.build(POLICY)
        assert fresh is not None
        assert deadlines.add_work(used, start, 30 * H) == deadlines.add_work(fresh, start, 30 * H)
        assert deadlines.work_seconds(used, early, start) == deadlines.work_seconds(fresh, early, start)


@pytest.mark.parametrize(
    ("a", "b", "seconds"),
    [
        ("2026-11-20T08:00", "2026-11-20T20:00", 9 * H),
        ("2026-11-20T17:00", "2026-11-24T10:00", 2 * H),  # Fri 1h, Mon holiday, Tue 1h
        ("2026-11-21T00:00", "2026-11-22T23:59", 0.0),  # a weekend
        ("2026-11-24T10:00", "2026-11-24T10:00", 0.0),
    ],
)
def test_working_seconds(a: str, b: str, seconds: float) -> None:
    assert deadlines.work_seconds(CAL, t(a), t(b)) == seconds


def case_with(steps: list[tuple[str, str, dict[str, Any]]], urgent: bool = False) -> dict[str, Any]:
    case, _ = events.Open("张三", "phone", "billing", "x", urgent=urgent).decide_open(POLICY, "C-20261102-AAAAAA", ALICE, t("2026-11-02T09:00"), t("2026-12-31T00:00"))  # fmt: skip
    for at, action, extra in steps:
        case["events"].append({"at": t(at).isoformat(), "by": ALICE, "action": action, **extra})
    return case


def resolution(case: dict[str, Any], as_of: str, days: int = 7) -> deadlines.ClockState:
    f = deadlines.facts(case, ("waiting",))
    [state] = deadlines.evaluate(f, {"resolution": Limit(days * 86400.0, False)}, t(as_of), 0.8, None)
    return state


def test_pause_and_resume_move_the_resolution_deadline() -> None:
    case = case_with([
        ("2026-11-03T09:00", "wait", {"from": "in-progress", "to": "waiting"}),
        ("2026-11-05T09:00", "resume", {"from": "waiting", "to": "in-progress"}),
    ])  # fmt: skip
    assert resolution(case, "2026-11-06T09:00").due == t("2026-11-11T09:00")  # 7 days + 2 paused
    paused = resolution(case, "2026-11-04T09:00")
    assert (paused.status, paused.due, paused.left_seconds) == ("paused", None, 6 * 86400.0)
    never_resumed = case_with([("2026-11-03T09:00", "wait", {"from": "in-progress", "to": "waiting"})])
    assert resolution(never_resumed, "2026-12-30T00:00").status == "paused"


def test_close_and_reopen_count_only_open_time() -> None:
    case = case_with([
        ("2026-11-04T09:00", "close", {"from": "open", "to": "closed", "resolution": "explained"}),
        ("2026-11-10T09:00", "reopen", {"from": "closed", "to": "in-progress"}),
    ])  # fmt: skip
    assert resolution(case, "2026-11-10T10:00").due == t("2026-11-15T09:00")  # 2 days used before the close


@pytest.mark.parametrize(
    ("as_of", "status"),
    [
        ("2026-11-07T23:23", "running"),
        ("2026-11-07T23:24", "warning"),  # 80% of 7 days = 5d 14h 24m after 2 Nov 09:00
        ("2026-11-09T09:00", "warning"),  # exactly due is not late
        ("2026-11-09T09:01", "breached"),
    ],
)
def test_warning_and_breach_thresholds(as_of: str, status: str) -> None:
    assert resolution(case_with([]), as_of).status == status


def test_first_reply_back_dated_and_after_a_policy_change() -> None:
    replied = case_with(
        [("2026-11-02T10:30", "note", {"kind": "reply", "from": "open", "to": "in-progress"})], True
    )
    f = deadlines.facts(replied, ())
    urgent = POLICY.limits_for("general", True)
    [first] = [
        c for c in deadlines.evaluate(f, urgent, t("2026-11-03T00:00"), 0.8, None) if c.clock == "first_reply"
    ]
    assert (first.status, first.due, first.stopped) == ("met", t("2026-11-02T11:00"), t("2026-11-02T10:30"))
    stricter = dataclasses.replace(
        POLICY,
        time_limits=dataclasses.replace(
            POLICY.time_limits,
            rules={**POLICY.time_limits.rules, "first_reply": (LimitRule(Limit(H, False)),)},
        ),
    )
    limits = stricter.limits_for("general", True)
    [first] = [
        c for c in deadlines.evaluate(f, limits, t("2026-11-03T00:00"), 0.8, None) if c.clock == "first_reply"
    ]
    assert (first.status, first.late_seconds) == ("breached", 30 * 60.0)


def test_keep_informed_measures_the_open_gap() -> None:
    case = case_with([
        ("2026-11-02T10:00", "note", {"kind": "reply", "from": "open", "to": "in-progress"}),
        ("2026-11-04T10:00", "note", {"kind": "reply"}),
    ])  # fmt: skip
    f = deadlines.facts(case, ())
    [gap] = deadlines.evaluate(f, {"keep_informed": Limit(72 * H, False)}, t("2026-11-07T11:00"), 0.8, None)
    assert (gap.status, gap.due, gap.late_seconds) == ("breached", t("2026-11-07T10:00"), H)


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        (("general", False), {"first_reply": 48 * H, "keep_informed": 72 * H, "resolution": 80 * H, "followup": 7 * 86400.0}),
        (("general", True), {"first_reply": 2 * H, "keep_informed": 72 * H, "resolution": 7 * 86400.0, "followup": 7 * 86400.0}),
        (("major", False), {"first_reply": 48 * H, "keep_informed": 72 * H, "resolution": 5 * 86400.0, "followup": 7 * 86400.0}),
    ],
)  # fmt: skip
def test_policy_limits_by_severity_and_urgency(limits: tuple[str, bool], expected: dict[str, float]) -> None:
    assert {k: v.seconds for k, v in POLICY.limits_for(*limits).items()} == expected


# ---------------------------------------------------------------- unreachable customers


@pytest.mark.parametrize(
    ("attempts", "missing"),
    [
        ([], "0 of 3 attempts at least 3 h apart; next allowed after 2026-11-10T10:00:00+08:00"),
        (["10:00", "12:59"], "1 of 3 attempts at least 3 h apart; next allowed after 2026-11-10T13:00:00+08:00"),
        (["10:00", "13:00"], "2 of 3 attempts at least 3 h apart; next allowed after 2026-11-10T16:00:00+08:00"),
        (["10:00", "13:00", "15:59"], "2 of 3 attempts at least 3 h apart; next allowed after 2026-11-10T16:00:00+08:00"),
        (["10:00", "13:00", "16:00"], None),
        (["10:00", "13:00", "12T10:01"], "2 of 3 attempts; the window closed at 2026-11-12T10:00:00+08:00: send a new written notice"),
    ],
)  # fmt: skip
def test_unreachable_needs_notice_and_spaced_attempts(attempts: list[str], missing: str | None) -> None:
    events = [("2026-11-09T12:00", "close", {"from": "open", "to": "closed", "resolution": "explained"}),
              ("2026-11-10T10:00", "note", {"kind": "notice", "channel": "sms", "text": "n"})]  # fmt: skip
    for when in attempts:
        stamp = f"2026-11-{when}" if "T" in when else f"2026-11-10T{when}"
        events.append((stamp, "note", {"kind": "contact-failed", "channel": "phone", "text": "x"}))
    case = case_with(events)
    case["state"] = "closed"
    at = "2026-11-13T00:00" if any("12T" in a for a in attempts) else "2026-11-10T16:00"
    assert lifecycle.unreachable_missing(POLICY, case, t(at)) == missing


def test_unreachable_without_notice() -> None:
    case = case_with(
        [("2026-11-09T12:00", "close", {"from": "open", "to": "closed", "resolution": "explained"})]
    )
    assert lifecycle.unreachable_missing(POLICY, case, t("2026-11-13T00:00")) == "no written notice on record"


# ---------------------------------------------------------------- severity


def sev(case: dict[str, Any], as_of: str, peers: list[severity.Peer] | None = None) -> str:
    return severity.effective(POLICY, severity.facts(case), t(as_of), peers or [])[0]


@pytest.mark.parametrize(
    ("as_of", "level"),
    [
        ("2026-11-09T08:59", "general"),
        ("2026-11-09T09:00", "hot"),
        ("2026-12-02T08:59", "hot"),
        ("2026-12-02T09:00", "major"),
    ],
)
def test_unresolved_day_6_vs_day_7_and_a_month(as_of: str, level: str) -> None:
    assert sev(case_with([]), as_of) == level


def test_external_cause_and_closing_in_time_stop_the_time_rule() -> None:
    external = case_with([])
    external["cause"] = "external"
    assert sev(external, "2026-12-31T00:00") == "general"
    closed = case_with(
        [("2026-11-08T09:00", "close", {"from": "open", "to": "closed", "resolution": "explained"})]
    )
    closed["closed_at"] = t("2026-11-08T09:00").isoformat()
    assert sev(closed, "2026-12-31T00:00") == "general"


def peer(n: int, opened: str, customer: str) -> severity.Peer:
    return severity.Peer(f"C-20261101-00000{n}", t(opened), frozenset({customer}))


@pytest.mark.parametrize(
    ("peers", "level"),
    [
        ([peer(1, "2026-11-02T09:00", "a"), peer(2, "2026-11-03T09:00", "b")], "general"),
        (
            [
                peer(1, "2026-11-02T09:00", "a"),
                peer(2, "2026-11-03T09:00", "b"),
                peer(3, "2026-11-04T09:00", "c"),
            ],
            "hot",
        ),
        (
            [
                peer(1, "2026-11-02T09:00", "a"),
                peer(2, "2026-11-03T09:00", "b"),
                peer(3, "2026-11-04T09:00", "b"),
            ],
            "general",
        ),
        (
            [
                peer(1, "2026-10-01T09:00", "a"),
                peer(2, "2026-11-02T09:00", "b"),
                peer(3, "2026-11-04T09:00", "c"),
            ],
            "general",
        ),
        (
            [
                peer(1, "2026-10-04T09:00", "a"),
                peer(2, "2026-11-02T09:00", "b"),
                peer(3, "2026-11-02T09:00", "c"),
            ],
            "hot",
        ),
    ],
    ids=["2 customers", "3 customers", "one customer twice", "outside 30 days", "30 days back"],
)
def test_same_matter_from_three_customers(peers: list[severity.Peer], level: str) -> None:
    assert sev(case_with([]), "2026-11-05T00:00", peers) == level


@pytest.mark.parametrize(
    ("flags", "level"),
    [
        ({"risk": True}, "hot"),
        ({"lawsuit": True}, "major"),
        ({"media": True}, "major"),
        ({"collective": 2}, "general"),
        ({"collective": 3}, "hot"),
        ({"collective": 9}, "hot"),
        ({"collective": 10}, "major"),
    ],
)
def test_flags(flags: dict[str, Any], level: str) -> None:
    case = case_with([("2026-11-02T10:00", "flag", {"set": flags, "reason": "r"})])
    assert sev(case, "2026-11-02T10:00") == level
    assert sev(case, "2026-11-02T09:59") == "general"


def test_lowering_ignores_earlier_rises_but_not_later_ones() -> None:
    case = case_with([
        ("2026-11-02T10:00", "flag", {"set": {"risk": True}, "reason": "r"}),
        ("2026-11-03T10:00", "lower", {"severity_from": "hot", "severity": "general", "reason": "no risk after all"}),
    ])  # fmt: skip
    case["severity"] = "general"
    assert sev(case, "2026-11-05T00:00") == "general"
    assert sev(case, "2026-11-09T09:00") == "hot"  # a week unresolved is a new fact


def test_open_records_the_severity_the_rules_give() -> None:
    peers = [peer(1, "2026-11-01T09:00", "phone:1"), peer(2, "2026-11-01T10:00", "phone:2")]
    case, change = events.Open("张三", "phone", "billing", "x", phone="13812341234", matter="oct", demand="Refund").decide_open(POLICY, "C-20261102-AAAAAA", ALICE, t("2026-11-02T09:00"), t("2026-11-02T09:00"), (), peers)  # fmt: skip
    assert case["severity"] == "hot" and case["related"] == ["C-20261101-000001", "C-20261101-000002"]
    assert change.notices == ("severity hot: the same matter from 3 customers within 30 days",)


def test_spans_minus_pauses() -> None:
    a, b, c, d = (t(f"2026-11-0{i}T00:00") for i in (1, 2, 3, 4))
    assert deadlines.subtract([(a, d)], [(b, c)]) == [(a, b), (c, d)]
    assert deadlines.subtract([(a, None)], [(b, None)]) == [(a, b)]
    assert deadlines.subtract([(a, None)], [(b, c)]) == [(a, b), (c, None)]
    assert deadlines.subtract([(b, c)], [(a, d)]) == []


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0m"), (59, "0m"), (90 * 60, "1h 30m"), (2 * 86400 + 3 * 3600 + 60, "2d 3h"), (7 * 86400, "7d")],
)
def test_span_text(seconds: float, text: str) -> None:
    assert deadlines.format_span(seconds) == text


def test_facts_survive_the_index() -> None:
    case = case_with([
        ("2026-11-02T10:00", "note", {"kind": "reply", "from": "open", "to": "in-progress"}),
        ("2026-11-03T09:00", "wait", {"from": "in-progress", "to": "waiting"}),
    ])  # fmt: skip
    f = deadlines.facts(case, ("waiting",))
    assert deadlines.facts_from_json(deadlines.facts_to_json(f)) == f
    assert timedelta(0) < f.pauses[0][0] - f.opened
