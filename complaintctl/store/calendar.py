"""Working-time calendars from policy.yaml (the only user of `holidays`).

Public holidays come from the well-kept `holidays` package, which also knows
China's official make-up working weekends (调休); the house's own closed
and open dates are applied on top.

Importing `holidays` and working out a country's year costs ~0.1-0.2 s, so
the days off and make-up days of each year are kept in a small cache file
(under .git/complaintctl/, never committed) once looked up.
"""

from __future__ import annotations

import json
import os
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from complaintctl.core.deadlines import Calendar
from complaintctl.core.policy import Policy
from complaintctl.errors import PolicyError


@lru_cache(maxsize=64)
def _country(code: str, year: int | None = None) -> Any:
    import holidays

    try:
        return holidays.country_holidays(code, years=[year] if year else None)
    except NotImplementedError:
        raise PolicyError(
            f"no public holidays known for country '{code}'",
            where="policy.yaml: business_hours.holidays",
            fix="use an ISO country code such as CN, or null",
        ) from None


class Holidays:
    """A country's days off and weekend working days, year by year, cached."""

    def __init__(self, code: str, cache: Path | None) -> None:
        self.code = code
        self.cache = cache
        self.years: dict[int, tuple[set[date], set[date]]] = {}
        if cache is not None:
            try:
                data = json.loads(cache.read_text(encoding="utf-8"))
                for year, (off, on) in data.get(code, {}).items():
                    self.years[int(year)] = (
                        {date.fromisoformat(d) for d in off},
                        {date.fromisoformat(d) for d in on},
                    )
            except (OSError, ValueError, TypeError, AttributeError):
                self.years = {}  # missing or corrupt: look the years up again

    def year(self, year: int) -> tuple[set[date], set[date]]:
        if year not in self.years:
            country = _country(self.code, year)
            off = {d for d in country if d.year == year}
            on = {d for d in country.weekend_workdays if d.year == year}
            self.years[year] = (off, on)
            self._save()
        return self.years[year]

    def _save(self) -> None:
        if self.cache is None:
            return
        data = {
            self.code: {
                str(y): [sorted(map(str, off)), sorted(map(str, on))]
                for y, (off, on) in sorted(self.years.items())  # the same file whichever year came first
            }
        }
        tmp = self.cache.with_suffix(f".{os.getpid()}.tmp")
        try:
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self.cache)
        except OSError:
            pass  # only costs time next run


def check_country(policy: Policy, cache_dir: Path | None = None) -> None:
    """Refuse a country the holidays package does not know (for `check`).
    A country whose days are kept in ``cache_dir`` (as ``build`` keeps them)
    is known: the package (~13 MB of country modules) is not imported."""
    if policy.business_hours is None or not policy.business_hours.holidays:
        return
    code = policy.business_hours.holidays
    if cache_dir is not None and Holidays(code, cache_dir / f"holidays-{code}.json").years:
        return
    _country(code)


def build(policy: Policy, cache_dir: Path | None = None) -> Calendar | None:
    hours = policy.business_hours
    if hours is None:
        return None
    weekly = dict(hours.hours)
    table = None
    if hours.holidays:
        cache = cache_dir / f"holidays-{hours.holidays}.json" if cache_dir else None
        table = Holidays(hours.holidays, cache)

    def is_working_day(day: date) -> bool:
        if day in hours.open:
            return True
        if day in hours.closed:
            return False
        if table is not None:
            off, on = table.year(day.year)
            if day in on:
                return True
            if day in off:
                return False
        return day.weekday() in weekly

    makeup = weekly.get(0) or next(iter(weekly.values()))
    return Calendar(ZoneInfo(policy.timezone), weekly, is_working_day, makeup)
