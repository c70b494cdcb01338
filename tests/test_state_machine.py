"""A hypothesis state machine over a real workspace, driven through the CLI.

Each example gets its own workspace (``service.init_workspace`` in a fresh
temp dir) and runs random commands on random cases, with valid and invalid
arguments, while the pinned clock (COMPLAINTCTL_NOW) moves forward. After
every step: the work tree is clean, a success is exactly one commit with the
right trailers and author and a failure is none, the exit code is 0/1/2 with
no traceback, a failure says one line on stderr, and ``complaintctl check``
is silent.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from typer.testing import CliRunner

from complaintctl import service, yamlio
from complaintctl.cli import app
from complaintctl.errors import CaseFileError
from complaintctl.model import parse_time
from complaintctl.policy import load as load_policy

POLICY = load_policy(service.defaults_dir() / "policy.yaml")  # the policy init copies
START = datetime.fromisoformat("2026-11-22T10:00:00+08:00")
DEFAULT_ACTOR = "alice@example.com"  # COMPLAINTCTL_USER, set by conftest
TEAM = [m.id for m in POLICY.team]
TRAILERS = ("Case", "Action", "From", "To", "Actor")


# Each rule draws one "fault": usually none, else the one thing made wrong.
COMMON_FAULTS = ("outsider", "future", "before-last", "garbage-at")


def faults(*specific: str) -> st.SearchStrategy[str]:
    return st.sampled_from(["none"] * 14 + [*COMMON_FAULTS, *specific])


def _not_an_option(text: str) -> str:
    return "x" + text if text.startswith("-") else text


WORDS = st.sampled_from(
    [
        "张三",
        "退款未到账",
        "😀",
        "it's",
        '"quoted"',
        "a: b",
        "#1",
        "&x",
        "*y",
        "yes",
        "null",
        "2026-01-01",
        "012",
        " padded ",
        "line one\nline two",
        "  ",
        "",
    ]
)
TEXT = st.lists(WORDS, min_size=1, max_size=3).map(" ".join).map(_not_an_option)
ACTOR = st.none() | st.sampled_from(TEAM)
TICK = st.integers(0, 240)  # minutes the clock moves on before the step
AT = st.sampled_from(["now", "valid", "valid-utc", "valid-naive"])
BLANK = st.sampled_from(["", " ", "\t\n"])
VALID_AMOUNTS = ["0", "240.00", "1,200.50", "99", "0.5", "1E+2"]
# '1e400' and '100000000000000000000000000000' are left out: they crash
# model.money with decimal.InvalidOperation (reported as a bug).
INVALID_AMOUNTS = ["abc", "-1", "1.234", "NaN", "Infinity", "", "1.2.3"]
PHONES = ["13812341234", "+86 139 0000 1111", "010-6543-2100"]


class CaseMachine(RuleBasedStateMachine):
    cases = Bundle("cases")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="complaintctl-sm-"))
        self.root = service.init_workspace(self.tmp / "ws")
        self.runner = CliRunner()
        self.now = START
        self.fault = "none"
        self.commits = self.commit_count()

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------ plumbing

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.root, check=True, capture_output=True, text=True
        ).stdout

    def commit_count(self) -> int:
        return int(self.git("rev-list", "--count", "HEAD"))

    def case_data(self, case_id: str) -> Any:
        path = self.root / "cases" / case_id[2:6] / case_id[6:8] / f"{case_id}.yaml"
        return yamlio.load_plain(path.read_text(encoding="utf-8"), str(path), CaseFileError)

    def begin(self, tick: int, fault: str, actor: str | None) -> str | None:
        """Move the clock on; return the actor to pass with --as."""
        self.now += timedelta(minutes=tick)
        self.fault = fault
        return "mallory@example.com" if fault == "outsider" else actor

    def at_option(self, how: str, case_id: str | None) -> list[str]:
        if self.fault in ("future", "before-last", "garbage-at"):
            how = self.fault
        last = self.now - timedelta(days=2)
        if case_id is not None:
            last = parse_time(self.case_data(case_id)["events"][-1]["at"])
        mid = last + (self.now - last) / 2
        value = {
            "now": None,
            "valid": mid.isoformat(timespec="seconds"),
            "valid-utc": mid.astimezone(UTC).isoformat(timespec="seconds"),
            "valid-naive": mid.astimezone(ZoneInfo(POLICY.timezone))
            .replace(tzinfo=None)
            .isoformat(timespec="seconds"),
            "future": (self.now + timedelta(hours=1)).isoformat(timespec="seconds"),
            "before-last": (last - timedelta(minutes=1)).isoformat(timespec="seconds"),
            "garbage-at": "last tuesday",
        }[how]
        return [] if value is None else ["--at", value]

    def invoke(
        self,
        args: list[str],
        *,
        actor: str | None,
        case_id: str | None = None,
        command: str | None = None,
        kind: str | None = None,
        must_fail: bool = False,
    ) -> Any:
        """Run one command and check every per-step property of its result."""
        if self.fault in COMMON_FAULTS and not (self.fault == "before-last" and case_id is None):
            must_fail = True
        if actor is not None:
            args = [*args, "--as", actor]
        before_state = self.case_data(case_id)["state"] if case_id else None
        result = self.runner.invoke(
            app,
            args,
            env={"COMPLAINTCTL_ROOT": str(self.root), "COMPLAINTCTL_NOW": self.now.isoformat()},
        )
        out = f"{args!r}\nexit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"

        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{out}\nexception: {result.exception!r}"
        )
        assert "Traceback" not in result.stdout + result.stderr, out
        assert result.exit_code in (0, 1, 2), out
        commits = self.commit_count()
        if result.exit_code == 0:
            assert commits == self.commits + 1, out
        else:
            assert commits == self.commits, out
            lines = result.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("complaintctl: "), out
        self.commits = commits
        if must_fail:
            assert result.exit_code != 0, out
        if (
            command is not None
            and before_state is not None
            and (POLICY.transition(command, before_state, kind) is None)
        ):
            assert result.exit_code != 0, f"{command} is not allowed from {before_state}\n{out}"

        if result.exit_code == 0:
            self.check_head(result, out, actor or DEFAULT_ACTOR, case_id, command, before_state, kind)
        return result

    def check_head(
        self,
        result: Any,
        out: str,
        actor: str,
        case_id: str | None,
        command: str | None,
        before: str | None,
        kind: str | None,
    ) -> None:
        email, body = self.git("log", "-1", "--format=%ae%x00%B").split("\0", 1)
        assert email == actor, out
        found = dict(line.split(": ", 1) for line in body.splitlines() if line.startswith("Complaintctl-"))
        for key in TRAILERS:
            assert f"Complaintctl-{key}" in found, f"{out}\n{body}"
        assert found["Complaintctl-Actor"] == actor, body
        if case_id is None:  # open
            case_id = result.stdout.strip().splitlines()[-1]
            assert found["Complaintctl-Action"] == "open", body
            assert found["Complaintctl-From"] == "-", body
            assert found["Complaintctl-To"] == POLICY.initial, body
        else:
            assert command is not None and before is not None
            after = self.case_data(case_id)["state"]
            transition = POLICY.transition(command, before, kind)
            assert transition is not None, out
            assert after == (transition.to or before), out
            assert found["Complaintctl-Action"] == command, body
            assert found["Complaintctl-From"] == before, body
            assert found["Complaintctl-To"] == after, body
        assert found["Complaintctl-Case"] == case_id, body

    # ------------------------------------------------------------ invariants

    @invariant()
    def tree_is_clean(self) -> None:
        assert self.git("status", "--porcelain", "--untracked-files=all") == ""

    @invariant()
    def every_case_is_valid(self) -> None:
        for path in sorted((self.root / "cases").rglob("*.yaml")):
            data = yamlio.load_plain(path.read_text(encoding="utf-8"), str(path), CaseFileError)
            assert data["state"] in POLICY.states, path
        result = self.runner.invoke(app, ["check"], env={"COMPLAINTCTL_ROOT": str(self.root)})
        assert (result.exit_code, result.stdout, result.stderr) == (0, "", ""), result.stdout

    # ------------------------------------------------------------ rules

    @initialize(target=cases)
    def first_case(self) -> Any:
        result = self.invoke(
            [
                "open",
                "--customer",
                "张三",
                "--phone",
                PHONES[0],
                "--channel",
                "phone",
                "--category",
                "billing",
                "--summary",
                "Charged twice",
            ],
            actor=None,
        )
        assert result.exit_code == 0, result.stderr
        return result.stdout.strip()

    @rule(
        target=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults(
            "customer", "phone", "channel", "category", "summary", "severity", "owner", "recused", "email"
        ),
        customer=TEXT,
        phone=st.sampled_from(PHONES),
        channel=st.sampled_from(POLICY.channels),
        category=st.sampled_from(["billing", "other", "delivery-delay"]),
        summary=TEXT,
        severity=st.none() | st.sampled_from(POLICY.severities),
        urgent=st.booleans(),
        staff=st.lists(st.sampled_from(TEAM), unique=True, max_size=2),
        owner=st.none() | st.sampled_from(TEAM),
        demand=st.none() | TEXT,
        blank=BLANK,
    )
    def open_case(
        self,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        customer: str,
        phone: str,
        channel: str,
        category: str,
        summary: str,
        severity: str | None,
        urgent: bool,
        staff: list[str],
        owner: str | None,
        demand: str | None,
        blank: str,
    ) -> Any:
        actor = self.begin(tick, fault, actor)
        who = actor or DEFAULT_ACTOR
        staff = [s for s in staff if s != who and s != (owner or who)]
        bad = {
            "customer": ("customer", blank),
            "phone": ("phone", "call me"),
            "channel": ("channel", "pigeon"),
            "category": ("category", "gossip"),
            "summary": ("summary", blank),
            "severity": ("severity", "apocalyptic"),
            "owner": ("owner", "nobody@example.com"),
            "email": ("email", "not-an-address"),
        }
        values = {
            "customer": customer,
            "phone": phone,
            "channel": channel,
            "category": category,
            "summary": summary,
            "severity": severity,
            "owner": owner,
            "email": None,
        }
        if fault in bad:
            values[bad[fault][0]] = bad[fault][1]
        if fault == "recused":
            staff = [who]
        args = ["open"]
        for key, value in values.items():
            args += [] if value is None else [f"--{key}", value]
        args += ["--urgent"] if urgent else []
        args += [a for s in staff for a in ("--subject-staff", s)]
        args += [] if demand is None else ["--demand", demand]
        args += self.at_option(at, None)
        # No case yet, so 'before-last' is just a valid time for open.
        result = self.invoke(args, actor=actor, must_fail=fault not in ("none", "before-last"))
        if result.exit_code == 0:
            return result.stdout.strip()
        return multiple()

    @rule(
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("kind", "channel", "text", "no-channel"),
        kind=st.sampled_from(list(POLICY.note_kinds)),
        channel=st.none() | st.sampled_from(POLICY.channels),
        text=TEXT,
        blank=BLANK,
    )
    def note(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        kind: str,
        channel: str | None,
        text: str,
        blank: str,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        if kind == "contact-failed" and channel is None:
            channel = "phone"
        kind, channel, text = {
            "kind": ("gossip", channel, text),
            "channel": (kind, "pigeon", text),
            "text": (kind, channel, blank),
            "no-channel": ("contact-failed", None, text),
        }.get(fault, (kind, channel, text))
        args = ["note", case, text, "--kind", kind, *self.at_option(at, case)]
        args += [] if channel is None else ["--channel", channel]
        self.invoke(args, actor=actor, case_id=case, command="note", kind=kind, must_fail=fault != "none")

    @rule(
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("amount", "currency", "kind", "terms"),
        amount=st.sampled_from(VALID_AMOUNTS),
        bad_amount=st.sampled_from(INVALID_AMOUNTS),
        currency=st.sampled_from(list(POLICY.currencies)),
        kind=st.sampled_from(POLICY.offer_kinds),
        terms=TEXT,
        blank=BLANK,
    )
    def propose(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        amount: str,
        bad_amount: str,
        currency: str,
        kind: str,
        terms: str,
        blank: str,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        if currency == "JPY" and "." in amount:
            amount = "1200"
        if fault == "amount":
            amount = bad_amount
        currency = "XBT" if fault == "currency" else currency
        kind = "bribe" if fault == "kind" else kind
        terms = blank if fault == "terms" else terms
        args = [
            "propose",
            case,
            "--amount",
            amount,
            "--currency",
            currency,
            "--kind",
            kind,
            "--terms",
            terms,
            *self.at_option(at, case),
        ]
        self.invoke(args, actor=actor, case_id=case, command="propose", must_fail=fault != "none")

    @rule(
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("offer", "channel"),
        give_offer=st.booleans(),
        signed_by=st.none() | TEXT,
        channel=st.none() | st.sampled_from(POLICY.channels),
    )
    def agree(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        give_offer: bool,
        signed_by: str | None,
        channel: str | None,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        offers = self.case_data(case).get("offers", [])
        open_no = next((o["no"] for o in reversed(offers) if o["status"] == "open"), None)
        args = ["agree", case, *self.at_option(at, case)]
        if fault == "offer":
            args += [str(len(offers) + 1)]
        elif give_offer and open_no is not None:
            args += [str(open_no)]
        args += [] if signed_by is None else ["--signed-by", signed_by]
        channel = "pigeon" if fault == "channel" else channel
        args += [] if channel is None else ["--channel", channel]
        self.invoke(args, actor=actor, case_id=case, command="agree", must_fail=fault != "none")

    @rule(
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("reason", "to"),
        reason=TEXT,
        blank=BLANK,
        to=st.none() | st.sampled_from(TEAM),
    )
    def escalate(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        reason: str,
        blank: str,
        to: str | None,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        reason = blank if fault == "reason" else reason
        to = "nobody@example.com" if fault == "to" else to
        args = ["escalate", case, "--reason", reason, *self.at_option(at, case)]
        args += [] if to is None else ["--to", to]
        self.invoke(args, actor=actor, case_id=case, command="escalate", must_fail=fault != "none")

    @rule(
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("resolution", "executed"),
        resolution=st.sampled_from(list(POLICY.resolutions)),
        text=st.none() | TEXT,
        executed=st.booleans(),
    )
    def close(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        resolution: str,
        text: str | None,
        executed: bool,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        spec = POLICY.resolutions[resolution]
        executed = executed and spec.final_when_executed
        if fault == "resolution":
            resolution = "vanished"
        elif fault == "executed":
            resolution = next(r for r, s in POLICY.resolutions.items() if not s.final_when_executed)
            executed = True
        args = ["close", case, "--resolution", resolution, *self.at_option(at, case)]
        args += ["--executed"] if executed else []
        args += [] if text is None else [text]
        self.invoke(args, actor=actor, case_id=case, command="close", must_fail=fault != "none")

    @rule(
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("both", "neither", "range"),
        satisfaction=st.none() | st.integers(1, 5),
        out_of_range=st.sampled_from([0, 6, -1, 99]),
        text=st.none() | TEXT,
    )
    def followup(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        satisfaction: int | None,
        out_of_range: int,
        text: str | None,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        unreachable = satisfaction is None
        if fault == "both":
            satisfaction, unreachable = satisfaction or 3, True
        elif fault == "neither":
            satisfaction, unreachable = None, False
        elif fault == "range":
            satisfaction, unreachable = out_of_range, False
        args = ["followup", case, *self.at_option(at, case)]
        args += [] if satisfaction is None else ["--satisfaction", str(satisfaction)]
        args += ["--unreachable"] if unreachable else []
        args += [] if text is None else [text]
        self.invoke(args, actor=actor, case_id=case, command="followup", must_fail=fault != "none")

    @rule(
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("no-such-case"),
        other=st.sampled_from(["C-20261122-ZZZZZZ", "c-20261122-zzzzzz", "nonsense", "../policy", ""]),
    )
    def archive(self, case: str, tick: int, actor: str | None, at: str, fault: str, other: str) -> None:
        actor = self.begin(tick, fault, actor)
        if fault == "no-such-case":
            self.invoke(["archive", other], actor=actor, must_fail=True)
            return
        args = ["archive", case, *self.at_option(at, case)]
        self.invoke(args, actor=actor, case_id=case, command="archive", must_fail=fault != "none")

    @rule(case=cases, tick=TICK, actor=ACTOR, at=AT, fault=faults("reason"), reason=TEXT, blank=BLANK)
    def reopen(
        self, case: str, tick: int, actor: str | None, at: str, fault: str, reason: str, blank: str
    ) -> None:
        actor = self.begin(tick, fault, actor)
        reason = blank if fault == "reason" else reason
        args = ["reopen", case, "--reason", reason, *self.at_option(at, case)]
        self.invoke(args, actor=actor, case_id=case, command="reopen", must_fail=fault != "none")

    @rule(case=cases, tick=TICK, actor=ACTOR, data=st.data())
    def advance(self, case: str, tick: int, actor: str | None, data: st.DataObject) -> None:
        """A command the lifecycle allows now, with valid arguments: reaches the deep states."""
        state = self.case_data(case)["state"]
        commands = POLICY.allowed_commands(state)
        if not commands:
            self.begin(tick, "none", actor)
            return
        command, draw = data.draw(st.sampled_from(commands)), data.draw
        at = draw(AT)
        if command == "note":
            kind = draw(st.sampled_from(list(POLICY.note_kinds)))
            self.note(
                case, tick, actor, at, "none", kind, draw(st.sampled_from(POLICY.channels)), draw(TEXT), ""
            )
        elif command == "propose":
            self.propose(
                case,
                tick,
                actor,
                at,
                "none",
                draw(st.sampled_from(VALID_AMOUNTS)),
                "",
                draw(st.sampled_from(list(POLICY.currencies))),
                draw(st.sampled_from(POLICY.offer_kinds)),
                draw(TEXT),
                "",
            )
        elif command == "agree":
            self.agree(case, tick, actor, at, "none", draw(st.booleans()), draw(st.none() | TEXT), None)
        elif command == "escalate":
            self.escalate(case, tick, actor, at, "none", draw(TEXT), "", None)
        elif command == "close":
            names = [r for r, spec in POLICY.resolutions.items() if spec.requires_state in (None, state)]
            self.close(
                case,
                tick,
                actor,
                at,
                "none",
                draw(st.sampled_from(names)),
                draw(st.none() | TEXT),
                draw(st.booleans()),
            )
        elif command == "followup":
            self.followup(case, tick, actor, at, "none", draw(st.integers(1, 5)), 0, None)
        elif command == "archive":
            self.archive(case, tick, actor, at, "none", "")
        else:
            self.reopen(case, tick, actor, at, "none", draw(TEXT), "")

    @rule(case=cases, tick=TICK, actor=ACTOR, data=st.data())
    def advance_again(self, case: str, tick: int, actor: str | None, data: st.DataObject) -> None:
        """The same again, so that half the steps move cases along."""
        self.advance(case, tick, actor, data)


def test_cli_state_machine() -> None:
    run_state_machine_as_test(
        CaseMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
