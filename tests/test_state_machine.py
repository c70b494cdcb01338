"""A hypothesis state machine over a real workspace, driven through the CLI.

Each example gets its own workspace (``admin.init_workspace`` in a fresh
temp dir) and runs random commands on random cases, with valid and invalid
arguments, while the pinned clock (COMPLAINTCTL_NOW) moves forward. After
every step: the work tree is clean, a success is exactly one commit with the
right trailers and author and a failure is none, the exit code is 0/1/2 with
no traceback, a failure says one line on stderr, and ``complaintctl check``
is silent.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from typer.testing import CliRunner

from complaintctl.cli.app import app
from complaintctl.core.records import case_relpath
from complaintctl.core.times import parse_time
from complaintctl.errors import CaseFileError
from complaintctl.store import workspace, yamlio
from complaintctl.store.policyfile import load as load_policy
from tests.helpers import TwinWriter, case_path, example_workspace

# Real workspaces through the CLI: left out of 'make test-fast'.
pytestmark = pytest.mark.slow

POLICY = load_policy(workspace.defaults_dir() / "policy.yaml")  # the policy init copies
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
# Corrections a clerk makes: a contact detail, the category, urgency, a staff member named later.
CORRECTIONS = [
    ("phone", "13900001111"),
    ("email", "zhang.san@example.com"),
    ("category", "service-attitude"),
    ("urgent", "yes"),
    ("demand", "退还多扣的费用"),
    ("subject-staff", "bob@example.com"),
]
TICK = st.integers(0, 240)  # minutes the clock moves on before the step
AT = st.sampled_from(["now", "valid", "valid-utc", "valid-naive"])
BLANK = st.sampled_from(["", " ", "\t\n"])
VALID_AMOUNTS = ["0", "240.00", "1200.50", "99", "0.5", "100", "5000"]
INVALID_AMOUNTS = [
    "abc",
    "-1",
    "1.234",
    "NaN",
    "Infinity",
    "",
    "1.2.3",
    "1e400",
    "100000000000000000000000000000",
]
# (charged, due) of a billing error; JPY takes whole amounts only.
OVERCHARGES = [("180.00", "120.00"), ("1200.50", "99"), ("0.5", "0"), ("3000", "100")]
MAX_CASES = 4  # beyond this, steps go to the cases there are, to reach deep states
PHONES = ["13812341234", "+86 139 0000 1111", "010-6543-2100"]
# How much more often 'advance' picks a command that moves a case on.
FORWARD = {"propose": 3, "approve": 4, "agree": 4, "close": 2, "followup": 3, "archive": 2, "send": 3}
DAVE, CAROL, ERIN, BOB = (f"{n}@example.com" for n in ("dave", "carol", "erin", "bob"))
# Approvals and sign-offs need the right role: lean towards those who hold one.
APPROVER = st.sampled_from([None, DAVE, DAVE, CAROL, CAROL, ERIN, BOB])
SIGNER = st.sampled_from([None, ERIN, ERIN, CAROL, DAVE, DAVE, BOB])
# An offer number: the latest in some status (or a guess when there is none).
WHICH_OFFER = st.sampled_from(["pending-approval", "open", "any"])
BAD_OFFER_NUMBERS = ["0", "-1", "one", "1.5", "99999999999999999999"]
EVIDENCE_NAMES = ["scan.pdf", "签字 页.jpg", ".hidden", "a b&c.txt", "---", "recording.m4a", "x" * 120]
EVIDENCE = st.lists(
    st.tuples(st.sampled_from(EVIDENCE_NAMES), st.binary(max_size=64)), min_size=1, max_size=3
)
FLAG_CAUSES = ["internal", "external", "unknown"]


# What the aimed rules look for in a case (its data as parsed).
def offer_in(*statuses: str) -> Any:
    return lambda c: (
        c["state"] in ("proposed", "waiting") and any(o["status"] in statuses for o in c.get("offers", []))
    )


def in_state(*states: str) -> Any:
    return lambda c: c["state"] in states


def raised(c: Any) -> bool:
    return c["severity"] != POLICY.severities[0] and c["state"] not in ("closed", "followed-up", "archived")


def drafted(c: Any) -> bool:
    return c["state"] not in ("followed-up", "archived") and any(e["action"] == "draft" for e in c["events"])


class CaseMachine(RuleBasedStateMachine):
    cases = Bundle("cases")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="complaintctl-sm-"))
        self.root = example_workspace(self.tmp / "ws")
        self.runner = CliRunner()
        self.now = START
        self.fault = "none"
        self.commits = self.commit_count()
        self.verified = self.git("rev-parse", "HEAD").strip()
        self.evidence_sent: list[bytes] = []  # what the next agree attaches
        self.files = 0  # temp files written outside the workspace

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
        path = case_path(self.root, case_id)
        return yamlio.load_plain(path.read_text(encoding="utf-8"), str(path), CaseFileError)

    def case_rel(self, case_id: str) -> str:
        return case_relpath(case_id)

    def case_count(self) -> int:
        return sum(1 for _ in (self.root / "cases").rglob("*.yaml"))

    def aimed(self, case_id: str, aim: bool, wanted: Any) -> str:
        """With ``aim``, a case for which ``wanted(data)`` holds, if any: so
        that commands needing a deep state run on one often enough."""
        if aim:
            for path in sorted((self.root / "cases").rglob("*.yaml")):
                if wanted(self.case_data(path.stem)):
                    return path.stem
        return case_id

    def offers(self, case_id: str) -> list[Any]:
        return list(self.case_data(case_id).get("offers", []))

    def offer_no(self, case_id: str, which: str) -> int:
        """The latest offer in status ``which`` ('any': the latest), else 1."""
        offers = [o for o in self.offers(case_id) if which in ("any", o["status"])]
        return offers[-1]["no"] if offers else 1

    def offer_status(self, case_id: str, number: int) -> str | None:
        return next((o["status"] for o in self.offers(case_id) if o["no"] == number), None)

    def temp_file(self, name: str, content: bytes) -> Path:
        """A file outside the workspace (each in its own folder: names may repeat)."""
        self.files += 1
        path = self.tmp / "files" / str(self.files) / name
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
        return path

    def begin(self, tick: int, fault: str, actor: str | None) -> str | None:
        """Move the clock on; return the actor to pass with --as."""
        self.now += timedelta(minutes=tick)
        self.fault = fault
        self.evidence_sent = []
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
        # Each person runs commands in their own shell (COMPLAINTCTL_USER), as
        # self_only actions require; --as for someone else is tested apart.
        env = {"COMPLAINTCTL_ROOT": str(self.root), "COMPLAINTCTL_NOW": self.now.isoformat()}
        if actor is not None:
            env["COMPLAINTCTL_USER"] = actor
        before_state = self.case_data(case_id)["state"] if case_id else None
        result = self.runner.invoke(app, args, env=env)
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

        # The files of the commit: the case file; an agreement also adds its
        # letter and each evidence file, byte for byte, with its SHA-256.
        touched = set(self.git("show", "--name-only", "--format=", "HEAD").split("\n")) - {""}
        expected = {self.case_rel(case_id)}
        event = self.case_data(case_id)["events"][-1]
        if command == "agree":
            assert event["action"] == "agree", out
            expected.add(event["letter"]["file"])
            records = event.get("evidence", [])
            assert [r["sha256"] for r in records] == [
                hashlib.sha256(b).hexdigest() for b in self.evidence_sent
            ], f"{out}\n{records}"
            for record, content in zip(records, self.evidence_sent, strict=True):
                expected.add(record["file"])
                assert (self.root / record["file"]).read_bytes() == content, out
                assert record["bytes"] == len(content), out
        else:
            assert self.evidence_sent == [], out
        assert touched == expected, f"{out}\n{sorted(touched)}"

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

    @invariant()
    def history_verifies(self) -> None:
        # Every commit the CLI made replays: trailers, rules, file = events.
        head = self.git("rev-parse", "HEAD").strip()
        if head == self.verified:
            return
        result = self.runner.invoke(
            app, ["verify", "--since", self.verified], env={"COMPLAINTCTL_ROOT": str(self.root)}
        )
        assert (result.exit_code, result.stdout) == (0, ""), result.stdout
        self.verified = head

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

    @precondition(lambda self: self.case_count() < MAX_CASES)
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
        fault=faults(
            "amount",
            "currency",
            "kind",
            "terms",
            "no-amount",
            "amount-and-overcharge",
            "half-overcharge",
            "charged-without-overcharge",
            "no-overcharge",
            "bad-charged",
        ),
        amount=st.sampled_from(VALID_AMOUNTS),
        bad_amount=st.sampled_from(INVALID_AMOUNTS),
        currency=st.sampled_from(list(POLICY.currencies)),
        kind=st.sampled_from(POLICY.offer_kinds),
        terms=TEXT,
        blank=BLANK,
        bottom_line=st.booleans(),
        overcharge=st.none() | st.none() | st.sampled_from(OVERCHARGES),
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
        bottom_line: bool = False,
        overcharge: tuple[str, str] | None = None,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        if currency == "JPY" and "." in amount:
            amount = "1200"
        if currency == "JPY" and overcharge is not None:
            overcharge = ("1800", "1200")
        if fault == "amount":
            overcharge = None
        if fault == "amount":
            amount = bad_amount
        currency = "XBT" if fault == "currency" else currency
        kind = "bribe" if fault == "kind" else kind
        terms = blank if fault == "terms" else terms
        charged_due = overcharge or OVERCHARGES[0]
        if currency == "JPY":
            charged_due = ("1800", "1200")
        options: list[str] = []
        if fault == "no-amount":
            pass
        elif fault == "amount-and-overcharge":
            options = [
                "--amount",
                amount,
                "--not-overcharge",
                "Goodwill",
                "--overcharge",
                "--charged",
                charged_due[0],
                "--due",
                charged_due[1],
            ]
        elif fault == "half-overcharge":
            options = ["--overcharge", "--charged", charged_due[0]]
        elif fault == "charged-without-overcharge":
            options = [
                "--amount",
                amount,
                "--not-overcharge",
                "Goodwill",
                "--charged",
                charged_due[0],
                "--due",
                charged_due[1],
            ]
        elif fault == "no-overcharge":  # charged not above due
            options = ["--overcharge", "--charged", charged_due[1], "--due", charged_due[0]]
        elif fault == "bad-charged":
            options = ["--overcharge", "--charged", bad_amount, "--due", charged_due[1]]
        elif overcharge is not None:
            options = ["--overcharge", "--charged", overcharge[0], "--due", overcharge[1]]
        else:
            options = ["--amount", amount, "--not-overcharge", "Goodwill"]
        args = [
            "propose",
            case,
            *options,
            "--currency",
            currency,
            "--kind",
            kind,
            "--terms",
            terms,
            *self.at_option(at, case),
        ]
        args += ["--bottom-line"] if bottom_line else []
        self.invoke(args, actor=actor, case_id=case, command="propose", must_fail=fault != "none")

    @rule(
        aim=st.booleans(),
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("offer", "channel", "missing-evidence", "bad-offer", "not-open"),
        give_offer=st.booleans(),
        signed_by=st.none() | TEXT,
        channel=st.none() | st.sampled_from(POLICY.channels),
        evidence=st.just([]) | st.just([]) | EVIDENCE,
        bad_offer=st.sampled_from(BAD_OFFER_NUMBERS),
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
        evidence: list[tuple[str, bytes]] | None = None,
        bad_offer: str = "0",
        aim: bool = False,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        case = self.aimed(case, aim, offer_in("open"))
        offers = self.offers(case)
        open_no = next((o["no"] for o in reversed(offers) if o["status"] == "open"), None)
        args = ["agree", case, *self.at_option(at, case)]
        if fault == "offer":
            args += [str(len(offers) + 1)]
        elif fault == "bad-offer":
            args += [bad_offer]
        elif fault == "not-open":  # an offer that exists but is not open
            closed = [o["no"] for o in offers if o["status"] != "open"]
            args += [str(closed[-1] if closed else len(offers) + 1)]
        elif give_offer and open_no is not None:
            args += [str(open_no)]
        args += [] if signed_by is None else ["--signed-by", signed_by]
        channel = "pigeon" if fault == "channel" else channel
        args += [] if channel is None else ["--channel", channel]
        evidence = evidence or []
        for name, content in evidence:
            args += ["--evidence", str(self.temp_file(name, content))]
        if fault == "missing-evidence":
            args += ["--evidence", str(self.tmp / "files" / "no-such-scan.pdf")]
        self.evidence_sent = [content for _name, content in evidence]
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

    @rule(
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("reason"),
        to=st.sampled_from(TEAM),
        reason=TEXT,
        blank=BLANK,
    )
    def assign(
        self, case: str, tick: int, actor: str | None, at: str, fault: str, to: str, reason: str, blank: str
    ) -> None:
        actor = self.begin(tick, fault, actor)
        reason = blank if fault == "reason" else reason
        args = ["assign", case, "--to", to, "--reason", reason, *self.at_option(at, case)]
        self.invoke(args, actor=actor, case_id=case, command="assign", must_fail=fault != "none")

    @rule(
        aim=st.booleans(),
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("due", "by"),
        text=TEXT,
        by=st.sampled_from(["finance", "billing", *TEAM]),
        due=st.sampled_from(["1d", "7d", "48h", "2026-12-31T17:00"]),
        blank=BLANK,
    )
    def plan(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        text: str,
        by: str,
        due: str,
        blank: str,
        aim: bool = False,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        case = self.aimed(case, aim, in_state("agreed"))
        due = "2000-01-01" if fault == "due" else due
        by = blank if fault == "by" else by
        args = ["plan", case, text, "--by", by, "--due", due, *self.at_option(at, case)]
        self.invoke(args, actor=actor, case_id=case, command="plan", must_fail=fault != "none")

    @rule(
        aim=st.booleans(),
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("measure"),
        number=st.integers(1, 3),
        text=st.none() | TEXT,
    )
    def execute(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        number: int,
        text: str | None,
        aim: bool = False,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        case = self.aimed(case, aim, in_state("agreed"))
        measures = self.case_data(case).get("measures") or []
        number = len(measures) + 1 if fault == "measure" else number
        args = ["execute", case, str(number), *self.at_option(at, case)]
        args += [] if text is None else ["--text", text]
        self.invoke(args, actor=actor, case_id=case, command="execute", must_fail=fault != "none")

    @rule(
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("reason"),
        correction=st.sampled_from(CORRECTIONS),
        reason=TEXT,
        blank=BLANK,
    )
    def correct(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        correction: tuple[str, str],
        reason: str,
        blank: str,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        reason = blank if fault == "reason" else reason
        field, value = correction
        args = ["correct", case, field, value, "--reason", reason, *self.at_option(at, case)]
        self.invoke(args, actor=actor, case_id=case, command="correct", must_fail=fault != "none")

    @rule(
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("reason"),
        which=st.integers(1, 12),
        reason=TEXT,
        blank=BLANK,
    )
    def retract(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        which: int,
        reason: str,
        blank: str,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        reason = blank if fault == "reason" else reason
        args = ["retract", case, str(which), "--reason", reason, *self.at_option(at, case)]
        self.invoke(args, actor=actor, case_id=case, command="retract", must_fail=fault != "none")

    # ------------------------------------------------------------ offers

    def offer_arg(self, case: str, which: str, fault: str, bad: str) -> tuple[str, int | None]:
        """The offer argument: the latest in status ``which``, or a wrong one."""
        if fault == "offer":
            return str(len(self.offers(case)) + 1), None
        if fault == "bad-offer":
            return bad, None
        number = self.offer_no(case, which)
        return str(number), number

    @rule(
        aim=st.booleans(),
        case=cases,
        tick=TICK,
        actor=APPROVER,
        at=AT,
        fault=faults("offer", "bad-offer"),
        which=WHICH_OFFER,
        bad=st.sampled_from(BAD_OFFER_NUMBERS),
    )
    def approve(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        which: str,
        bad: str,
        aim: bool = False,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        case = self.aimed(case, aim, offer_in("pending-approval"))
        arg, number = self.offer_arg(case, which, fault, bad)
        offer = next((o for o in self.offers(case) if o["no"] == number), None)
        must_fail = fault != "none" or offer is None or offer["status"] != "pending-approval"
        must_fail = must_fail or offer["by"] == (actor or DEFAULT_ACTOR)
        args = ["approve", case, arg, *self.at_option(at, case)]
        result = self.invoke(args, actor=actor, case_id=case, command="approve", must_fail=must_fail)
        if result.exit_code == 0:
            assert self.offer_status(case, number or 0) == "open", result.stdout

    @rule(
        aim=st.booleans(),
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("offer", "bad-offer"),
        which=WHICH_OFFER,
        bad=st.sampled_from(BAD_OFFER_NUMBERS),
        reason=st.none() | TEXT,
    )
    def refuse(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        which: str,
        bad: str,
        reason: str | None,
        aim: bool = False,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        case = self.aimed(case, aim, offer_in("open"))
        arg, number = self.offer_arg(case, which, fault, bad)
        must_fail = fault != "none" or self.offer_status(case, number or 0) != "open"
        args = ["refuse", case, arg, *self.at_option(at, case)]
        args += [] if reason is None else ["--reason", reason]
        result = self.invoke(args, actor=actor, case_id=case, command="refuse", must_fail=must_fail)
        if result.exit_code == 0:
            assert self.offer_status(case, number or 0) == "refused", result.stdout

    @rule(
        aim=st.booleans(),
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("offer", "bad-offer", "reason"),
        which=WHICH_OFFER,
        bad=st.sampled_from(BAD_OFFER_NUMBERS),
        reason=TEXT,
        blank=BLANK,
    )
    def withdraw(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        which: str,
        bad: str,
        reason: str,
        blank: str,
        aim: bool = False,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        case = self.aimed(case, aim, offer_in("open", "pending-approval"))
        arg, number = self.offer_arg(case, which, fault, bad)
        status = self.offer_status(case, number or 0)
        must_fail = fault != "none" or status not in ("open", "pending-approval")
        reason = blank if fault == "reason" else reason
        args = ["withdraw", case, arg, "--reason", reason, *self.at_option(at, case)]
        result = self.invoke(args, actor=actor, case_id=case, command="withdraw", must_fail=must_fail)
        if result.exit_code == 0:
            assert self.offer_status(case, number or 0) == "withdrawn", result.stdout

    # ------------------------------------------------------------ waiting

    @rule(
        aim=st.booleans(),
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("reason"),
        reason=TEXT,
        blank=BLANK,
    )
    def wait(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        reason: str,
        blank: str,
        aim: bool = False,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        case = self.aimed(case, aim, in_state("in-progress", "proposed"))
        reason = blank if fault == "reason" else reason
        args = ["wait", case, "--reason", reason, *self.at_option(at, case)]
        self.invoke(args, actor=actor, case_id=case, command="wait", must_fail=fault != "none")

    @rule(aim=st.booleans(), case=cases, tick=TICK, actor=ACTOR, at=AT, fault=faults(), text=st.none() | TEXT)
    def resume(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        text: str | None,
        aim: bool = False,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        case = self.aimed(case, aim, in_state("waiting"))
        args = ["resume", case, *self.at_option(at, case)]
        args += [] if text is None else [text]
        self.invoke(args, actor=actor, case_id=case, command="resume", must_fail=fault != "none")

    # ------------------------------------------------------------ severity

    @rule(
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("nothing", "reason", "collective", "cause"),
        marks=st.lists(st.sampled_from(["--risk", "--lawsuit", "--media"]), unique=True, max_size=2),
        collective=st.none() | st.integers(2, 15),
        bad_collective=st.sampled_from(["1", "0", "-3", "many"]),
        cause=st.none() | st.sampled_from(FLAG_CAUSES),
        reason=TEXT,
        blank=BLANK,
    )
    def flag(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        marks: list[str],
        collective: int | None,
        bad_collective: str,
        cause: str | None,
        reason: str,
        blank: str,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        options = list(marks)
        options += [] if collective is None else ["--collective", str(collective)]
        options += [] if cause is None else ["--cause", cause]
        if fault == "nothing":
            options = []
        elif not options:
            options = ["--risk"]
        if fault == "collective":
            options += ["--collective", bad_collective]
        elif fault == "cause":
            options += ["--cause", "aliens"]
        reason = blank if fault == "reason" else reason
        args = ["flag", case, *options, "--reason", reason, *self.at_option(at, case)]
        self.invoke(args, actor=actor, case_id=case, command="flag", must_fail=fault != "none")

    @rule(
        aim=st.booleans(),
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("to", "not-lower", "reason"),
        pick=st.integers(0, 10),
        reason=TEXT,
        blank=BLANK,
    )
    def lower(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        pick: int,
        reason: str,
        blank: str,
        aim: bool = False,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        case = self.aimed(case, aim, raised)
        current = POLICY.severities.index(self.case_data(case)["severity"])
        below = POLICY.severities[:current] or POLICY.severities[:1]
        to = below[pick % len(below)]
        # Severity may rise before the command runs, never above the top: the
        # top is never lower.
        to = {"to": "apocalyptic", "not-lower": POLICY.severities[-1]}.get(fault, to)
        reason = blank if fault == "reason" else reason
        args = ["lower", case, "--to", to, "--reason", reason, *self.at_option(at, case)]
        result = self.invoke(args, actor=actor, case_id=case, command="lower", must_fail=fault != "none")
        if result.exit_code == 0:
            assert self.case_data(case)["severity"] == to, result.stdout

    # ------------------------------------------------------------ written replies

    @rule(
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("text", "neither", "both", "no-file", "not-utf8"),
        text=TEXT,
        blank=BLANK,
        from_file=st.booleans(),
    )
    def draft(
        self,
        case: str,
        tick: int,
        actor: str | None,
        at: str,
        fault: str,
        text: str,
        blank: str,
        from_file: bool,
    ) -> None:
        actor = self.begin(tick, fault, actor)
        text = blank if fault == "text" else text
        args = ["draft", case, *self.at_option(at, case)]
        if fault == "neither":
            pass
        elif fault == "both":
            args += ["--text", text, "--file", str(self.temp_file("reply.txt", text.encode()))]
        elif fault == "no-file":
            args += ["--file", str(self.tmp / "files" / "no-such-reply.txt")]
        elif fault == "not-utf8":
            args += ["--file", str(self.temp_file("reply.txt", b"\xff\xfe" + text.encode("utf-16-le")))]
        elif from_file:
            args += ["--file", str(self.temp_file("reply.txt", text.encode()))]
        else:
            args += ["--text", text]
        self.invoke(args, actor=actor, case_id=case, command="draft", must_fail=fault != "none")

    @rule(aim=st.booleans(), case=cases, tick=TICK, actor=SIGNER, at=AT, fault=faults())
    def signoff(
        self, case: str, tick: int, actor: str | None, at: str, fault: str, aim: bool = False
    ) -> None:
        actor = self.begin(tick, fault, actor)
        case = self.aimed(case, aim, drafted)
        events = self.case_data(case)["events"]
        drafts = [e for e in events if e["action"] == "draft"]
        # No draft, or the actor wrote the latest one: nothing to sign off.
        must_fail = fault != "none" or not drafts or drafts[-1]["by"] == (actor or DEFAULT_ACTOR)
        args = ["signoff", case, *self.at_option(at, case)]
        self.invoke(args, actor=actor, case_id=case, command="signoff", must_fail=must_fail)

    @rule(
        aim=st.booleans(),
        case=cases,
        tick=TICK,
        actor=ACTOR,
        at=AT,
        fault=faults("channel"),
        channel=st.sampled_from(POLICY.channels),
    )
    def send(
        self, case: str, tick: int, actor: str | None, at: str, fault: str, channel: str, aim: bool = False
    ) -> None:
        actor = self.begin(tick, fault, actor)
        case = self.aimed(case, aim, drafted)
        events = self.case_data(case)["events"]
        drafts = [e["draft"] for e in events if e["action"] == "draft"]
        signed = {
            e["signoff"] for e in events if e["action"] == "signoff" and drafts and e["draft"] == drafts[-1]
        }
        complete = bool(drafts) and signed == {s.name for s in POLICY.reply_signoffs}
        channel = "pigeon" if fault == "channel" else channel
        args = ["send", case, "--channel", channel, *self.at_option(at, case)]
        self.invoke(
            args, actor=actor, case_id=case, command="send", must_fail=fault != "none" or not complete
        )

    @rule(case=cases, tick=TICK, actor=ACTOR, data=st.data())
    def advance(self, case: str, tick: int, actor: str | None, data: st.DataObject) -> None:
        """A command the lifecycle allows now, with valid arguments: reaches the deep states."""
        state = self.case_data(case)["state"]
        statuses = {o["status"] for o in self.offers(case)}
        events = self.case_data(case)["events"]
        drafts = [e["draft"] for e in events if e["action"] == "draft"]
        signed = [e for e in events if e["action"] == "signoff" and drafts and e["draft"] == drafts[-1]]
        possible = {
            "approve": "pending-approval" in statuses,
            "agree": "open" in statuses,
            "refuse": "open" in statuses,
            "withdraw": bool(statuses & {"open", "pending-approval"}),
            "signoff": bool(drafts) and len(signed) < len(POLICY.reply_signoffs),
            "send": bool(drafts) and len(signed) == len(POLICY.reply_signoffs),
            # A new draft needs all its sign-offs again: draft when none waits.
            "draft": not drafts or any(e["action"] == "send" and e["draft"] == drafts[-1] for e in events),
        }
        weights = dict(FORWARD)
        if statuses & {"open", "pending-approval"}:
            weights["propose"] = 1  # a new offer supersedes the one on the table
        commands = [
            c
            for c in POLICY.allowed_commands(state)
            if possible.get(c, True)
            for _ in range(weights.get(c, 1))
        ]
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
                draw(st.booleans()),
                draw(st.none() | st.none() | st.sampled_from(OVERCHARGES)),
            )
        elif command == "agree":
            self.agree(
                case,
                tick,
                actor,
                at,
                "none",
                draw(st.booleans()),
                draw(st.none() | TEXT),
                None,
                draw(st.just([]) | EVIDENCE),
            )
        elif command == "approve":
            # Someone else whose limit covers any amount: dave (manager) or erin (executive).
            pending = [o for o in self.offers(case) if o["status"] == "pending-approval"]
            who = ERIN if pending and pending[-1]["by"] == DAVE else DAVE
            self.approve(case, tick, who, at, "none", "pending-approval", "")
        elif command == "refuse":
            self.refuse(case, tick, actor, at, "none", "open", "", draw(st.none() | TEXT))
        elif command == "withdraw":
            which = draw(st.sampled_from(["open", "pending-approval"]))
            self.withdraw(case, tick, actor, at, "none", which, "", draw(TEXT), "")
        elif command == "wait":
            self.wait(case, tick, actor, at, "none", draw(TEXT), "")
        elif command == "resume":
            self.resume(case, tick, actor, at, "none", draw(st.none() | TEXT))
        elif command == "flag":
            marks = draw(
                st.lists(st.sampled_from(["--risk", "--lawsuit", "--media"]), unique=True, max_size=2)
            )
            collective = draw(st.none() | st.integers(2, 15))
            cause = draw(st.none() | st.sampled_from(FLAG_CAUSES))
            self.flag(case, tick, actor, at, "none", marks, collective, "", cause, draw(TEXT), "")
        elif command == "lower":
            self.lower(case, tick, actor, at, "none", draw(st.integers(0, 10)), draw(TEXT), "")
        elif command == "draft":
            self.draft(case, tick, actor, at, "none", draw(TEXT), "", draw(st.booleans()))
        elif command == "signoff":
            # The next sign-off by someone who holds it: erin (legal), then carol or dave.
            events = self.case_data(case)["events"]
            drafts = [e["draft"] for e in events if e["action"] == "draft"]
            done = [e for e in events if e["action"] == "signoff" and drafts and e["draft"] == drafts[-1]]
            who = ERIN if not done else draw(st.sampled_from([CAROL, DAVE]))
            self.signoff(case, tick, who, at, "none")
        elif command == "send":
            self.send(case, tick, actor, at, "none", draw(st.sampled_from(POLICY.channels)))
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
                True,  # dropped unless the resolution is a settlement
            )
        elif command == "followup":
            self.followup(case, tick, actor, at, "none", draw(st.integers(1, 5)), 0, None)
        elif command == "archive":
            self.archive(case, tick, actor, at, "none", "")
        elif command == "reopen":
            self.reopen(case, tick, actor, at, "none", draw(TEXT), "")
        elif command == "assign":
            self.assign(case, tick, actor, at, "none", draw(st.sampled_from(TEAM)), draw(TEXT), "")
        elif command == "correct":
            self.correct(case, tick, actor, at, "none", draw(st.sampled_from(CORRECTIONS)), draw(TEXT), "")
        elif command == "retract":
            notes = [i for i, e in enumerate(self.case_data(case)["events"], 1) if e["action"] == "note"]
            which = draw(st.sampled_from(notes)) if notes else 1
            self.retract(case, tick, actor, at, "none", which, draw(TEXT), "")
        else:
            raise AssertionError(f"advance does not know '{command}'; add it here")

    @rule(case=cases, tick=TICK, actor=ACTOR, data=st.data())
    def advance_again(self, case: str, tick: int, actor: str | None, data: st.DataObject) -> None:
        """The same again, so that many steps move cases along."""
        self.advance(case, tick, actor, data)

    @rule(case=cases, tick=TICK, actor=ACTOR, data=st.data(), steps=st.integers(2, 4))
    def advance_run(self, case: str, tick: int, actor: str | None, data: st.DataObject, steps: int) -> None:
        """A few in a row, checking the invariants after each: hypothesis
        switches rules off per example (swarm testing), and a case needs
        propose, approve and agree in turn to reach agreed and beyond."""
        for step in range(steps):
            if step:
                self.tree_is_clean()
                self.every_case_is_valid()
            self.advance(case, tick // steps, actor if step == 0 else None, data)


def test_cli_state_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every rewrite of a case is also made as before store/yamlemit (ruamel's
    # round trip), and the two texts compared.
    twin = TwinWriter(monkeypatch)
    run_state_machine_as_test(
        CaseMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    assert twin.fast > 0 and twin.checked >= twin.fast
