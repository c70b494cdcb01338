"""The fast reader of case files (store/yamlfast.py) against ruamel's loader.

Whenever the fast reader reads a text, it must give exactly ruamel's data
(same types: True is not 1, '012' is not 12); whenever ruamel refuses a
text, the fast reader must decline it. Case files as the CLI writes them,
with hostile text in every field, and random texts line by line.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complaintctl.core import indexrow
from complaintctl.core.records import validate_case
from complaintctl.store import yamlfast, yamlio
from tests.test_roundtrip import CASE_ID, FLAVOUR, POLICY, SETTINGS, YAMLISH, histories


def same(a: Any, b: Any, path: str = "") -> None:
    """Equal, with the same types (True is not 1, '012' is not 12), keys in
    the same order, and NaN equal to NaN."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} {a!r} != {type(b).__name__} {b!r}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for key in a:
            same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert repr(a) == repr(b), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def ruamel(text: str) -> Any:
    """Today's loader: ruamel's safe loader over the C parser, YAML 1.2."""
    return yamlio._plain_yaml().load(text)


def both(text: str) -> Any:
    """The fast reader's data, checked against ruamel's (None: declined)."""
    fast = yamlfast.load(text)
    try:
        slow = ruamel(text)
    except Exception:
        assert fast is None, f"ruamel refuses {text!r}, the fast reader gave {fast!r}"
        return None
    if fast is not None:
        same(fast, slow)
    return fast


TRICKY = [
    *YAMLISH,
    *(f for f in FLAVOUR if f.strip()),
    "1:20",
    "12:30:45",
    "0o12",
    "0b101",
    "0x_1F",
    "-12",
    "+12",
    "1_000.5",
    "123456789012345678901234567890",
    "2026-11-22 09:30:00+08:00",
    "2026-11-22T09:30:00Z",
    "2026-11-22t09:30:00.5-05:30",
    "2026-13-45",
    "True",
    "TRUE",
    "y",
    "n",
    "Off",
    ".NaN",
    "+.inf",
    ".5",
    "5.",
    "=",
    "a,b",
    "a[1]",
    "x{y}",
    "a#b",
    "a:b",
    "a:",
    "http://example.com/a?b=c#d",
    "café au lait",
    "a  b",
    "it's",
    'say "hi"',
    "''",
    "null value",
    "truely",
    "none",
    "Zürich",
    "-",
    "-a",
    "?a",
    ":a",
    "% done",
    "@home",
]


def forms(value: str) -> list[str]:
    single = value.replace("'", "''")
    return [
        f"key: {value}\n",
        f"key: '{single}'\n",
        f'key: "{value}"\n',
        f"key:\n  - {value}\n  - '{single}'\n",
        f"list:\n  - key: {value}\n    other: 1\n",
        f"{value}: 1\n",
        f"a:\n  {value}: x\n",
    ]


@pytest.mark.parametrize("value", TRICKY)
def test_a_scalar_means_the_same_both_ways(value: str) -> None:
    for text in forms(value):
        both(text)


def test_the_scalars_read_without_ruamel_are_read_as_ruamel_reads_them() -> None:
    """yamlfast types 'true', 'null', '12' ... without loading ruamel: its
    table of first characters is ruamel's, and its words and decimals mean
    what ruamel's resolver and constructor make of them."""
    # ('!', '&', '*' and '-' start the scalars yamlfast declines.)
    assert yamlfast._resolvers()[0] - yamlfast._INDICATORS == yamlfast.TYPED_FIRST - yamlfast._INDICATORS
    words = [*yamlfast._WORDS, "0", "7", "12", "999999999999999999", "n", "no", "nul", "t", "tru", "f", "fa"]
    words += [
        "19fff2f2404b31e0",
        "0x1F",
        "0o17",
        "0b101",
        "1e3",
        "2026-11-22T09:30:00Z",
        "2026-11-22t09:30:00z",
    ]
    words += ["12ab", "1a", "2026-11-22 09:30:00 +08:00", "1_0", "1.5e-3", "6张"]
    words += [
        "+1 225 3036 5820",
        "+86 138 0013 8000",
        "+1 ",
        ".5 e3",
        "~ x",
        "<< x",
        "= x",
        "+.inf x",
        "+1 e3",
        "6222 0212 3456 7890",
        "2026-11-22 09:30",
        "2026-1-2 9:30:00",
        "1 2",
        "12.5 ",
    ]
    for text in [*words, "Nope", "trUE", "FALSe", "nULL", "1000000000000000000", "01", "+1", "0_1"]:
        assert_same(yamlfast._scalar(text), yamlfast._typed(text))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789nNtTfFrueaslUEASLZzxobcd张_-+.: ", min_size=1, max_size=10))
def test_texts_starting_like_a_typed_scalar_read_as_ruamel_reads_them(text: str) -> None:
    try:
        theirs = yamlfast._typed(text)
    except yamlfast._Unsure:
        return  # ruamel's loader reports it; yamlfast declines it too
    try:
        ours = yamlfast._scalar(text)
    except yamlfast._Unsure:
        assert text[0] in "-?: " or text.endswith(":") or ": " in text  # what yamlfast declines
        return
    assert_same(ours, theirs)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-22",
        "2026-11-22T09:30:00",
        "2026-11-22T09:30:00Z",
        "2026-11-22T09:30:00+08:00",
        "2505.50",
        "0.5",
    ],
)
def test_the_texts_known_to_need_quotes_without_ruamel_are_typed_by_ruamel(text: str) -> None:
    assert not yamlfast.plain_text(text)
    assert not isinstance(yamlfast._typed(text), str)


def assert_same(ours: Any, theirs: Any) -> None:
    assert (type(ours), ours) == (type(theirs), theirs)


# What the fast reader itself reads (and that it reads them: no silent decline).
READS = [
    ("yes", "yes"),
    ("no", "no"),
    ("on", "on"),
    ("true", True),
    ("False", False),
    ("~", None),
    ("null", None),
    ("0o12", 10),
    ("012", 12),
    ("1_000", 1000),
    ("1:20", "1:20"),
    ("3.14", 3.14),
    ("1e3", 1000.0),
    ("123456789012345678901234567890", 123456789012345678901234567890),
    ("2026-01-01", date(2026, 1, 1)),
    ("2026-11-22T09:30:00+08:00", datetime(2026, 11, 22, 1, 30, tzinfo=timezone(timedelta(0)))),
    ("'2026-11-22T09:30:00+08:00'", "2026-11-22T09:30:00+08:00"),
    ("'012'", "012"),
    ("'it''s'", "it's"),
    ('"say hi"', "say hi"),
    ("[]", []),
    ("{}", {}),
    ("张三", "张三"),
    ("a, b [c] {d}", "a, b [c] {d}"),
    ("x#1", "x#1"),
]


@pytest.mark.parametrize(("written", "meant"), READS)
def test_the_fast_reader_reads_these(written: str, meant: Any) -> None:
    text = f"value: {written}\n"
    assert yamlfast.load(text) is not None
    got = both(text)["value"]
    if isinstance(meant, datetime):
        assert got == meant and type(got) is datetime  # ruamel's zone object is its own
    else:
        same(got, meant)


DECLINED = [
    "%YAML 1.1\n---\nkey: yes\n",
    "key: !!str 012\n",
    "key: &a x\nother: *a\n",
    "key: x # comment\n",
    "key: |\n  text\n",
    "key: foo\n  bar\n",
    "key: [a, b]\n",
    "key: {a: 1}\n",
    "key:\n- a\n",
    "key: a\nkey: b\n",
    "true: a\n",
    "key: 'multi\n  line'\n",
    "key:\ta\n",
    "key: a \n",
    'key: "esc\\n"\n',
    "---\nkey: a\n",
    "  key: a\n",
    "- a\n",
    "",
    "# only a comment\n",
    "key: a\r\nb: c\r\n",
    "key: a\u2028b\n",
    "\ufeffkey: a\n",
    "<<: {a: 1}\n",
]


@pytest.mark.parametrize("text", DECLINED)
def test_the_fast_reader_declines_these(text: str) -> None:
    assert yamlfast.load(text) is None


CASE_TEXT = """schema: 1
id: C-20261122-7K3QX2
customer:
  name: Ann
events:
  - at: '2026-11-22T09:30:00+08:00'
    by: alice@example.com
    action: open
    set:
      risk: true
  - at: '2026-11-22T10:00:00+08:00'
    by: alice@example.com
    action: note
"""
# What yamlio.load_plain refuses only after the fast reader declined the text.
REFUSED_AFTER = ["<<<<<<< HEAD", "=======", ">>>>>>> theirs", "x: &a 1", "x: *a", "- &a x", "- *a"]


@pytest.mark.parametrize("line", REFUSED_AFTER)
def test_conflict_markers_anchors_and_aliases_anywhere_are_declined(line: str) -> None:
    lines = CASE_TEXT.splitlines(keepends=True)
    assert yamlfast.load(CASE_TEXT) is not None
    for at in range(len(lines) + 1):
        for indent in ("", "  ", "    ", "      "):
            text = "".join([*lines[:at], indent + line + "\n", *lines[at:]])
            assert yamlfast.load(text) is None, text
        for key_line in range(len(lines)):  # as a value: 'key: &a 1'
            if line.startswith("x: ") and ": " in lines[key_line]:
                text = "".join(
                    [
                        *lines[:key_line],
                        lines[key_line].split(": ")[0] + line[1:] + "\n",
                        *lines[key_line + 1 :],
                    ]
                )
                assert yamlfast.load(text) is None, text


@SETTINGS
@given(histories())
def test_case_files_read_the_same_both_ways_and_give_the_same_rows(
    history: tuple[dict[str, Any], str, datetime],
) -> None:
    case, text, _ = history
    fast = both(text)
    slow = ruamel(text)
    assert slow == case
    if fast is None:
        return  # declined (double-quoted escapes, multi-line text): ruamel reads it
    validate_case(fast, POLICY, expected_id=CASE_ID)
    rows = [indexrow.row(data, POLICY.time_limits.pause_states, POLICY, None) for data in (fast, slow)]
    assert json.dumps(rows[0]) == json.dumps(rows[1])


def test_case_files_the_cli_writes_take_the_fast_path() -> None:
    from complaintctl.store import workspace

    case = {
        "schema": 1,
        "id": CASE_ID,
        "flags": {"risk": True, "collective": 3},
        "customer": {"name": "张三", "phone": "+86 138 0000 0000"},
        "related": [],
        "offers": [{"no": 1, "amount": "240.00", "bottom_line": True}],
        "events": [{"at": "2026-11-01T08:00:00+08:00", "action": "open", "set": {}}],
        "satisfaction": 3,
        "closed_at": None,
    }
    text = workspace.dump_case(case)
    assert yamlfast.load(text) is not None
    assert both(text) == case


# Random texts, line by line, near the layout: indentation, dashes, keys,
# separators and values of every kind, comments and blank lines.
KEYS = ["key", "a", "b", "no", "on", "true", "null", "y", "Key_2", "<<", "x y", "-", "'q'"]
SEPARATORS = [": ", ":", ":  ", " : ", ":\t"]
VALUES = st.one_of(
    st.sampled_from(TRICKY),
    st.text(alphabet="ab01:-#'\" ,[]{}~.&*!|>%@\t\\", max_size=6),
    st.text(max_size=4),
)


@st.composite
def lines(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["entry", "entry", "entry", "open", "item", "comment", "blank"]))
    indent = " " * draw(st.integers(0, 6))
    dash = draw(st.sampled_from(["", "", "- "]))
    key = draw(st.sampled_from(KEYS))
    value = draw(VALUES)
    if kind == "comment":
        return f"{indent}# {value}"
    if kind == "blank":
        return indent
    if kind == "open":
        return f"{indent}{dash}{key}:"
    if kind == "item":
        return f"{indent}- {value}"
    quote = draw(st.sampled_from(["", "'", '"']))
    if quote == "'":
        value = "'" + value.replace("'", "''") + "'"
    elif quote == '"':
        value = '"' + value + '"'
    return f"{indent}{dash}{key}{draw(st.sampled_from(SEPARATORS))}{value}"


@SETTINGS
@given(st.lists(lines(), min_size=1, max_size=12), st.booleans())
def test_random_texts_read_the_same_or_are_declined(body: list[str], final_newline: bool) -> None:
    both("\n".join(body) + ("\n" if final_newline else ""))


@SETTINGS
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 2), st.sampled_from(TRICKY)),
        min_size=1,
        max_size=12,
    )
)
def test_random_nestings_read_the_same_or_are_declined(entries: list[tuple[str, int, str]]) -> None:
    """Well-formed-looking nestings of mappings and lists at random depths."""
    out = []
    for key, depth, value in entries:
        pad = "  " * depth
        out.append(f"{pad}{key}:")
        out.append(f"{pad}  - {key}: {value}")
        out.append(f"{pad}    z: '{value.replace(chr(39), chr(39) * 2)}'")
        out.append(f"{pad}  - {value}")
    both("\n".join(out) + "\n")


def test_the_unusual_characters_are_all_but_a_line_feed_and_yaml_text() -> None:
    """Every code point: unusual unless it is a line feed or printable text
    YAML reads as such in a plain or quoted scalar (YAML 1.2's c-printable,
    less tab, CR, NEL, the LS and PS line breaks and the byte-order mark)."""

    def text(code: int) -> bool:
        return (
            code == 0x0A
            or 0x20 <= code <= 0x7E
            or (0xA0 <= code <= 0xD7FF and code not in (0x2028, 0x2029))
            or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
            or 0x10000 <= code <= 0x10FFFF
        )

    every = "".join(map(chr, range(0x110000)))
    found = {ord(c) for c in yamlfast._UNUSUAL.findall(every)}
    assert found == {code for code in range(0x110000) if not text(code)}


def test_a_text_with_an_unusual_character_anywhere_is_declined() -> None:
    """The line reader's own text class stands for the same characters: a
    line holding one does not match, so the text is declined, whatever
    part of the line it is in."""
    lines = CASE_TEXT.splitlines(keepends=True)
    unusual = [chr(c) for c in range(0x110000) if yamlfast._UNUSUAL.match(chr(c))]
    assert len(unusual) > 2000
    places = [
        lambda ch: ["# a comment " + ch + "\n", *lines],  # in a comment
        lambda ch: [*lines[:3], "  name: A" + ch + "nn\n", *lines[4:]],  # in a value
        lambda ch: [*lines, "tags:\n", "  - a" + ch + "\n"],  # in a list's scalar
        lambda ch: [*lines, "k" + ch + ": v\n"],  # in a key
        lambda ch: [*lines, ch + "\n"],  # a line of its own
        lambda ch: [*lines[:-1], lines[-1][:-1] + ch + "\n"],  # at the end of the last line
    ]
    for ch in unusual:
        for place in places:
            text = "".join(place(ch))
            assert yamlfast.load(text) is None, repr(text)
    for place in places[:3]:  # the same places with a plain character are read
        assert yamlfast.load("".join(place("x"))) is not None
