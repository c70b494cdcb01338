"""Pure: a report's running sums, kept for the next report in the same scope.

Between two reports nothing a report reads changes unless a commit changes a
month folder (the memo is kept for HEAD's folders and policy, see
caseindex.load_memo) or time reaches a step on the timeline of a case still
moving. So what a report has summed (the month sums and every case looked up
on its timeline; not the cases evaluated live: they are kept as rows and
evaluated again) is kept with the instants it holds for, from the moment of
the report until the first such step after it. A report at a moment in that
window, in the same scope, starts from it instead of reading the months'
sums and adding the moving cases one by one.
"""

from __future__ import annotations

import heapq
import json
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from complaintctl.reports.figures import BREAKDOWNS, OLDEST_KEYS, Scope, Tally

FORMAT = 1  # of the kept sums; another is made again
KEEP_OLDEST = 5  # report.build shows at most the five oldest open cases
_COUNTS = (
    "received", "resolved", "open", "overdue", "repeat", "unreachable", "measures_done", "measures_met",
    "stalled",
)  # fmt: skip
NUMBERS = ("replies", "resolutions", "work_resolutions", "scores")  # long lists of numbers
_COUNTERS = ("met", "decided", "tiers")


def name(scope: Scope) -> str:
    """The scope as text: what a kept report was made for."""
    since, until = (None if at is None else at.isoformat() for at in (scope.since, scope.until))
    fields = {"since": since, "until": until, "category": scope.category, "owner": scope.owner}
    return json.dumps({**fields, "severity": scope.severity}, sort_keys=True)


def kept(
    tally: Tally,
    slow: Sequence[tuple[str, Mapping[str, Any]]],
    problems: Sequence[str],
    from_us: int,
    until_us: int | None,
) -> dict[str, Any]:
    """What a report has summed (no case on a matter: those are evaluated
    live, as ``slow`` rows), as plain data that holds for any moment in
    [from_us, until_us) (None: from then on)."""
    assert not tally.groups, "cases on a matter are evaluated live, never summed"
    t = tally
    oldest = heapq.nsmallest(KEEP_OLDEST, t.oldest, key=lambda item: (item[0], item[1]))
    # Everything in a fixed order: the tally's own depends on the order the
    # months came back from the worker processes, and the file must not.
    return {
        "scope": name(t.scope),
        "from": from_us,
        "until": until_us,
        **{k: getattr(t, k) for k in _COUNTS},
        "counters": {n: dict(sorted(t.counters[n].items())) for n in BREAKDOWNS},
        **{k: sorted(getattr(t, k)) for k in NUMBERS},  # in order: a report sorts them again, fast
        **{k: dict(sorted(getattr(t, k).items())) for k in _COUNTERS},
        "money": dict(sorted(t.money.items())),
        "doubles": dict(sorted(t.doubles.items())),
        # (stable: a case's lessons at one instant stay in the order of its events)
        "lessons": [list(item) for item in sorted(t.lessons, key=lambda item: (item[0], item[2], item[1]))],
        "months": dict(sorted(t.months.items())),
        "month_limits": dict(sorted(t.month_limits.items())),
        "oldest": [[us, rel, {k: row.get(k) for k in OLDEST_KEYS}, level] for us, rel, row, level in oldest],
        "slow": [[rel, row] for rel, row in slow],
        "problems": list(problems),
    }


def restored(
    data: Mapping[str, Any], scope: Scope, as_of: datetime, at_us: int
) -> tuple[Tally, list[tuple[str, Any]], list[str]] | None:
    """The kept report as a tally for ``scope`` as of ``as_of`` (``at_us``),
    the rows to evaluate live and the files left out; None when it was not
    made for that scope or does not hold at that moment."""
    if not _well_formed(data):
        return None  # a file that parses but is not ours is never half-used
    until = data["until"]
    if data["scope"] != name(scope) or at_us < data["from"] or (until is not None and at_us >= until):
        return None
    t = Tally(scope, as_of)
    for k in _COUNTS:
        setattr(t, k, int(data[k]))
    t.counters = {n: Counter(data["counters"][n]) for n in BREAKDOWNS}
    for k in NUMBERS:
        setattr(t, k, list(data[k]))
    for k in _COUNTERS:
        setattr(t, k, Counter(data[k]))
    t.money = {key: list(value) for key, value in data["money"].items()}
    t.doubles = {key: list(value) for key, value in data["doubles"].items()}
    t.lessons = [(category, case, at, text) for category, case, at, text in data["lessons"]]
    t.months = defaultdict(lambda: [0, 0], {m: list(v) for m, v in data["months"].items()})
    t.month_limits = defaultdict(lambda: [0, 0], {m: list(v) for m, v in data["month_limits"].items()})
    t.oldest = [(us, rel, row, level) for us, rel, row, level in data["oldest"]]
    slow = [(rel, row) for rel, row in data["slow"]]
    return t, slow, list(data["problems"])


def _well_formed(data: Mapping[str, Any]) -> bool:
    def counts(value: Any) -> bool:
        return isinstance(value, dict) and all(type(n) is int for n in value.values())

    def pairs(value: Any) -> bool:
        return isinstance(value, dict) and all(
            isinstance(v, list) and len(v) == 2 and all(type(n) is int for n in v) for v in value.values()
        )

    def money(value: Any) -> bool:
        return isinstance(value, dict) and all(
            isinstance(v, list) and len(v) == 2 and type(v[0]) is int and type(v[1]) is str
            for v in value.values()
        )

    try:
        return (
            isinstance(data["scope"], str)
            and type(data["from"]) is int
            and (data["until"] is None or type(data["until"]) is int)
            and all(type(data[k]) is int for k in _COUNTS)
            and isinstance(data["counters"], dict)
            and all(counts(data["counters"][n]) for n in BREAKDOWNS)
            and all(isinstance(data[k], list) for k in NUMBERS)
            and all(math.isfinite(math.fsum(data[k])) for k in NUMBERS)  # numbers, fast (TypeError: not)
            and all(counts(data[k]) for k in _COUNTERS)
            and money(data["money"])
            and money(data["doubles"])
            and all(isinstance(i, list) and len(i) == 4 for i in data["lessons"])
            and pairs(data["months"])
            and pairs(data["month_limits"])
            and all(
                isinstance(i, list) and len(i) == 4 and type(i[0]) is int and isinstance(i[2], dict)
                for i in data["oldest"]
            )
            and all(isinstance(i, list) and len(i) == 2 and isinstance(i[1], dict) for i in data["slow"])
            and all(isinstance(p, str) for p in data["problems"])
        )
    except (KeyError, TypeError):
        return False
