"""The month-end report's charts, as static SVG drawn by pygal (a kept
charting library: axes, guides, labels and legends done right), with one
style for screen and print. Imported only for ``report --format html``.

Every chart is self-contained and the same for the same figures: no script,
nothing fetched, and pygal's random chart id and date stamp replaced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# One palette: received and resolved, and severities least to most serious.
RECEIVED, RESOLVED = "#4a6fa5", "#6aa56a"
SEVERITY_COLOURS = ("#9fb7d5", "#e0b040", "#e07b39", "#b8322a")
FONT = "'Noto Sans', 'Noto Sans SC', 'Noto Sans CJK SC', 'DejaVu Sans', Arial, sans-serif"


def _style(colours: Sequence[str]) -> Any:
    from pygal.style import Style

    return Style(
        background="white",
        plot_background="white",
        foreground="#222",
        foreground_strong="#111",
        foreground_subtle="#bbb",  # the guide lines
        colors=tuple(colours),
        font_family=FONT,
        label_font_size=13,
        major_label_font_size=13,
        value_font_size=12,
        legend_font_size=13,
        title_font_size=15,
        tooltip_font_size=12,
    )


def _config(**more: Any) -> dict[str, Any]:
    return {
        "js": [],  # no script: a printed page and an offline browser show the same
        "disable_xml_declaration": True,
        "width": 760,
        "height": 300,
        "show_y_guides": True,
        "print_values": True,
        "print_zeroes": False,
        "legend_at_bottom": True,
        "truncate_label": -1,  # never cut a label
        "truncate_legend": -1,
        "margin": 12,
        **more,
    }


def _ticks(values: Sequence[int]) -> list[int]:
    """Whole-number guides for counts, about five of them, from 0."""
    top = max([*values, 1])
    step = max(1, -(-top // 5))
    return list(range(0, top + step, step))


def _render(chart: Any, name: str) -> str:
    svg = str(chart.render(is_unicode=True))
    uid = str(chart.uuid)
    svg = svg.replace(f"chart-{uid}", f"chart-{name}").replace(uid, name)
    svg = re.sub(r"<script[^>]*>.*?</script>", "", svg, flags=re.S)  # pygal's config for its tooltips
    return re.sub(r"<!--(Generated with pygal|http)[^>]*-->", "", svg)  # its date stamp and links


def months(
    history: Sequence[Mapping[str, Any]], title: str, names: Mapping[str, str], partial: str | None = None
) -> str:
    """Received and resolved month by month on one axis (the same scale for
    both); the month still running is marked with '*'."""
    import pygal

    labels = [str(m["label"]) + (" *" if m["month"] == partial else "") for m in history]
    chart = pygal.Bar(
        **_config(
            title=title,
            x_labels=labels,
            x_label_rotation=-30 if len(labels) > 6 else 0,
            y_labels=_ticks([int(m[k]) for m in history for k in ("received", "resolved")]),
            style=_style((RECEIVED, RESOLVED)),
        )
    )
    chart.add(names["received"], [int(m["received"]) for m in history])
    chart.add(names["resolved"], [int(m["resolved"]) for m in history])
    return _render(chart, "months")


def within_limit(
    history: Sequence[Mapping[str, Any]],
    title: str,
    names: Mapping[str, str],
    target: int | None,
    partial: str | None = None,
) -> str:
    """The share of first replies within their limit, month by month (by
    month received), against the house's target; a month with none decided
    has no point."""
    import pygal

    labels = [str(m["label"]) + (" *" if m["month"] == partial else "") for m in history]
    chart = pygal.Line(
        **_config(
            title=title,
            x_labels=labels,
            x_label_rotation=-30 if len(labels) > 6 else 0,
            range=(0, 100),
            y_labels=[0, 20, 40, 60, 80, 100],
            print_values=False,
            dots_size=4,
            style=_style((RECEIVED, "#b8322a")),
        )
    )
    chart.add(names["share"], [m.get("first_reply_percent") for m in history])
    if target is not None:
        chart.add(
            names["target"], [target] * len(history), show_dots=False, stroke_style={"dasharray": "6, 4"}
        )
    return _render(chart, "within-limit")


def counts(
    items: Sequence[tuple[str, int]],
    title: str,
    name: str,
    colours: Sequence[str] | None = None,
    horizontal: bool = False,
) -> str:
    """One bar per item, every item shown (zeros too), one colour each when
    ``colours`` is given (else all alike)."""
    import pygal

    kind = pygal.HorizontalBar if horizontal else pygal.Bar
    height = max(220, 34 * len(items) + 90) if horizontal else 300
    chart = kind(
        **_config(
            title=title,
            height=height,
            x_labels=[label for label, _ in items],
            y_labels=_ticks([int(v) for _, v in items]),
            show_legend=False,
            style=_style(colours or (RECEIVED,)),
        )
    )
    values: list[Any] = (
        [{"value": int(v), "color": colours[i % len(colours)]} for i, (_, v) in enumerate(items)]
        if colours
        else [int(v) for _, v in items]
    )
    chart.add(name, values)
    return _render(chart, name.replace(" ", "-"))
