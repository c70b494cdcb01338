"""A full disk, for real: a 400 KiB tmpfs in a private mount namespace
(unshare, no root needed where user namespaces are allowed). A change that
cannot be written says so in one line and leaves nothing staged or half
written; once space is freed, the next command just works."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = r"""
set -u
mount -t tmpfs -o size=400k tmpfs "$DISK" || exit 99
cd "$DISK"
export GIT_CONFIG_GLOBAL="$DISK/gitconfig" COMPLAINTCTL_NOW=2026-11-20T09:00:00+08:00
git config --global user.email lead@example.com
git config --global user.name Lead
git config --global init.defaultBranch main
ct() { "$PY" -m complaintctl "$@"; }
ct init ws >/dev/null || exit 98
cd ws
case_id=$(ct open --customer "Li Wei" --phone 13812341234 --channel phone --category billing \
  --summary "Charged twice" --demand "Refund")
before=$(git rev-parse HEAD; sha1sum cases/*/*/*.yaml)
dd if=/dev/zero of="$DISK/filler" bs=1k 2>/dev/null
ct note "$case_id" "$(head -c 3000 /dev/zero | tr '\0' x)" 2>"$OUT/err"
echo "note-exit=$?"
echo "note-err=$(cat "$OUT/err")"
rm "$DISK/filler"
echo "status=[$(git status --porcelain=v1 --untracked-files=all)]"
after=$(git rev-parse HEAD; sha1sum cases/*/*/*.yaml)
[ "$before" = "$after" ] && echo "unchanged=yes"
ct check; echo "check-exit=$?"
ct note "$case_id" "after" >/dev/null; echo "again-exit=$?"
ct verify; echo "verify-exit=$?"
"""


def test_a_full_disk_leaves_nothing_staged_and_says_so(tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to mount a small tmpfs")
    disk, out = tmp_path / "disk", tmp_path / "out"
    disk.mkdir()
    out.mkdir()
    result = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", SCRIPT],
        env={
            "DISK": str(disk),
            "OUT": str(out),
            "PY": sys.executable,
            "PATH": "/usr/bin:/bin:/usr/local/bin",
            "HOME": str(disk),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 99 or "unshare failed" in result.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert lines.get("note-exit") == "1", result.stdout + result.stderr
    assert lines["note-err"].startswith("complaintctl: ")
    assert lines["note-err"].endswith(
        "the disk is full: free some space and run the command again (nothing was recorded)"
    )
    assert lines["status"] == "[]" and lines["unchanged"] == "yes"
    assert (lines["check-exit"], lines["again-exit"], lines["verify-exit"]) == ("0", "0", "0")
