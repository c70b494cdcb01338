"""One output option everywhere (--format, --json as its shortcut), colour
only on a terminal, and help that names every value."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Workspace
from tests.test_cli import changes, opened

ESC = "\033["


def test_list_and_customer_print_every_format(run: Any, ws: Workspace) -> None:
    first = opened(run, ws, at="2026-11-19T09:00", summary="Double charge, 'October'")
    second = opened(run, ws, at="2026-11-20T09:00", phone="13900000002", customer="李四")
    as_json = json.loads(run("list", "--json").stdout)
    assert json.loads(run("list", "--format", "json").stdout) == as_json
    assert [r["id"] for r in as_json] == [first, second]
    rows = list(csv.DictReader(io.StringIO(run("list", "--format", "csv").stdout)))
    assert [r["id"] for r in rows] == [first, second]
    assert rows[0]["summary"] == "Double charge, 'October'" and rows[1]["customer"] == "李*"
    assert list(rows[0]) == list(as_json[0])  # the same keys, in the same order, as JSON
    markdown = run("list", "--format", "md").stdout.splitlines()
    assert markdown[0].startswith("| Case ") and markdown[1].startswith("|---")
    assert first in markdown[2] and "张*" in markdown[2]
    html = run("list", "--format", "html").stdout
    assert html.startswith("<table>") and f"<td>{second}" in html and "李四" not in html
    assert json.loads(run("customer", "13900000002", "--json").stdout)[0]["id"] == second
    assert run("customer", "13900000002", "--format", "csv").stdout.splitlines()[1].startswith(second)


def test_json_and_a_second_format_are_refused_in_one_line(run: Any, ws: Workspace) -> None:
    for args in (("list",), ("report",), ("overdue",)):
        result = run(*args, "--json", "--format", "csv" if args[0] != "overdue" else "github")
        assert result.exit_code == 2, args
        assert re.fullmatch(
            r"complaintctl: --json and --format \w+ ask for two formats; give one of them\n", result.stderr
        )
    bad = run("list", "--format", "pdf")
    assert (bad.exit_code, bad.stderr) == (
        2,
        "complaintctl: unknown format 'pdf'; use one of: table, json, csv, markdown, html\n",
    )


def test_show_log_overdue_and_report_take_json_as_format_json(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws, at="2026-11-19T09:00")
    changes(
        run, ws, "note", case_id, "Sorry", "--kind", "reply", "--channel", "phone", "--at", "2026-11-19T10:00"
    )
    for args in (("show", case_id), ("log", case_id), ("overdue", "--warn"), ("report",)):
        short = run(*args, "--json")
        assert short.exit_code in (0, 1), (args, short.stderr)
        assert short.stdout == run(*args, "--format", "json").stdout, args
        json.loads(short.stdout)
    assert json.loads(run("show", case_id, "--json").stdout)["case"]["id"] == case_id
    log = json.loads(run("log", case_id, "--json").stdout)
    assert (log["format"], log["case"]) == (1, case_id)
    assert [c["subject"] for c in log["commits"]] == [
        f"Open billing complaint {case_id} (phone)",
        f"Note reply on {case_id}",
    ]
    assert (log["commits"][1]["from"], log["commits"][1]["to"]) == ("open", "in-progress")
    assert {"commit", "author", "date", "from", "to", "by_tool"} <= set(log["commits"][0])
    # 'text' and 'table' name the screen form of every command.
    assert run("show", case_id, "--format", "table").stdout == run("show", case_id).stdout
    assert run("overdue", "--format", "table").stdout == run("overdue").stdout


def test_report_cases_follow_the_format(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws, at="2026-11-19T09:00")
    span = ("report", "--cases", "--since", "2026-11-01", "--until", "2026-12-01")
    assert [r["id"] for r in json.loads(run(*span, "--json").stdout)] == [case_id]
    rows = list(csv.DictReader(io.StringIO(run(*span, "--format", "csv").stdout)))
    assert [(r["id"], r["customer"]) for r in rows] == [(case_id, "张*")]
    assert run(*span, "--format", "html").stdout.startswith("<table>")
    assert run(*span, "--format", "markdown").stdout.startswith("| Case ")
    assert run(*span).stdout.startswith("Case ")


def test_render_takes_markdown_and_md_alike(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws)
    md = run("render", case_id, "summary", "--format", "markdown")
    assert md.exit_code == 0 and md.stdout == run("render", case_id, "summary", "--format", "md").stdout


# ---------------------------------------------------------------- colour


def _on_a_terminal(root: Path, *args: str, **env: str) -> str:
    """Run the CLI with stdout and stderr on a pseudo-terminal; what it printed."""
    main, child = pty.openpty()
    environ = {**os.environ, "COMPLAINTCTL_ROOT": str(root), "TERM": "xterm", **env}
    environ.pop("NO_COLOR", None) if "NO_COLOR" not in env else None
    done = subprocess.run(
        [sys.executable, "-m", "complaintctl", *args],
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=child,
        env=environ,
        timeout=60,
    )
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal's other end is closed: all read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert done.returncode in (0, 1, 2)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_colour_on_a_terminal_only_and_never_with_no_color(run: Any, ws: Workspace) -> None:
    hot = opened(run, ws, at="2026-11-19T09:00", summary="Will go to the press")
    changes(run, ws, "flag", hot, "--media", "--reason", "Said so on the phone")
    calm = opened(run, ws, at="2026-11-21T09:00", phone="13900000002")
    shown = _on_a_terminal(ws.root, "list")
    hot_line = next(line for line in shown.splitlines() if hot in line)
    calm_line = next(line for line in shown.splitlines() if calm in line)
    assert hot_line.startswith(f"{ESC}1;31m") and hot_line.endswith(f"{ESC}0m")  # major: bold red
    assert ESC not in calm_line
    # The columns line up as without colour.
    plain = run("list").stdout.splitlines()
    assert [re.sub(r"\033\[[0-9;]*m", "", line) for line in shown.splitlines()] == plain
    assert ESC in _on_a_terminal(ws.root, "show", hot)  # the breached clock
    assert _on_a_terminal(ws.root, "note", "ZZZZ", "x").startswith(f"{ESC}1;31mcomplaintctl:{ESC}0m no case")
    for env in ({"NO_COLOR": "1"}, {"TERM": "dumb"}):
        assert ESC not in _on_a_terminal(ws.root, "list", **env), env
        assert ESC not in _on_a_terminal(ws.root, "note", "ZZZZ", "x", **env), env
    piped = subprocess.run(
        [sys.executable, "-m", "complaintctl", "list"],
        capture_output=True,
        text=True,
        env={**os.environ, "COMPLAINTCTL_ROOT": str(ws.root), "TERM": "xterm"},
    )
    assert ESC not in piped.stdout + piped.stderr and hot in piped.stdout


def test_a_bidi_override_in_a_record_is_shown_not_obeyed_in_colour(run: Any, ws: Workspace) -> None:
    case_id = opened(run, ws, summary="Nice \u202etxet")
    for args in (("show", case_id), ("list",)):
        shown = _on_a_terminal(ws.root, *args)
        assert "Nice <U+202E>txet" in shown and "\u202e" not in shown, args


# ---------------------------------------------------------------- help


@pytest.mark.parametrize(
    "command",
    ["open", "note", "list", "customer", "show", "log", "report", "overdue", "render", "propose", "plan",
     "agree", "close", "escalate", "correct", "sync", "verify"],
)  # fmt: skip
def test_help_names_every_value(command: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "complaintctl", command, "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "<str>" not in done.stdout and "<int>" not in done.stdout and "<path>" not in done.stdout
    assert "Example: complaintctl" in done.stdout
    assert re.search(r"--root DIR\b", done.stdout) or command == "completion"
