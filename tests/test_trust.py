"""A record a team can trust: a new team's first hour through the tool keeps
'verify' green; each way around the tool is named by 'verify', with the commit.

Every command here runs as a person in their own shell (COMPLAINTCTL_USER),
through the real CLI, in a workspace made by 'init' as the README says.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from complaintctl.cli.app import app
from tests.helpers import Result, case_path, git, open_args

LEAD = "lead@example.com"
BOB = "bob@example.com"
SUE = "sue@example.com"


class Team:
    """A workspace made by 'init' as its lead would, and the people in it."""

    def __init__(self, tmp_path: Path) -> None:
        self.runner = CliRunner()
        self.root = tmp_path / "complaints"
        git(tmp_path, "config", "--global", "user.email", LEAD)
        git(tmp_path, "config", "--global", "user.name", "Lee Lead")
        result = self.run(LEAD, "init", str(self.root), cwd=False)
        assert result.exit_code == 0, result.stderr

    def run(self, who: str, *args: str, cwd: bool = True, literal_as: str | None = None) -> Result:
        env = {"COMPLAINTCTL_USER": who}
        if cwd:
            env["COMPLAINTCTL_ROOT"] = str(self.root)
        words = [*args, *(["--as", literal_as] if literal_as else [])]
        result = self.runner.invoke(app, words, env=env)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr)

    def ok(self, who: str, *args: str) -> str:
        result = self.run(who, *args)
        assert result.exit_code == 0, result.stderr
        return str(result.stdout)

    def head(self) -> str:
        return git(self.root, "rev-parse", "--short=10", "HEAD").strip()

    def verify(self) -> Result:
        return self.run(LEAD, "verify")


@pytest.fixture
def team(tmp_path: Path) -> Team:
    t = Team(tmp_path)
    t.ok(LEAD, "team", "add", BOB, "--name", "Bob Li", "--role", "agent", "--reason", "Joined the desk")
    t.ok(LEAD, "team", "add", SUE, "--name", "Sue Wu", "--role", "supervisor", "--reason", "Leads the desk")
    return t


def test_a_new_teams_first_hour_keeps_verify_green(team: Team) -> None:
    # init put the lead on the team: 'open' works at once, as themself.
    case_id = team.ok(LEAD, *open_args(at="2026-11-20T09:00")).strip()
    # A time limit changed with the tool.
    policy = team.root / "policy.yaml"
    policy.write_text(policy.read_text().replace("stall_after: 72h", "stall_after: 48h"))
    assert team.ok(LEAD, "policy", "commit", "--reason", "Stalled after two days") == (
        "Policy: change policy.yaml\n"
    )
    # A typo in the phone number, corrected with a reason; a mistaken note retracted.
    team.ok(
        LEAD,
        "correct",
        case_id,
        "phone",
        "13812341235",
        "--reason",
        "Last digit misheard",
        "--at",
        "2026-11-20T09:05",
    )
    team.ok(LEAD, "note", case_id, "Called the wrong customer", "--kind", "reply", "--channel", "phone", "--at", "2026-11-20T09:10")  # fmt: skip
    team.ok(LEAD, "retract", case_id, "3", "--reason", "Noted on the wrong case", "--at", "2026-11-20T09:11")
    shown = team.ok(LEAD, "show", case_id, "--as-of", "2026-11-20T10:00")
    assert "[retracted]" in shown and "phone: 13812341234 -> 13812341235" in shown
    assert "first reply: running" in shown  # the retracted reply no longer answers the customer
    # Handed to Bob on the same tier; Bob proposes above his limit; Sue approves in her own shell.
    team.ok(LEAD, "assign", case_id, "--to", BOB, "--reason", "Bob takes billing", "--at", "2026-11-20T09:20")
    team.ok(BOB, "note", case_id, "Sorry, checking", "--kind", "reply", "--channel", "phone", "--at", "2026-11-20T09:30")  # fmt: skip
    team.ok(
        BOB,
        "propose",
        case_id,
        "--amount",
        "800",
        "--not-overcharge",
        "Goodwill",
        "--terms",
        "Refund in 7 days",
        "--at",
        "2026-11-20T10:00",
    )
    refused = team.run(BOB, "approve", case_id, "1", "--at", "2026-11-20T10:30", literal_as=SUE)
    assert (refused.exit_code, refused.stderr) == (
        1,
        f"complaintctl: approve is taken by {SUE} in person, not entered for them (you are {BOB}); "
        f"ask {SUE} to run it in their own shell (COMPLAINTCTL_USER or git user.email)\n",
    )
    team.ok(SUE, "approve", case_id, "1", "--at", "2026-11-20T10:30")
    assert team.verify() == Result(0, "", "")
    log = git(team.root, "log", "--format=%s|%(trailers:key=Complaintctl-Action,valueonly,separator=)")
    assert log.splitlines()[:4] == [
        f"Approve offer 1 (CNY 800.00 refund) on {case_id}|approve",
        f"Propose CNY 800.00 refund on {case_id} (pending approval)|propose",
        f"Note reply on {case_id}|note",
        f"Hand {case_id} to {BOB}|assign",
    ]


def test_init_puts_the_person_running_it_on_the_team(tmp_path: Path) -> None:
    t = Team(tmp_path)
    text = (t.root / "policy.yaml").read_text()
    assert (
        "  - id: lead@example.com\n    name: Lee Lead\n    roles: [agent, supervisor, manager, executive, legal]\n"
        in text
    )
    assert "alice@example.com" not in text  # the example team is the demo's, not every workspace's
    assert t.verify() == Result(0, "", "")


def test_a_team_change_needs_a_policy_role(team: Team) -> None:
    result = team.run(
        BOB, "team", "add", "eve@example.com", "--name", "Eve", "--role", "manager", "--reason", "x"
    )
    assert (result.exit_code, result.stderr) == (
        1,
        "complaintctl: policy.yaml: bob@example.com may not change the team: that takes one of the roles "
        "manager, executive; ask one of: lead@example.com\n",
    )


def _bypass(team: Team, edit: Any, message: str) -> str:
    path = team.root / "policy.yaml"
    path.write_text(edit(path.read_text()))
    git(team.root, "commit", "--quiet", "-am", message)
    return team.head()


def test_a_policy_loosened_around_the_tool_and_put_back_is_named(team: Team) -> None:
    case_id = team.ok(BOB, *open_args(at="2026-11-20T09:00")).strip()
    limits = '  agent: {CNY: "200.00", USD: "30.00", EUR: "30.00", JPY: "4000"}\n'
    loose = _bypass(team, lambda t: t.replace(limits, "  agent: null\n"), "tweak")
    team.ok(
        BOB,
        "propose",
        case_id,
        "--amount",
        "50000",
        "--not-overcharge",
        "Goodwill",
        "--terms",
        "All of it",
        "--at",
        "2026-11-20T10:00",
    )
    team.ok(BOB, "agree", case_id, "--at", "2026-11-20T11:00")
    back = _bypass(team, lambda t: t.replace("  agent: null\n", limits), "undo")
    found = team.verify()
    assert found.exit_code == 1
    lines = found.stdout.splitlines()
    assert f"{loose} policy.yaml: changed outside complaintctl (no Complaintctl trailers; record policy changes with 'complaintctl policy commit' or 'complaintctl team')" in lines  # fmt: skip
    assert any(line.startswith(f"{back} policy.yaml: changed outside complaintctl") for line in lines)


def test_a_template_changed_around_the_tool_is_named_by_its_own_path(team: Team) -> None:
    """A letter's wording is policy too: a commit that changes templates/
    without the tool is named, by the templates it changed (not policy.yaml)."""
    one = team.root / "templates" / "summary.html.j2"
    one.write_text(one.read_text() + "<p>added by hand</p>\n")
    git(team.root, "commit", "--quiet", "-am", "reword")
    first = team.head()
    for name in ("agreement.html.j2", "reply.html.j2"):
        path = team.root / "templates" / name
        path.write_text(path.read_text() + "<p>added by hand</p>\n")
    git(team.root, "commit", "--quiet", "-am", "reword two")
    second = team.head()
    found = team.verify()
    assert found.exit_code == 1
    lines = found.stdout.splitlines()
    outside = "changed outside complaintctl (no Complaintctl trailers; record policy changes with 'complaintctl policy commit' or 'complaintctl team')"  # fmt: skip
    assert f"{first} templates/summary.html.j2: {outside}" in lines
    assert f"{second} templates/agreement.html.j2 (and 1 more): {outside}" in lines


def test_an_approval_entered_for_a_supervisor_around_the_tool_is_named(team: Team) -> None:
    case_id = team.ok(BOB, *open_args(at="2026-11-20T09:00")).strip()
    team.ok(
        BOB,
        "propose",
        case_id,
        "--amount",
        "800",
        "--not-overcharge",
        "Goodwill",
        "--terms",
        "Refund",
        "--at",
        "2026-11-20T10:00",
    )
    # Bob writes Sue's approval himself (here the tool makes the file), and commits it
    # under her name as author with his own git identity: what '--as' used to allow.
    team.ok(SUE, "approve", case_id, "1", "--at", "2026-11-20T10:30")
    subprocess.run(
        ["git", "commit", "--quiet", "--amend", "--no-edit"],
        cwd=team.root,
        check=True,
        env={**os.environ, "GIT_COMMITTER_NAME": "Bob Li", "GIT_COMMITTER_EMAIL": BOB},
    )
    found = team.verify()
    assert found.exit_code == 1
    assert found.stdout == (
        f"{team.head()} {case_id}: committed by {BOB} for {SUE} with no Entered-By trailer naming them\n"
        f"{team.head()} {case_id}: approve is taken by {SUE} in person, but {BOB} committed it\n"
    )


def test_a_consistent_rewrite_of_an_amount_is_named(team: Team) -> None:
    case_id = team.ok(BOB, *open_args(at="2026-11-20T09:00")).strip()
    team.ok(
        BOB,
        "propose",
        case_id,
        "--amount",
        "240",
        "--not-overcharge",
        "Goodwill",
        "--terms",
        "Refund",
        "--at",
        "2026-11-20T10:00",
    )
    propose = team.head()
    # Rewrite the whole history so the file always says 1999.00 (what a forger would do).
    git(team.root, "filter-branch", "-f", "--tree-filter",
        f"test -f {case_path(team.root, case_id).relative_to(team.root)} && "
        f"sed -i \"s/amount: '240.00'/amount: '1999.00'/\" {case_path(team.root, case_id).relative_to(team.root)} || true",
        "HEAD")  # fmt: skip
    assert team.head() != propose
    found = team.verify()
    assert found.exit_code == 1
    assert found.stdout == (
        f"{team.head()} {case_id}: the commit says 'Propose CNY 240.00 refund on {case_id} (pending approval)', "
        f"the events give 'Propose CNY 1999.00 refund on {case_id} (pending approval)'\n"
    )


def test_an_empty_team_is_explained_by_check_and_in_refusals(team: Team) -> None:
    from complaintctl.store.policyfile import replace_team

    path = team.root / "policy.yaml"
    path.write_text(replace_team(path.read_text(), []))
    team.ok(LEAD, "policy", "commit", "--reason", "A trial without a team")
    check = team.run(LEAD, "check")
    assert (check.exit_code, check.stdout) == (0, "")
    assert check.stderr == (
        "complaintctl: warning: policy.yaml: the team is empty, so anyone may act as anyone, no approval "
        "limit applies, and no sign-off can be given (nobody holds a role); add people with "
        "'complaintctl team add EMAIL --name NAME --role ROLE'\n"
    )
    case_id = team.ok(BOB, *open_args(at="2026-11-20T09:00")).strip()
    team.ok(BOB, "draft", case_id, "--text", "Dear customer", "--at", "2026-11-20T10:00")
    refused = team.run(SUE, "signoff", case_id, "--at", "2026-11-20T11:00")
    assert refused.stderr == (
        f"complaintctl: {case_id}: draft 1 needs legal review next, by someone holding legal; "
        "nobody can: the team in policy.yaml is empty; add people with 'complaintctl team add'\n"
    )
    assert team.verify().exit_code == 0
