"""One definition per fact: what show, report, list and check say of the same
cases agrees, because each fact is computed in one place."""

from __future__ import annotations

import json
from typing import Any

import pytest

from complaintctl.core import events
from complaintctl.core.policy import COMMANDS
from complaintctl.core.records import case_relpath, is_case_path
from tests.helpers import Workspace, open_args


def _opened(run: Any, **over: str) -> str:
    result = run(*open_args(**over))
    assert result.exit_code == 0, result.stderr
    return str(result.stdout.strip())


def _ok(run: Any, *args: str) -> None:
    result = run(*args)
    assert result.exit_code == 0, result.stderr


def answered_by_letter(run: Any) -> str:
    """A case whose only answer to the customer is a signed-off, sent letter."""
    case_id = _opened(run)
    _ok(
        run,
        "draft",
        case_id,
        "--text",
        "Dear Mr Zhang, we refund the extra charge.",
        "--at",
        "2026-11-20T10:00",
    )
    _ok(run, "signoff", case_id, "--as", "erin@example.com", "--at", "2026-11-20T11:00")
    _ok(run, "signoff", case_id, "--as", "carol@example.com", "--at", "2026-11-20T12:00")
    _ok(run, "send", case_id, "--channel", "letter", "--at", "2026-11-20T13:00")
    return case_id


def test_a_sent_letter_is_the_first_reply_in_show_and_in_report(run: Any, ws: Workspace) -> None:
    case_id = answered_by_letter(run)
    show = run("show", case_id, "--as-of", "2026-11-21T09:00").stdout
    assert "first_reply" in show.replace(" ", "_") or "first reply" in show.lower()
    figures = json.loads(run("report", "--format", "json", "--as-of", "2026-11-21T09:00").stdout)
    # Before the fix the report counted the reply as met but had no time to first reply.
    assert figures["within_limit"]["first_reply"]["met"] == 1
    assert figures["first_reply"]["count"] == 1
    assert figures["first_reply"]["median_h"] == 4.0  # opened 09:00, sent 13:00


def test_show_and_report_agree_on_first_reply_resolution_and_within_limit(run: Any, ws: Workspace) -> None:
    letter = answered_by_letter(run)
    noted = _opened(run, phone="13900001111")
    _ok(
        run,
        "note",
        noted,
        "Sorry, checking",
        "--kind",
        "reply",
        "--channel",
        "phone",
        "--at",
        "2026-11-20T09:30",
    )
    _ok(run, "close", noted, "--resolution", "explained", "--at", "2026-11-21T09:00")
    late = _opened(run, phone="13900002222", at="2026-11-18T09:00")
    as_of = "2026-11-22T09:00"
    met = {"first_reply": 0, "resolution": 0}
    decided = {"first_reply": 0, "resolution": 0}
    for case_id in (letter, noted, late):
        status = json.loads(run("show", case_id, "--json").stdout)
        assert status["case"]["id"] == case_id
        text = run("show", case_id, "--as-of", as_of).stdout
        for clock in met:
            line = next(
                ln for ln in text.lower().splitlines() if ln.strip().startswith(clock.replace("_", " ") + ":")
            )
            if ": met" in line:
                met[clock] += 1
                decided[clock] += 1
            elif ": breached" in line:
                decided[clock] += 1
    figures = json.loads(run("report", "--format", "json", "--as-of", as_of).stdout)
    for clock in met:
        assert figures["within_limit"][clock]["met"] == met[clock], clock
        assert figures["within_limit"][clock]["decided"] == decided[clock], clock
    assert figures["first_reply"]["count"] == met["first_reply"]  # every reply counted once, in time


def test_report_cases_lists_only_the_cases_the_scope_received(run: Any, ws: Workspace) -> None:
    november = _opened(run, at="2026-11-20T09:00")
    result = run("report", "--cases", "--since", "2026-12-01", "--as-of", "2026-12-02T09:00")
    assert result.exit_code == 0, result.stderr
    assert november not in result.stdout
    assert result.stdout == "No cases.\n"
    result = run("report", "--cases", "--since", "2026-11-01", "--until", "2026-12-01")
    assert november in result.stdout


def test_report_refuses_a_period_that_ends_before_it_starts(run: Any, ws: Workspace) -> None:
    result = run("report", "--since", "2026-12-01", "--until", "2026-11-01")
    assert (result.exit_code, result.stderr) == (
        2,
        "complaintctl: --until 2026-11-01 is not after --since 2026-12-01; give a period that ends after it starts\n",
    )


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("cases/2026/11/C-20261120-7K3QX2.yaml", True),
        ("cases/2026/11/C-20261120-7K3QXI.yaml", False),  # I is not in the id alphabet
        ("cases/2026/11/C-20261120-7K3QXL.yaml", False),
        ("cases/2026/11/C-20261120-7K3QXO.yaml", False),
        ("cases/2026/11/C-20261120-7K3QXU.yaml", False),
        ("cases/2026/10/C-20261120-7K3QX2.yaml", False),  # the folder is not the id's month
        ("cases/2026/11/C-20261120-7K3QX2.yml", False),
        ("cases/2026/11/c-20261120-7k3qx2.yaml", False),
    ],
)
def test_one_rule_for_case_paths(path: str, ok: bool) -> None:
    assert is_case_path(path) is ok
    if ok:
        assert case_relpath(path.rsplit("/", 1)[1][: -len(".yaml")]) == path


def test_check_names_a_file_outside_the_path_rule(run: Any, ws: Workspace) -> None:
    case_id = _opened(run)
    text = ws.case_file(case_id).read_text()
    wrong = ws.root / "cases" / "2026" / "11" / "C-20261120-7K3QXI.yaml"
    wrong.write_text(text.replace(case_id, "C-20261120-7K3QXI"))
    result = run("check")
    assert result.exit_code == 1
    assert result.stdout == (
        "cases/2026/11/C-20261120-7K3QXI.yaml: not a case file name "
        "(cases/YYYY/MM/C-YYYYMMDD-XXXXXX.yaml); move or remove it\n"
    )


def test_every_lifecycle_command_that_records_an_event_has_one_event_class() -> None:
    recorded = set(COMMANDS) | {"open", "severity"}
    assert set(events.EVENTS) == recorded
    for action, cls in events.EVENTS.items():
        assert cls.action == action
