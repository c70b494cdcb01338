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
print(json.dumps({'code': code, 'heavy': heavy}))
"""


def probe(ws: Workspace, *args: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=ws.root, capture_output=True, text=True, check=True
    ).stdout
    return dict(json.loads(out.splitlines()[-1]))


def test_changing_commands_import_no_templates_tables_or_gitpython(ws: Workspace) -> None:
    opened = probe(ws, *open_args())
    assert opened == {"code": 0, "heavy": []}
    case_id = next((ws.root / "cases").rglob("C-*.yaml")).stem
    assert probe(ws, "note", case_id, "hello") == {"code": 0, "heavy": []}
    assert probe(ws, "close", case_id, "--resolution", "withdrawn") == {"code": 0, "heavy": []}


def test_reading_commands_import_what_they_need(ws: Workspace) -> None:
    probe(ws, *open_args())
    case_id = next((ws.root / "cases").rglob("C-*.yaml")).stem
    assert probe(ws, "list") == {"code": 0, "heavy": []}  # long lists skip tabulate (views.columns)
    assert probe(ws, "report")["heavy"] == []
    assert probe(ws, "report", "--format", "markdown")["heavy"] == ["tabulate"]
    assert probe(ws, "log", case_id)["heavy"] == ["git", "tabulate"]
