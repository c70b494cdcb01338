"""Plain-text columns in tabulate's 'simple', 'github' and 'html' layouts, without importing tabulate."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, cast


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
    sizes = widths(headers, rows)
    return "\n".join(laid_out(headers, sizes, zip(rows, styles or [""] * len(rows), strict=True)))


def _wcswidth(text: str) -> int:
    return len(text) if text.isascii() else wcswidth(text)


# wcwidth.wcwidth of each character met that has a width (0 or more): a
# control character (-1) is never kept, so a text summed from here has none.
_CHAR_WIDTHS: dict[str, int] = {}


def wcswidth(text: str) -> int:
    """wcwidth.wcswidth(text), ~6x faster: the sum of its characters' widths
    (each asked of wcwidth once), -1 at a control character, as wcswidth
    counts unless a zero-width joiner or a variation selector-16 is in the
    text (then wcswidth itself counts). At 100k cases 'list --limit 0' spent
    2 s of 5 in wcswidth; summed in C when every character is known."""
    # (wcwidth: ~20 ms to import, only for text that needs it)
    if "\u200d" in text or "\ufe0f" in text:
        from wcwidth import wcswidth as counted

        return int(counted(text))
    known = _CHAR_WIDTHS
    try:
        return sum(map(known.__getitem__, text))
    except KeyError:
        pass  # a character not met yet, or a control character
    total = 0
    for char in text:
        width = known.get(char)
        if width is None:
            from wcwidth import wcwidth

            width = int(wcwidth(char))
            if width < 0:
                return width
            known[char] = width
        total += width
    return total


def widths(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[int]:
    """The columns' widths in the 'simple' layout: a first pass over the rows,
    so that a second (``laid_out``) can print them without holding them."""
    sizes = [_wcswidth(h) + 2 for h in headers]  # tabulate's minimum padding for headers
    for row in rows:
        sizes = [max(w, _wcswidth(c)) for w, c in zip(sizes, row, strict=True)]
    return sizes


def laid_out(
    headers: Sequence[str], sizes: Sequence[int], rows: Iterable[tuple[Sequence[str], str]]
) -> Iterator[str]:
    """The table's lines (no newlines), each row (cells, terminal style code
    or '') padded to ``sizes`` and coloured whole as it comes."""

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c + " " * (w - _wcswidth(c)) for c, w in zip(cells, sizes, strict=True)).rstrip()

    yield line(headers)
    yield "  ".join("-" * w for w in sizes)
    for cells, style in rows:
        text = line(cells)
        yield f"\033[{style}m{text}\033[0m" if style else text


# What tabulate reads as a number (then it aligns the column on the decimal point).
_THOUSANDS = re.compile(r"^(([+-]?[0-9]{1,3})(?:,([0-9]{3}))*)?(?(1)\.[0-9]*|\.[0-9]+)?$")
# A cell coloured as cli/colour.paint colours it: tabulate measures the text inside.
_PAINTED = re.compile(r"\x1b\[[0-9;]*m([^\x1b]*)\x1b\[0m")


def _is_text(value: str) -> bool:
    """tabulate reads this cell as text, surely (not empty, a boolean or a number)."""
    if not value or value in ("True", "False") or _THOUSANDS.match(value):
        return False
    for number in (int, float):
        try:
            number(value)
        except ValueError:
            continue
        return False
    return True


def _width_of() -> Callable[[str], int]:
    """How tabulate measures a cell: wcwidth's terminal columns when it is installed, else len."""
    try:
        import wcwidth  # noqa: F401  (only whether it is installed)
    except ImportError:
        return len

    def width(text: str) -> int:
        if text.isascii() and text.isprintable():
            return len(text)
        counted = int(wcswidth(text))
        # A space after a zero-width joiner does not count: padding would not add up.
        return counted if counted >= 0 and wcswidth(text + " ") == counted + 1 else -1

    return width


FORMATS = ("simple", "github", "html")  # the tabulate layouts table() makes itself


def table(
    headers: Sequence[str], rows: Callable[[], Iterable[Sequence[Any]]], fmt: str = "simple"
) -> Iterator[str] | None:
    """The lines of ``tabulate(list(rows()), headers, tablefmt=fmt)`` (one of
    FORMATS), byte for byte, made in two passes over ``rows()`` (the widths,
    then the lines) that hold one row at a time: at 50k rows tabulate takes
    ~10 s and ~300 MB, as it guesses a type for every cell and keeps every
    cell twice.

    Only for a table tabulate lays out as text: every column with a cell
    that is no number, no cell over several lines, no control code but a
    whole cell coloured as ``paint`` colours it. For any other table it
    returns None (before making any line), for the caller to use tabulate."""
    assert fmt in FORMATS, fmt
    width = _width_of()
    count = len(headers)
    texts = [False] * count  # a column tabulate reads as text
    widest = [0] * count
    seen = False
    for row in rows():
        if len(row) != count:
            return None
        seen = True
        for i, raw in enumerate(row):
            cell = _cell(raw)
            if cell is None:
                return None
            _out, shown, typed = cell
            if not texts[i]:
                texts[i] = _is_text(typed)
            size = width(shown)
            if size < 0:
                return None
            widest[i] = max(widest[i], size)
    heads = [width(h) if isinstance(h, str) and _plain(h) else -1 for h in headers]
    if not seen or not all(texts) or min(heads, default=0) < 0:
        return None
    sizes = [max(w, h + 2) for w, h in zip(widest, heads, strict=True)]  # tabulate's header padding
    line = _LINES[fmt]

    def lines() -> Iterator[str]:
        padded = [h + " " * (s - w) for h, s, w in zip(headers, sizes, heads, strict=True)]
        yield from line(padded, sizes, True)
        for row in rows():
            cells = []
            for raw, size in zip(row, sizes, strict=True):
                out, shown, _typed = cast(tuple[str, str, str], _cell(raw))  # as in the first pass
                cells.append(out + " " * (size - width(shown)))
            yield from line(cells, sizes, False)
        if fmt == "html":
            yield "</tbody>"
            yield "</table>"

    return lines()


def _simple(cells: Sequence[str], sizes: Sequence[int], header: bool) -> Iterator[str]:
    yield "  ".join(cells).rstrip()
    if header:
        yield "  ".join("-" * s for s in sizes)


def _github(cells: Sequence[str], sizes: Sequence[int], header: bool) -> Iterator[str]:
    yield "| " + " | ".join(cells) + " |"
    if header:
        yield "|" + "|".join("-" * (s + 2) for s in sizes) + "|"


def _html(cells: Sequence[str], sizes: Sequence[int], header: bool) -> Iterator[str]:
    from html import escape

    tag = "th" if header else "td"
    if header:
        yield from ("<table>", "<thead>")
    yield "<tr>" + "".join(f"<{tag}>{escape(c)}</{tag}>" for c in cells) + "</tr>"
    if header:
        yield from ("</thead>", "<tbody>")


_LINES = {"simple": _simple, "github": _github, "html": _html}


def _plain(text: str) -> bool:
    return "\x1b" not in text and "\n" not in text and "\r" not in text


def _cell(raw: Any) -> tuple[str, str, str] | None:
    """(what tabulate prints, what it measures, what it reads the type of)
    of a cell: text stripped of the spaces around it, or a coloured cell as
    it is, measured without its colour; None for a cell it treats otherwise."""
    if not isinstance(raw, str) or "\n" in raw or "\r" in raw:
        return None  # not text, or a cell of several lines
    if "\x1b" not in raw:
        out = raw.strip()
        return out, out, raw
    painted = _PAINTED.fullmatch(raw)
    return (raw, painted[1], painted[1]) if painted else None
