"""The commands end to end, over real git repos: exact output, exit codes,
a clean tree, and exactly one commit per success (none per refusal)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from complaintctl.cli.app import app
from tests.helpers import ALICE, Workspace, git, open_args, read_case

ID_RE = re.compile(r"C-\d{8}-[0-9A-Z]{6}")


def opened(run: Any, ws: Workspace, **over: str) -> str:
    before = ws.commits()
    result = run(*open_args(**over))
    assert result.exit_code == 0, result.stderr
    case_id = result.stdout.strip()
    assert ID_RE.fullmatch(case_id)
    assert ws.commits() == before + 1 and ws.status() == ""
    return case_id


def changes(run: Any, ws: Workspace, *args: str) -> str:
    """Run a changing command that must succeed; return its stdout."""
    before = ws.commits()
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    assert ws.commits() == before + 1
    assert ws.status() == ""
    return str(result.stdout)


def refused(run: Any, ws: Workspace, *args: str, code: int = 1, literal: bool = False) -> str:
    """Run a command that must be refused; nothing may change. Return stderr."""
    before, files = ws.commits(), ws.snapshot()
    result = run(*args, literal=literal)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert ws.commits() == before
    assert ws.snapshot() == files
    assert ws.status() == ""
    assert "Traceback" not in result.stderr + result.stdout
    return str(result.stderr)


# ---------------------------------------------------------------- the happy path


def test_a_case_from_receipt_to_archive(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    assert ws.head_subject() == f"Open billing complaint {case_id} (phone)"
    steps = [
        (["note", case_id, "Apologised; checking", "--kind", "reply", "--channel", "phone", "--at", "2026-11-20T10:00"],
         f"{case_id}: Note reply on {case_id} [open -> in-progress]\n"),
        (["propose", case_id, "--amount", "240", "--not-overcharge", "Goodwill", "--terms", "Refund within 7 days", "--at", "2026-11-20T11:00"],
         f"{case_id}: Propose CNY 240.00 refund on {case_id} (pending approval) [in-progress -> proposed]\n"),
        (["approve", case_id, "1", "--as", "carol@example.com", "--at", "2026-11-20T11:30"],
         f"{case_id}: Approve offer 1 (CNY 240.00 refund) on {case_id} [proposed]\n"),
        (["agree", case_id, "--signed-by", "张三", "--at", "2026-11-20T12:00"],
         f"{case_id}: Agree offer 1 (CNY 240.00 refund) on {case_id} [proposed -> agreed]\n"),
        (["plan", case_id, "Refund CNY 240 to the original account", "--by", "finance", "--due", "3d",
          "--at", "2026-11-20T12:10"],
         f"{case_id}: Plan measure 1 on {case_id} (by finance, due 2026-11-23) [agreed]\n"),
        (["execute", case_id, "1", "--text", "Paid, ref 8823", "--at", "2026-11-21T11:00"],
         f"{case_id}: Carry out measure 1 on {case_id} [agreed]\n"),
        (["close", case_id, "--resolution", "agreed", "Paid", "--at", "2026-11-21T12:00"],
         f"{case_id}: Close {case_id} as agreed (executed) [agreed -> closed]\n"),
        (["followup", case_id, "--satisfaction", "5", "--as", "bob@example.com"],
         f"{case_id}: Follow up {case_id}: satisfaction 5/5 [closed -> followed-up]\n"),
        (["archive", case_id], f"{case_id}: Archive {case_id} [followed-up -> archived]\n"),
    ]  # fmt: skip
    for args, out in steps:
        assert changes(run, ws, *args) == out
    assert ws.commits() == 1 + 1 + len(steps)


def test_commit_has_trailers_author_and_event_date(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    # Alice enters Carol's offer for her (--as): the commit names both.
    result = run("propose", case_id, "--amount", "150.00", "--not-overcharge", "Goodwill", "--terms", "Refund", "--as", "carol@example.com",
                 "--at", "2026-11-21T08:30", literal=True)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert ws.head_message() == (
        f"Propose CNY 150.00 refund on {case_id}\n\n"
        f"Complaintctl-Case: {case_id}\n"
        "Complaintctl-Action: propose\n"
        "Complaintctl-From: open\n"
        "Complaintctl-To: proposed\n"
        "Complaintctl-Actor: carol@example.com\n"
        "Complaintctl-Entered-By: alice@example.com\n\n"
    )
    author = git(ws.root, "log", "-1", "--format=%an <%ae>|%aI|%cn <%ce>").strip()
    assert (
        author == "Carol Zhang <carol@example.com>|2026-11-21T08:30:00+08:00|Alice Wang <alice@example.com>"
    )
    trailers = git(ws.root, "log", "-1", "--format=%(trailers:key=Complaintctl-To,valueonly)").strip()
    assert trailers == "proposed"


def test_commit_stages_only_the_case_file(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    (ws.root / "scratch.txt").write_text("not mine\n")
    (ws.root / ".gitignore").write_text((ws.root / ".gitignore").read_text() + "/scratch/\n")
    git(ws.root, "add", ".gitignore")
    before = ws.commits()
    result = run("note", case_id, "Checked")
    assert result.exit_code == 0, result.stderr
    assert ws.commits() == before + 1
    changed = git(ws.root, "show", "--name-only", "--format=", "HEAD").split()
    assert changed == [str(ws.case_file(case_id).relative_to(ws.root))]
    assert ws.status() == "M  .gitignore\n?? scratch.txt\n"


@pytest.mark.parametrize("staged", [False, True])
def test_a_policy_edit_not_yet_recorded_stops_every_change(run: Any, ws: Workspace, staged: bool) -> None:
    # Each case commit is judged by the policy on record; an edit in the tree would be judged by nobody.
    case_id = opened(run, ws)
    policy = ws.root / "policy.yaml"
    policy.write_text(policy.read_text().replace("stall_after: 72h", "stall_after: 24h"))
    if staged:
        git(ws.root, "add", "policy.yaml")
    before = ws.commits()
    result = run("note", case_id, "Checked")
    assert (result.exit_code, result.stderr) == (
        1,
        "complaintctl: policy.yaml: has changes not yet recorded; every case change is judged by the policy "
        "on record; record them with 'complaintctl policy commit --reason ...' (or drop them: git checkout "
        "-- policy.yaml templates)\n",
    )
    assert ws.commits() == before
    recorded = run("policy", "commit", "--reason", "Stalled after a day", "--as", "dave@example.com")
    assert (recorded.exit_code, recorded.stdout) == (0, "Policy: change policy.yaml\n"), recorded.stderr
    assert run("note", case_id, "Checked").exit_code == 0
    assert run("verify").stdout == ""


def test_a_command_diff_shows_only_the_change(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    changes(run, ws, "note", case_id, "First reply", "--kind", "reply", "--channel", "phone")
    diff = git(ws.root, "show", "--format=", "--unified=0", "HEAD")
    body = [ln for ln in diff.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    assert body == [
        "-state: open",
        "+state: in-progress",
        "+  - at: '2026-11-22T10:00:00+08:00'",
        f"+    by: {ALICE}",
        "+    action: note",
        "+    from: open",
        "+    to: in-progress",
        "+    kind: reply",
        "+    channel: phone",
        "+    text: First reply",
    ]


def test_case_file_is_sharded_and_carries_a_schema_version(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    path = ws.case_file(case_id)
    assert path.relative_to(ws.root).parts[:3] == ("cases", "2026", "11")
    text = path.read_text(encoding="utf-8")
    assert "\nschema: 1\n" in text and "name: 张三\n" in text


# ---------------------------------------------------------------- refusals leave no trace


def test_refused_transition_names_state_and_allowed_commands(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    err = refused(run, ws, "agree", case_id)
    assert err == (
        f"complaintctl: {case_id}: cannot agree a case that is open; "
        "commands allowed now: assign, close, correct, draft, escalate, flag, lower, note, propose, retract, send, "
        "signoff\n"
    )


def test_archive_is_refused_until_follow_up(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    changes(run, ws, "close", case_id, "--resolution", "explained")
    err = refused(run, ws, "archive", case_id)
    assert err == (
        f"complaintctl: {case_id}: cannot archive a case that is closed; "
        "follow up first, archive after: run 'complaintctl followup' first\n"
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["note", "C-20261120-ZZZZZZ", "x"], 1,
         "complaintctl: cases/2026/11/C-20261120-ZZZZZZ.yaml: no case C-20261120-ZZZZZZ; run 'complaintctl list' to see the cases\n"),
        (["note", "../../etc/passwd", "x"], 1,
         "complaintctl: '../../etc/passwd' is not a case id; ids look like C-20261122-7K3QX2; run 'complaintctl list' to find one\n"),
        (["note", "/etc/passwd", "x"], 1,
         "complaintctl: '/etc/passwd' is not a case id; ids look like C-20261122-7K3QX2; run 'complaintctl list' to find one\n"),
    ],
)  # fmt: skip
def test_bad_ids_are_refused_never_followed(
    run: Any, ws: Workspace, args: list[str], code: int, message: str
) -> None:
    assert refused(run, ws, *args, code=code) == message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "2026-11-23T00:00"], "--at 2026-11-23T00:00:00+08:00 is in the future (now is 2026-11-22T10:00:00+08:00); give the time it really happened"),
        (["--at", "yesterday"], "--at 'yesterday' is not a date and time; write it like 2026-11-22T09:30 or 2026-11-22T09:30:00+08:00"),
        (["--at", "2026-11-19T00:00"], "{id}: --at 2026-11-19T00:00:00+08:00 is before the case's last event (2026-11-20T09:00:00+08:00); events are recorded in time order"),
        (["--as", "mallory@example.com"], "'mallory@example.com' is not on the team in policy.yaml; act as a listed member with --as, or add them under 'team:'"),
        (["--kind", "gossip"], "unknown note kind 'gossip'; use one of: internal, reply, contact-failed, notice, investigation, lesson (policy.yaml: note_kinds)"),
        (["--kind", "contact-failed"], "a failed contact attempt needs --channel; say how you tried: --channel phone"),
    ],
)  # fmt: skip
def test_note_refusals(run: Any, ws: Workspace, args: list[str], message: str) -> None:
    case_id = opened(run, ws)
    code = 1 if "team" in message else 2  # a rule refuses (1); a bad value is a usage error (2)
    err = refused(run, ws, "note", case_id, "text", *args, code=code)
    assert err == "complaintctl: " + message.format(id=case_id) + "\n"


def test_a_change_that_would_make_the_case_too_big_is_refused(run: Any, ws: Workspace) -> None:
    """A note of 1.5 MB was committed, and every reader then refused the case
    ('over the case-file limit'): the case was lost to the tool."""
    case_id = opened(run, ws)
    rel = f"cases/2026/11/{case_id}.yaml"
    err = refused(run, ws, "note", case_id, "x" * 1_000_000)
    found = re.fullmatch(
        rf"complaintctl: {rel}: the case would be ([0-9,]+) characters, over the case-file limit of 1,000,000; "
        r"shorten the text \(attach a long document as evidence to 'agree', or keep it outside and note where\), "
        r"or raise case_file_max_bytes in policy.yaml\n",
        err,
    )
    assert found, err
    assert 1_000_000 < int(found[1].replace(",", "")) < 1_010_000
    changes(run, ws, "note", case_id, "x" * 900_000)  # under the limit: kept, and still read
    assert run("show", case_id).exit_code == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["x\x85y"], 2, "the text contains the control character U+0085; remove it (tabs and line breaks are fine)"),
        (["x", "--kind", "a\nb"], 2, "unknown note kind 'a b'; use one of: internal, reply, contact-failed, notice, investigation, lesson (policy.yaml: note_kinds)"),
        (["x", "--as", "x\ny"], 2, "--as must be one line of printable text; give an e-mail like you@example.com"),
    ],
)  # fmt: skip
def test_errors_stay_on_one_line(run: Any, ws: Workspace, args: list[str], code: int, message: str) -> None:
    case_id = opened(run, ws)
    assert refused(run, ws, "note", case_id, *args, code=code, literal=True) == f"complaintctl: {message}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["followup", "C-20261120-AAAAAA", "--satisfaction", "abc"], "Invalid value for '--satisfaction': 'abc' is not a valid int; see 'complaintctl followup --help'"),
        (["nosuch"], "No such command 'nosuch'; see 'complaintctl --help'"),
        # A negative --limit was taken as 'all' (0), silently.
        (["list", "--limit", "-3"], "--limit -3 is below 0; give a number of rows, or 0 for all of them"),
        (["customer", "13800000000", "--limit", "-1"], "--limit -1 is below 0; give a number of rows, or 0 for all of them"),
        (["report", "--cases", "--limit", "-2"], "--limit -2 is below 0; give a number of rows, or 0 for all of them"),
        # An empty key filtered nothing: every case was listed as the customer's.
        (["customer", ""], "the customer key is empty; give the customer's phone, e-mail or account number"),
        (["customer", "  "], "the customer key is empty; give the customer's phone, e-mail or account number"),
        (["list", "--owner", ""], "--owner is empty; leave --owner out or give it a value"),
        (["list", "--matter", " "], "--matter is empty; leave --matter out or give it a value"),
        (["list", "--search", ""], "--search is empty; leave --search out or give it a value"),
        (["report", "--owner", " "], "--owner is empty; leave --owner out or give it a value"),
    ],
)  # fmt: skip
def test_argument_errors_are_one_line_too(run: Any, ws: Workspace, args: list[str], message: str) -> None:
    assert refused(run, ws, *args, code=2) == f"complaintctl: {message}\n"


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"address": " "}, "--address is empty; leave --address out or give it a value"),
        ({"subject_staff": " "}, "--subject-staff is empty; name the member of staff"),
        ({"customer": "A\x00B"}, "--customer contains the control character U+0000; remove it (tabs and line breaks are fine)"),
    ],
)  # fmt: skip
def test_open_refuses_blank_and_control_text(
    run: Any, ws: Workspace, over: dict[str, str], message: str
) -> None:
    assert refused(run, ws, *open_args(**over), code=2) == f"complaintctl: {message}\n"


def test_recused_staff_cannot_touch_the_case(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws, subject_staff="bob@example.com")
    err = refused(run, ws, "note", case_id, "I did nothing wrong", "--as", "bob@example.com")
    assert err == (
        f"complaintctl: {case_id}: bob@example.com is named in the complaint and may not act on it (recusal); "
        "a colleague acts on it, in their own name\n"
    )


@pytest.mark.parametrize(
    ("operator", "args", "message"),
    [
        # Alice (an agent, CNY 200) entering a manager's offer: it needed no approval.
        (ALICE, ["propose", "{id}", "--amount", "5000", "--not-overcharge", "Goodwill", "--terms", "Refund", "--as", "dave@example.com"],
         "{id}: an offer of CNY 5000.00 is above your own approval limit (you are alice@example.com); "
         "dave@example.com proposes it in person, or propose it as yourself and it waits for approval"),
        # ... a supervisor's external cause, which keeps a case from turning hot.
        (ALICE, ["flag", "{id}", "--cause", "external", "--reason", "Supplier", "--as", "carol@example.com"],
         "{id}: only supervisor or manager or executive may set the cause to 'external'; ask one of: "
         "carol@example.com, dave@example.com, erin@example.com (policy.yaml: rules.cause_roles)"),
        (ALICE, ["correct", "{id}", "cause", "external", "--reason", "Supplier", "--as", "carol@example.com"],
         "{id}: only supervisor or manager or executive may set the cause to 'external'; ask one of: "
         "carol@example.com, dave@example.com, erin@example.com (policy.yaml: rules.cause_roles)"),
        # Bob, whom the complaint is about, acting in a colleague's name.
        ("bob@example.com", ["note", "{id}", "All fine", "--as", "alice@example.com"],
         "{id}: bob@example.com is named in the complaint and may not act on it (recusal); "
         "a colleague acts on it, in their own name"),
        ("bob@example.com", ["assign", "{id}", "--to", "carol@example.com", "--reason", "Mine", "--as", "alice@example.com"],
         "{id}: bob@example.com is named in the complaint and may not act on it (recusal); "
         "a colleague acts on it, in their own name"),
        ("bob@example.com", [*open_args(subject_staff="bob@example.com"), "--as", "alice@example.com"],
         "bob@example.com is named in the complaint and may not record it (recusal); "
         "a colleague opens it, in their own name"),
    ],
)  # fmt: skip
def test_what_is_entered_for_someone_else_is_the_operators_to_enter(
    run: Any, ws: Workspace, operator: str, args: list[str], message: str
) -> None:
    """--as entered an action as someone with more authority, or hid a
    recused member of staff behind a colleague's name."""
    case_id = opened(run, ws, subject_staff="bob@example.com")
    words = [a.format(id=case_id) for a in args]
    result = run(*words, env={"COMPLAINTCTL_USER": operator}, literal=True)
    assert result.exit_code == 1, result.stdout
    assert result.stderr == "complaintctl: " + message.format(id=case_id) + "\n"
    assert ws.commits() == 2 and ws.status() == ""
    # Within the operator's own authority, entering for someone else still works.
    changes(
        run, ws, "propose", case_id, "--amount", "150", "--not-overcharge", "Goodwill", "--terms", "Refund"
    )
    result = run(
        "flag", case_id, "--cause", "internal", "--reason", "Ours", "--as", "carol@example.com", literal=True
    )
    assert result.exit_code == 0, result.stderr


def test_missing_required_option_is_a_usage_error(run: Any, ws: Workspace) -> None:
    result = run("open", "--customer", "X")
    assert result.exit_code == 2
    assert "Missing option" in result.stderr
    assert ws.commits() == 1


def test_open_refuses_a_matter_settled_for_good(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    changes(run, ws, "propose", case_id, "--amount", "10", "--not-overcharge", "Goodwill", "--terms", "t")
    changes(run, ws, "agree", case_id)
    changes(run, ws, "plan", case_id, "Refund CNY 10", "--by", "finance", "--due", "1d")
    changes(run, ws, "execute", case_id, "1")
    changes(run, ws, "close", case_id, "--resolution", "agreed", "--executed")
    err = refused(run, ws, *open_args(phone="138-1234-1234", at="2026-11-22T09:00"))
    assert err == (
        f"complaintctl: this matter was settled and closed for good in {case_id} (not accepted again); "
        f"see 'complaintctl show {case_id}'\n"
    )
    other = opened(run, ws, category="delivery-delay", at="2026-11-22T09:00")
    assert other != case_id


def test_open_refuses_a_matter_being_settled(run: Any, ws: Workspace) -> None:
    """A second case on a matter whose settlement was accepted (not yet
    closed) was accepted, and paid the double refund a second time."""
    case_id = opened(run, ws)
    changes(run, ws, "propose", case_id, "--amount", "10", "--not-overcharge", "Goodwill", "--terms", "t")
    assert opened(run, ws, at="2026-11-21T09:00")  # an offer not yet accepted: a second case is taken
    changes(run, ws, "agree", case_id)
    err = refused(run, ws, *open_args(phone="138-1234-1234", at="2026-11-22T09:00"))
    assert err == (
        f"complaintctl: this matter is being settled in {case_id}: the customer accepted an offer there "
        f"(not accepted again); see 'complaintctl show {case_id}'\n"
    )


def test_a_correction_is_held_to_what_open_holds_a_new_case_to(run: Any, ws: Workspace) -> None:
    """Opened under another category or phone, then corrected, a case got
    past 'not accepted again' and the refused bottom line, and paid again."""
    first = opened(run, ws, at="2026-11-18T09:00")
    changes(run, ws, "propose", first, "--amount", "10", "--not-overcharge", "Goodwill", "--terms", "t",
            "--at", "2026-11-18T10:00")  # fmt: skip
    twin = opened(run, ws, at="2026-11-18T10:05")  # before the agreement: taken, on the same matter
    changes(run, ws, "agree", first, "--at", "2026-11-18T10:10")
    second = opened(run, ws, category="delivery-delay", at="2026-11-19T09:00")
    third = opened(run, ws, phone="13900000000", at="2026-11-19T09:10")
    settling = f"a matter that is being settled in {first}: the customer accepted an offer there"
    for case_id, words in ((second, ["category", "billing"]), (third, ["phone", "138 1234 1234"])):
        err = refused(run, ws, "correct", case_id, *words, "--reason", "Mistyped")
        assert err == (
            f"complaintctl: {case_id}: corrected so, the case would be about {settling}; 'open' refuses or "
            f"caps such a case; see 'complaintctl show {first}'; record the new fact in a note instead\n"
        )
    changes(run, ws, "correct", third, "phone", "13900000001", "--reason", "Mistyped")  # another customer
    # On the matter already before this correction (the first was settled later): nothing new.
    changes(run, ws, "correct", twin, "phone", "138 1234 1234", "--reason", "Spacing")
    changes(run, ws, "correct", second, "summary", "Late and charged twice", "--reason", "Clearer")
    assert run("verify").exit_code == 0 and run("check").exit_code == 0


def test_a_correction_does_not_lift_a_refused_bottom_line(run: Any, ws: Workspace) -> None:
    first = opened(run, ws, at="2026-11-18T09:00")
    changes(run, ws, "propose", first, "--amount", "500", "--not-overcharge", "Goodwill", "--bottom-line",
            "--terms", "Final", "--as", "carol@example.com", "--at", "2026-11-18T11:00")  # fmt: skip
    changes(run, ws, "refuse", first, "1", "--reason", "Wants 1500", "--at", "2026-11-18T12:00")
    changes(run, ws, "close", first, "--resolution", "explained", "--at", "2026-11-18T13:00")
    second = opened(run, ws, email="z@example.com", phone="13900000000", at="2026-11-19T09:00")
    err = refused(run, ws, "correct", second, "phone", "13812341234", "--reason", "Mistyped")
    assert err == (
        f"complaintctl: {second}: corrected so, the case would be about a matter whose bottom line was refused "
        f"in {first}; 'open' refuses or caps such a case; see 'complaintctl show {first}'; record the new fact "
        "in a note instead\n"
    )


def test_one_matter_typed_three_ways_is_one_hot_spot(run: Any, ws: Workspace) -> None:
    """'lift-b2', 'Lift-B2' and 'LIFT-B2 ' from three customers were three
    matters: the third complaint did not turn the case hot."""
    ids = [
        opened(
            run,
            ws,
            at=f"2026-11-2{i}T09:00",
            phone=f"1370000000{i}",
            matter=tag,
            category="property-management",
        )
        for i, tag in enumerate(("lift-b2", "Lift-B2", "LIFT-B2 "))
    ]
    rows = json.loads(run("list", "--json").stdout)
    assert {r["id"]: r["severity"] for r in rows if r["id"] in ids} == dict.fromkeys(ids, "hot")
    assert [r["id"] for r in json.loads(run("list", "--matter", "LIFT-b2", "--json").stdout)] == ids


def test_a_policy_change_may_not_retire_what_recorded_cases_hold(run: Any, ws: Workspace) -> None:
    """Retiring a category that a case holds was recorded, and then every
    command refused that case, and check failed, for ever."""
    case_id = opened(run, ws, category="delivery-delay")
    policy = ws.root / "policy.yaml"
    edited = policy.read_text().replace("  - delivery-delay\n", "").replace(" delivery-delay: 交付延误,", "")
    policy.write_text(edited)
    before = ws.commits()
    result = run("policy", "commit", "--reason", "Retire delivery-delay", "--as", "dave@example.com")
    assert result.exit_code == 1 and ws.commits() == before
    line = result.stderr
    assert line.startswith(
        "complaintctl: policy.yaml: 1 recorded case(s) would no longer load under the edited policy; "
        f"the first: cases/2026/11/{case_id}.yaml:"
    ), line
    assert "unknown category 'delivery-delay'" in line
    assert line.endswith("; keep what recorded cases hold (delivery-delay), or correct those cases first\n")
    git(ws.root, "checkout", "--", "policy.yaml")
    assert run("check").exit_code == 0


def test_repeat_complaint_is_linked_and_important(run: Any, ws: Workspace) -> None:
    first = opened(run, ws)
    changes(run, ws, "close", first, "--resolution", "explained")
    result = run(*open_args(email="zhang@example.com", at="2026-11-22T09:00"))
    assert result.exit_code == 0
    second = result.stdout.strip()
    assert result.stderr == (
        f"complaintctl: note: repeat complaint: {first} was about the same matter; severity important\n"
    )
    shown = json.loads(run("show", second, "--json").stdout)
    assert shown["format"] == 1 and shown["case"]["repeat_of"] == first and shown["severity"] == "important"
    assert [c["clock"] for c in shown["clocks"]][:2] == ["first_reply", "resolution"]


# ---------------------------------------------------------------- all or nothing against git


def test_a_refusing_hook_rolls_everything_back(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    hook = ws.root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'policy: no commits today' >&2\nexit 1\n")
    hook.chmod(0o755)
    err = refused(run, ws, "note", case_id, "hello")
    assert err == (
        "complaintctl: commit refused: policy: no commits today; a hook or git's settings refused the commit; "
        "fix what it reports and run the command again\n"
    )
    err = refused(run, ws, *open_args(customer="李四", phone="13900000000"))
    assert "commit refused: policy: no commits today" in err
    assert not list((ws.root / "cases").rglob("C-*.yaml"))[1:]


def test_no_git_identity_rolls_back(run: Any, ws: Workspace, tmp_path: Path) -> None:
    case_id = opened(run, ws)
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("[user]\n\tuseConfigOnly = true\n")
    before, files = ws.commits(), ws.snapshot()
    # Who types is COMPLAINTCTL_USER (the committer); with neither it nor a git identity, git refuses.
    result = run(
        "note",
        case_id,
        "hello",
        "--as",
        "alice@example.com",
        env={"GIT_CONFIG_GLOBAL": str(empty), "EMAIL": "", "COMPLAINTCTL_USER": ""},
        literal=True,
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("complaintctl: commit refused: ")
    assert result.stderr.rstrip().endswith(
        "set your git identity: git config --global user.name 'Your Name' && "
        "git config --global user.email you@example.com"
    )
    assert ws.commits() == before and ws.snapshot() == files and ws.status() == ""


def test_a_stale_index_lock_is_reported_and_rolled_back(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    (ws.root / ".git" / "index.lock").write_text("")
    before, files = ws.commits(), ws.snapshot()
    result = run("note", case_id, "hello")
    assert result.exit_code == 1
    assert result.stderr.endswith(
        "another git command is running; if none is, run 'complaintctl repair' (stale git locks go)\n"
    )
    assert ws.commits() == before and ws.snapshot() == files
    lock = ws.root / ".git" / "index.lock"
    os.utime(lock, (lock.stat().st_atime - 120, lock.stat().st_mtime - 120))  # a crash's leftover
    assert run("repair").stdout.startswith("removed .git/index.lock (a stale git lock, 12")
    assert ws.status() == ""
    assert run("note", case_id, "hello").exit_code == 0


def test_uncommitted_edits_to_the_case_are_refused(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    path = ws.case_file(case_id)
    path.write_text(path.read_text() + "# my scribble\n")
    result = run("note", case_id, "hello")
    assert result.exit_code == 1
    assert result.stderr == (
        f"complaintctl: {path.relative_to(ws.root)}: has uncommitted changes; put it back as last committed with "
        "'complaintctl repair' (complaintctl did not make it)\n"
    )
    assert path.read_text().endswith("# my scribble\n")
    # The advice works.
    assert run("repair").stdout == f"restored {path.relative_to(ws.root)} as last committed\n"
    assert run("note", case_id, "hello").exit_code == 0


def test_detached_head_and_merge_in_progress_are_refused(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    git(ws.root, "checkout", "-q", "--detach")
    err = refused(run, ws, "note", case_id, "hello")
    assert (
        err
        == "complaintctl: HEAD is detached; complaintctl commits only on a branch; run 'git switch BRANCH' first\n"
    )
    git(ws.root, "checkout", "-q", "main")
    (ws.root / ".git" / "MERGE_HEAD").write_text(git(ws.root, "rev-parse", "HEAD"))
    err = refused(run, ws, "note", case_id, "hello")
    assert err == (
        "complaintctl: a merge is in progress in this repository; finish or abort it (git status says how), "
        "then run the command again\n"
    )


def test_parallel_notes_are_serialised(ws: Workspace) -> None:
    case_id = subprocess.run(
        [sys.executable, "-m", "complaintctl", *open_args()],
        cwd=ws.root, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "complaintctl", "note", case_id, f"note number {i}"],
            cwd=ws.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert ws.commits() == 2 + 8 and ws.status() == ""
    texts = sorted(
        ws.case_file(case_id).read_text(encoding="utf-8").count(f"note number {i}") for i in range(8)
    )
    assert texts == [1] * 8
    for rev in range(8):
        stat = git(ws.root, "show", "--numstat", "--format=", f"HEAD~{rev}").split()
        assert stat[:2] == ["5", "0"], stat  # each commit adds exactly its own 5-line event


# ---------------------------------------------------------------- hand-edited and unsafe files


def _commit_edit(ws: Workspace, case_id: str, old: str, new: str) -> Path:
    path = ws.case_file(case_id)
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    git(ws.root, "commit", "-qam", "hand edit")
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("summary:", "colour: red\nsummary:", "{rel}:16: unknown key 'colour'; remove it (known keys: "),
        ("channel: phone\n", "channel: phone\nchannel: email\n", "{rel}:10: duplicate key \"channel\""),
        ("state: open", "state: pending", "{rel}:4: unknown state 'pending'; use one of: open, in-progress, waiting, proposed, agreed, closed, followed-up, archived"),
        ("opened_by:", "x: &a 1\nopened_by:", "{rel}:12: YAML anchors and aliases are not allowed; write the value out in full"),
        ("urgent: false", "urgent: 'no'", "{rel}:6: urgent must be true or false; write true or false"),
        ("summary: ", "summary: [unclosed ", "{rel}:17: not valid YAML"),
        ("schema: 1", "schema: 9", "{rel}:2: case schema 9 is not supported; this complaintctl reads 1"),
    ],
)  # fmt: skip
def test_malformed_case_files_are_named_with_file_and_line(
    run: Any, ws: Workspace, old: str, new: str, message: str
) -> None:
    case_id = opened(run, ws)
    rel = str(_commit_edit(ws, case_id, old, new).relative_to(ws.root))
    expected = message.format(rel=rel)
    err = refused(run, ws, "note", case_id, "hello")
    assert err.startswith("complaintctl: " + expected), err
    result = run("check")
    assert result.exit_code == 1
    assert result.stdout.startswith(expected), result.stdout
    assert len(result.stdout.splitlines()) == 1


def test_conflict_markers_are_caught(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    rel = str(_commit_edit(ws, case_id, "state: open\n", "<<<<<<< ours\nstate: open\n=======\nstate: closed\n>>>>>>> theirs\n").relative_to(ws.root))  # fmt: skip
    result = run("check")
    assert result.stdout == (
        f"{rel}:4: git conflict markers in the file; resolve the merge by hand, keeping every event, then commit\n"
    )
    assert run("list").exit_code == 1


def test_symlinks_in_cases_are_refused(run: Any, ws: Workspace, tmp_path: Path) -> None:
    case_id = opened(run, ws)
    path = ws.case_file(case_id)
    outside = tmp_path / "outside.yaml"
    outside.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(outside)
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "link")
    rel = path.relative_to(ws.root)
    err = refused(run, ws, "note", case_id, "hello")
    assert (
        err
        == f"complaintctl: {rel}: is a symbolic link; case files must be plain files inside cases/; replace the link with the file itself\n"
    )
    assert run("check").stdout == f"{rel}: is a symbolic link; replace it with a plain file\n"
    assert outside.read_bytes() == outside.read_bytes()


def test_a_fifo_in_a_case_files_place_is_refused_not_waited_on(run: Any, ws: Workspace) -> None:
    """Every reader of one case, and check, name it in one line (they waited
    for a writer for ever); repair puts the committed file back."""
    import os

    case_id = opened(run, ws)
    path = ws.case_file(case_id)
    committed = path.read_bytes()
    path.unlink()
    os.mkfifo(path)
    rel = path.relative_to(ws.root)
    said = f"complaintctl: {rel}: is not a plain file (a folder, FIFO, socket or device); remove it, or run 'complaintctl repair' to put back the case committed there\n"
    for args in (["show", case_id], ["render", case_id, "summary"], open_args(summary="Another")):
        result = run(*args)
        assert (result.exit_code, result.stdout, result.stderr) == (1, "", said), args
    check = run("check")
    assert (check.exit_code, check.stdout) == (1, said.removeprefix("complaintctl: "))
    assert run("repair").exit_code == 0
    assert path.read_bytes() == committed and ws.status() == ""


def test_a_folder_in_a_case_files_place_is_named_by_check(run: Any, ws: Workspace) -> None:
    """check names the case file, not only the files of the folder that
    stands in its place (its line was taken for one naming the file)."""
    case_id = opened(run, ws)
    path = ws.case_file(case_id)
    committed = path.read_bytes()
    path.unlink()
    path.mkdir()
    (path / "x").write_text("")
    rel = path.relative_to(ws.root)
    check = run("check")
    assert (check.exit_code, check.stdout) == (
        1,
        f"{rel}/x: not a case file name (cases/YYYY/MM/C-YYYYMMDD-XXXXXX.yaml); move or remove it\n"
        f"{rel}: changed but not committed; run 'complaintctl repair' to put it back\n",
    )
    shown = run("show", case_id)
    assert (shown.exit_code, shown.stderr) == (
        1,
        f"complaintctl: {rel}: is not a plain file (a folder, FIFO, socket or device); remove it, or run 'complaintctl repair' to put back the case committed there\n",
    )
    assert run("repair").exit_code == 0
    assert path.read_bytes() == committed and ws.status() == "" and run("check").stdout == ""


def test_check_is_silent_when_clean_and_finds_duplicates(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    assert (run("check").exit_code, run("check").stdout, run("check").stderr) == (0, "", "")
    copy = ws.root / "cases" / "2026" / "12" / f"{case_id}.yaml"
    copy.parent.mkdir()
    copy.write_bytes(ws.case_file(case_id).read_bytes())
    result = run("check")
    assert result.exit_code == 1
    assert result.stdout == (
        f"cases/2026/12/{case_id}.yaml: duplicate case id {case_id} (also cases/2026/11/{case_id}.yaml); remove one copy\n"
    )


def test_check_reports_a_bad_policy_with_its_line(run: Any, ws: Workspace) -> None:
    policy = ws.root / "policy.yaml"
    policy.write_text(policy.read_text().replace("direct_tier: supervisor", "direct_tier: boss"))
    result = run("check")
    assert result.exit_code == 1
    line = next(i for i, ln in enumerate(policy.read_text().splitlines(), 1) if ln.startswith("direct_tier"))
    assert (
        result.stdout
        == f"policy.yaml:{line}: unknown tier 'boss'; use one of: front-line, supervisor, manager, executive\n"
    )
    result = run(*open_args())
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"complaintctl: policy.yaml:{line}: unknown tier 'boss'; use one of: front-line, supervisor, manager, executive\n"
    )


def test_unknown_policy_key_is_refused(run: Any, ws: Workspace) -> None:
    policy = ws.root / "policy.yaml"
    policy.write_text(policy.read_text() + "colour: blue\n")
    result = run("check")
    assert result.exit_code == 1
    assert result.stdout.startswith(
        f"policy.yaml:{len(policy.read_text().splitlines())}: unknown key 'colour'"
    )


# ---------------------------------------------------------------- reading commands


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("张三丰 (13812341234, zsf@example.com) charged twice", "张** (138****1234, z**@example.com) charged twice"),
        ("客户张三丰电话138-1234-1234，身份证31010119900101123X", "客户张**电话138-****-1234，身份证310**********1123X"),
        ("refund to card 6222 0202 0202 0202", "refund to card 622* **** **** 0202"),
        # Dates, times, amounts and short numbers are no one's personal data.
        ("paid CNY 240.00 on 2026-11-20 09:30, order 12345", "paid CNY 240.00 on 2026-11-20 09:30, order 12345"),
    ],
)  # fmt: skip
def test_free_text_is_masked_where_customers_are(text: str, masked: str) -> None:
    from complaintctl.core.privacy import mask_free_text

    assert mask_free_text(text, "张三丰") == masked


def test_summaries_and_lessons_that_leave_the_team_are_masked(run: Any, ws: Workspace) -> None:
    """The customer column was masked, but the summary, demand and lessons
    showed the name, phone, e-mail, card and ID number in full."""
    case_id = opened(run, ws, customer="张三丰", summary="张三丰 (13812341234) charged twice",
                     demand="Refund to card 6222020202020202")  # fmt: skip
    changes(run, ws, "note", case_id, "客户张三丰电话13812341234", "--kind", "lesson")
    listed = json.loads(run("list", "--json").stdout)[0]
    assert (listed["summary"], listed["demand"]) == (
        "张** (138****1234) charged twice",
        "Refund to card 622*********0202",
    )
    assert "张** (138****1234) charged" in run("list", "--wide").stdout
    assert (
        json.loads(run("list", "--json", "--show-pii").stdout)[0]["summary"]
        == "张三丰 (13812341234) charged twice"
    )
    report = run("report", "--format", "json").stdout
    assert "客户张**电话138****1234" in report and "13812341234" not in report
    summary = run("render", case_id, "summary", "--format", "markdown").stdout
    assert "13812341234" not in summary and "张三丰" not in summary and "138****1234" in summary


def test_list_masks_customers_and_filters(run: Any, ws: Workspace) -> None:
    first = opened(run, ws)
    second = opened(run, ws, customer="Maria Lopez", phone="555-0100", category="delivery-delay")
    changes(run, ws, "close", second, "--resolution", "withdrawn")
    result = run("list", "--status", "open")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and first in lines[2] and "张*" in lines[2] and "张三" not in result.stdout
    assert second not in run("list").stdout  # the queue: open cases only
    result = run("list", "--all", "--json", "--show-pii")
    assert '"customer": "Maria Lopez"' in result.stdout and '"customer_keys"' not in result.stdout
    assert run("list", "--status", "nope").exit_code == 2


def _ids(result: Any) -> list[str]:
    assert result.exit_code in (0, 1), result.stderr
    return [row["id"] for row in json.loads(result.stdout)]


def test_list_is_the_daily_queue_with_filters_search_and_a_limit(run: Any, ws: Workspace) -> None:
    late = opened(run, ws, at="2026-11-19T23:30", summary="Double charge on the October bill")
    early = opened(run, ws, at="2026-11-20T00:00", phone="13900000002", category="delivery-delay",
                   summary="Sofa not delivered", demand="Deliver it this week")  # fmt: skip
    mine = opened(run, ws, at="2026-11-21T09:00", phone="13900000003", summary="Rude call")
    run("assign", mine, "--to", "bob@example.com", "--reason", "Bob knows the customer")
    closed = opened(run, ws, at="2026-11-18T09:00", phone="13900000004")
    changes(run, ws, "close", closed, "--resolution", "withdrawn", "--at", "2026-11-18T10:00")
    assert _ids(run("list", "--json")) == [late, early, mine]  # by time received, open only
    assert _ids(run("list", "--all", "--json")) == [closed, late, early, mine]
    assert _ids(run("list", "--mine", "--json", env={"COMPLAINTCTL_USER": "bob@example.com"})) == [mine]
    assert _ids(run("list", "--owner", "BOB@example.com", "--json")) == [mine]
    assert _ids(run("list", "--category", "delivery-delay", "--json")) == [early]
    assert _ids(run("list", "--since", "2026-11-20", "--until", "2026-11-21", "--json")) == [early]
    assert _ids(run("list", "--search", "october DOUBLE", "--json")) == [late]
    assert _ids(run("list", "--search", "this week", "--json")) == [early]  # the demand
    # As of the pinned clock (22 Nov 10:00), the first-reply limit (2 days) is past for the two oldest.
    assert _ids(run("list", "--overdue", "--json")) == [late, early]
    limited = run("list", "--limit", "2")
    assert len(limited.stdout.splitlines()) == 4
    assert limited.stderr == "complaintctl: showing 2 of 3; use --limit 0 for all\n"
    wide = run("list", "--wide").stdout
    assert "Double charge on the October bill" in wide
    assert run("list", "--severity", "nope").stderr.startswith(
        "complaintctl: unknown severity 'nope'; use one of"
    )
    bad = run("list", "--since", "2026-11-21", "--until", "2026-11-20")
    assert bad.exit_code == 2 and "is not after --since" in bad.stderr


def test_customer_finds_every_case_of_one_customer_masked(run: Any, ws: Workspace) -> None:
    first = opened(run, ws, at="2026-11-18T09:00")
    changes(run, ws, "close", first, "--resolution", "withdrawn", "--at", "2026-11-18T10:00")
    again = opened(run, ws, at="2026-11-20T09:00", phone="+86 138-1234-1234", category="delivery-delay")
    opened(run, ws, phone="13900000009", customer="Other")
    assert _ids(run("customer", "13812341234", "--json")) == [first, again]
    shown = run("customer", "138 1234 1234").stdout
    assert first in shown and again in shown and "张*" in shown and "张三" not in shown
    assert run("customer", "nobody@example.com").stdout == "No cases.\n"


def test_list_follows_checkouts_and_a_corrupt_index_but_not_hand_edits(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    first = run("list", "--all", "--json").stdout
    files = list((ws.root / ".git" / "complaintctl").glob("v*/*.json"))
    assert files
    for index in files:
        index.write_text("{ not json")
    assert run("list", "--all", "--json").stdout == first
    changes(run, ws, "close", case_id, "--resolution", "withdrawn")
    closed = run("list", "--all", "--json").stdout
    assert '"state": "closed"' in closed
    git(ws.root, "reset", "-q", "--hard", "HEAD~1")
    assert run("list", "--all", "--json").stdout == first
    git(ws.root, "reset", "-q", "--hard", "HEAD@{1}")
    assert run("list", "--all", "--json").stdout == closed
    # A hand edit is not on record: lists, reports and the overdue job read the
    # committed case, and say that a file differs.
    path = ws.case_file(case_id)
    path.write_text(path.read_text().replace("severity: general", "severity: hot"))
    rel = path.relative_to(ws.root).as_posix()
    note = (
        f"complaintctl: not counted: {rel} differ(s) from the last commit (not on record); "
        "'complaintctl check' names them, 'complaintctl repair' puts them back\n"
    )
    for args in (("list", "--json"), ("report",), ("overdue",)):
        result = run(*args)
        assert result.stderr == note, args
        assert '"severity": "hot"' not in result.stdout
    assert json.loads(run("list", "--all", "--json").stdout) == json.loads(closed)


def test_show_log_and_report(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws, demand="Refund")
    changes(run, ws, "note", case_id, "Sorry", "--kind", "reply", "--channel", "phone")
    shown = run("show", case_id).stdout
    assert shown.splitlines()[:3] == [
        f"{case_id}  in-progress  general",
        "Customer:  张三, 13812341234",
        f"Received:  2026-11-20T09:00:00+08:00 by phone (recorded by {ALICE})",
    ]
    log = run("log", case_id).stdout.splitlines()
    assert len(log) == 4
    assert log[2].startswith("2026-11-20 09:00") and log[2].endswith(
        f"open                 Open billing complaint {case_id} (phone)"
    )
    assert "open -> in-progress" in log[3]
    report = run("report").stdout
    assert report.splitlines()[:4] == [
        "Complaints from the start to 2026-11-22T10:00+08:00 (as of 2026-11-22T10:00+08:00)",
        "Figure             Value",
        "-----------------  -------",
        "Received           1",
    ]
    assert '"received": 1' in run("report", "--format", "json").stdout


def test_log_marks_commits_not_made_by_the_tool(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    _commit_edit(ws, case_id, "summary: Charged twice for October", "summary: Charged twice")
    log = run("log", case_id).stdout
    assert log.splitlines()[-1].endswith("hand edit  [not made by complaintctl]")


def test_render_agreement_and_summary(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws, customer="<script>alert(1)</script>{{ 7*7 }}")
    assert run("render", case_id, "agreement").stderr == (
        f"complaintctl: {case_id}: no accepted or open offer to put in an agreement; "
        "make one with 'complaintctl propose' (an offer waiting for approval is not printed)\n"
    )
    changes(
        run,
        ws,
        "propose",
        case_id,
        "--amount",
        "180",
        "--not-overcharge",
        "Goodwill",
        "--terms",
        "Refund in 7 days",
    )
    # Before 'agree': printed for the customer to sign, and marked so.
    unsigned = run("render", case_id, "agreement", "--format", "md").stdout
    assert "**For signature: in force once signed and recorded (complaintctl agree)**" in unsigned
    assert "awaiting the customer's signature" in unsigned and "accepted 20" not in unsigned
    unsigned_zh = run("render", case_id, "agreement", "--lang", "zh", "--format", "html").stdout
    assert "待签署稿" in unsigned_zh and "待乙方签署" in unsigned_zh
    changes(run, ws, "agree", case_id)
    html = run("render", case_id, "agreement").stdout
    # The name is escaped and never evaluated as a template: '{{ 7*7 }}' stays
    # as typed. (No assertion on '49': the random case id may hold it.)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;{{ 7*7 }}" in html and "<script>" not in html
    assert "CNY 180.00" in html and "Alice Wang" in html
    md = run("render", case_id, "summary", "--format", "md").stdout
    assert "138****1234" in md and "13812341234" not in md
    out = ws.root / "out" / "a.html"
    out.parent.mkdir()
    assert run("render", case_id, "agreement", "-o", str(out)).stdout == f"Wrote {out}\n"
    assert out.read_text() == html


def test_workspace_templates_override_and_are_sandboxed(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    (ws.root / "templates" / "summary.md.j2").write_text("{{ ''.__class__.__mro__ }}")
    result = run("render", case_id, "summary", "--format", "md")
    assert result.exit_code == 1
    assert result.stderr.startswith("complaintctl: templates/summary.md.j2: template tried something unsafe")
    (ws.root / "templates" / "summary.md.j2").write_text("Case {{ case.id }} for {{ nobody }}")
    result = run("render", case_id, "summary", "--format", "md")
    assert result.stderr == (
        "complaintctl: templates/summary.md.j2: template refers to something undefined: 'nobody' is undefined; "
        "check the variable names (see docs/templates.md)\n"
    )


# ---------------------------------------------------------------- workspace discovery and init


def test_workspace_is_found_from_a_subfolder(ws: Workspace, tmp_path: Path) -> None:
    sub = ws.root / "cases"
    env = {k: v for k, v in os.environ.items() if k != "COMPLAINTCTL_ROOT"}
    result = subprocess.run(
        [sys.executable, "-m", "complaintctl", *open_args()], cwd=sub, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    nowhere = subprocess.run(
        [sys.executable, "-m", "complaintctl", "list"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert nowhere.returncode == 1
    assert nowhere.stderr == (
        f"complaintctl: no workspace here ({tmp_path} and its parents have no policy.yaml); "
        "cd into a workspace, pass --root DIR, or run 'complaintctl init DIR'\n"
    )


def test_a_policy_file_that_is_a_fifo_is_refused_not_waited_on(ws: Workspace) -> None:
    """From the folder or a subfolder, or with COMPLAINTCTL_ROOT: one line
    naming it (a FIFO was passed over as no workspace, or read for ever)."""
    policy = ws.root / "policy.yaml"
    policy.unlink()
    os.mkfifo(policy)
    said = f"complaintctl: {policy} is not a plain file; put the committed one back: git checkout -- policy.yaml\n"
    plain = {k: v for k, v in os.environ.items() if k != "COMPLAINTCTL_ROOT"}
    for cwd, env in ((ws.root / "cases", plain), (ws.root, {**plain, "COMPLAINTCTL_ROOT": str(ws.root)})):
        result = subprocess.run(
            [sys.executable, "-m", "complaintctl", "list"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (result.returncode, result.stdout, result.stderr) == (1, "", said)


def test_init_makes_a_committed_workspace_and_refuses_twice(run: Any, ws: Workspace, tmp_path: Path) -> None:
    assert ws.status() == "" and ws.commits() == 1
    assert (ws.root / "policy.yaml").read_bytes() == (
        Path(__file__).parent.parent / "policy.yaml"
    ).read_bytes()
    assert git(ws.root, "config", "core.splitIndex").strip() == "true"
    result = run("init", str(ws.root))
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"complaintctl: {ws.root} is already a workspace (it has policy.yaml); use it as it is\n"
    )
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("x")
    assert (
        run("init", str(busy)).stderr == f"complaintctl: {busy} is not empty; choose a new or empty folder\n"
    )


def test_actor_defaults_to_git_user_email(run: Any, ws: Workspace) -> None:
    git(ws.root, "config", "user.email", "carol@example.com")
    result = run(*open_args(), env={"COMPLAINTCTL_USER": ""})
    assert result.exit_code == 0, result.stderr
    assert git(ws.root, "log", "-1", "--format=%an <%ae>").strip() == "Carol Zhang <carol@example.com>"


# ---------------------------------------------------------------- help


def registered_commands() -> list[str]:
    """Every command the CLI registers, hidden ones included (from typer's own
    lists): the groups ('team') and their commands ('team add') too."""
    names = [c.name or c.callback.__name__ for c in app.registered_commands if c.callback is not None]
    for group in app.registered_groups:
        sub = group.typer_instance
        assert group.name and sub is not None
        names.append(group.name)
        names += [f"{group.name} {c.name}" for c in sub.registered_commands]
    return sorted(names)


def test_the_help_covers_every_registered_command() -> None:
    # Guards the parametrised test below: a new command is in it without editing a list.
    assert {"open", "note", "propose", "agree", "report", "render", "verify", "merge-driver"} <= set(
        registered_commands()
    )
    assert {"team", "team add", "team remove", "team roles", "policy", "policy commit"} <= set(
        registered_commands()
    )


@pytest.mark.parametrize("command", registered_commands())
def test_every_command_has_help_with_an_example(run: Any, command: str) -> None:
    result = run(*command.split(), "--help")
    assert result.exit_code == 0
    assert "Example: complaintctl " + command in " ".join(result.stdout.split())


def test_version_comes_from_one_place(run: Any) -> None:
    from importlib.metadata import version

    assert run("--version").stdout == f"complaintctl {version('complaintctl')}\n"


def test_a_unique_start_of_an_id_or_of_its_random_part_is_enough(run: Any, ws: Workspace) -> None:
    first = opened(run, ws)
    second = opened(run, ws, phone="13900000001", at="2026-11-21T09:00")
    tail = second[11:]
    assert run("show", tail[:4].lower()).stdout.startswith(f"{second}  open")
    assert run("show", second[:12].lower()).stdout.startswith(f"{second}  open")
    assert changes(run, ws, "note", first[11:15], "By a short id") == (
        f"{first}: Note internal on {first} [open]\n"
    )
    assert (
        run("log", second[11:]).stdout.splitlines()[-1].endswith(f"Open billing complaint {second} (phone)")
    )
    both = run("show", "C-202611")
    assert (both.exit_code, both.stderr) == (
        2,
        f"complaintctl: 'C-202611' matches 2 cases: {first}, {second}; type more of the id\n",
    )
    missing = run("note", "ZZZZ", "x")
    assert (missing.exit_code, missing.stderr) == (
        1,
        "complaintctl: no case id starts with 'ZZZZ'; run 'complaintctl list' to see the cases\n",
    )


def test_completion_for_bash_zsh_fish_with_case_ids(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    for shell, mark in (("bash", "_complaintctl_completion()"), ("zsh", "#compdef complaintctl"),
                        ("fish", "complete --command complaintctl --no-files")):  # fmt: skip
        result = run("completion", shell)
        assert result.exit_code == 0 and mark in result.stdout, (shell, result.stdout[:200])
    assert run("completion", "tcsh").stderr == (
        "complaintctl: no completion for the shell 'tcsh'; use bash, zsh or fish\n"
    )
    env = {**os.environ, "COMPLAINTCTL_ROOT": str(ws.root), "_COMPLAINTCTL_COMPLETE": "complete_bash"}
    for words, cword, wanted in (
        (f"complaintctl show {case_id[:8]}", "2", case_id),
        ("complaintctl sho", "1", "show"),
    ):
        env.update(COMP_WORDS=words, COMP_CWORD=cword)
        done = subprocess.run([sys.executable, "-m", "complaintctl"], env=env, capture_output=True, text=True)
        assert done.stdout.split() == [wanted], (words, done.stdout, done.stderr)


def test_dash_c_runs_as_if_started_in_a_folder(run: Any, ws: Workspace, tmp_path: Path) -> None:
    case_id = opened(run, ws)
    env = {k: v for k, v in os.environ.items() if k != "COMPLAINTCTL_ROOT"}
    done = subprocess.run([sys.executable, "-m", "complaintctl", "-C", str(ws.root), "show", case_id[11:]],
                          cwd=tmp_path, env=env, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith(f"{case_id}  open"), done.stderr
    bad = subprocess.run([sys.executable, "-m", "complaintctl", "-C", str(tmp_path / "nope"), "list"],
                         cwd=tmp_path, env=env, capture_output=True, text=True)  # fmt: skip
    assert (bad.returncode, bad.stderr) == (
        2,
        f"complaintctl: -C {tmp_path / 'nope'}: No such file or directory; give a folder that exists\n",
    )


def test_note_and_draft_text_from_stdin_or_the_editor(run: Any, ws: Workspace, tmp_path: Path) -> None:
    import pty

    from typer.testing import CliRunner

    case_id = opened(run, ws)
    runner = CliRunner()
    env = {"COMPLAINTCTL_ROOT": str(ws.root)}
    piped = runner.invoke(app, ["note", case_id, "-"], input="Line one\nLine two\n", env=env)
    assert piped.exit_code == 0, piped.stderr
    draft = runner.invoke(app, ["draft", case_id, "--file", "-"], input="Dear customer,\n", env=env)
    assert draft.exit_code == 0, draft.stderr
    none = run("note", case_id)  # no text, no terminal: said, nothing recorded
    assert (none.exit_code, none.stderr) == (
        2,
        "complaintctl: no text for the note; give it as an argument, '-' for stdin, or set $EDITOR\n",
    )
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "Called back at 10:05\\n# a comment\\n" > "$1"\n')
    editor.chmod(0o755)
    _, terminal = pty.openpty()
    done = subprocess.run(
        [sys.executable, "-m", "complaintctl", "note", case_id],
        stdin=terminal,
        env={**os.environ, "COMPLAINTCTL_ROOT": str(ws.root), "EDITOR": str(editor)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    events = [e for e in yaml_case(ws, case_id)["events"] if e["action"] in ("note", "draft")]
    assert [e["text"] for e in events] == ["Line one\nLine two\n", "Dear customer,\n", "Called back at 10:05"]


def yaml_case(ws: Workspace, case_id: str) -> Any:
    from tests.helpers import read_case

    return read_case(ws.root, case_id)


def test_times_follow_the_policys_zone(run: Any, ws: Workspace) -> None:
    """04:00 on 1 Dec in Shanghai, typed in UTC: a December case, everywhere."""
    later = {"COMPLAINTCTL_NOW": "2026-12-02T10:00:00+08:00"}
    result = run(*open_args(at="2026-11-30T20:00Z"), env=later)
    assert result.exit_code == 0, result.stderr
    case_id = result.stdout.strip()
    assert case_id.startswith("C-20261201-")
    assert ws.case_file(case_id).relative_to(ws.root).as_posix().startswith("cases/2026/12/")
    row = json.loads(run("list", "--json", env=later).stdout)[0]
    assert row["opened_at"] == "2026-12-01T04:00:00+08:00"


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("2026-03-08T02:30", "--at '2026-03-08T02:30' does not exist in America/New_York (the clocks jump "
                             "over it); give a time before or after the jump, or one with its offset"),
        ("2026-11-01T01:30", "--at '2026-11-01T01:30' happens twice in America/New_York (the clocks go back); "
                             "add the offset: 2026-11-01T01:30-04:00 or 2026-11-01T01:30-05:00"),
        ("2026-11-01T01:30-05:00", None),
        ("2026-03-08T03:30", None),
    ],
)  # fmt: skip
def test_a_local_time_that_does_not_exist_or_happens_twice_is_refused(typed: str, said: str | None) -> None:
    from complaintctl.core.times import parse_at
    from complaintctl.errors import UsageError

    if said is None:
        assert parse_at(typed, "America/New_York").tzinfo is not None
        return
    with pytest.raises(UsageError) as caught:
        parse_at(typed, "America/New_York")
    assert str(caught.value) == said


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["list"], "list"),
        (["-C", "/tmp/x", "show", "7K3Q"], "show"),
        (["-C/tmp/x", "note", "7K", "hi"], "note"),
        (["--help"], None),
        (["--version"], None),
        ([], None),
    ],
)
def test_only_the_command_that_runs_is_built(argv: list[str], name: str | None) -> None:
    from complaintctl.cli.app import _command_name

    assert _command_name(argv) == name


def test_a_single_command_start_still_says_unknown_commands_and_helps(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "complaintctl", *args], cwd=tmp_path, capture_output=True, text=True
        )

    unknown = cli("nope")
    assert unknown.returncode == 2 and "No such command 'nope'" in unknown.stderr
    assert "Usage: complaintctl note [OPTIONS]" in cli("note", "--help").stdout
    assert "plan" in cli("--help").stdout


def test_a_settled_matter_is_refused_by_its_tag_and_another_bill_is_not(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws, matter="oct-bill", account="HT-2026-0415")
    for args in (
        ["propose", case_id, "--amount", "10", "--not-overcharge", "Goodwill", "--terms", "Refund"],
        ["agree", case_id],
        ["plan", case_id, "Refund CNY 10", "--by", "finance", "--due", "1d"],
        ["execute", case_id, "1"],
        ["close", case_id, "--resolution", "agreed"],
    ):
        changes(run, ws, *args)
    # A new phone number, the same contract: the same customer, the same matter.
    err = refused(
        run,
        ws,
        *open_args(phone="13900009999", account="HT-2026-0415", matter="oct-bill", at="2026-11-22T09:00"),
    )
    assert err.startswith(f"complaintctl: this matter was settled and closed for good in {case_id}")
    other = opened(run, ws, account="HT-2026-0415", matter="nov-bill", at="2026-11-22T09:00")  # another bill
    assert other != case_id


@pytest.mark.parametrize(
    ("args", "code", "err"),
    [
        ([], 0, ""),
        (["--bogus"], 2, "complaintctl: No such option: --bogus; see 'complaintctl --help'\n"),
        (["list", "--bogus"], 2, "complaintctl: No such option: --bogus; see 'complaintctl list --help'\n"),
    ],
)
def test_the_top_level_speaks_in_one_line_too(tmp_path: Path, args: list[str], code: int, err: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "complaintctl", *args], cwd=tmp_path, capture_output=True, text=True
    )
    assert (done.returncode, done.stderr) == (code, err)
    if not args:
        assert done.stdout.startswith("Usage: complaintctl [OPTIONS] COMMAND [ARGS]...")


def test_a_refused_bottom_line_caps_the_next_complaint_on_the_same_matter(run: Any, ws: Workspace) -> None:
    first = opened(run, ws, at="2026-11-18T09:00")
    changes(
        run, ws, "note", first, "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-18T10:00"
    )
    changes(run, ws, "propose", first, "--amount", "500", "--not-overcharge", "Goodwill", "--bottom-line",
            "--terms", "Final", "--as", "carol@example.com", "--at", "2026-11-18T11:00")  # fmt: skip
    changes(run, ws, "refuse", first, "1", "--reason", "Wants 1500", "--at", "2026-11-18T12:00")
    err = refused(run, ws, "withdraw", first, "1", "--reason", "Record it as withdrawn")
    assert "cannot withdraw a case that is in-progress" in err  # a refusal is never turned into a withdrawal
    changes(run, ws, "close", first, "--resolution", "explained", "--at", "2026-11-18T13:00")
    # The same customer complains again about the same bill: the cap follows.
    result = run(*open_args(at="2026-11-19T09:00", summary="Still want 1500"))
    second = result.stdout.strip()
    assert (
        f"complaintctl: note: the bottom line CNY 500.00 refused in {first} caps every offer on this case\n"
        in (result.stderr)
    )
    changes(
        run, ws, "note", second, "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-19T10:00"
    )
    err = refused(run, ws, "propose", second, "--amount", "1500", "--not-overcharge", "Goodwill",
                  "--terms", "All", "--as", "erin@example.com", "--at", "2026-11-19T11:00")  # fmt: skip
    assert err == (
        f"complaintctl: {second}: CNY 1500.00 exceeds the refused bottom-line offer 1 of {first} (the same "
        "matter) (CNY 500.00); after a bottom line is refused no offer may exceed it, whatever the tier; "
        "offer at most CNY 500.00, or close the case\n"
    )
    assert f"Capped:    CNY 500.00, the bottom line refused in {first}" in run("show", second).stdout
    changes(run, ws, "propose", second, "--amount", "500", "--not-overcharge", "Goodwill", "--terms", "The same",
            "--as", "carol@example.com", "--at", "2026-11-19T11:00")  # fmt: skip
    assert run("verify").exit_code == 0 and run("check").exit_code == 0


QUEUE_DAMAGE = ("delete", "garbage", "truncated", "empty", "another tree", "another policy",
                "another layout", "a row not JSON", "locked")  # fmt: skip


def damage_queue(ws: Workspace, damage: str) -> Any:
    """Do this to .git/complaintctl/v*/queue.sqlite; for "locked", the
    connection holding the lock (close it after the command)."""
    import sqlite3

    [path] = (ws.root / ".git" / "complaintctl").glob("v*/queue.sqlite")
    data = path.read_bytes()
    if damage == "delete":
        path.unlink()
    elif damage == "garbage":
        path.write_bytes(b"{ not a database" + data[16:])
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        con = sqlite3.connect(path, isolation_level=None)
        statement = {
            "another tree": "UPDATE months SET tree = '0000000000000000000000000000000000000000'",
            "another policy": "UPDATE meta SET value = 'x' WHERE name = 'policy'",
            "another layout": "ALTER TABLE queue DROP COLUMN words",
            "a row not JSON": "UPDATE queue_rows SET row = '{ not json'",
            "locked": "BEGIN EXCLUSIVE",
        }[damage]
        con.execute(statement)
        if damage == "locked":
            return con
        con.close()
    return None


def test_the_queue_reads_only_open_cases_and_agrees_with_a_full_read(run: Any, ws: Workspace) -> None:
    """'list' (and --status with open states, and each filter) queries the
    queue database; whatever happens to that file or the history, it says
    what reading every case says."""
    hot = [opened(run, ws, at=f"2026-11-{d}T09:00", phone=f"1390000000{d[-1]}", matter="lift")
           for d in ("18", "19", "20")]  # fmt: skip
    changes(run, ws, "close", hot[0], "--resolution", "explained", "--at", "2026-11-18T10:00")
    october = opened(run, ws, at="2026-10-05T09:00", phone="13900000009", category="delivery-delay",
                     summary="Parcel LATE again", demand="Deliver it")  # fmt: skip
    early = opened(run, ws, at="2026-10-05T09:00+08:00", phone="13900000008", summary="Same second")
    changes(
        run, ws, "note", early, "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-10-05T10:00"
    )
    changes(run, ws, "assign", hot[2], "--to", "bob@example.com", "--reason", "Holiday")
    folder = ws.root / ".git" / "complaintctl"

    def queue(*args: str) -> list[dict[str, Any]]:
        result = run("list", "--limit", "0", "--json", *args)
        assert result.exit_code == 0, result.stderr
        return list(json.loads(result.stdout))

    def full(*args: str) -> list[dict[str, Any]]:
        return [r for r in queue("--all", *args) if not r["resolution"]]

    filters = [
        [],
        ["--status", "open"],
        ["--status", "open", "--status", "in-progress"],
        ["--owner", "BOB@example.com"],
        ["--category", "billing"],
        ["--matter", "lift"],
        ["--since", "2026-11-19T09:00"],
        ["--until", "2026-11-19T09:00"],
        ["--since", "2026-10-01", "--until", "2026-11-20"],
        ["--search", "late"],
        ["--search", "charged TWICE"],
        ["--search", "lift"],
        ["--severity", "hot"],
        ["--severity", "general"],
    ]
    first = queue()
    assert [r["id"] for r in first] == [*sorted([october, early]), hot[1], hot[2]]  # one instant: by id
    assert first == full()
    assert {r["severity"] for r in first if r["id"] in hot} == {"hot"}  # the matter's peers, closed one too
    assert sorted(folder.glob("v*/queue.sqlite"))  # made by the first run
    assert not sorted(folder.glob("v*/open-*.json"))
    expected = {}
    for args in filters:
        expected[str(args)] = queue(*args)
        assert expected[str(args)] == (full(*args) if "--status" not in args else queue("--all", *args)), args
    assert [r["id"] for r in expected[str(["--owner", "BOB@example.com"])]] == [hot[2]]
    assert [r["id"] for r in expected[str(["--search", "late"])]] == [october]
    result = run("list", "--limit", "2")
    assert result.stderr == "complaintctl: showing 2 of 4; use --limit 0 for all\n"
    for damage in QUEUE_DAMAGE:
        held = damage_queue(ws, damage)
        try:
            assert queue() == first, damage
            assert queue("--category", "billing") == expected[str(["--category", "billing"])], damage
        finally:
            if held is not None:
                held.close()
        assert queue("--search", "late") == expected[str(["--search", "late"])], damage
    changes(run, ws, "close", october, "--resolution", "explained", "--at", "2026-11-21T09:00")
    assert [r["id"] for r in queue()] == [early, hot[1], hot[2]] == [r["id"] for r in full()]
    git(ws.root, "reset", "-q", "--hard", "HEAD~1")  # the close undone: October is open again
    assert queue() == first
    path = ws.case_file(hot[2])
    path.write_text(path.read_text().replace("severity: hot", "severity: major"))  # a hand edit
    result = run("list", "--json")
    assert "not counted" in result.stderr and json.loads(result.stdout) == first
    git(ws.root, "commit", "-qam", "Hand edit")  # on record now, around the tool
    assert queue() == full() != first
    git(ws.root, "checkout", "-q", "HEAD~1", "--", "cases")  # the old file back, staged
    assert queue() == full() != first
    git(ws.root, "commit", "-qm", "Undo the hand edit")
    assert queue() == first == full()
    (ws.root / "policy.yaml").write_text((ws.root / "policy.yaml").read_text() + "\n# a comment\n")
    assert queue() == first
    git(ws.root, "commit", "-qam", "A comment")
    # Commits around the tool, each read file by file from the tree before:
    # a case removed, a broken case file, a stray file, a case back.
    git(ws.root, "rm", "-q", str(ws.case_file(hot[1])))
    git(ws.root, "commit", "-qm", "Remove a case")
    assert queue() == full() == [r for r in first if r["id"] != hot[1]]
    broken = ws.case_file(october).with_name("C-20261007-BBBBBB.yaml")
    broken.write_text("schema: 1\nid: [\n")
    (broken.parent / "notes.txt").write_text("not a case\n")
    git(ws.root, "add", str(broken), str(broken.parent / "notes.txt"))
    git(ws.root, "commit", "-qm", "A broken file and a stray one")
    listed, every = run("list", "--limit", "0", "--json"), run("list", "--all", "--limit", "0", "--json")
    assert listed.exit_code == every.exit_code == 1 and "C-20261007-BBBBBB.yaml" in listed.stderr
    assert listed.stderr == every.stderr
    assert json.loads(listed.stdout) == [r for r in json.loads(every.stdout) if not r["resolution"]]
    git(ws.root, "rm", "-q", str(broken), str(broken.parent / "notes.txt"))
    git(ws.root, "commit", "-qm", "Gone again")
    git(ws.root, "checkout", "-q", "HEAD~3", "--", str(ws.case_file(hot[1])))
    git(ws.root, "commit", "-qm", "The case back")
    assert queue() == full() == first


def test_open_finds_the_customers_earlier_cases_through_the_queue_database(run: Any, ws: Workspace) -> None:
    """'open' looks the customer up (and the matter's peers) in the queue
    database: damaged, stale, locked or missing, it still finds them."""
    first = opened(run, ws, at="2026-10-05T09:00")
    changes(run, ws, "close", first, "--resolution", "explained", "--at", "2026-10-05T10:00")
    folder = ws.root / ".git" / "complaintctl"
    for n, damage in enumerate(("none", *QUEUE_DAMAGE)):
        held = damage_queue(ws, damage) if damage != "none" else None
        try:
            at = f"2026-11-{10 + n}T09:00"
            result = run(*open_args(at=at, phone="+86 138 1234 1234", summary=f"Again {n}"))
        finally:
            if held is not None:
                held.close()
        assert result.exit_code == 0, result.stderr
        assert f"repeat complaint: {first} was about the same matter" in result.stderr, damage
        assert sorted(folder.glob("v*/queue.sqlite")), damage  # made again
        assert read_case(ws.root, result.stdout.strip())["repeat_of"] == first


@pytest.mark.parametrize(
    ("keyboard", "member"),
    [
        ("alice@example.com", "  - id: alice@example.com\n    name: alice@example.com\n"),
        ("", "  - id: git@example.com\n    name: Gita Person\n"),
    ],
)
def test_init_puts_the_person_at_the_keyboard_on_the_team(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keyboard: str, member: str
) -> None:
    """'init' finds 'you' as every other command does: COMPLAINTCTL_USER, else
    git's identity (git's name only for git's own e-mail). It took git's
    identity alone, and the next command, run as COMPLAINTCTL_USER, was refused."""
    git(tmp_path, "config", "--global", "user.email", "git@example.com")
    git(tmp_path, "config", "--global", "user.name", "Gita Person")
    monkeypatch.setenv("COMPLAINTCTL_USER", keyboard)
    root = tmp_path / "complaints"
    runner = CliRunner()
    made = runner.invoke(app, ["init", str(root)])
    assert made.exit_code == 0, made.stderr
    assert member in (root / "policy.yaml").read_text()
    opened = runner.invoke(app, [*open_args(), "--root", str(root)])
    assert opened.exit_code == 0 and opened.stdout.startswith("C-"), opened.stderr
    actor = git(root, "log", "-1", "--format=%(trailers:key=Complaintctl-Actor,valueonly)").strip()
    assert actor == (keyboard or "git@example.com")
    nested = tmp_path / "not" / "yet" / "there"  # git's settings read where a folder exists
    assert runner.invoke(app, ["init", str(nested)]).exit_code == 0
    assert member in (nested / "policy.yaml").read_text()
