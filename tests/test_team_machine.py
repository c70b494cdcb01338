"""Three people, three clones, one remote: random work and random syncs.

Hypothesis drives notes, offers, escalations, closes and reopens on shared
cases from three clones, with syncs in between. A sync that stops on a case
whose sides cannot both stand is decided with --keep-theirs, and the events
that decision leaves out are read back from the merge commit. At the end
everyone syncs; then every clone has the same history, every event anyone
recorded is in its case (or was left out by a recorded decision), events are
in time order, and verify and check pass.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from typer.testing import CliRunner

from complaintctl.cli.app import app
from complaintctl.errors import CaseFileError
from complaintctl.store import yamlio
from tests.helpers import case_path, example_workspace

# Real workspaces through the CLI: left out of 'make test-fast'.
pytestmark = pytest.mark.slow

PEOPLE = ("alice@example.com", "bob@example.com", "carol@example.com")
START = datetime.fromisoformat("2026-11-20T09:00:00+08:00")
LEFT_OUT = re.compile(r"(\w+) by (\S+) at (\S+?)(?: |;|$)")


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


class Team(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="complaintctl-team-"))
        remote = self.tmp / "remote.git"
        subprocess.run(["git", "init", "--quiet", "--bare", str(remote)], check=True)
        first = example_workspace(self.tmp / "c0")
        git(first, "remote", "add", "origin", str(remote))
        git(first, "push", "--quiet", "-u", "origin", "main")
        self.clones = [first]
        for i in (1, 2):
            subprocess.run(["git", "clone", "--quiet", str(remote), str(self.tmp / f"c{i}")], check=True)
            self.clones.append(self.tmp / f"c{i}")
            assert self.cli(i, "setup")[0] == 0
        self.clock = START
        self.cases = []
        for phone in ("13800000001", "13800000002"):
            code, out, err = self.cli(0, "open", "--customer", "X", "--phone", phone, "--channel", "phone",
                                      "--category", "billing", "--summary", "S", "--at", self.tick())  # fmt: skip
            assert code == 0, err
            self.cases.append(out.strip())
        for i in (0, 1, 2):
            assert self.cli(i, "sync")[0] == 0
        self.recorded: set[tuple[str, str, str]] = set()  # (case, by, at)
        self.left_out: set[tuple[str, str]] = set()  # (by, at)

    def teardown(self) -> None:
        try:
            self.everyone_syncs_and_nothing_is_lost()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------ plumbing

    def tick(self) -> str:
        self.clock += timedelta(minutes=7)
        return self.clock.isoformat(timespec="minutes")

    def cli(self, who: int, *args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(
            app,
            list(args),
            env={"COMPLAINTCTL_ROOT": str(self.clones[who]), "COMPLAINTCTL_USER": PEOPLE[who]},
        )
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    def change(self, who: int, case: int, *args: str) -> None:
        at = self.tick()
        command, rest = args[0], args[1:]
        code, _, err = self.cli(who, command, self.cases[case], *rest, "--at", at)
        assert code in (0, 1), err
        assert len(err.splitlines()) <= 1, err
        if code == 0:
            self.recorded.add((self.cases[case], PEOPLE[who], datetime.fromisoformat(at).isoformat()))

    def sync(self, who: int) -> None:
        keep: list[str] = []
        code, _, err = self.cli(who, "sync")
        while code == 1 and "cannot both stand" in err and len(keep) < 2 * len(self.cases):
            keep += ["--keep-theirs", err.split(": ")[1]]  # one decision per case in conflict
            code, _, err = self.cli(who, "sync", *keep)
        assert code == 0, err
        if keep:
            body = git(self.clones[who], "log", "-1", "--format=%b")
            for line in body.splitlines():
                if "left out: " in line:
                    for _action, by, at in LEFT_OUT.findall(line.split("left out: ", 1)[1]):
                        self.left_out.add((by, at))

    # ------------------------------------------------------------ rules

    @rule(
        who=st.integers(0, 2),
        case=st.integers(0, 1),
        text=st.sampled_from(["Called", "电话已回复", "Checked"]),
    )
    def note(self, who: int, case: int, text: str) -> None:
        self.change(who, case, "note", text)

    @rule(who=st.integers(0, 2), case=st.integers(0, 1))
    def reply(self, who: int, case: int) -> None:
        self.change(who, case, "note", "Answered", "--kind", "reply", "--channel", "phone")

    @rule(
        who=st.integers(0, 2), case=st.integers(0, 1), amount=st.sampled_from(["20.00", "150.00", "900.00"])
    )
    def propose(self, who: int, case: int, amount: str) -> None:
        self.change(who, case, "propose", "--amount", amount, "--not-overcharge", "Goodwill", "--currency", "CNY", "--kind", "refund",
                    "--terms", "Refund")  # fmt: skip

    @rule(who=st.integers(0, 2), case=st.integers(0, 1))
    def escalate(self, who: int, case: int) -> None:
        self.change(who, case, "escalate", "--reason", "Needs a supervisor")

    @rule(who=st.integers(0, 2), case=st.integers(0, 1))
    def close(self, who: int, case: int) -> None:
        self.change(who, case, "close", "--resolution", "explained")

    @rule(who=st.integers(0, 2), case=st.integers(0, 1))
    def reopen(self, who: int, case: int) -> None:
        self.change(who, case, "reopen", "--reason", "Customer called back")

    @rule(who=st.integers(0, 2))
    def sync_now(self, who: int) -> None:
        self.sync(who)

    @invariant()
    def clean_trees(self) -> None:
        for clone in self.clones:
            assert git(clone, "status", "--porcelain", "--untracked-files=all") == ""

    # ------------------------------------------------------------ the end of the day

    def everyone_syncs_and_nothing_is_lost(self) -> None:
        for who in (0, 1, 2, 0, 1):
            self.sync(who)
        heads = {git(clone, "rev-parse", "HEAD") for clone in self.clones}
        assert len(heads) == 1
        root = self.clones[0]
        found = set()
        for case_id in self.cases:
            path = case_path(root, case_id)
            data = yamlio.load_plain(path.read_text(encoding="utf-8"), str(path), CaseFileError)
            times = [datetime.fromisoformat(e["at"]) for e in data["events"]]
            assert times == sorted(times)
            found |= {(case_id, e["by"], datetime.fromisoformat(e["at"]).isoformat()) for e in data["events"]}
        lost = {r for r in self.recorded - found if (r[1], r[2]) not in self.left_out}
        assert not lost, lost
        for command in ("verify", "check"):
            code, out, err = self.cli(0, command)
            assert (code, out) == (0, ""), out + err


TestTeam = Team.TestCase
TestTeam.settings = settings(
    max_examples=6,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
