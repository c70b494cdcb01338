"""Pure: index rows -> the figures a manager reads. The CLI formats them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Breakdown:
    title: str
    counts: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Report:
    total: int
    open: int
    closed: int
    breakdowns: tuple[Breakdown, ...]
    satisfaction_mean: float | None
    followed_up: int


def _ordered(counter: Counter[str], order: Sequence[str]) -> tuple[tuple[str, int], ...]:
    known = [(name, counter[name]) for name in order if counter[name]]
    extra = sorted((n, c) for n, c in counter.items() if n not in order)
    return tuple(known + extra)


def build(rows: Iterable[Mapping[str, Any]], orders: Mapping[str, Sequence[str]]) -> Report:
    rows = list(rows)
    breakdowns = []
    for key, title in (
        ("state", "By status"),
        ("severity", "By severity"),
        ("category", "By category"),
        ("channel", "By channel"),
    ):
        counter = Counter(str(r[key]) for r in rows)
        breakdowns.append(Breakdown(title, _ordered(counter, orders.get(key, ()))))
    scores = [int(r["satisfaction"]) for r in rows if r.get("satisfaction") is not None]
    closed = sum(1 for r in rows if r.get("resolution"))
    return Report(
        total=len(rows),
        open=len(rows) - closed,
        closed=closed,
        breakdowns=tuple(breakdowns),
        satisfaction_mean=round(sum(scores) / len(scores), 2) if scores else None,
        followed_up=len(scores),
    )
