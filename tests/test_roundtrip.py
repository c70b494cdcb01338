"""Round-trip properties of case files.

A record built by ``lifecycle.open_case`` and a random run of valid changes,
with hostile text in every free-text field, must survive dump -> load ->
dump byte for byte, load back as the same plain data (strings stay strings),
pass ``model.validate_case``, and a further change made the way the CLI makes
it (round-trip load, apply, dump) must only add lines, apart from the lines
of the fields the change updates.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from complaintctl.core import events, lifecycle
from complaintctl.core.records import validate_case
from complaintctl.core.times import format_time
from complaintctl.errors import CaseFileError, RuleError
from complaintctl.store import workspace, yamlio
from complaintctl.store.policyfile import load as load_policy

POLICY = load_policy(workspace.defaults_dir() / "policy.yaml")  # the policy init copies
NOW = datetime.fromisoformat("2026-11-22T10:00:00+08:00")
START = datetime.fromisoformat("2026-11-01T08:00:00+08:00")
CASE_ID = "C-20261101-7K3QX2"
TEAM = [m.id for m in POLICY.team]
# The commands this file knows how to drive; any other the policy allows is skipped.
KNOWN_COMMANDS = (
    "note",
    "propose",
    "agree",
    "escalate",
    "close",
    "followup",
    "archive",
    "reopen",
    "wait",
    "resume",
    "flag",
    "lower",
)

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ---------------------------------------------------------------- text

YAMLISH = [
    "yes",
    "no",
    "Yes",
    "NO",
    "on",
    "off",
    "true",
    "False",
    "null",
    "Null",
    "~",
    "",
    "2026-01-01",
    "2026-11-22T09:30:00+08:00",
    "012",
    "0o17",
    "0x1F",
    "1e3",
    "1_000",
    ".inf",
    "-.nan",
    "3.14",
    "-0",
    "+1",
    "- item",
    "? key",
    "a: b",
    "key: value",
    ":",
    "- ",
    "#",
    "# comment",
    "x #not comment",
    "&anchor",
    "*alias",
    "!tag",
    "!!str",
    "%YAML 1.2",
    "---",
    "...",
    "|",
    "|-",
    ">",
    "'single'",
    '"double"',
    "'",
    '"',
    "\\",
    "\\n",
    "@",
    "`",
    "{a: 1}",
    "[1, 2]",
    ",",
    "<<",
]
FLAVOUR = [
    "张三",
    "投诉：退款未到账",
    "二次投诉",
    "¥240.00",
    "😀",
    "👍🏽",
    "🇨🇳",
    "👨‍👩‍👧",
    "𠀀",
    "\n",
    "\n\n",
    "\r\n",
    "\t",
    " ",
    "  ",
    "\u00a0",
    "\u3000",
    "\u2028",
    "\ufeff",
]
# Control characters other than tab and line breaks are refused on input
# (ruamel cannot keep U+0085, and none belongs in a record): see test_cli.
CHARS = st.characters(exclude_categories=("Cs", "Cc"), include_characters="\t\n\r")
PIECE = st.one_of(
    st.sampled_from(YAMLISH),
    st.sampled_from(FLAVOUR),
    st.text(CHARS, max_size=8),
    st.text(st.sampled_from("张三投诉退款 :#&*'\"\n-?|>{}[],!%@`"), max_size=8),
)
ANY_TEXT = st.lists(PIECE, max_size=5).map("".join)
TEXT = ANY_TEXT.map(lambda s: s if s.strip() else s + "张")  # what a command refuses when blank
OPT_TEXT = st.none() | TEXT

PHONES = st.sampled_from(["13812341234", "+86 138-1234-1234", "(010) 6543 2100", "0123456789"])
EMAILS = st.sampled_from(["zhang.san@example.com", "x+y@mail.example.cn", "a@b.io"])


# ---------------------------------------------------------------- building cases


@st.composite
def new_cases(draw: st.DrawFn) -> events.Open:
    staff = draw(st.lists(st.sampled_from(TEAM[1:]), unique=True, max_size=2))
    owners = [m for m in TEAM if m not in staff]
    return events.Open(
        customer=draw(TEXT),
        channel=draw(st.sampled_from(POLICY.channels)),
        category=draw(st.sampled_from(POLICY.categories)),
        summary=draw(TEXT),
        phone=draw(st.none() | PHONES),
        email=draw(st.none() | EMAILS),
        address=draw(OPT_TEXT),
        account=draw(OPT_TEXT),
        demand=draw(OPT_TEXT),
        urgent=draw(st.booleans()),
        severity=draw(st.none() | st.sampled_from(POLICY.severities)),
        subject_staff=tuple(staff),
        owner=draw(st.sampled_from(owners)),
        matter=draw(OPT_TEXT),
        # 'external' takes a supervisor (rules.cause_roles); 'flag' sets it later in a history.
        cause=draw(st.none() | st.sampled_from([c for c in lifecycle.CAUSES if c != "external"])),
        risk=draw(st.booleans()),
        collective=draw(st.none() | st.integers(2, 50)),
    )


def actors(case: Any) -> list[str]:
    return [m for m in TEAM if m not in case.get("subject_staff", ())]


def draw_change(draw: st.DrawFn, case: Any, at: datetime) -> lifecycle.Change | None:
    """One valid change for the case as it is, or None if none applies.

    The command is chosen among those the lifecycle allows now; its
    arguments are valid. A RuleError that depends on history (top tier,
    a final outcome, a tier holder, too few contact attempts) skips the step.
    """
    state = case["state"]
    commands = [c for c in POLICY.allowed_commands(state) if c in KNOWN_COMMANDS]
    if not commands:
        return None
    command = draw(st.sampled_from(commands))
    actor = draw(st.sampled_from(actors(case)))
    head = (POLICY, case, actor, at, NOW)
    try:
        if command == "note":
            kind = draw(st.sampled_from(list(POLICY.note_kinds)))
            channel = draw(st.sampled_from(POLICY.channels))
            if kind != "contact-failed":
                channel = draw(st.none() | st.just(channel))
            return events.Note(draw(TEXT), kind, channel).decide(*head)
        if command == "propose":
            currency = draw(st.sampled_from(list(POLICY.currencies)))
            places = POLICY.currencies[currency]
            units = draw(st.integers(0, 10**9))
            amount = f"{units}" if not places else f"{units // 10**places}.{units % 10**places:0{places}d}"
            kind = draw(st.sampled_from(POLICY.offer_kinds))
            why = draw(st.none() | TEXT)  # billing money without a reason is refused, as it should be
            return events.Propose(amount, currency, kind, draw(TEXT), not_overcharge=why).decide(*head)
        if command == "agree":
            offer = lifecycle.open_offer(case)
            offer_no = draw(st.sampled_from([None, offer["no"]])) if offer else None
            channel = draw(st.none() | st.sampled_from(POLICY.channels))
            return events.Agree(offer_no, draw(OPT_TEXT), channel).decide(*head)
        if command == "escalate":
            to_user = draw(st.none() | st.sampled_from(actors(case)))
            return events.Escalate(draw(TEXT), to_user).decide(*head)
        if command == "close":
            names = [r for r, spec in POLICY.resolutions.items() if spec.requires_state in (None, state)]
            resolution = draw(st.sampled_from(names))
            executed = POLICY.resolutions[resolution].final_when_executed and draw(st.booleans())
            return events.Close(resolution, draw(st.none() | ANY_TEXT), executed).decide(*head)
        if command == "followup":
            satisfaction = draw(st.none() | st.integers(1, 5))
            return events.Followup(satisfaction, satisfaction is None, draw(st.none() | ANY_TEXT)).decide(
                *head
            )
        if command == "archive":
            return events.Archive().decide(*head)
        if command == "reopen":
            return events.Reopen(draw(TEXT)).decide(*head)
        if command == "wait":
            return events.Wait(draw(TEXT)).decide(*head)
        if command == "resume":
            return events.Resume(draw(st.none() | ANY_TEXT)).decide(*head)
        if command == "flag":
            event = events.Flag(
                draw(TEXT),
                draw(st.booleans()),
                draw(st.booleans()),
                draw(st.booleans()),
                draw(st.none() | st.integers(2, 500)),
                draw(st.none() | st.sampled_from(lifecycle.CAUSES)),
            )
            if not event.values():
                event = event.replace(risk=True)
            return event.decide(*head)
        assert command == "lower"
        return events.Lower(draw(st.sampled_from(POLICY.severities)), draw(TEXT)).decide(*head)
    except RuleError:
        return None


@st.composite
def histories(draw: st.DrawFn) -> tuple[dict[str, Any], str, datetime]:
    """(plain record, the file as the CLI would have written it, last event time).

    The plain record gets each change by ``lifecycle.apply`` on plain dicts;
    the file text gets it the CLI's way: round-trip load, apply, dump.
    """
    at = START
    case, _ = draw(new_cases()).decide_open(POLICY, CASE_ID, TEAM[0], at, NOW)
    text = workspace.dump_case(case)
    for _ in range(draw(st.integers(0, 12))):
        at += timedelta(minutes=draw(st.integers(0, 600)))
        change = draw_change(draw, case, at)
        if change is None:
            continue
        lifecycle.apply(case, change)
        doc = yamlio.load_roundtrip(text, "case.yaml", CaseFileError)
        assert doc["state"] == change.from_state
        lifecycle.apply(doc, copy.deepcopy(change))  # same change, no shared objects
        text = workspace.dump_case(doc)
    return case, text, at


@st.composite
def one_change(draw: st.DrawFn, case: Any, at: datetime) -> lifecycle.Change | None:
    return draw_change(draw, case, at)


# ---------------------------------------------------------------- helpers


def same(a: Any, b: Any, path: str = "") -> None:
    """Deep equality that also insists on the same types (True is not 1, '012' is not 12)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert sorted(a) == sorted(b), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for key in a:
            same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    else:
        assert type(a) is type(b), f"{path}: {type(a).__name__} {a!r} != {type(b).__name__} {b!r}"
        assert a == b, f"{path}: {a!r} != {b!r}"


def load_rt(text: str) -> Any:
    return yamlio.load_roundtrip(text, "case.yaml", CaseFileError)


def load_plain(text: str) -> Any:
    return yamlio.load_plain(text, "case.yaml", CaseFileError)


# ---------------------------------------------------------------- properties


@SETTINGS
@given(histories())
def test_dump_load_dump_is_byte_identical(history: tuple[dict[str, Any], str, datetime]) -> None:
    case, text, _ = history
    dumped = workspace.dump_case(case)
    assert workspace.dump_case(load_rt(dumped)) == dumped
    # The file as the CLI evolves it is a fixed point too.
    assert workspace.dump_case(load_rt(text)) == text
    assert text.startswith(workspace.HEADER)


@SETTINGS
@given(histories())
def test_plain_load_gives_back_the_record(history: tuple[dict[str, Any], str, datetime]) -> None:
    case, text, _ = history
    same(load_plain(workspace.dump_case(case)), case)
    # Built the CLI's way (round-trip edits), the file holds the same data.
    same(load_plain(text), case)


@SETTINGS
@given(histories())
def test_written_record_is_valid(history: tuple[dict[str, Any], str, datetime]) -> None:
    case, text, _ = history
    validate_case(case, POLICY, expected_id=CASE_ID)
    validate_case(load_plain(text), POLICY, expected_id=CASE_ID)
    validate_case(load_rt(text), POLICY, expected_id=CASE_ID)
    assert case["state"] in POLICY.states


def _allowed_removal(line: str, change: lifecycle.Change) -> bool:
    """A removed line may only be the old value of a field the change updates."""
    for path, _value in change.updates:
        key = path[-1]
        if len(path) == 1 and re.match(rf"{re.escape(str(key))}:( |$)", line):
            return True
        if len(path) > 1 and re.match(rf"\s+(- )?{re.escape(str(key))}: ", line):
            return True
    return False


@SETTINGS
@given(histories(), st.data())
def test_one_change_only_adds_lines_except_updated_fields(
    history: tuple[dict[str, Any], str, datetime], data: st.DataObject
) -> None:
    case, old_text, last = history
    doc = load_rt(old_text)
    at = last + timedelta(minutes=data.draw(st.integers(0, 90)))
    change = data.draw(one_change(doc, at))
    if change is None:
        return
    lifecycle.apply(doc, change)
    new_text = workspace.dump_case(doc)

    old_lines, new_lines = old_text.splitlines(keepends=True), new_text.splitlines(keepends=True)
    # Lines that are gone, as a multiset: a line diff may pair lines oddly
    # (an appended offer repeats the old one's 'at:' line), a count does not.
    removed = list((Counter(old_lines) - Counter(new_lines)).elements())
    bad = [line for line in removed if not _allowed_removal(line, change)]
    diff = "".join(difflib.unified_diff(old_lines, new_lines))
    assert not bad, f"{change.action} removed lines it does not own: {bad}\n{diff}"
    # Each updated field accounts for at most one removed line.
    assert len(removed) <= len(change.updates), diff
    if change.to_state != change.from_state:
        assert f"state: {change.from_state}\n" in removed
        assert f"state: {change.to_state}\n" in new_lines

    # And the result is the old record with the change applied, nothing else.
    expected = copy.deepcopy(case)
    lifecycle.apply(expected, change)
    same(load_plain(new_text), expected)
    validate_case(load_plain(new_text), POLICY, expected_id=CASE_ID)
    assert workspace.dump_case(load_rt(new_text)) == new_text
    assert format_time(change.at) == change.event["at"]
