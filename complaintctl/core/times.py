"""Time: the one place that reads the wall clock, and --at parsing.

``COMPLAINTCTL_NOW`` (ISO 8601 with offset) pins "now" for tests, demos and
replays; nothing else in the code calls datetime.now().
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from complaintctl.errors import UsageError


def format_time(at: datetime) -> str:
    """A time as stored in a case file: ISO 8601 to the second, with its offset."""
    return at.isoformat(timespec="seconds")


def parse_time(text: str) -> datetime:
    """Parse a stored ISO 8601 time; it must carry an offset."""
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError("no UTC offset")
    return at


def now(tz_name: str) -> datetime:
    tz = ZoneInfo(tz_name)
    pinned = os.environ.get("COMPLAINTCTL_NOW")
    if pinned:
        return parse_at(pinned, tz_name, what="COMPLAINTCTL_NOW")
    return datetime.now(UTC).astimezone(tz).replace(microsecond=0)


def parse_at(text: str, tz_name: str, what: str = "--at") -> datetime:
    """'2026-11-22T09:30', '2026-11-22 09:30:00+08:00' or '2026-11-22'.

    A time without an offset is in the policy's time zone; one that the
    zone skips (clocks jump forward) is refused, and one it has twice
    (clocks go back) needs its offset. A time with an offset is the same
    instant in the policy's zone, so ids, folders, lists and report months
    all follow the policy's calendar.
    """
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{what} '{text}' is not a date and time",
            fix="write it like 2026-11-22T09:30 or 2026-11-22T09:30:00+08:00",
        ) from None
    if not 2000 <= at.year <= 2999:
        # Earlier years meet local mean time offsets (+08:05:43) git refuses.
        raise UsageError(f"{what} '{text}' is outside the years 2000-2999", fix="check the year")
    tz = ZoneInfo(tz_name)
    if at.tzinfo is not None:
        return at.astimezone(tz).replace(microsecond=0)
    local = at.replace(tzinfo=tz)
    if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != at:
        raise UsageError(
            f"{what} '{text}' does not exist in {tz_name} (the clocks jump over it)",
            fix="give a time before or after the jump, or one with its offset",
        )
    other = local.replace(fold=1)
    if other.utcoffset() != local.utcoffset():
        raise UsageError(
            f"{what} '{text}' happens twice in {tz_name} (the clocks go back)",
            fix=f"add the offset: {local.isoformat(timespec='minutes')} "
            f"or {other.isoformat(timespec='minutes')}",
        )
    return local.replace(microsecond=0)
