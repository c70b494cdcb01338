"""Pure: deadlines and breaches computed from a case's events.

Nothing is stored: every deadline is worked out from the events, the policy
and "as of" each time, so a policy change, a pause, or a back-dated event
(``--at``) gives the right answer at once.

Time is counted either on the calendar or in working hours of a ``Calendar``
(weekly hours, time zone, holidays). A clock is made of active intervals:
it runs from its start to its stop, minus the intervals in which the case
waits on the customer (``pause_states``).
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from complaintctl.core.eventlog import live_events
from complaintctl.core.times import parse_time

CLOCKS = ("first_reply", "keep_informed", "resolution", "followup")
CONTACT_ACTIONS = ("propose", "agree")  # besides reply notes, these reach the customer
MAX_DAYS = 3660  # a limit that finds no working time in ten years is a policy error


@dataclass(frozen=True)
class Calendar:
    """Working time: hours per weekday (0 = Monday) and a working-day test.

    Day windows and a running total of working seconds per day are memoised,
    so measuring a span is O(1) after the first look at its days.
    """

    tz: ZoneInfo
    hours: Mapping[int, tuple[time, time]]
    is_working_day: Callable[[date], bool]
    makeup_hours: tuple[time, time] | None = None  # for a weekend made a working day
    _windows: dict[int, tuple[datetime, datetime] | None] = field(
        default_factory=dict, compare=False, repr=False
    )
    # Working seconds from the first day looked at to the start of each day
    # from _origin[0] on: ascending, so add_work can search it.
    _origin: list[int] = field(default_factory=list, compare=False, repr=False)
    _totals: list[float] = field(default_factory=list, compare=False, repr=False)

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        key = day.toordinal()
        if key not in self._windows:
            span = self.hours.get(day.weekday()) or self.makeup_hours
            if span is None or not self.is_working_day(day):
                self._windows[key] = None
            else:
                self._windows[key] = (
                    datetime.combine(day, span[0], self.tz),
                    datetime.combine(day, span[1], self.tz),
                )
        return self._windows[key]

    def day_seconds(self, ordinal: int) -> float:
        w = self.window(date.fromordinal(ordinal))
        return 0.0 if w is None else (w[1] - w[0]).total_seconds()

    def before(self, ordinal: int) -> float:
        """Working seconds from an origin to the start of that day (may be < 0)."""
        totals = self._totals
        if not totals:
            self._origin.append(ordinal)
            totals.append(0.0)
        first = self._origin[0]
        if ordinal < first:  # rare: a day before any looked at so far
            earlier = [0.0] * (first - ordinal)
            total = totals[0]
            for d in range(first - 1, ordinal - 1, -1):
                total -= self.day_seconds(d)
                earlier[d - ordinal] = total
            totals[:0] = earlier
            self._origin[0] = first = ordinal
        self._extend(ordinal - first + 1)
        return totals[ordinal - first]

    def _extend(self, length: int) -> None:
        totals, day = self._totals, self._origin[0] + len(self._totals) - 1
        while len(totals) < length:
            totals.append(totals[-1] + self.day_seconds(day))
            day += 1

    def reach(self, start: date, position: float) -> datetime | None:
        """The instant at which the running total reaches ``position``, looking
        no earlier than the day after ``start`` and within MAX_DAYS of it."""
        origin = start.toordinal() + 1
        self.before(origin)
        totals, first = self._totals, self._origin[0]
        # The first day whose end is at or past the position (its start is before it).
        while totals[-1] < position:
            if len(totals) + first > origin + MAX_DAYS:
                return None
            self._extend(len(totals) + 64)
        end = bisect.bisect_left(totals, position, origin - first + 1)
        # Reached as that day starts (nothing to add): the next working day.
        if totals[end - 1] == totals[end]:
            end = bisect.bisect_right(totals, position, end)
        day = first + end - 1
        window = self.window(date.fromordinal(day))
        assert window is not None  # a day with working time
        return window[0] + timedelta(seconds=position - totals[end - 1])


def calendar_seconds(a: datetime, b: datetime) -> float:
    return max((b - a).total_seconds(), 0.0)


def _within(cal: Calendar, day: date, a: datetime, b: datetime) -> float:
    window = cal.window(day)
    if window is None:
        return 0.0
    start, end = max(window[0], a), min(window[1], b)
    return max((end - start).total_seconds(), 0.0)


def work_seconds(cal: Calendar, a: datetime, b: datetime) -> float:
    """Working seconds between a and b."""
    if b <= a:
        return 0.0
    first = a.astimezone(cal.tz).date()
    last = b.astimezone(cal.tz).date()
    if first == last:
        return _within(cal, first, a, b)
    middle = cal.before(last.toordinal()) - cal.before(first.toordinal() + 1)
    return _within(cal, first, a, b) + middle + _within(cal, last, a, b)


def add_work(cal: Calendar, start: datetime, seconds: float) -> datetime:
    """The instant when ``seconds`` of working time have passed since start:
    in start's own day if it holds them, else found in the running total."""
    day = start.astimezone(cal.tz).date()
    window = cal.window(day)
    done = 0.0  # working seconds of start's day before start
    if window is not None:
        begin = max(window[0], start)
        if window[1] > begin:
            if seconds <= (window[1] - begin).total_seconds():
                return begin + timedelta(seconds=seconds)
            done = (begin - window[0]).total_seconds()
        else:
            done = (window[1] - window[0]).total_seconds()
    due = cal.reach(day, cal.before(day.toordinal()) + done + seconds)
    if due is None:
        raise ValueError("no working time found in ten years; check business_hours in policy.yaml")
    return due


@dataclass(frozen=True)
class Limit:
    seconds: float
    business: bool


Interval = tuple[datetime, datetime | None]  # None: still running


@dataclass(frozen=True)
class ClockState:
    clock: str
    status: str  # met, breached, running, warning, paused
    limit: Limit
    started: datetime
    due: datetime | None
    stopped: datetime | None = None
    late_seconds: float = 0.0  # wall time past due (breached)
    left_seconds: float | None = None  # counted time left (running, warning)


@dataclass(frozen=True)
class Facts:
    """What the clocks need from a case, extracted once (JSON-able via to_json)."""

    opened: datetime
    urgent: bool
    contacts: tuple[datetime, ...] = ()  # replies and offers, in order
    first_reply: datetime | None = None
    open_spans: tuple[Interval, ...] = ()  # open -> close, reopen -> close
    pauses: tuple[Interval, ...] = ()
    closed: datetime | None = None  # the last close, if the case is closed now
    followed_up: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def facts(case: Mapping[str, Any], pause_states: Sequence[str]) -> Facts:
    events = live_events(case["events"])  # a retracted reply no longer answers
    contacts: list[datetime] = []
    first_reply = None
    spans: list[Interval] = []
    pauses: list[Interval] = []
    span_start: datetime | None = None
    pause_start: datetime | None = None
    closed = followed = None
    for event in events:
        at = parse_time(event["at"])
        action = event["action"]
        if action == "open":
            span_start = at
        is_reply = (action == "note" and event.get("kind") == "reply") or action == "send"
        if is_reply or action in CONTACT_ACTIONS:
            contacts.append(at)
            if is_reply and first_reply is None:
                first_reply = at
        to_state = event.get("to")
        if to_state is not None:
            if to_state in pause_states and pause_start is None:
                pause_start = at
            elif to_state not in pause_states and pause_start is not None:
                pauses.append((pause_start, at))
                pause_start = None
        if action == "close" and first_reply is None:
            first_reply = at  # settled without a reply first: closing answered the customer
        if action == "close" and span_start is not None:
            spans.append((span_start, at))
            span_start = None
            closed, followed = at, None
        elif action == "reopen":
            span_start, closed, followed = at, None, None
        elif action == "followup" and closed is not None and followed is None:
            followed = at
    if span_start is not None:
        spans.append((span_start, None))
    if pause_start is not None:
        pauses.append((pause_start, None))
    return Facts(
        opened=parse_time(case["opened_at"]),
        urgent=bool(case["urgent"]),
        contacts=tuple(contacts),
        first_reply=first_reply,
        open_spans=tuple(spans),
        pauses=tuple(pauses),
        closed=closed,
        followed_up=followed,
    )


def _t(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _p(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def facts_to_json(f: Facts) -> dict[str, Any]:
    return {
        "opened": _t(f.opened),
        "urgent": f.urgent,
        "contacts": [_t(c) for c in f.contacts],
        "first_reply": _t(f.first_reply),
        "open_spans": [[_t(a), _t(b)] for a, b in f.open_spans],
        "pauses": [[_t(a), _t(b)] for a, b in f.pauses],
        "closed": _t(f.closed),
        "followed_up": _t(f.followed_up),
    }


def facts_from_json(d: Mapping[str, Any]) -> Facts:
    def spans(items: Sequence[Sequence[str | None]]) -> tuple[Interval, ...]:
        out = []
        for a, b in items:
            start = _p(a)
            assert start is not None
            out.append((start, _p(b)))
        return tuple(out)

    opened = _p(d["opened"])
    assert opened is not None
    return Facts(
        opened=opened,
        urgent=bool(d["urgent"]),
        contacts=tuple(datetime.fromisoformat(c) for c in d["contacts"]),
        first_reply=_p(d["first_reply"]),
        open_spans=spans(d["open_spans"]),
        pauses=spans(d["pauses"]),
        closed=_p(d["closed"]),
        followed_up=_p(d["followed_up"]),
    )


def subtract(spans: Sequence[Interval], holes: Sequence[Interval]) -> list[Interval]:
    """Intervals of ``spans`` outside every hole (both sorted, open-ended allowed)."""
    if not holes:
        return list(spans)
    far = datetime.max.replace(tzinfo=ZoneInfo("UTC")) - timedelta(days=2)
    out: list[Interval] = []
    for start, end in spans:
        pieces: list[tuple[datetime, datetime]] = [(start, end or far)]
        for h_start, h_end in holes:
            h_end_ = h_end or far
            next_pieces = []
            for p_start, p_end in pieces:
                if h_end_ <= p_start or h_start >= p_end:
                    next_pieces.append((p_start, p_end))
                    continue
                if h_start > p_start:
                    next_pieces.append((p_start, h_start))
                if h_end_ < p_end:
                    next_pieces.append((h_end_, p_end))
            pieces = next_pieces
        out += [(s, None if e == far else e) for s, e in pieces if e > s]
    return out


def _measure(limit: Limit, cal: Calendar | None, a: datetime, b: datetime) -> float:
    if limit.business and cal is not None:
        return work_seconds(cal, a, b)
    return calendar_seconds(a, b)


def _advance(limit: Limit, cal: Calendar | None, a: datetime, seconds: float) -> datetime:
    if limit.business and cal is not None:
        return add_work(cal, a, seconds)
    return a + timedelta(seconds=seconds)


def run_clock(
    name: str,
    limit: Limit,
    active: Sequence[Interval],
    stopped: datetime | None,
    as_of: datetime,
    warn_at: float,
    cal: Calendar | None,
) -> ClockState:
    """Evaluate one clock over its active intervals (the last may be open)."""
    started = active[0][0]
    remaining = limit.seconds
    due = None
    for start, end in active:
        span = _measure(limit, cal, start, end) if end is not None else float("inf")
        if span >= remaining:
            due = _advance(limit, cal, start, remaining)
            break
        remaining -= span
    if stopped is not None:
        if due is None:  # stopped in time: when it would have been due had it run on
            due = _advance(limit, cal, active[-1][1] or stopped, remaining)
        if stopped > due:
            return ClockState(name, "breached", limit, started, due, stopped, calendar_seconds(due, stopped))
        return ClockState(name, "met", limit, started, due, stopped)
    if due is not None and as_of > due:
        return ClockState(name, "breached", limit, started, due, None, calendar_seconds(due, as_of))
    used = sum(_measure(limit, cal, s, min(e or as_of, as_of)) for s, e in active if s < as_of)
    left = max(limit.seconds - used, 0.0)
    if due is None:  # the clock is paused: the open-ended interval is a pause
        return ClockState(name, "paused", limit, started, None, None, 0.0, left)
    status = "warning" if used >= warn_at * limit.seconds else "running"
    return ClockState(name, status, limit, started, due, None, 0.0, left)


def evaluate(
    f: Facts,
    limits: Mapping[str, Limit],
    as_of: datetime,
    warn_at: float,
    cal: Calendar | None,
) -> list[ClockState]:
    """Every clock that applies to the case, as of ``as_of``.

    ``limits`` holds the limit of each clock for this case (see
    ``policy.Policy.limits_for``); a clock without a limit is not kept.
    """
    states: list[ClockState] = []
    # Only what had happened by as_of counts (a report "as of" last month).
    if f.pauses:
        pauses = [(s, e if e is not None and e <= as_of else None) for s, e in f.pauses if s <= as_of]
        f = dataclasses.replace(f, pauses=tuple(pauses))
    if "first_reply" in limits:
        stop = f.first_reply if f.first_reply and f.first_reply <= as_of else None
        states.append(
            run_clock("first_reply", limits["first_reply"], [(f.opened, None)], stop, as_of, warn_at, cal)
        )
    is_closed = f.closed is not None and f.closed <= as_of
    if "resolution" in limits:
        spans = [(s, e if e is not None and e <= as_of else None) for s, e in f.open_spans if s <= as_of]
        active = subtract(spans, f.pauses)
        if active:
            stop = f.closed if is_closed else None
            states.append(run_clock("resolution", limits["resolution"], active, stop, as_of, warn_at, cal))
    if "keep_informed" in limits and f.contacts and f.contacts[0] <= as_of:
        # Each gap between contacts (and from the last one to closing) is
        # measured; the open gap is what matters now, else the worst past one.
        contacts = [c for c in f.contacts if c <= as_of]
        end = f.closed if is_closed else None
        gaps: list[ClockState] = []
        for start, stop in zip(contacts, [*contacts[1:], end], strict=True):
            active = subtract([(start, stop)], f.pauses)
            if active:
                gaps.append(
                    run_clock("keep_informed", limits["keep_informed"], active, stop, as_of, warn_at, cal)
                )
        current = [g for g in gaps if g.stopped is None]
        breached = [g for g in gaps if g.status == "breached"]
        if current:
            states.append(current[-1])
        elif breached:
            states.append(breached[0])
        elif gaps:
            states.append(gaps[-1])
    if "followup" in limits and is_closed:
        assert f.closed is not None
        stop = f.followed_up if f.followed_up and f.followed_up <= as_of else None
        states.append(
            run_clock("followup", limits["followup"], [(f.closed, None)], stop, as_of, warn_at, cal)
        )
    return states


def format_span(seconds: float) -> str:
    """'2d 3h', '5h 10m', '12m'."""
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{mins}m" if mins and not days else "",
    ]
    return " ".join(p for p in parts if p) or "0m"


def left_text(state: ClockState) -> str:
    """Counted time left: working hours for a business clock, else calendar time."""
    seconds = state.left_seconds or 0
    if state.limit.business:
        hours, rest = divmod(int(seconds // 60), 60)
        return f"{hours}h {rest}m of working time" if rest else f"{hours}h of working time"
    return format_span(seconds)
