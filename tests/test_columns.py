"""core/columns.table against tabulate itself, in each of its layouts
(simple, github, html): the same bytes, or it says it cannot (and the
caller uses tabulate)."""

from __future__ import annotations

from collections.abc import Sequence

import tabulate as tabulate_module
from hypothesis import example, given
from hypothesis import strategies as st
from tabulate import tabulate

from complaintctl.cli.colour import RED, YELLOW, paint
from complaintctl.core.columns import FORMATS, table

HEADERS = ("Case", "Clock", "Status", "Due", "Owner")


def _same_as_tabulate(headers: Sequence[str], rows: list[tuple[str, ...]]) -> bool:
    """True when table made the table in every layout (and it is
    tabulate's, exactly); False when it handed it back (in every layout)."""
    made = set()
    for fmt in FORMATS:
        lines = table(headers, lambda: iter(rows), fmt)
        made.add(lines is not None)
        if lines is not None:
            assert "\n".join(lines) == str(tabulate(rows, headers=headers, tablefmt=fmt)), fmt
    assert len(made) == 1
    return made.pop()


def test_tabulate_measures_chinese_with_wcwidth_here() -> None:
    """tabulate counts a Chinese character as two columns only when wcwidth
    is installed; it is (a dependency), and table counts as it does."""
    assert tabulate_module.WIDE_CHARS_MODE
    rows = [("张三", "x"), ("ab", "y")]
    assert tabulate(rows, headers=("A", "B"), tablefmt="simple").splitlines()[2] == "张三  x"
    assert _same_as_tabulate(("A", "B"), rows)


def test_text_tables_are_made_and_match() -> None:
    rows = [
        ("C-20261120-7K3QX2", "first reply", paint("OVERDUE", RED, True), "2026-11-20 09:00+08:00", "张三"),
        ("C-20261121-AAAAAA", " resolve ", paint("warning", YELLOW, True), "-", "bob@example.com"),
        ("C-20261122-BBBBBB", "measure 1 by 财务部", "waiting", "since 2026-11-22 10:00", "é 👍🏽 ｘ"),
    ]
    assert _same_as_tabulate(HEADERS, rows)
    assert _same_as_tabulate(HEADERS, [tuple(_plain(c) for c in row) for row in rows])
    html = [("C-1", "<b>bold</b> & 'quoted' \"too\"", "a | b", "-", "x")]  # escaped after the padding
    assert _same_as_tabulate(HEADERS, [*html, ("C-22", "short", "c", "-", "yy")])


def _plain(cell: str) -> str:
    return cell.replace("\033[31m", "").replace("\033[33m", "").replace("\033[0m", "")


def test_tables_tabulate_lays_out_otherwise_are_handed_back() -> None:
    """Numbers (aligned on the point), cells of several lines, control codes."""
    base = ["C-1", "first reply", "waiting", "-", "bob"]
    for column, cell in [
        (4, "12"),
        (4, "1,000"),
        (4, "1e5"),
        (4, "True"),
        (1, "two\nlines"),
        (1, "a\rb"),
        (1, "bell\a"),
        (1, "\x1b[1mbold\x1b[0m and more"),
        (0, "\x01"),
        (1, "joined\u200d"),
    ]:
        row = list(base)
        row[column] = cell
        assert not _same_as_tabulate(HEADERS, [tuple(row)]), cell
        # A number among text keeps the column text: the table is made.
        if column == 4 and cell[0].isdigit():
            assert _same_as_tabulate(HEADERS, [tuple(row), tuple(base)])
    for fmt in FORMATS:
        assert table(HEADERS, lambda: iter([]), fmt) is None
        assert table(HEADERS, lambda: iter([("too", "short")]), fmt) is None


CELLS = st.one_of(
    st.text(
        alphabet=st.sampled_from(
            [
                *list("abcXYZ019 .,-+e:_()!<>&'\"|"),
                "张",
                "三",
                "财",
                "é",
                "́",
                "\u200d",
                "👍",
                "🏽",
                "ｘ",
                "\u3000",
                "\t",
                "\x07",
                "\n",
                "\x7f",
                "\xad",
            ]
        ),
        max_size=8,
    ),
    st.sampled_from(
        ["", " ", "12", "-3.5", "1,000", "1e5", "inf", "nan", "True", "False", "1e999", " 7 ", "0x1"]
    ),
    st.builds(
        lambda t, style: paint(t, style, True),
        st.text(alphabet="abc 张1", max_size=5),
        st.sampled_from([RED, YELLOW, "1;31", ""]),
    ),
)


@given(
    headers=st.lists(st.sampled_from(["Case", "Clock", "A", "长标题", " padded "]), min_size=1, max_size=4),
    data=st.data(),
)
@example(headers=["Case"], data=None)
def test_any_table_is_tabulates_or_handed_back(headers: list[str], data: st.DataObject | None) -> None:
    if data is None:
        rows = [("x",), ("张三",)]
    else:
        rows = data.draw(st.lists(st.tuples(*[CELLS] * len(headers)), min_size=1, max_size=6))
    _same_as_tabulate(headers, rows)


WORDS = st.text(
    alphabet=st.sampled_from([*list("abcXYZ019 .:-@"), "张", "三", "é", "👍", "ｘ"]), min_size=1, max_size=12
)


@given(rows=st.lists(st.tuples(WORDS, WORDS, WORDS), min_size=1, max_size=8))
def test_tables_of_words_are_made(rows: list[tuple[str, str, str]]) -> None:
    """A column with a word in it is text: such tables are never handed back."""
    rows = [*rows, ("a word", "C-1", "张三")]
    assert _same_as_tabulate(("A", "B", "C"), rows)


# Letters of every kind wcwidth counts apart: ASCII, CJK (two columns),
# combining marks and soft hyphens (none), controls (-1), emoji with a
# zero-width joiner or a variation selector-16, an ideographic space.
_WIDTH_LETTERS = list("ab Z张三é\u0301\u00ad\u200b\u3000👍\u2764\u200d\ufe0f\x07\x00\x1b…")


@given(st.text(alphabet=st.sampled_from(_WIDTH_LETTERS), max_size=30) | st.text(max_size=20))
@example("👨\u200d👩\u200d👧")
@example("\u2764\ufe0f")
def test_wcswidth_counts_as_wcwidths_own(text: str) -> None:
    import wcwidth

    from complaintctl.core.columns import wcswidth

    assert wcswidth(text) == wcwidth.wcswidth(text)


def _short_one_letter_at_a_time(text: str, width: int) -> str:
    """cli/text._short as it was: a letter dropped at a time."""
    from wcwidth import wcswidth

    text = " ".join(str(text).split())
    if text.isascii():
        return text if len(text) <= width else text[: width - 1] + "…"
    if wcswidth(text) <= width:
        return text
    while text and wcswidth(text) > width - 1:
        text = text[:-1]
    return text + "…"


@given(st.text(alphabet=st.sampled_from(_WIDTH_LETTERS), max_size=40), st.integers(1, 30))
@example("交房时间比合同约定晚了三个月，至今没有任何说明", 40)
def test_a_cell_is_cut_where_it_was_cut_a_letter_at_a_time(text: str, width: int) -> None:
    from complaintctl.cli.text import _short

    assert _short(text, width) == _short_one_letter_at_a_time(text, width)
