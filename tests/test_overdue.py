"""`overdue`, severity that rises by itself, and the CI recipes, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.helpers import Workspace, every_status, git, open_args

ROOT = Path(__file__).resolve().parent.parent


def open_case(run: Any, **over: str | bool) -> str:
    result = run(*open_args(**over))
    assert result.exit_code == 0, result.stderr
    return str(result.stdout.strip())


@pytest.fixture
def three(run: Any) -> dict[str, str]:
    """A quiet case, one near its first-reply limit, and two overdue ones."""
    return {
        "quiet": open_case(run, at="2026-11-22T09:00", phone="13800000001"),
        "near": open_case(run, at="2026-11-20T15:00", phone="13800000002"),  # 48h: due 22 Nov 15:00
        "late": open_case(run, at="2026-11-20T08:00", phone="13800000003"),  # due 22 Nov 08:00
        "urgent": open_case(run, at="2026-11-22T07:30", phone="13800000004", urgent=True, customer="李四"),
    }


def test_nothing_overdue(run: Any, ws: Workspace) -> None:
    open_case(run, at="2026-11-22T09:00")
    for fmt, out in [
        ("text", "No case is overdue as of 2026-11-22T10:00+08:00.\n"),
        ("github", "0 overdue, 0 near their limit, as of 2026-11-22T10:00+08:00\n"),
    ]:
        result = run("overdue", "--format", fmt)
        assert (result.exit_code, result.stdout, result.stderr) == (0, out, "")
    data = json.loads(run("overdue", "--format", "json").stdout)
    assert data == {"as_of": "2026-11-22T10:00+08:00", "overdue": 0, "warnings": 0, "waiting": 0, "items": []}


def test_a_case_waiting_on_the_customer_is_listed_with_warn(run: Any, ws: Workspace) -> None:
    case_id = open_case(run, at="2026-11-20T09:00")
    for args in (
        ("note", case_id, "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-20T10:00"),
        ("wait", case_id, "--reason", "Waiting for the bill copy", "--at", "2026-11-20T11:00"),
    ):
        assert run(*args).exit_code == 0
    assert run("overdue").stdout == "No case is overdue as of 2026-11-22T10:00+08:00.\n"
    text = run("overdue", "--warn")
    assert text.exit_code == 0  # waiting is not late
    assert text.stdout.splitlines()[2].split() == [
        case_id, "waiting", "on", "the", "customer", "waiting", "-", "since", "2026-11-20", "11:00+08:00",
        "alice@example.com", "front-line", "general",
    ]  # fmt: skip
    assert text.stdout.splitlines()[-1] == (
        "0 overdue, 0 near their limit, 1 waiting on the customer, as of 2026-11-22T10:00+08:00"
    )
    data = json.loads(run("overdue", "--warn", "--json").stdout)
    assert (data["overdue"], data["warnings"], data["waiting"]) == (0, 0, 1)
    assert (data["items"][0]["status"], data["items"][0]["since"]) == ("waiting", "2026-11-20T11:00:00+08:00")
    github = run("overdue", "--warn", "--format", "github").stdout.splitlines()
    assert github[0] == (
        f"::notice file=cases/2026/11/{case_id}.yaml,title=Waiting on the customer::{case_id} has waited on "
        "the customer since 2026-11-20 11:00+08:00 (owner alice@example.com, tier front-line)"
    )
    before = run("overdue", "--warn", "--as-of", "2026-11-20T10:30").stdout  # before the wait began
    assert "waiting" not in before
    assert a_wait_line_since(run("overdue", "--warn", "--as-of", "2026-11-20T12:00").stdout) == "2026-11-20"
    assert run("resume", case_id, "Bill copy received", "--at", "2026-11-21T09:00").exit_code == 0
    assert "waiting" not in run("overdue", "--warn").stdout


def a_wait_line_since(text: str) -> str | None:
    line = next((ln for ln in text.splitlines() if " waiting on the customer " in ln), None)
    return line.split("since ")[1][:10] if line else None


def test_one_warning_does_not_fail(run: Any, ws: Workspace) -> None:
    near = open_case(run, at="2026-11-20T15:00")
    assert run("overdue").exit_code == 0
    text = run("overdue", "--warn")
    assert text.exit_code == 0
    assert text.stdout.splitlines()[2].split() == [
        near, "first", "reply", "warning", "2026-11-22", "15:00+08:00", "5h", "left", "alice@example.com", "front-line", "general",
    ]  # fmt: skip
    data = json.loads(run("overdue", "--warn", "--format", "json").stdout)
    assert (data["overdue"], data["warnings"]) == (0, 1)
    assert data["items"][0] == {
        "case": near, "file": f"cases/2026/11/{near}.yaml", "clock": "first_reply", "status": "warning",
        "due": "2026-11-22T15:00:00+08:00", "late": None, "late_seconds": 0, "left": "5h", "owner": "alice@example.com",
        "tier": "front-line", "severity": "general", "stalled": None,
    }  # fmt: skip
    result = run("overdue", "--warn", "--format", "github")
    assert result.exit_code == 0
    assert result.stdout == (
        f"::warning file=cases/2026/11/{near}.yaml,title=Near its limit: first reply::{near} first reply was due "
        "2026-11-22 15:00+08:00, 5h left (owner alice@example.com, tier front-line, general)\n"
        "0 overdue, 1 near their limit, as of 2026-11-22T10:00+08:00\n"
    )


def test_several_overdue_in_every_format(run: Any, ws: Workspace, three: dict[str, str]) -> None:
    before = ws.commits()
    text = run("overdue", "--warn")
    assert text.exit_code == 1
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["Case", "Clock", "Status", "Due", "Late", "Owner", "Tier", "Severity"]
    assert lines[2].split()[:7] == [
        three["late"],
        "first",
        "reply",
        "OVERDUE",
        "2026-11-22",
        "08:00+08:00",
        "2h",
    ]
    assert lines[3].split()[:7] == [
        three["urgent"],
        "first",
        "reply",
        "OVERDUE",
        "2026-11-22",
        "09:30+08:00",
        "30m",
    ]
    assert lines[4].split()[:5] == [three["near"], "first", "reply", "warning", "2026-11-22"]
    assert lines[-1] == "2 overdue, 1 near their limit, as of 2026-11-22T10:00+08:00"
    data = json.loads(run("overdue", "--format", "json").stdout)
    assert [(i["case"], i["clock"], i["status"], i["late_seconds"]) for i in data["items"]] == [
        (three["late"], "first_reply", "breached", 7200),
        (three["urgent"], "first_reply", "breached", 1800),
    ]
    assert data["items"][0]["stalled"] == "first reply breached and not escalated"
    github = run("overdue", "--format", "github").stdout.splitlines()
    assert github[0].startswith(
        f"::error file=cases/2026/11/{three['late']}.yaml,title=Overdue: first reply::"
    )
    assert ws.commits() == before and ws.status() == ""  # it writes nothing


def test_as_of_and_a_reply_clear_it(run: Any, ws: Workspace, three: dict[str, str]) -> None:
    assert run("overdue", "--as-of", "2026-11-22T07:59").exit_code == 0
    run("note", three["late"], "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-22T07:59")
    run(
        "note",
        three["urgent"],
        "On my way",
        "--kind",
        "reply",
        "--channel",
        "phone",
        "--at",
        "2026-11-22T09:00",
    )
    result = run("overdue")
    assert (result.exit_code, result.stdout) == (0, "No case is overdue as of 2026-11-22T10:00+08:00.\n")


def test_bad_format_is_a_usage_error(run: Any, ws: Workspace) -> None:
    result = run("overdue", "--format", "xml")
    assert result.exit_code == 2 and "unknown format 'xml'" in result.stderr
    result = run("overdue", "--as-of", "soon")
    assert result.exit_code == 2
    assert result.stderr == (
        "complaintctl: --as-of 'soon' is not a date and time; write it like 2026-11-22T09:30 or "
        "2026-11-22T09:30:00+08:00\n"
    )


def test_show_prints_each_clock(run: Any, ws: Workspace, three: dict[str, str]) -> None:
    shown = run("show", three["late"]).stdout
    assert "  first reply: BREACHED (due 2026-11-22 08:00+08:00, 2h late; limit 2d)" in shown
    assert (
        "  resolution: running (due 2026-12-02 17:00+08:00, 71h of working time left; limit 80h business)"
        in shown
    )
    assert "STALLED:   first reply breached and not escalated; escalate it or record progress" in shown
    quiet = run("show", three["quiet"], "--as-of", "2026-11-22T09:30").stdout
    assert "  first reply: running (due 2026-11-24 09:00+08:00, 1d 23h left; limit 2d)" in quiet
    assert (
        "  resolution: running (due 2026-12-03 17:00+08:00, 80h of working time left; limit 80h business)"
        in quiet
    )


# ---------------------------------------------------------------- severity on disk


def test_severity_rise_is_recorded_by_the_next_change(run: Any, ws: Workspace) -> None:
    case_id = open_case(run, at="2026-11-14T09:00")
    listed = json.loads(run("list", "--json").stdout)
    assert listed[0]["severity"] == "hot"  # computed: a week unresolved
    assert "severity: general" in ws.case_file(case_id).read_text()  # nobody wrote it yet
    result = run("note", case_id, "Still checking")
    assert result.exit_code == 0
    assert result.stderr == (
        "complaintctl: note: severity rose from general to hot: unresolved for 7 days (since 2026-11-21T09:00+08:00)\n"
    )
    assert ws.head_message().startswith(
        f"Note internal on {case_id}\n\nSeverity rose from general to hot: unresolved for 7 days "
        "(since 2026-11-21T09:00+08:00).\n\nComplaintctl-Case:"
    )
    text = ws.case_file(case_id).read_text()
    assert "severity: hot" in text and "action: severity" in text and "severity_from: general" in text
    assert run("note", case_id, "Again").stderr == ""  # recorded once


def test_hot_spot_links_cases_and_lowering_needs_a_reason(run: Any, ws: Workspace) -> None:
    a = open_case(run, phone="13800000001", matter="oct-batch", at="2026-11-21T09:00")
    b = open_case(run, phone="13800000002", matter="oct-batch", at="2026-11-21T10:00")
    result = run(*open_args(phone="13800000003", matter="oct-batch", at="2026-11-21T11:00"))
    c = result.stdout.strip()
    assert (
        result.stderr == "complaintctl: note: severity hot: the same matter from 3 customers within 30 days\n"
    )
    assert f"Matter:    oct-batch (related: {', '.join(sorted([a, b]))})" in run("show", c).stdout
    assert "hot" in run("show", a).stdout.splitlines()[0]
    err = run("lower", c, "--to", "hot", "--reason", "x")
    assert err.exit_code == 1 and err.stderr == (
        f"complaintctl: {c}: severity is hot; hot is not lower; severity rises by itself; 'lower' only brings it down\n"
    )
    refused = run("lower", c, "--to", "general", "--reason", "Batch error was the bank's")  # an agent
    assert refused.exit_code == 1 and "may lower a hot case" in refused.stderr
    ok = run(
        "lower", c, "--to", "general", "--reason", "Batch error was the bank's", "--as", "carol@example.com"
    )
    assert ok.stdout == f"{c}: Lower severity of {c} from hot to general [open]\n"
    assert run("show", c).stdout.splitlines()[0].split()[2] == "general"


def test_a_case_on_a_matter_reads_its_peers_and_no_other_case(
    run: Any, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'show' and a change of a case on a matter weigh the matter's peers
    (three customers make it hot) from the queue database: reading every
    case instead took ~4 s and 650 MB at 100k cases."""
    from complaintctl.store import caseindex

    on_matter = [
        open_case(run, phone=f"1380000000{n}", matter="oct-batch", at=f"2026-11-21T0{n}:00")
        for n in (1, 2, 3)
    ]
    other = open_case(run, phone="13800000009", at="2026-11-21T08:00")
    assert run("list").exit_code == 0  # the queue database is up to date with HEAD

    def every_case(*args: object, **kwargs: object) -> None:
        raise AssertionError("read every case")

    monkeypatch.setattr(caseindex, "month_rows", every_case)
    monkeypatch.setattr(caseindex, "read_rows", every_case)
    shown = run("show", on_matter[0])
    assert shown.exit_code == 0 and shown.stdout.splitlines()[0].split()[2] == "hot", shown.stdout
    noted = run("note", on_matter[1], "Called the bank about the batch")
    assert noted.stdout == f"{on_matter[1]}: Note internal on {on_matter[1]} [open]\n"
    assert noted.stderr == (
        "complaintctl: note: severity rose from general to hot: the same matter from 3 customers "
        "within 30 days (since 2026-11-21T03:00+08:00)\n"
    )
    assert run("show", other).stdout.splitlines()[0].split()[2] == "general"


def test_flag_raises_and_urgent_escalation_goes_to_supervisor(run: Any, ws: Workspace) -> None:
    case_id = open_case(run)
    out = run("flag", case_id, "--media", "--reason", "On the evening news")
    assert out.stdout == f"{case_id}: Flag {case_id}: media [open]\n"
    assert run("show", case_id).stdout.splitlines()[0] == f"{case_id}  open  major"
    assert run("flag", case_id, "--reason", "x").stderr == (
        "complaintctl: nothing to flag; give --lawsuit, --media, --risk, --outside, --collective N or --cause\n"
    )
    assert run("flag", case_id, "--collective", "1", "--reason", "x").exit_code == 2


def test_wait_pauses_the_resolution_clock(run: Any, ws: Workspace) -> None:
    case_id = open_case(run, at="2026-11-20T09:00")
    run("note", case_id, "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-20T09:30")
    out = run("wait", case_id, "--reason", "Customer to send the bill", "--at", "2026-11-20T10:00")
    assert out.stdout == f"{case_id}: Wait on the customer for {case_id} [in-progress -> waiting]\n"
    assert "  resolution: paused while waiting on the customer" in run("show", case_id).stdout
    assert (
        run("resume", case_id, "Bill received").stdout
        == f"{case_id}: Resume {case_id} [waiting -> in-progress]\n"
    )


# ---------------------------------------------------------------- the CI recipes


def workflow_step(step_id: str) -> str:
    data = YAML(typ="safe").load((ROOT / ".github" / "workflows" / "complaints.yml").read_text())
    steps = data["jobs"]["overdue"]["steps"]
    checkout = steps[0]
    assert checkout["with"]["fetch-depth"] == 0  # a full clone
    return str(next(s["run"] for s in steps if s.get("id") == step_id))


def test_the_github_workflow_step_runs_as_written(ws: Workspace, three: dict[str, str]) -> None:
    command = workflow_step("overdue")
    assert command == "complaintctl overdue --format github --warn"
    env = {k: v for k, v in os.environ.items() if k != "COMPLAINTCTL_ROOT"}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    clone = ws.root.parent / "ci-clone"
    git(ws.root.parent, "clone", "-q", str(ws.root), str(clone))
    result = subprocess.run(["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert [ln.split(",")[0] for ln in lines[:3]] == [
        f"::error file=cases/2026/11/{three['late']}.yaml",
        f"::error file=cases/2026/11/{three['urgent']}.yaml",
        f"::warning file=cases/2026/11/{three['near']}.yaml",
    ]
    assert lines[-1] == "2 overdue, 1 near their limit, as of 2026-11-22T10:00+08:00"
    check = subprocess.run(["bash", "-c", workflow_step_run("Check every case file and the policy")], cwd=clone,
                           env=env, capture_output=True, text=True)  # fmt: skip
    assert (check.returncode, check.stdout) == (0, "")
    verify = subprocess.run(["bash", "-c", workflow_step("verify")], cwd=clone, env=env, capture_output=True,
                            text=True)  # fmt: skip
    assert (workflow_step("verify"), verify.returncode, verify.stdout) == ("complaintctl verify", 0, "")


def workflow_step_run(name: str) -> str:
    data = YAML(typ="safe").load((ROOT / ".github" / "workflows" / "complaints.yml").read_text())
    return str(next(s["run"] for s in data["jobs"]["overdue"]["steps"] if s.get("name") == name))


def test_the_gitlab_job_in_the_docs_runs_the_same_check() -> None:
    text = (ROOT / "docs" / "ci.md").read_text()
    job = YAML(typ="safe").load(text.split("```yaml\n", 1)[1].split("```", 1)[0])
    assert job["complaints"]["variables"]["GIT_DEPTH"] == "0"
    assert job["complaints"]["script"][1:] == [
        "complaintctl check",
        "complaintctl verify",
        "complaintctl overdue --format text --warn",
    ]


def test_a_measure_not_carried_out_by_its_due_time_is_overdue(run: Any, ws: Workspace) -> None:
    case_id = run(*open_args()).stdout.strip()
    for args in (
        ["note", case_id, "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-20T09:30"],
        [
            "propose",
            case_id,
            "--amount",
            "100",
            "--not-overcharge",
            "Goodwill",
            "--terms",
            "Refund",
            "--at",
            "2026-11-20T10:00",
        ],
        ["agree", case_id, "--at", "2026-11-20T11:00"],
        ["plan", case_id, "Refund CNY 100", "--by", "finance", "--due", "1d", "--at", "2026-11-20T12:00"],
        [
            "plan",
            case_id,
            "Fix the billing run",
            "--by",
            "billing",
            "--due",
            "7d",
            "--at",
            "2026-11-20T12:05",
        ],
    ):
        result = run(*args)
        assert result.exit_code == 0, result.stderr
    late = run("overdue", "--format", "json", "--as-of", "2026-11-21T13:00")
    items = [i for i in json.loads(late.stdout)["items"] if i["clock"].startswith("measure")]
    assert late.exit_code == 1 and [(i["clock"], i["due"], i["late"]) for i in items] == [
        ("measure 1 by finance", "2026-11-21T12:00:00+08:00", "1h")
    ]
    assert run("execute", case_id, "1", "--at", "2026-11-21T14:00").exit_code == 0
    after = run("overdue", "--format", "json", "--as-of", "2026-11-21T15:00")
    assert not [i for i in json.loads(after.stdout)["items"] if i["clock"].startswith("measure")]
    shown = run("show", case_id).stdout
    assert (
        "  1. Refund CNY 100 (by finance, due 2026-11-21T12:00) [done 2026-11-21T14:00 by alice@example.com]"
        in shown
    )
    assert "  2. Fix the billing run (by billing, due 2026-11-27T12:05) [open]" in shown


def test_an_unreadable_case_is_one_rule_in_list_report_and_overdue(run: Any, ws: Workspace) -> None:
    run(*open_args())
    broken = ws.root / "cases" / "2026" / "11" / "C-20261120-YYYYYY.yaml"
    broken.write_text("schema: 1\nid: [\n")
    git(ws.root, "add", "cases")
    git(ws.root, "commit", "-qm", "A broken file")
    rel = "cases/2026/11/C-20261120-YYYYYY.yaml"
    for args, last in (
        (["list"], None),
        (["report"], "complaintctl: 1 case file(s) left out; the figures are incomplete"),
        (["overdue"], "complaintctl: 1 case file(s) left out; the list is incomplete"),
    ):
        result = run(*args)
        lines = result.stderr.splitlines()
        assert result.exit_code == 1 and lines[0].startswith(f"complaintctl: skipped {rel}:"), args
        assert last is None or lines[-1] == last
    text = run("overdue", "--as-of", "2026-11-20T10:00").stdout
    assert (
        text
        == "No case is overdue as of 2026-11-20T10:00+08:00 (1 case file(s) could not be read: incomplete).\n"
    )
    github = run("overdue", "--format", "github", "--as-of", "2026-11-20T10:00").stdout.splitlines()
    assert github[0].startswith(f"::error file={rel},title=Unreadable case file::")
    assert github[-1].endswith("(1 case file(s) could not be read: incomplete)")
    assert json.loads(run("overdue", "--format", "json").stdout)["unreadable"][0].startswith(rel)


def test_a_lawsuit_case_left_at_the_front_line_is_flagged_until_escalated(run: Any, ws: Workspace) -> None:
    case_id = run(*open_args()).stdout.strip()
    assert run("note", case_id, "Sorry", "--kind", "reply", "--channel", "phone").exit_code == 0
    assert run("flag", case_id, "--lawsuit", "--reason", "Served papers").exit_code == 0
    flag = "major but below the supervisor tier"
    assert f"STALLED:   {flag}; escalate it or record progress" in run("show", case_id).stdout
    assert [r["id"] for r in json.loads(run("list", "--stalled", "--json").stdout)] == [case_id]
    assert run("escalate", case_id, "--reason", "Lawsuit", "--as", "carol@example.com").exit_code == 0
    assert flag not in run("show", case_id).stdout
    assert json.loads(run("list", "--stalled", "--json").stdout) == []


def test_a_repeat_complaint_left_at_the_front_line_is_flagged_until_escalated(
    run: Any, ws: Workspace
) -> None:
    """DOMAIN: every important, hot, major or repeat complaint goes up tier by
    tier; an agent could settle and close such a case at the front line."""
    first = run(*open_args(at="2026-11-20T09:00")).stdout.strip()
    assert run("close", first, "--resolution", "explained", "--at", "2026-11-20T10:00").exit_code == 0
    again = run(*open_args(at="2026-11-21T09:00", summary="Charged twice again")).stdout.strip()
    assert run("note", again, "Sorry", "--kind", "reply", "--channel", "phone").exit_code == 0
    flag = "important but still at the front-line tier"
    assert f"STALLED:   {flag}; escalate it or record progress" in run("show", again).stdout
    assert [r["id"] for r in json.loads(run("list", "--stalled", "--json").stdout)] == [again]
    assert run("escalate", again, "--reason", "Repeat complaint", "--as", "carol@example.com").exit_code == 0
    assert flag not in run("show", again).stdout
    assert json.loads(run("list", "--stalled", "--json").stdout) == []


def test_internal_notes_do_not_keep_a_case_from_stalling(run: Any, ws: Workspace) -> None:
    """Waiting on the customer pauses the clocks; notes nobody outside sees are
    not progress, so after stall_after (72 h) the case is flagged anyway."""
    case_id = run(*open_args(at="2026-11-10T09:00")).stdout.strip()
    for args in (
        ["note", case_id, "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-10T10:00"],
        ["wait", case_id, "--reason", "Meter photo", "--at", "2026-11-10T11:00"],
        *(["note", case_id, "Still checking", "--at", f"2026-11-{day}T10:00"] for day in ("12", "14", "16")),
    ):
        assert run(*args).exit_code == 0, args
    shown = run("show", case_id, "--as-of", "2026-11-16T12:00").stdout
    assert "STALLED:   untouched since 2026-11-10 11:00; escalate it or record progress" in shown
    later = {"COMPLAINTCTL_NOW": "2026-11-16T12:00:00+08:00"}
    assert [r["id"] for r in json.loads(run("list", "--stalled", "--json", env=later).stdout)] == [case_id]
    # A reply the customer sees is progress.
    reply = ["note", case_id, "Any news?", "--kind", "reply", "--channel", "sms", "--at", "2026-11-16T11:00"]
    assert run(*reply).exit_code == 0
    assert "STALLED" not in run("show", case_id, "--as-of", "2026-11-16T12:00").stdout


@pytest.mark.parametrize(
    "as_of",
    ["2026-11-20T12:00", "2026-11-21T13:00", "2026-11-25T09:00", "2026-12-10T09:00", "2027-02-01T09:00"],
)
def test_overdue_reads_only_cases_that_can_be_late_and_says_the_same(
    run: Any, ws: Workspace, as_of: str
) -> None:
    """overdue keeps a month's cases at a time, only those not settled for
    good by --as-of: its items are those of every case evaluated."""
    from complaintctl.cli.text import overdue_items
    from complaintctl.core import casestatus
    from complaintctl.service import reads

    ids = [run(*open_args(phone=f"1380000000{i}", at=f"2026-11-20T0{i}:00")).stdout.strip() for i in range(4)]
    for args in (
        ["note", ids[0], "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-20T09:30"],
        ["close", ids[0], "--resolution", "rejected", "--at", "2026-11-20T10:00"],
        ["followup", ids[0], "--satisfaction", "4", "--at", "2026-11-22T10:00"],
        ["note", ids[1], "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-20T09:40"],
        [
            "propose",
            ids[1],
            "--amount",
            "100",
            "--not-overcharge",
            "Goodwill",
            "--terms",
            "Refund",
            "--at",
            "2026-11-20T10:00",
        ],
        ["agree", ids[1], "--at", "2026-11-20T11:00"],
        ["plan", ids[1], "Refund CNY 100", "--by", "finance", "--due", "1d", "--at", "2026-11-20T12:00"],
        ["close", ids[2], "--resolution", "rejected", "--at", "2026-11-21T10:00"],
    ):
        result = run(*args)
        assert result.exit_code == 0, (args, result.stderr)
    when, pairs, oracle = every_status(ws.root, as_of)
    for warn in (False, True):
        items, _problems, _when, _uncommitted = reads.overdue(str(ws.root), as_of, warn)
        assert items == overdue_items(oracle, warn, when)
    assert any(casestatus.done_by(row, when) for _, row in pairs) == (as_of >= "2026-11-25")  # left out
