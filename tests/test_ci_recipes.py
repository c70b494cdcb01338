"""The CI recipes (.github/workflows/complaints.yml and the GitLab job in
docs/ci.md) run as written: every 'run:' / 'script:' step, in order, in a
fresh virtual environment, on a workspace that keeps the release wheel in
tools/, as docs/ci.md says. pip takes the dependencies from the package
index (the one network this needs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.helpers import example_workspace, git

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def github_steps() -> list[str]:
    workflow = YAML(typ="safe").load((ROOT / ".github" / "workflows" / "complaints.yml").read_text())
    (job,) = workflow["jobs"].values()
    return [step["run"] for step in job["steps"] if "run" in step]


def gitlab_steps() -> list[str]:
    text = (ROOT / "docs" / "ci.md").read_text()
    block = re.search(r"## GitLab CI\n\n```yaml\n(.*?)```", text, re.S)
    assert block, "docs/ci.md has the GitLab job"
    (job,) = YAML(typ="safe").load(block[1]).values()
    return list(job["script"])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True)  # fmt: skip
    (found,) = out.glob("*.whl")
    return found


@pytest.mark.parametrize("recipe", ["github", "gitlab"])
def test_each_ci_recipe_runs_as_written(recipe: str, wheel: Path, tmp_path: Path) -> None:
    steps = github_steps() if recipe == "github" else gitlab_steps()
    assert steps[0].startswith("python -m pip install") and "tools/complaintctl-*.whl" in steps[0]
    ws = example_workspace(tmp_path / "ws")
    (ws / "tools").mkdir()
    (ws / "tools" / wheel.name).write_bytes(wheel.read_bytes())
    git(ws, "add", "tools")
    git(ws, "commit", "-qm", "complaintctl for CI")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTCTL_")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    env["VIRTUAL_ENV"] = str(venv)
    for step in steps:
        done = subprocess.run(["bash", "-ec", step], cwd=ws, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{recipe}: {step}\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}"
    assert (venv / "bin" / "complaintctl").exists()
