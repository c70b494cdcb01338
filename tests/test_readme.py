"""The README's walkthrough is a transcript: run it and compare every line."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from tests.helpers import Workspace

README = Path(__file__).resolve().parent.parent / "README.md"
ID_RE = re.compile(r"C-\d{8}-[0-9A-Z]{6}")


def transcript() -> list[tuple[str, list[str]]]:
    text = README.read_text(encoding="utf-8")
    block = text.split("```console\n", 1)[1].split("```", 1)[0]
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def test_readme_walkthrough_runs_as_written(run: Any, ws: Workspace) -> None:
    steps = transcript()
    assert len(steps) >= 10
    env: dict[str, str] = {}
    readme_id = real_id = None
    for command, expected in steps:
        words = shlex.split(command)
        if words[0] == "export":
            key, value = words[1].split("=", 1)
            env[key] = value
            continue
        once = dict(env)  # VAR=value before the command: for that command only
        while "=" in words[0]:
            key, value = words.pop(0).split("=", 1)
            once[key] = value
        assert words[0] == "complaintctl"
        if readme_id and real_id:
            words = [w.replace(readme_id, real_id) for w in words]
        before = ws.commits()
        result = run(*words[1:], env=once, literal=True)
        output = (result.stdout + result.stderr).splitlines()
        if words[1] == "open":
            readme_id, real_id = expected[0], output[0]
        assert readme_id and real_id
        shown = [line.replace(real_id, readme_id) for line in output]
        assert shown == expected, command
        failed = shown and shown[0].startswith("complaintctl: ")
        assert result.exit_code == (1 if failed else 0), command
        changing = words[1] not in ("list", "show", "log", "report", "check")
        assert ws.commits() == before + (1 if changing and not failed else 0), command
        assert ws.status() == ""
    assert ID_RE.fullmatch(real_id or "")
