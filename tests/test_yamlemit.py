"""The fast case-file writer (store/yamlemit.py) against ruamel's round trip.

A changed case is written by yamlemit when its old text is in the layout
ruamel writes; whatever yamlemit writes must be ruamel's bytes, and what it
declines must be written by ruamel exactly as before. Tables for the texts
YAML treats specially, hypothesis for data and changes, and the CLI state
machine's commands through both writers (tests/helpers.TwinWriter).
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complaintctl.core import lifecycle
from complaintctl.core.lifecycle import Change
from complaintctl.errors import CaseFileError
from complaintctl.store import workspace, yamlemit, yamlfast, yamlio
from tests.helpers import TwinWriter, open_args

HEADER = workspace.HEADER

# (value, what yamlemit writes after 'k: ', or None: ruamel's to write)
SCALARS = [
    ("Called back", "Called back"),
    ("a,b [x] {y}", "a,b [x] {y}"),
    ("a#b", "a#b"),
    ("a:b", "a:b"),
    ("x'y", "x'y"),
    ('x"y', 'x"y'),
    ("中文, 是", "中文, 是"),
    ("a  b", "a  b"),
    ("yes", "yes"),  # YAML 1.2: text
    (".x", ".x"),
    ("a: b", "'a: b'"),
    ("a #b", "'a #b'"),
    ("x:", "'x:'"),
    (" lead", "' lead'"),
    ("trail ", "'trail '"),
    ("", "''"),
    ("null", "'null'"),
    ("~", "'~'"),
    ("12", "'12'"),
    ("1.5", "'1.5'"),
    ("0o12", "'0o12'"),
    ("1_000", "'1_000'"),
    ("2026-01-01", "'2026-01-01'"),
    ("2026-11-01T14:00:12+08:00", "'2026-11-01T14:00:12+08:00'"),
    ("2026-13-45", "'2026-13-45'"),
    ("True", "'True'"),
    ("...x", "'...x'"),
    ("---", None),
    ("@x", "'@x'"),
    ("#x", "'#x'"),
    ("[x", "'[x'"),
    ("<<", "'<<'"),
    ("-", "'-'"),
    ("- x", "'- x'"),
    (True, "true"),
    (False, "false"),
    (0, "0"),
    (-12, "-12"),
    ("-x", None),  # ruamel writes it plain; yamlfast would not read it back
    ("?x", None),
    (":x", None),
    ("-1", None),
    ("'x", None),  # ruamel turns to double quotes
    ("it's: here", None),
    ("a\tb", None),
    ("two\nlines", None),
    ("x" * 1001, None),
    (1.5, None),
    (date(2026, 1, 1), None),
]


@pytest.mark.parametrize(("value", "written"), SCALARS)
def test_a_scalar_is_written_as_ruamel_writes_it_or_declined(value: Any, written: str | None) -> None:
    ours = yamlemit.render({"k": value})
    assert ours == (None if written is None else f"k: {written}\n")
    if ours is not None:
        assert ours == yamlio.dump_roundtrip({"k": value})


def test_the_layout_of_lists_and_mappings_is_ruamels() -> None:
    data = {
        "id": "C-20261101-ABCDEF",
        "customer": {"name": "张三", "phone": "13812341234"},
        "offers": [],
        "extra": {},
        "gone": None,
        "tags": ["a", "b"],
        "events": [
            {
                "at": "2026-11-01T14:00:12+08:00",
                "evidence": [{"file": "evidence/x.pdf", "bytes": 12}],
                "letter": {"file": "l.html", "lang": "en"},
                "reasons": ["r1: x", "r2"],
            }
        ],
    }
    ours = yamlemit.render(data)
    assert ours == yamlio.dump_roundtrip(data)
    assert ours == (
        "id: C-20261101-ABCDEF\ncustomer:\n  name: 张三\n  phone: '13812341234'\noffers: []\nextra: {}\n"
        "gone:\ntags:\n  - a\n  - b\nevents:\n  - at: '2026-11-01T14:00:12+08:00'\n    evidence:\n"
        "      - file: evidence/x.pdf\n        bytes: 12\n    letter:\n      file: l.html\n      lang: en\n"
        "    reasons:\n      - 'r1: x'\n      - r2\n"
    )
    assert yamlemit.same(yamlfast.load(ours), data)


@pytest.mark.parametrize(
    "bad", [{"k": [[1]]}, {"k": [None]}, {"k": [{}]}, {"k": [[]]}, {1: "x"}, {"true": 1}]
)
def test_shapes_it_does_not_know_are_declined(bad: Any) -> None:
    assert yamlemit.render(bad) is None


def test_same_tells_types_and_order_apart() -> None:
    assert yamlemit.same({"a": 1, "b": [True]}, {"a": 1, "b": [True]})
    assert not yamlemit.same({"a": 1}, {"a": True})
    assert not yamlemit.same({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not yamlemit.same(["x"], ["x", "y"])


# ---------------------------------------------------------------- generated data and changes

TEXT = st.text(
    alphabet=st.sampled_from([*"ab yz01-:#',.\"?[]{}&*!|>%@`~_", "中", "é", "\t", "\n", "\u2028"]),
    max_size=12,
)
SCALAR = st.one_of(
    TEXT, st.integers(-5, 5), st.booleans(), st.sampled_from(["2026-11-01T14:00:12+08:00", "yes"])
)
KEY = st.sampled_from(["text", "kind", "by", "at", "no", "status", "file", "null", "true"])
ITEM = st.dictionaries(KEY, st.one_of(SCALAR, st.lists(TEXT, max_size=2)), min_size=1, max_size=4)
FIELD = st.one_of(SCALAR, st.none(), st.lists(ITEM, max_size=3), st.dictionaries(KEY, SCALAR, max_size=3))
CASE = st.builds(
    lambda top, events: {**top, "events": events},
    st.dictionaries(st.sampled_from(["id", "state", "owner", "customer", "offers", "urgent", "tags"]), FIELD),
    st.lists(ITEM, max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(data=CASE)
def test_generated_data_is_written_as_ruamel_writes_it_or_declined(data: dict[str, Any]) -> None:
    ours = yamlemit.render(data)
    if ours is not None:
        assert ours == yamlio.dump_roundtrip(data)
        back = yamlfast.load(ours)  # '-1' is ruamel's and yamlfast's -1, but yamlfast declines it
        assert back is None or yamlemit.same(back, data)


def _change(updates: list[tuple[tuple[Any, ...], Any]], event: dict[str, Any]) -> Change:
    from datetime import UTC, datetime

    at = datetime(2026, 11, 1, tzinfo=UTC)
    return Change("C-1", "note", "a", at, "open", "open", "Note", event, tuple(updates))


@st.composite
def changes(draw: st.DrawFn, case: dict[str, Any]) -> Change:
    """What lifecycle.apply is given: fields set, added or removed, list items replaced or added."""
    updates: list[tuple[tuple[Any, ...], Any]] = []
    for key in draw(st.lists(st.sampled_from([*case, "closed_at", "severity"]), max_size=3, unique=True)):
        if key == "events":
            continue
        old = case.get(key)
        if isinstance(old, list) and old and draw(st.booleans()):
            at = draw(st.integers(0, len(old)))
            updates.append(((key, at), draw(ITEM)))
        else:
            updates.append(((key,), draw(st.one_of(SCALAR, st.none(), st.lists(ITEM, max_size=2)))))
    return _change(updates, draw(ITEM))


def _twice(old_text: str, change: Change) -> tuple[str, str]:
    """(the new text through CaseEdit, ruamel's round trip with the change applied)."""
    data = yamlfast.load(old_text)
    assert data is not None
    edit = workspace.CaseEdit("case.yaml", old_text, yamlemit.editable(data))
    edit.apply(copy.deepcopy(change))
    before = yamlio.load_roundtrip(old_text, "case", CaseFileError)
    lifecycle.apply(before, copy.deepcopy(change))
    return edit.text(), workspace.dump_case(before)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_change_is_written_as_ruamels_round_trip_writes_it(data: st.DataObject) -> None:
    """yamlemit's text, or ruamel's when it declines, is the text the old
    path wrote: ruamel's round trip with the change applied."""
    old_text = workspace.dump_case(data.draw(CASE))
    plain = yamlfast.load(old_text)
    if plain is None:
        return  # not read by yamlfast: the command takes ruamel's path from the start
    ours, theirs = _twice(old_text, data.draw(changes(plain)))
    assert ours == theirs


def test_a_text_put_in_place_of_a_quoted_one_keeps_the_quotes() -> None:
    """As ruamel's CommentedMap and CommentedSeq keep a replaced scalar's style."""
    old_text = HEADER + "id: x\nsummary: 'Charged: twice'\ntags:\n  - '12'\nevents: []\n"
    change = _change([(("summary",), "Charged twice"), (("tags", 0), "x"), (("state",), "open")], {"a": 1})
    ours, theirs = _twice(old_text, change)
    assert ours == theirs
    assert ours == HEADER + (
        "id: x\nsummary: 'Charged twice'\ntags:\n  - 'x'\nstate: open\nevents:\n  - a: 1\n"
    )


def test_new_fields_go_before_the_events_as_in_ruamels_mapping() -> None:
    doc = yamlemit.editable({"id": "x", "events": []})
    lifecycle.apply(doc, _change([(("closed_at",), "2026"), (("customer", "name"), "Z")], {"a": 1}))
    assert list(doc) == ["id", "closed_at", "customer", "events"]
    assert doc["events"] == [{"a": 1}]


# ---------------------------------------------------------------- old texts

HAND_WRITTEN = [
    HEADER + "id: x\nstate: 'open'\nevents: []\n",  # a quote ruamel keeps
    HEADER + "id: x\n# a comment\nstate: open\nevents: []\n",
    HEADER + "id: x\nevents:\n    - at: y\n      by: z\n",  # other indentation
    "id: x\nstate: open\nevents: []\n",  # no header
]


@pytest.mark.parametrize("old_text", HAND_WRITTEN)
def test_a_text_in_another_layout_is_rewritten_by_ruamel_as_before(old_text: str) -> None:
    data = yamlfast.load(old_text)
    assert data is not None
    assert yamlemit.rewrite(old_text, yamlemit.editable(data)) is None
    ours, theirs = _twice(old_text, _change([(("state",), "closed")], {"action": "close"}))
    assert ours == theirs


def test_the_header_and_an_unchanged_file_are_kept_byte_for_byte() -> None:
    sample = Path(workspace.defaults_dir()).parent.parent / "cases"
    texts = [p.read_text(encoding="utf-8") for p in sorted(sample.rglob("*.yaml"))]
    texts.append(HEADER + "id: x\nstate: open\nevents:\n  - at: '2026-11-01T14:00:12+08:00'\n    by: a\n")
    for text in texts:
        data = yamlfast.load(text)
        assert data is not None and yamlemit.rewrite(text, data) == text


# ---------------------------------------------------------------- through the CLI


def test_commands_write_what_ruamel_wrote(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A case's life through the CLI, each rewrite compared with ruamel's."""
    twin = TwinWriter(monkeypatch)
    case_id = run(*open_args()).stdout.strip()
    carol = ("--as", "carol@example.com")  # the case's owner
    steps = [
        ["note", case_id, "Called back, no answer: left a message #2", "--kind", "internal"],
        ["note", case_id, "Customer's reply\nover two lines"],  # ruamel's to write
        ["propose", case_id, "--amount", "120.50", "--terms", "Refund", "--not-overcharge", "late", *carol],
        ["note", case_id, "yes", *carol],
        ["escalate", case_id, "--reason", "The customer asked for a manager", *carol],
    ]
    for words in steps:
        result = run(*words)
        assert result.exit_code == 0, (words, result.stderr)
    assert twin.checked == 1 + len(steps)  # the open, then every rewrite
    assert 0 < twin.fast < twin.checked
