"""Shared fixtures: an isolated git, a pinned clock, real workspaces in tmp.

Nothing here touches the real home directory, git config or clock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from complaintctl.cli.app import app
from tests.helpers import ALICE, NOW, Result, Workspace, example_workspace


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
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))  # what the start keeps (cli/start.py)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("COMPLAINTCTL_NOW", NOW)
    monkeypatch.setenv("COMPLAINTCTL_USER", ALICE)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(example_workspace(tmp_path / "ws"))


@pytest.fixture
def run(ws: Workspace) -> Iterator[object]:
    """Run the CLI in the workspace: run('note', ID, 'text') -> Result."""
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None, literal: bool = False) -> Result:
        # '--as X' in a test means X runs the command in their own shell
        # (COMPLAINTCTL_USER), as a team works; literal=True passes --as as
        # typed, for the tests of entering an action for someone else.
        words = list(args)
        person: dict[str, str] = {}
        if not literal and "--as" in words[:-1]:
            i = words.index("--as")
            person = {"COMPLAINTCTL_USER": words[i + 1]}
            del words[i : i + 2]
        result = runner.invoke(
            app,
            words or ["--help"],
            env={"COMPLAINTCTL_ROOT": str(ws.root), **person, **(env or {})},
        )
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr)

    yield invoke


# CI runs the same examples every time (a red run must be reproducible);
# locally hypothesis explores new ones.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


# 'make test-fast' runs the pure tests only: those that need no workspace on
# disk (no tmp_path, ws or run fixture). Everything else is marked 'slow'.
DISK_FIXTURES = {"tmp_path", "ws", "run"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if DISK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
