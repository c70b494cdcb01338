"""A release: 'python -m build' makes an sdist and, from it, a wheel whose
'init' finds its defaults (policy.yaml and templates/, copied from the repo's
own: one source). Built offline (--no-isolation, hatchling from the test
dependencies)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_the_sdist_builds_a_wheel_that_carries_the_defaults(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")  # 'build' makes the wheel from the sdist
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    top = names[0].split("/")[0]
    assert f"{top}/templates/agreement.html.j2" in names and f"{top}/policy.yaml" in names
    with zipfile.ZipFile(wheel) as whl:
        inside = whl.namelist()
        assert whl.read("complaintctl/defaults/policy.yaml") == (ROOT / "policy.yaml").read_bytes()
    templates = sorted(p.name for p in (ROOT / "templates").iterdir())
    assert (
        sorted(n.split("/")[-1] for n in inside if n.startswith("complaintctl/defaults/templates/"))
        == templates
    )
    # Installed (its own files only; the dependencies are this environment's), 'init' finds its defaults.
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run([sys.executable, "-P", "-m", "complaintctl", "init", str(tmp_path / "ws"),
                           "--email", "lead@example.com", "--name", "Lead"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ws" / "templates" / "agreement.zh.html.j2").is_file()
    policy = (tmp_path / "ws" / "policy.yaml").read_text()
    assert "  - id: lead@example.com" in policy and policy.endswith((ROOT / "policy.yaml").read_text()[-300:])
    version = subprocess.run([sys.executable, "-P", "-m", "complaintctl", "--version"], env=env,
                             capture_output=True, text=True)  # fmt: skip
    assert version.stdout.startswith("complaintctl ")
