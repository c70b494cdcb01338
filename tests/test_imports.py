"""A changing command pays only for what it uses: no Jinja, tabulate or GitPython."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import Workspace, open_args

PROBE = """
import json, sys
from complaintctl.cli.app import app
try:
    app(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = sorted({m.split('.')[0] for m in sys.modules} & {'jinja2', 'tabulate', 'git', 'pydantic', 'rich'})
light = sorted({m.split('.')[0] for m in sys.modules} & {'ruamel', 'wcwidth', 'statistics', 'secrets'})
print(json.dumps({'code': code, 'heavy': heavy, 'sqlite3': 'sqlite3' in sys.modules, 'light': light}))
"""


def probe(ws: Workspace, *args: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=ws.root, capture_output=True, text=True, check=True
    ).stdout
    found = dict(json.loads(out.splitlines()[-1]))
    if args[:1] != ("report",):
        del found["light"]
    return found


def test_changing_commands_import_no_templates_tables_or_gitpython(ws: Workspace) -> None:
    opened = probe(ws, *open_args())  # with a phone: the lookup queries the queue database
    assert opened == {"code": 0, "heavy": [], "sqlite3": True}
    case_id = next((ws.root / "cases").rglob("C-*.yaml")).stem
    assert probe(ws, "note", case_id, "hello") == {"code": 0, "heavy": [], "sqlite3": False}
    assert probe(ws, "close", case_id, "--resolution", "withdrawn") == {
        "code": 0,
        "heavy": [],
        "sqlite3": False,
    }
    assert probe(ws, *open_args(phone="", at="2026-11-21T09:00"))["sqlite3"] is False  # no lookup


def test_reading_commands_import_what_they_need(ws: Workspace) -> None:
    probe(ws, *open_args())
    case_id = next((ws.root / "cases").rglob("C-*.yaml")).stem
    assert probe(ws, "list") == {"code": 0, "heavy": [], "sqlite3": True}  # long lists skip tabulate
    assert probe(ws, "show", case_id)["sqlite3"] is False
    report = probe(ws, "report")
    assert report["heavy"] == [] and report["sqlite3"] is False
    # Nor the YAML parser (the policy's parsed YAML is kept), the statistics
    # module, or wcwidth while every cell is ASCII.
    assert report["light"] == []
    assert probe(ws, "report", "--format", "markdown")["heavy"] == ["tabulate"]
    assert probe(ws, "log", case_id)["heavy"] == ["git", "tabulate"]


HOLIDAYS_PROBE = PROBE.replace("'rich'}", "'rich', 'holidays'}")


def test_check_imports_the_holidays_package_only_for_a_country_it_has_not_met(ws: Workspace) -> None:
    """The country's days, once kept beside the index, say it is known."""
    from tests.helpers import git

    kept = ws.root / ".git" / "complaintctl" / "holidays-CN.json"
    assert "holidays: CN" in (ws.root / "policy.yaml").read_text()
    kept.unlink(missing_ok=True)

    def check() -> dict[str, object]:
        out = subprocess.run(
            [sys.executable, "-c", HOLIDAYS_PROBE, "check"], cwd=ws.root, capture_output=True, text=True
        ).stdout
        found = dict(json.loads(out.splitlines()[-1]))
        del found["light"]  # (the YAML parser and the like: test_reading_commands_import_what_they_need)
        return found

    assert check() == {"code": 0, "heavy": ["holidays"], "sqlite3": True}
    probe(ws, *open_args())
    probe(ws, "list")  # the index: its clocks count working hours, the days are kept
    assert kept.exists()
    assert check() == {"code": 0, "heavy": [], "sqlite3": True}
    policy = ws.root / "policy.yaml"
    policy.write_text(policy.read_text().replace("holidays: CN", "holidays: ZZ"))
    git(ws.root, "commit", "-qam", "An unknown country")
    assert check() == {"code": 1, "heavy": ["holidays"], "sqlite3": False}
    result = subprocess.run(
        [sys.executable, "-m", "complaintctl", "check"], cwd=ws.root, capture_output=True, text=True
    )
    assert "no public holidays known for country 'ZZ'" in result.stdout + result.stderr


def test_a_note_on_a_case_with_a_spaced_phone_reads_it_without_the_yaml_library(ws: Workspace) -> None:
    """'+86 138 …' is written plain; the fast reader knows it is text without
    asking ruamel's resolver (whose import is ~20 ms of a note)."""
    probe(ws, *open_args(phone="+86 138 1234 1234"))
    path = next((ws.root / "cases").rglob("C-*.yaml"))
    assert "phone: +86 138 1234 1234\n" in path.read_text(encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-c", PROBE, "note", path.stem, "hello"], cwd=ws.root, capture_output=True, text=True
    ).stdout
    assert json.loads(out.splitlines()[-1])["light"] == []
