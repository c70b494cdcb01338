"""Shared fixtures: an isolated git, a pinned clock, real workspaces in tmp.

Nothing here touches the real home directory, git config or clock.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from complaintctl.cli.app import app
from complaintctl.service import admin

NOW = "2026-11-22T10:00:00+08:00"
ALICE = "alice@example.com"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test Runner\n\temail = runner@example.com\n"
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n"
    )
    for name in list(os.environ):
        if name.startswith(("GIT_", "COMPLAINTCTL_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("COMPLAINTCTL_NOW", NOW)
    monkeypatch.setenv("COMPLAINTCTL_USER", ALICE)


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


@dataclass
class Workspace:
    root: Path

    def commits(self) -> int:
        return int(git(self.root, "rev-list", "--count", "HEAD").strip())

    def status(self) -> str:
        return git(self.root, "status", "--porcelain", "--untracked-files=all")

    def head_subject(self) -> str:
        return git(self.root, "log", "-1", "--format=%s").strip()

    def head_message(self) -> str:
        return git(self.root, "log", "-1", "--format=%B")

    def case_file(self, case_id: str) -> Path:
        return self.root / "cases" / case_id[2:6] / case_id[6:8] / f"{case_id}.yaml"

    def snapshot(self) -> dict[str, bytes]:
        """Every file outside .git, for 'nothing changed' assertions."""
        return {
            str(p.relative_to(self.root)): p.read_bytes()
            for p in sorted(self.root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(self.root).parts
        }


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(admin.init_workspace(tmp_path / "ws"))


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run(ws: Workspace) -> Iterator[object]:
    """Run the CLI in the workspace: run('note', ID, 'text') -> Result."""
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        result = runner.invoke(
            app,
            ["--help"] if not args else list(args),
            env={"COMPLAINTCTL_ROOT": str(ws.root), **(env or {})},
        )
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr)

    yield invoke


def open_args(**over: str | bool) -> list[str]:
    fields: dict[str, str | bool] = {
        "--customer": "张三",
        "--phone": "13812341234",
        "--channel": "phone",
        "--category": "billing",
        "--summary": "Charged twice for October",
        "--at": "2026-11-20T09:00",
    }
    fields.update({f"--{k.replace('_', '-')}": v for k, v in over.items()})
    args = ["open"]
    for key, value in fields.items():
        args += [key] if value is True else [key, str(value)]
    return args


# CI runs the same examples every time (a red run must be reproducible);
# locally hypothesis explores new ones.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
