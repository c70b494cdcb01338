"""Plain-text columns in tabulate's 'simple' layout, without importing tabulate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def spreadsheet_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text, never runs as a formula: text that
    starts with = + - @ (or a tab or return) gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def markdown_cell(value: Any) -> str:
    """Text that stays one cell of a Markdown table and is never read as HTML."""
    text = " ".join(str(value).splitlines())
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def columns(
    headers: Sequence[str], rows: Sequence[Sequence[str]], styles: Sequence[str] | None = None
) -> str:
    """tabulate's 'simple' layout, for long lists: ~30x faster than tabulate
    at 10k rows because it guesses no column types (all cells are text).
    ``styles`` (one terminal style code per row, '' for none) colours whole
    lines after the layout, so the codes never count as width."""

    def wcswidth(text: str) -> int:
        if text.isascii():
            return len(text)
        from wcwidth import wcswidth as width  # ~20 ms to import: only for text that needs it

        return int(width(text))

    widths = [wcswidth(h) + 2 for h in headers]  # tabulate's minimum padding for headers
    cell_widths = [[wcswidth(c) for c in row] for row in rows]
    for row in cell_widths:
        widths = [max(w, c) for w, c in zip(widths, row, strict=True)]

    def line(cells: Sequence[str], sizes: Sequence[int]) -> str:
        return "  ".join(c + " " * (w - n) for c, w, n in zip(cells, widths, sizes, strict=True)).rstrip()

    out = [line(headers, [wcswidth(h) for h in headers]), "  ".join("-" * w for w in widths)]
    out += [line(row, sizes) for row, sizes in zip(rows, cell_widths, strict=True)]
    if styles:
        out[2:] = [f"\033[{s}m{text}\033[0m" if s else text for s, text in zip(styles, out[2:], strict=True)]
    return "\n".join(out)
