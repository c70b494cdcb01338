"""Working-time calendars from policy.yaml (the only user of `holidays`).

Public holidays come from the well-kept `holidays` package, which also knows
China's official make-up working weekends (调休); the house's own closed
and open dates are applied on top. Imported only when a clock counts
business time.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from .clocks import Calendar
from .errors import PolicyError
from .policy import Policy


@lru_cache(maxsize=8)
def _country(code: str) -> Any:
    import holidays

    try:
        return holidays.country_holidays(code)
    except NotImplementedError:
        raise PolicyError(
            f"no public holidays known for country '{code}'",
            where="policy.yaml: business_hours.holidays",
            fix="use an ISO country code such as CN, or null",
        ) from None


def build(policy: Policy) -> Calendar | None:
    hours = policy.business_hours
    if hours is None:
        return None
    country = _country(hours.holidays) if hours.holidays else None
    weekly = dict(hours.hours)

    def is_working_day(day: date) -> bool:
        if day in hours.open:
            return True
        if day in hours.closed:
            return False
        if country is not None:
            return bool(country.is_working_day(day)) and (
                day.weekday() in weekly or day in country.weekend_workdays
            )
        return day.weekday() in weekly

    makeup = weekly.get(0) or next(iter(weekly.values()))
    return Calendar(ZoneInfo(policy.timezone), weekly, is_working_day, makeup)
