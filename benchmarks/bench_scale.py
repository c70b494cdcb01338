"""Scale benchmark: complaintctl on workspaces of 1k, 10k and 100k cases.

Run from the repository root:

    .venv/bin/python benchmarks/bench_scale.py [--sizes 1000,10000,100000] [--repeat N] [--keep DIR]

For each size it builds a realistic, valid workspace quickly (case records made
with the pure ``workflow`` functions, written with ``workspace.dump_case`` and
committed with ``git fast-import``, one commit per day of cases), then times
the real CLI in subprocesses and prints a table with the targets. It never
fails on a slow figure: it only reports OK / OVER (exit 0).

Everything runs under /tmp (or --keep DIR) with an isolated git config, so it
works on a machine with no git identity.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from complaintctl.core import events, lifecycle, records, times
from complaintctl.core.policy import Policy
from complaintctl.errors import RuleError
from complaintctl.service import admin, changes, letters
from complaintctl.store import policyfile as policy_mod
from complaintctl.store import workspace
from complaintctl.store.yamlio import dump_roundtrip

BIN = Path(sys.executable).parent  # the venv's bin/: python and the complaintctl script
CLI = str(BIN / "complaintctl")
USER = "alice@example.com"
IMPORTER = b"complaintctl bench <bench@example.com>"

# (figure, size) -> target in seconds.
TARGETS: dict[tuple[str, int], float] = {
    ("change", 10_000): 0.200,
    ("list", 10_000): 0.5,
    ("report", 10_000): 0.5,
    ("report", 100_000): 1.5,
    ("cold", 100_000): 60.0,
}

# ---------------------------------------------------------------- vocabulary

ZH_SURNAMES = [
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("林", "lin"),
    ("罗", "luo"),
    ("郑", "zheng"),
]
ZH_GIVEN = [
    "伟",
    "芳",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "建华",
    "晓东",
]
ZH_GIVEN += ["海燕", "志强", "雪", "宇轩", "子涵", "浩然", "欣怡", "梓萱"]
EN_FIRST = ["James", "Mary", "Robert", "Linda", "Michael", "Sarah", "David", "Emma", "Daniel", "Olivia"]
EN_FIRST += ["Thomas", "Sophie", "Ahmed", "Priya", "Lucas", "Chloe", "Kenji", "Yuki", "Hans", "Ana"]
EN_LAST = ["Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Murphy", "O'Brien"]
EN_LAST += ["Müller", "Garcia", "Rossi", "Kowalski", "Tanaka", "Singh", "Nguyen", "Dubois", "Silva"]
MAIL_DOMAINS = ["example.com", "example.cn", "mail.example.org", "example.net"]
ZH_CITIES = ["上海市浦东新区", "北京市朝阳区", "广州市天河区", "深圳市南山区", "杭州市西湖区", "成都市武侯区"]
ZH_ROADS = ["张杨路", "建国路", "天河北路", "科技园南路", "文三路", "人民南路"]
EN_STREETS = ["Riverside Road", "Harbour Street", "Garden Lane", "Park Avenue", "Station Road"]

SUMMARIES: dict[str, list[tuple[str, str]]] = {
    "product-quality": [
        ("The new washing machine leaks from the bottom", "Replace the machine"),
        ("新买的空调不制冷，维修两次仍未解决", "上门维修或换货"),
        ("Kitchen cabinet door came off after two weeks", "Repair it free of charge"),
    ],
    "service-attitude": [
        ("Front desk staff were rude when I asked about the repair", "An apology"),
        ("客服电话中态度恶劣，并挂断电话", "要求道歉并处理相关人员"),
        ("The repair technician left without finishing and would not explain", "Finish the job"),
    ],
    "delivery-delay": [
        ("Sofa promised for the 3rd, still not delivered", "Deliver this week or refund the deposit"),
        ("快递延误一周，生鲜已变质", "全额退款"),
        ("交房时间比合同约定晚了三个月", "按合同支付逾期交房违约金"),
    ],
    "billing": [
        ("Charged twice for October", "Refund the extra charge"),
        ("物业费账单金额与合同不符", "按合同重新计算并退还差额"),
        ("Late fee charged although I paid on time", "Remove the late fee"),
    ],
    "information-not-given": [
        ("Nobody told us the water would be cut off all day", "Give notice in advance next time"),
        ("购房时未告知小区规划变更", "书面说明并给予补偿"),
    ],
    "construction-quality": [
        ("Cracks in the living-room wall after the rainy season", "Repair the wall and check the structure"),
        ("卫生间漏水到楼下", "尽快维修并赔偿楼下损失"),
        ("外墙瓷砖脱落，存在安全隐患", "立即排查并维修"),
    ],
    "planning-design": [
        ("The new building blocks our sunlight", "Explain the planning permit"),
        ("车位规划与宣传图不一致", "按宣传图调整或赔偿"),
    ],
    "sales-promise": [
        ("Sales promised a free parking space; it is not in the contract", "Honour the promise"),
        ("销售承诺的精装修标准未兑现", "按承诺标准整改"),
    ],
    "property-management": [
        ("Lift in block 5 out of order for ten days", "Fix the lift and reduce the fee"),
        ("小区垃圾清运不及时，异味严重", "每天按时清运"),
        ("Parking barrier does not recognise my plate", "Fix the system"),
    ],
    "other": [
        ("Noise from the neighbouring construction site at night", "Stop work after 22:00"),
        ("快递柜经常故障，取件困难", "维修快递柜"),
    ],
}
REPEAT_SUFFIX = ["; second time I report this", "，已是第二次反映", " (reported before, nothing done)"]
REPLIES = [
    "Called back, apologised, checking the bill",
    "已电话回复客户，说明处理进度",
    "Replied by e-mail with the case number and next steps",
    "当面接待客户，记录诉求并承诺三个工作日内答复",
    "Explained the charge and sent a copy of the contract clause",
]
FINDINGS = [
    "Site visit: crack confirmed in the north wall, about 40 cm",
    "调取监控，确认送货延误两天",
    "Billing system shows a duplicate payment on the 12th",
    "工程部核实：防水层施工存在缺陷",
    "Checked the sales file: the promise is in the chat log, not in the contract",
]
INTERNAL = [
    "Waiting for finance to confirm the refund",
    "已转工程部核实，等待回复",
    "Customer prefers calls after 18:00",
    "Asked the supplier for a replacement date",
    "与法务沟通赔偿口径",
]
NOTICES = ["SMS sent: please call us back about your complaint", "已发送短信，请客户回电"]
FAILED = ["No answer", "电话无人接听", "Number busy, left a voicemail", "客户关机"]
ESCALATE_REASONS = [
    "Customer threatens to go to the media",
    "金额超出一线处理权限",
    "Second complaint on the same matter",
    "客户要求主管出面",
    "Safety risk reported",
]
TERMS = {
    "refund": ["Refund to the original card within 7 days", "7个工作日内原路退款"],
    "credit": ["Credit on the next property-fee bill", "抵扣下季度物业费"],
    "replacement": ["Replace the unit free of charge within 14 days", "14天内免费换新"],
    "repair": ["Repair free of charge, appointment within 5 days", "免费维修，5日内上门"],
    "goodwill": ["Goodwill payment for the inconvenience", "致歉并赠送一个月物业费"],
    "other": ["Written apology and a named contact for future issues", "书面致歉并指定专人跟进"],
}
CLOSE_TEXTS = {
    "agreed": ["Refund paid", "补偿已到账，客户确认", "Repair done, customer signed off"],
    "explained": ["Explained the charge on the phone; customer satisfied", "现场解释后客户表示理解"],
    "withdrawn": ["Customer withdrew: issue solved itself", "客户主动撤回投诉"],
    "rejected": ["Damage caused by the customer's own renovation", "不属于我司责任范围，已书面告知"],
    "referred": ["Referred to the municipal water company", "已转交街道办处理"],
    "decided": ["Mediation committee decision received", "法院判决已生效"],
}
FOLLOWUP_TEXTS = [
    "Happy with the outcome",
    "客户表示满意",
    "Still unhappy about the delay",
    "客户认为处理太慢",
]
SIGNERS = ["the customer", "客户本人", "the customer's spouse"]

CHANNEL_WEIGHTS = {"phone": 40, "email": 20, "in-person": 12, "chat": 15, "letter": 3, "social-media": 10}
AGENTS = ("alice@example.com", "bob@example.com")
SUPERVISOR_TIER = ("carol@example.com", "dave@example.com")
MANAGER_TIER = ("dave@example.com", "erin@example.com")


def weighted(rng: random.Random, table: dict[Any, float]) -> Any:
    return rng.choices(list(table), weights=list(table.values()))[0]


# ---------------------------------------------------------------- case generator


@dataclass(frozen=True)
class Customer:
    name: str
    phone: str | None
    email: str | None
    address: str | None
    account: str | None


@dataclass
class Closed:
    """What a later 'open' of the same customer needs to know about a case."""

    id: str
    category: str
    resolution: str
    executed: bool
    closed_at: datetime


Step = tuple[str, datetime, str, dict[str, Any]]

# Newer complaintctl writes down a rise of severity (time rules) before each change; mirror it.
record_rise = getattr(changes, "_record_rise", None)


class Story:
    """Plays commands on one case through the pure workflow functions."""

    def __init__(self, policy: Policy, case: dict[str, Any], at: datetime, end: datetime, rng: random.Random):
        self.policy, self.case, self.at, self.end, self.rng = policy, case, at, end, rng
        # Only read when a case has a 'matter' (hot-spot peers); ours have none.
        self.ws = workspace.Workspace(Path("/nonexistent"), policy)
        self.steps: list[Step] = []
        self.stopped = False

    def do(self, command: str, gap_hours: tuple[float, float], **kwargs: Any) -> bool:
        """Run ``command`` some hours after the last event; False once time has run out."""
        if self.stopped:
            return False
        at = (self.at + timedelta(hours=self.rng.uniform(*gap_hours))).replace(microsecond=0)
        if at > self.end:
            self.stopped = True
            return False
        actor = kwargs.pop("as_actor", None) or self.case["owner"]
        if record_rise is not None:  # as changes.change_case does before each command
            # The rise is applied to the case in place, through the edit it is handed.
            edit = workspace.CaseEdit(f"cases/{self.case['id']}.yaml", "", self.case)
            record_rise(changes.Context(self.ws, actor, at, self.end), edit)
        if command == "agree":
            kwargs["evidence"] = 1  # the signed consent, as 'agree --evidence FILE' files it
        change = events.EVENTS[command](**kwargs).decide(self.policy, self.case, actor, at, self.end)
        if command == "agree":
            path = f"evidence/{self.case['id']}/offer-{change.event['offer']}-1.pdf"
            sha = hashlib.sha256(CONSENT).hexdigest()
            change.event["evidence"] = [{"file": path, "sha256": sha, "bytes": len(CONSENT)}]
            self.case.setdefault(LETTERS, []).append((path, CONSENT))
        lifecycle.apply(self.case, change)
        if command == "agree":  # the CLI renders the agreement letter and records its hash
            lang = self.policy.letter_language
            letter = letters.agreement(self.ws, self.case, "html", lang).encode("utf-8")
            number = change.event["offer"]
            path = f"evidence/{self.case['id']}/agreement-offer-{number}.html"
            change.event["letter"] = {
                "file": path,
                "sha256": hashlib.sha256(letter).hexdigest(),
                "lang": lang,
            }
            # The letter itself is committed with the case, as 'agree' commits it
            # ('check' compares it with the hash); the worker takes it out.
            self.case.setdefault(LETTERS, []).append((path, letter))
        self.at = at
        self.steps.append((command, at, actor, kwargs))
        return True

    def approve_if_pending(self) -> None:
        """An offer above its proposer's limit is approved by a manager (no limit)."""
        offers = self.case.get("offers") or []
        if offers and offers[-1]["status"] == "pending-approval":
            self.do("approve", (1, 24), number=offers[-1]["no"], as_actor="dave@example.com")


class Generator:
    """Valid, varied case records over the 12 months before ``end``."""

    def __init__(self, policy: Policy, size: int, end: datetime, seed: int = 1):
        self.policy = policy
        self.size = size
        self.end = end
        self.rng = random.Random(seed)
        self.customers: dict[int, Customer] = {}
        self.pool = max(20, int(size * 0.8))
        self.closed: dict[int, list[Closed]] = {}
        self.ids: set[str] = set()
        self.open_ids: deque[str] = deque(maxlen=400)  # recent cases alice may note on
        self.steps: dict[str, list[Step]] = {}
        self.record = False

    # -- customers

    def customer(self) -> tuple[int, Customer]:
        rng = self.rng
        # A few frequent complainers: 15% of cases come from 5% of the customers.
        idx = rng.randrange(max(1, self.pool // 20)) if rng.random() < 0.15 else rng.randrange(self.pool)
        if idx not in self.customers:
            self.customers[idx] = self._new_customer(idx)
        return idx, self.customers[idx]

    def _new_customer(self, idx: int) -> Customer:
        rng = self.rng
        if rng.random() < 0.55:
            surname, pinyin = rng.choice(ZH_SURNAMES)
            name = surname + rng.choice(ZH_GIVEN)
            phone = f"1{rng.choice('35789')}{rng.randrange(10**9):09d}"
            if rng.random() < 0.2:
                phone = f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"
            handle = f"{pinyin}{rng.randrange(10, 99)}"
            address = (
                f"{rng.choice(ZH_CITIES)}{rng.choice(ZH_ROADS)}{rng.randint(1, 999)}号"
                f"{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元{rng.randint(1, 33)}0{rng.randint(1, 4)}室"
            )
        else:
            first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
            name = f"{first} {last}"
            phone = (
                f"+{rng.choice(['1', '44', '49', '65'])} {rng.randint(200, 999)} {rng.randint(1000, 9999)}"
            )
            phone += f" {rng.randint(1000, 9999)}"
            handle = f"{first}.{last}".lower().replace("'", "").replace("ü", "ue")
            address = f"Flat {rng.randint(1, 40)}, {rng.randint(1, 200)} {rng.choice(EN_STREETS)}"
        account = f"ACC-{idx:07d}" if rng.random() < 0.5 else None
        return Customer(
            name=name,
            phone=phone if rng.random() < 0.85 else None,
            email=f"{handle}@{rng.choice(MAIL_DOMAINS)}" if rng.random() < 0.5 else None,
            address=address if rng.random() < 0.4 else None,
            account=account,
        )

    # -- times

    def open_times(self) -> list[datetime]:
        """Opening times over 365 days: busier on weekdays and in office hours."""
        rng = self.rng
        first_day = (self.end - timedelta(days=365)).date()
        days = [first_day + timedelta(days=i) for i in range(366)]
        weights = [0.6 if d.weekday() >= 5 else 1.0 for d in days]
        hours = list(range(8, 22))
        hour_w = [2, 5, 7, 7, 5, 4, 6, 7, 6, 5, 4, 3, 2, 1]
        times = []
        while len(times) < self.size:
            day = rng.choices(days, weights=weights)[0]
            hour = rng.choices(hours, weights=hour_w)[0]
            at = datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60))
            at = at.replace(tzinfo=self.end.tzinfo)
            if at < self.end - timedelta(hours=1):
                times.append(at)
        times.sort()
        return times

    def days(self) -> Iterator[tuple[date, datetime, list[dict[str, Any]]]]:
        """(day, last opening time, cases opened that day), oldest first."""
        batch: list[dict[str, Any]] = []
        last: datetime | None = None
        for at in self.open_times():
            if last is not None and at.date() != last.date():
                yield last.date(), last, batch
                batch = []
            batch.append(self.make_case(at))
            last = at
        if last is not None:
            yield last.date(), last, batch

    # -- one case

    def new_id(self, at: datetime) -> str:
        while True:
            case_id = records.new_id(at)
            if case_id not in self.ids:
                self.ids.add(case_id)
                return case_id

    def make_case(self, at: datetime) -> dict[str, Any]:
        rng, policy = self.rng, self.policy
        idx, cust = self.customer()
        earlier = [c for c in self.closed.get(idx, ()) if c.closed_at <= at]
        case_id = self.new_id(at)
        try:
            new, actor = self._new_case(cust, bool(earlier))
            case, _change = new.decide_open(
                policy,
                case_id,
                actor,
                at,
                self.end,
                [{**vars(c), "closed_at": c.closed_at.isoformat()} for c in earlier],
            )
        except RuleError:  # that matter was closed for good: the tool would refuse; take a new customer
            idx = self.pool + len(self.customers)
            cust = self.customers[idx] = self._new_customer(idx)
            new, actor = self._new_case(cust, False)
            case, _change = new.decide_open(policy, case_id, actor, at, self.end)
        story = Story(policy, case, at, self.end, rng)
        self._play(story, idx)
        case["events"] = case.pop("events")  # as in a real file: new fields go before the events
        if case["state"] in ("open", "in-progress") and USER not in case.get("subject_staff", ()):
            self.open_ids.append(case_id)
        if self.record:
            open_step: Step = ("open", at, actor, {"new": new})
            self.steps[case_id] = [open_step, *story.steps]
        return case

    def _new_case(self, cust: Customer, repeat: bool) -> tuple[events.Open, str]:
        """What 'open' is given, and who runs it."""
        rng, policy = self.rng, self.policy
        category = rng.choice(policy.categories)
        owner = weighted(rng, {AGENTS[0]: 45, AGENTS[1]: 45, "carol@example.com": 10})
        staff: tuple[str, ...] = ()
        if category == "service-attitude" and rng.random() < 0.4:
            staff = (rng.choice(AGENTS),)
            if owner in staff:
                owner = next(a for a in AGENTS if a not in staff)
        actor = (
            owner if rng.random() < 0.9 else next(m.id for m in policy.team if m.id not in (*staff, owner))
        )
        summary, demand = rng.choice(SUMMARIES[category])
        if repeat and rng.random() < 0.5:
            summary += rng.choice(REPEAT_SUFFIX)
        new = events.Open(
            customer=cust.name,
            channel=weighted(rng, {c: CHANNEL_WEIGHTS.get(c, 3) for c in policy.channels}),
            category=category,
            summary=summary,
            phone=cust.phone,
            email=cust.email,
            address=cust.address,
            account=cust.account,
            demand=demand if rng.random() < 0.8 else None,
            urgent=rng.random() < 0.05,
            severity=weighted(rng, dict(zip(policy.severities, (70, 20, 7, 3), strict=False))),
            subject_staff=staff,
            owner=owner if owner != actor else None,
        )
        return new, actor

    def _target(self, opened: datetime) -> tuple[str, str | None]:
        rng = self.rng
        age = (self.end - opened).days
        if age > 45:
            table = {"archived": 60, "followed-up": 15, "closed": 12, "agreed": 3, "proposed": 3}
            table |= {"in-progress": 5, "open": 2}
        elif age > 10:
            table = {"archived": 15, "followed-up": 15, "closed": 25, "agreed": 10, "proposed": 12}
            table |= {"in-progress": 18, "open": 5}
        else:
            table = {"closed": 10, "agreed": 5, "proposed": 15, "in-progress": 35, "open": 35}
        target = weighted(rng, table)
        resolution = None
        if target in ("closed", "followed-up", "archived"):
            table = {"agreed": 45, "explained": 25, "withdrawn": 8, "rejected": 12, "referred": 7}
            resolution = weighted(rng, table | {"decided": 3})
        return target, resolution

    def _play(self, story: Story, customer_idx: int) -> None:
        rng, case = self.rng, story.case
        target, resolution = self._target(story.at)
        # A written reply (letter, e-mail) goes through draft and sign-off: the replies here are spoken.
        channel = case["channel"] if case["channel"] in ("phone", "in-person") else "phone"
        if rng.random() < 0.15:
            story.do("note", (1, 30), text=rng.choice(FAILED), kind="contact-failed", channel="phone")
        if target == "open":
            if rng.random() < 0.3:
                story.do("note", (1, 24), text=rng.choice(INTERNAL))
            return
        if resolution == "explained" and rng.random() < 0.5:
            story.do("close", (0.1, 2), resolution="explained", text=rng.choice(CLOSE_TEXTS["explained"]))
        else:
            story.do("note", (0.5, 36), text=rng.choice(REPLIES), kind="reply", channel=channel)
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
                kind = rng.choice(("internal", "investigation"))
                story.do(
                    "note", (2, 72), text=rng.choice(FINDINGS if kind != "internal" else INTERNAL), kind=kind
                )
            serious = case["urgent"] or case["severity"] in ("hot", "major")
            if rng.random() < (0.5 if serious else 0.08):
                reason = rng.choice(ESCALATE_REASONS)
                story.do("escalate", (1, 48), reason=reason, to_user=rng.choice(SUPERVISOR_TIER))
                if rng.random() < 0.15:
                    story.do("escalate", (12, 96), reason=reason, to_user=rng.choice(MANAGER_TIER))
            if target == "in-progress":
                return
            offered = target in ("proposed", "agreed") or resolution == "agreed"
            if offered or (resolution in ("rejected", "decided") and rng.random() < 0.3):
                if not story.case.get("demand"):  # an offer answers a recorded demand
                    reason = "asked on the call back"
                    story.do("correct", (1, 24), field="demand", value="Refund the charge", reason=reason)
                story.do("propose", (24, 120), **self._offer())
                story.approve_if_pending()
                if rng.random() < 0.12:
                    story.do("propose", (24, 96), **self._offer())
                    story.approve_if_pending()
                if target == "proposed":
                    return
                if offered:
                    signer = rng.choice((*SIGNERS, case["customer"]["name"]))
                    story.do("agree", (6, 96), signed_by=signer, channel=channel)
                if target == "agreed":
                    return
                if resolution == "agreed":  # carried out (落实): one measure planned, then done
                    story.do("plan", (1, 24), text="Pay the agreed amount", responsible="finance", due="7d")
                    story.do("execute", (12, 120), number=1, text="Paid, ref 88231")
            executed = resolution == "agreed"  # closed as agreed only once carried out
            text = rng.choice(CLOSE_TEXTS[str(resolution)]) if rng.random() < 0.8 else None
            story.do("close", (24, 240), resolution=resolution, text=text, executed=executed)
        if case.get("resolution"):
            closed_at = times.parse_time(case["closed_at"])
            self.closed.setdefault(customer_idx, []).append(
                Closed(
                    case["id"], case["category"], case["resolution"], bool(case.get("executed")), closed_at
                )
            )
        if target == "closed":
            return
        if rng.random() < 0.85:
            score = weighted(rng, {1: 5, 2: 8, 3: 17, 4: 35, 5: 35})
            text = rng.choice(FOLLOWUP_TEXTS) if rng.random() < 0.6 else None
            story.do("followup", (48, 240), satisfaction=score, text=text)
        else:
            self._unreachable(story)
        if target == "archived":
            story.do("archive", (24, 480))

    def _unreachable(self, story: Story) -> None:
        """A written notice, then the failed attempts the policy asks for, then the follow-up."""
        rule = getattr(self.policy, "unreachable", None)  # policies without the rule: no notice needed
        if rule is not None and rule.attempts:
            channel = "sms" if "sms" in self.policy.channels else "letter"
            story.do("note", (48, 200), text=self.rng.choice(NOTICES), kind="notice", channel=channel)
            apart = rule.apart_s / 3600
            for _ in range(rule.attempts):
                story.do(
                    "note",
                    (apart, apart + 1),
                    text=self.rng.choice(FAILED),
                    kind="contact-failed",
                    channel="phone",
                )
            story.do("followup", (0.5, 2), unreachable=True)
        else:
            story.do("followup", (48, 240), unreachable=True)

    def _offer(self) -> dict[str, Any]:
        rng = self.rng
        currency = weighted(rng, {"CNY": 90, "USD": 5, "EUR": 3, "JPY": 2})
        kind = weighted(rng, {"refund": 40, "credit": 15, "replacement": 10, "repair": 20, "goodwill": 10})
        places = self.policy.currencies[currency]
        amount = f"{rng.randint(50, 5000)}" + (
            "." + f"{rng.choice((0, 0, 50, 80, 99)):02d}" if places else ""
        )
        offer = {"amount": amount, "currency": currency, "kind": kind, "terms": rng.choice(TERMS[kind])}
        if self.policy.rules.overcharge_categories:  # money on a billing case says why it is not double
            offer["not_overcharge"] = "the bill was right; goodwill"
        return offer


# ---------------------------------------------------------------- building a workspace


class Unrenderable(Exception):
    """A value the fast renderer does not lay out itself (dump_case is used instead)."""


class Renderer:
    """Lays a case record out exactly as ``workspace.dump_case`` does, about 10x faster.

    ruamel's round-trip emitter (pure Python, ~3.5 ms a case) stays the judge of
    every scalar: each distinct value is rendered once through complaintctl's own
    configured YAML instance and cached. Only the block layout (2-space mappings,
    '  - ' sequence items) is written here. Times and case ids are rendered by
    shape (one sample each), since every value of that shape resolves alike.
    Callers compare a sample of files with ``dump_case`` byte for byte.
    """

    SHAPES = (
        (re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$"), "2000-01-01T00:00:00+08:00"),
        (records.ID_RE, "C-20000101-000000"),
    )
    KEY = re.compile(r"^[a-z_]+$")

    def __init__(self) -> None:
        self.cache: dict[tuple[type, Any], str] = {}
        self.templates: dict[int, tuple[str, str]] = {}

    def dump(self, case: dict[str, Any]) -> str:
        out = [workspace.HEADER]
        self._mapping(case, "", out)
        return "".join(out)

    def _mapping(self, mapping: dict[str, Any], indent: str, out: list[str], lead: str | None = None) -> None:
        for key, value in mapping.items():
            if not self.KEY.match(key):
                raise Unrenderable(key)
            prefix, lead = lead or indent, None
            if isinstance(value, dict) and value:
                out.append(f"{prefix}{key}:\n")
                self._mapping(value, indent + "  ", out)
            elif isinstance(value, list) and value:
                out.append(f"{prefix}{key}:\n")
                for item in value:
                    if isinstance(item, dict) and item:
                        self._mapping(item, indent + "    ", out, lead=indent + "  - ")
                    elif isinstance(item, (dict, list)):
                        raise Unrenderable(key)
                    else:
                        out.append(f"{indent}  - {self.scalar(item)}\n")
            elif isinstance(value, (dict, list)):
                raise Unrenderable(key)
            else:
                out.append(f"{prefix}{key}: {self.scalar(value)}\n")

    def scalar(self, value: Any) -> str:
        key = (type(value), value)
        text = self.cache.get(key)
        if text is None:
            text = self._shaped(value) if isinstance(value, str) else None
            if text is None:
                text = self._ruamel(value)
                self.cache[key] = text
        return text

    def _shaped(self, value: str) -> str | None:
        for i, (regex, sample) in enumerate(self.SHAPES):
            if regex.match(value):
                if i not in self.templates:
                    rendered = self._ruamel(sample)
                    if rendered.count(sample) != 1:
                        raise Unrenderable(value)
                    before, after = rendered.split(sample)
                    self.templates[i] = (before, after)
                before, after = self.templates[i]
                return before + value + after
        return None

    @staticmethod
    def _ruamel(value: Any) -> str:
        text = dump_roundtrip({"k": value})
        if not (text.startswith("k: ") and text.count("\n") == 1 and text.endswith("\n")):
            raise Unrenderable(repr(value))
        return text[3:-1]


_worker: dict[str, Any] = {}
LETTERS = "_letters"  # a generated case's evidence and letters, until they are committed
CONSENT = b"%PDF-1.4\n% the customer's signed consent (benchmark data)\n"
CONSENT_FILE = Path(tempfile.gettempdir()) / "complaintctl-bench-consent.pdf"


def _worker_init(policy_path: str, exact: bool, verify_every: int) -> None:
    _worker.update(
        policy=policy_mod.load(Path(policy_path)), exact=exact, verify=verify_every, renderer=Renderer()
    )


@dataclass
class Batch:
    files: list[tuple[str, bytes]]
    verified: int = 0
    mismatch: str = ""


def _dump_batch(cases: list[dict[str, Any]]) -> Batch:
    """In a worker: validate each record, render it as the tool would, check a sample."""
    policy, renderer, every = _worker["policy"], _worker["renderer"], _worker["verify"]
    batch = Batch([])
    for case in cases:
        letters_of = case.pop(LETTERS, [])
        records.validate_case(case, policy, expected_id=case["id"])
        try:
            text = workspace.dump_case(case) if _worker["exact"] else renderer.dump(case)
        except Unrenderable:
            text = workspace.dump_case(case)
        if every and not _worker["exact"] and zlib.crc32(case["id"].encode()) % every == 0:
            exact = workspace.dump_case(case)
            batch.verified += 1
            if exact != text and not batch.mismatch:
                diff = difflib.unified_diff(
                    exact.splitlines(), text.splitlines(), "dump_case", "fast", lineterm=""
                )
                batch.mismatch = f"{case['id']}:\n" + "\n".join(list(diff)[:20])
        batch.files.append((records.case_relpath(case["id"]), text.encode("utf-8")))
        batch.files += letters_of
    return batch


def git(ws: Path, *args: str, check: bool = True) -> str:
    result = subprocess.run(["git", *args], cwd=ws, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


@dataclass
class Built:
    ws: Path
    size: int
    open_ids: list[str]
    commits: int
    verified: int
    phases: dict[str, float] = field(default_factory=dict)


class FastImport:
    """One ``git fast-import`` process; each day's cases become one commit on the current branch."""

    def __init__(self, ws: Path, err: Any):
        self.ref = git(ws, "symbolic-ref", "HEAD").strip().encode()
        self.parent: bytes | None = git(ws, "rev-parse", "HEAD").strip().encode()
        self.proc = subprocess.Popen(
            ["git", "fast-import", "--quiet", "--done"], cwd=ws, stdin=subprocess.PIPE, stderr=err
        )
        assert self.proc.stdin is not None
        self.out = self.proc.stdin
        self.commits = 0

    def commit(self, day: date, last: datetime, files: list[tuple[str, bytes]]) -> None:
        out = self.out
        stamp = b"%s %d %s" % (IMPORTER, int(last.timestamp()), last.strftime("%z").encode())
        msg = f"Import {len(files)} cases opened on {day} (benchmark data)\n".encode()
        out.write(b"commit %s\nauthor %s\ncommitter %s\n" % (self.ref, stamp, stamp))
        out.write(b"data %d\n%s" % (len(msg), msg))
        if self.parent:  # the first commit continues from the workspace's 'init' commit
            out.write(b"from %s\n" % self.parent)
            self.parent = None
        for rel, data in files:
            out.write(b"M 100644 inline %s\ndata %d\n%s\n" % (rel.encode(), len(data), data))
        out.write(b"\n")
        self.commits += 1

    def finish(self) -> int:
        try:
            self.out.write(b"done\n")
            self.out.close()
        except BrokenPipeError:
            pass
        return self.proc.wait()


def build_workspace(ws: Path, size: int, end: datetime, exact: bool, verify_every: int) -> Built:
    t0 = time.perf_counter()
    admin.init_workspace(ws, policy_file=workspace.defaults_dir() / "policy.yaml")
    policy = policy_mod.load(ws / "policy.yaml")
    phases = {"init": time.perf_counter() - t0}

    t1 = time.perf_counter()
    gen = Generator(policy, size, end)
    workers = os.cpu_count() or 1
    verified = 0
    init_args = (str(ws / "policy.yaml"), exact, verify_every)
    with (
        tempfile.TemporaryFile() as err,
        ProcessPoolExecutor(workers, initializer=_worker_init, initargs=init_args) as pool,
    ):
        importer = FastImport(ws, err)
        pending: deque[tuple[date, datetime, Future[Batch]]] = deque()

        def write_oldest() -> None:
            nonlocal verified
            day, last, future = pending.popleft()
            batch = future.result()
            if batch.mismatch:
                importer.finish()
                raise SystemExit(
                    f"fast renderer differs from workspace.dump_case; use --exact\n{batch.mismatch}"
                )
            verified += batch.verified
            importer.commit(day, last, batch.files)

        for day, last, cases in gen.days():
            pending.append((day, last, pool.submit(_dump_batch, cases)))
            while len(pending) > 3 * workers:  # bounded: at most a few days in flight
                write_oldest()
        while pending:
            write_oldest()
        if importer.finish() != 0:
            err.seek(0)
            raise SystemExit(f"git fast-import failed: {err.read().decode(errors='replace')}")
    phases["generate+import"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    git(ws, "config", "core.splitIndex", "true")  # as 'init' sets them
    git(ws, "config", "core.untrackedCache", "false")
    git(ws, "-c", f"checkout.workers={workers}", "reset", "--hard", "--quiet")
    phases["checkout"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    git(ws, "status", "--porcelain")  # refreshes the files' stat data in the index, as a user's first status
    # git leaves every entry of a split index in its own part after a
    # checkout of many files in one second; a workspace in use has them in
    # the shared part (complaintctl's first commit splits it afresh, see
    # store/gitplumb.py). Both versions of the code are then timed on that.
    time.sleep(1.1)
    git(ws, "status", "--porcelain")
    git(ws, "update-index", "--split-index")
    dirty = git(ws, "status", "--porcelain", "--untracked-files=all")
    phases["status"] = time.perf_counter() - t3
    if dirty.strip():
        print(f"  WARNING: git status not clean after build:\n{dirty[:500]}", flush=True)
    phases["total"] = time.perf_counter() - t0
    return Built(ws, size, list(reversed(gen.open_ids)), importer.commits, verified, phases)


# ---------------------------------------------------------------- replay check


def cli_args(command: str, case_id: str, kwargs: dict[str, Any]) -> list[str]:
    """The CLI command that does what one generator step did."""
    if command == "open":
        new: events.Open = kwargs["new"]
        args = ["open", "--customer", new.customer, "--channel", new.channel]
        args += ["--category", new.category, "--summary", new.summary]
        for opt in ("phone", "email", "address", "account", "demand", "severity", "owner", "reason"):
            if getattr(new, opt):
                args += [f"--{opt}", getattr(new, opt)]
        args += ["--urgent"] if new.urgent else []
        for person in new.subject_staff:
            args += ["--subject-staff", person]
        return args
    args = [command, case_id]
    text = kwargs.get("text")
    if command == "note":
        args += [kwargs["text"], "--kind", kwargs.get("kind", "internal")]
        args += ["--channel", kwargs["channel"]] if kwargs.get("channel") else []
    elif command == "propose":
        args += ["--amount", kwargs["amount"], "--currency", kwargs["currency"]]
        args += ["--kind", kwargs["kind"], "--terms", kwargs["terms"]]
        args += ["--not-overcharge", kwargs["not_overcharge"]] if kwargs.get("not_overcharge") else []
    elif command == "correct":
        args += [kwargs["field"], kwargs["value"], "--reason", kwargs["reason"]]
    elif command == "plan":
        args += [kwargs["text"], "--by", kwargs["responsible"], "--due", kwargs["due"]]
    elif command == "execute":
        args += [str(kwargs["number"]), "--text", kwargs["text"]]
    elif command == "approve":
        args += [str(kwargs["number"])]
    elif command == "agree":
        args += ["--signed-by", kwargs["signed_by"], "--channel", kwargs["channel"]]
        CONSENT_FILE.write_bytes(CONSENT)
        args += ["--evidence", str(CONSENT_FILE)]
    elif command == "escalate":
        args += ["--reason", kwargs["reason"], "--to", kwargs["to_user"]]
    elif command == "close":
        args += ["--resolution", kwargs["resolution"], *([text] if text else [])]
        args += ["--executed"] if kwargs.get("executed") else []
    elif command == "followup":
        args += [text] if text else []
        if kwargs.get("unreachable"):
            args += ["--unreachable"]
        else:
            args += ["--satisfaction", str(kwargs["satisfaction"])]
    return args


def replay_check(tmp: Path, end: datetime) -> str:
    """Re-make a few generated cases through the real CLI; the files must be byte-identical."""
    ws = tmp / "replay-check"
    admin.init_workspace(ws, policy_file=workspace.defaults_dir() / "policy.yaml")
    policy = policy_mod.load(ws / "policy.yaml")
    gen = Generator(policy, 100_000, end, seed=7)  # a big pool: no repeats
    gen.record = True
    wanted = {
        "archived with offers": lambda c: c["state"] == "archived" and "offers" in c,
        "escalated": lambda c: any(e["action"] == "escalate" for e in c["events"]),
        "customer unreachable": lambda c: any(e.get("unreachable") for e in c["events"]),
        "Chinese name, in progress": lambda c: (
            c["state"] == "in-progress" and not c["customer"]["name"].isascii()
        ),
    }
    found: dict[str, dict[str, Any]] = {}
    rng = random.Random(7)
    while len(found) < len(wanted):
        case = gen.make_case(end - timedelta(days=rng.uniform(2, 200), minutes=rng.randrange(600)))
        case.pop(LETTERS, None)  # committed beside the case, not in it
        for label, test in wanted.items():
            if label not in found and "repeat_of" not in case and test(case):
                found[label] = case
    problems = []
    for label, case in found.items():
        made_id = ""
        for command, at, actor, kwargs in gen.steps[case["id"]]:
            args = [*cli_args(command, made_id, kwargs), "--at", times.format_time(at)]
            # Each person in their own shell (self_only actions are never entered for them).
            result = subprocess.run(
                [CLI, *args, "--root", str(ws)],
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "COMPLAINTCTL_USER": actor},
            )
            if result.returncode != 0:
                return f"FAILED: {' '.join(args[:2])}: {result.stderr.strip()}"
            if command == "open":
                made_id = result.stdout.strip()
        # The letter's hash covers the case id, which differs between the two.
        unhash = re.compile(r"sha256: [0-9a-f]{64}")
        made = unhash.sub("sha256: -", (ws / records.case_relpath(made_id)).read_text(encoding="utf-8"))
        ours = unhash.sub("sha256: -", workspace.dump_case(case).replace(case["id"], made_id))
        if made != ours:
            diff = difflib.unified_diff(made.splitlines(), ours.splitlines(), "cli", "generated", lineterm="")
            problems.append(f"{label}:\n" + "\n".join(list(diff)[:30]))
    if problems:
        return "MISMATCH\n" + "\n".join(problems)
    return f"OK ({len(found)} cases: {', '.join(found)})"


# ---------------------------------------------------------------- measuring


class Timed:
    """Median and min of a figure's runs (bench_team.py's figures use it too)."""

    times: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def least(self) -> float:
        return min(self.times)


@dataclass
class Figure(Timed):
    size: int | None
    key: str
    label: str
    times: list[float]
    note: str = ""


def run(cmd: Sequence[str], cwd: Path | None = None, quiet: bool = False) -> tuple[float, int, str]:
    """Wall time, exit code and stderr of one subprocess."""
    stdout = subprocess.DEVNULL if quiet else subprocess.PIPE
    t = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, text=True, check=False)
    return time.perf_counter() - t, result.returncode, result.stderr


def repeat(label: str, n: int, cmd: Sequence[str], warm_up: bool = True) -> list[float]:
    """``n`` timed runs, after one untimed warm-up run unless told otherwise."""
    if warm_up:
        run(cmd, quiet=True)
    times = []
    for _ in range(n):
        elapsed, code, err = run(cmd, quiet=True)
        if code != 0:
            print(f"  {label}: exit {code}: {err.strip()[:300]}", flush=True)
        times.append(elapsed)
    return times


def measure(built: Built, n: int) -> list[Figure]:
    ws, size = built.ws, built.size
    root = ["--root", str(ws)]
    figures = []
    # (a) a changing command: one commit per run, each on a different open case.
    ids = built.open_ids
    if len(ids) < 2 * n + 2:
        print(f"  only {len(ids)} open cases; some runs will reuse a case", flush=True)
    commits_before = int(git(ws, "rev-list", "--count", "HEAD"))
    times = []
    for i in range(n + 1):  # the first run warms the OS caches and is not counted
        cmd = [CLI, "note", ids[i % len(ids)], f"Benchmark note {i}: called the customer back", *root]
        elapsed, code, err = run(cmd)
        if code != 0:
            print(f"  note failed (exit {code}): {err.strip()[:300]}", flush=True)
        if i:
            times.append(elapsed)
    made = int(git(ws, "rev-list", "--count", "HEAD")) - commits_before
    figures.append(Figure(size, "change", "(a) note (changing command)", times, f"{made} commits made"))

    # (b) list, warm index (the warm-up run builds the index; it is timed once as a cold list).
    first, code, err = run([CLI, "list", *root], quiet=True)
    problems = err.count("skipped")
    figures.append(Figure(size, "list-first", "    list, first run (cold)", [first], f"{problems} problems"))
    warm_list = repeat("list", n, [CLI, "list", *root], warm_up=False)  # the run above warmed it
    figures.append(Figure(size, "list", "(b) list, warm index", warm_list))
    # (c) report, warm.
    figures.append(
        Figure(size, "report", "(c) report, warm index", repeat("report", n, [CLI, "report", *root]))
    )
    # (d) cold index build: no .git/complaintctl/, then report.
    shutil.rmtree(ws / ".git" / "complaintctl", ignore_errors=True)
    cold, code, err = run([CLI, "report", *root], quiet=True)
    note = f"exit {code}, {err.count('skipped')} problems"
    figures.append(Figure(size, "cold", "(d) report, cold index build", [cold], note))
    # (e) baseline: git add + git commit of one small change to one case file.
    times = []
    for i in range(n):
        rel = records.case_relpath(ids[(n + 1 + i) % len(ids)])
        with open(ws / rel, "a", encoding="utf-8") as handle:
            handle.write(f"# baseline edit {i}\n")
        t = time.perf_counter()
        git(ws, "add", "--", rel)
        git(ws, "commit", "--quiet", "-m", f"Baseline edit {i}")
        times.append(time.perf_counter() - t)
    figures.append(Figure(size, "baseline", "(e) git add + git commit", times))
    ratio = figures[0].median / figures[-1].median
    figures[-1].note = f"(a)/(e) = {ratio:.1f}x"
    status = git(ws, "status", "--porcelain", "--untracked-files=all").strip()
    if status:
        print(f"  WARNING: workspace not clean after measuring: {status[:300]}", flush=True)
    return figures


# ---------------------------------------------------------------- printing


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def print_table(figures: list[Figure]) -> None:
    head = f"{'size':>8}  {'figure':<32} {'median':>9} {'min':>9} {'runs':>4}  {'target':<10} {'verdict':<7}"
    head += " note"
    print(head)
    print("-" * len(head))
    last_size: int | None = -1
    for f in figures:
        if f.size != last_size and last_size != -1:
            print()
        last_size = f.size
        target = TARGETS.get((f.key, f.size or 0))
        verdict = "-" if target is None else ("OK" if f.median <= target else "OVER")
        size = "-" if f.size is None else f"{f.size:,}"
        target_text = "-" if target is None else f"<= {fmt(target)}"
        runs = len(f.times)
        least = fmt(f.least) if runs > 1 else ""
        print(
            f"{size:>8}  {f.label:<32} {fmt(f.median):>9} {least:>9} {runs:>4}  "
            f"{target_text:<10} {verdict:<7} {f.note}"
        )


# ---------------------------------------------------------------- main


def isolate_env(tmp: Path) -> None:
    """No system or user git config (our own identity and branch); cached bytecode as after an install.

    Byte-code goes to a cache folder under ``tmp`` (PYTHONPYCACHEPREFIX), so nothing is written
    next to the sources and a PYTHONDONTWRITEBYTECODE in the caller's environment does not make
    every timed command recompile complaintctl.
    """
    for name in list(os.environ):
        if name.startswith(("GIT_", "COMPLAINTCTL_")) or name == "PYTHONDONTWRITEBYTECODE":
            del os.environ[name]
    config = tmp / "gitconfig"
    config.write_text(
        "[user]\n\tname = Bench Runner\n\temail = bench@example.com\n[init]\n\tdefaultBranch = main\n"
    )
    os.environ["GIT_CONFIG_GLOBAL"] = str(config)
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
    os.environ["COMPLAINTCTL_USER"] = USER
    os.environ["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated case counts")
    parser.add_argument("--repeat", type=int, default=7, help="runs per timed figure (median and min)")
    parser.add_argument("--keep", type=Path, help="build workspaces here (DIR/ws-SIZE) and keep them")
    parser.add_argument(
        "--exact", action="store_true", help="write every file with workspace.dump_case (~10x slower build)"
    )
    parser.add_argument(
        "--verify-every",
        type=int,
        default=20,
        metavar="K",
        help="compare about 1 in K fast-rendered files with workspace.dump_case (0: none; default 20)",
    )
    parser.add_argument(
        "--build-only", action="store_true", help="build the workspaces (with --keep) and time nothing"
    )
    args = parser.parse_args(argv)
    if args.build_only and not args.keep:
        parser.error("--build-only needs --keep DIR (the workspaces are what it makes)")
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    n = max(1, args.repeat)

    tmp = Path(tempfile.mkdtemp(prefix="complaintctl-bench-", dir="/tmp"))
    home = args.keep.expanduser().resolve() if args.keep else tmp
    try:
        isolate_env(tmp)
        policy = policy_mod.load(workspace.defaults_dir() / "policy.yaml")
        end = datetime.now(ZoneInfo(policy.timezone)).replace(microsecond=0) - timedelta(hours=1)
        print(f"complaintctl scale benchmark: sizes {sizes}, {n} runs each, {os.cpu_count()} cores")
        print(f"git {git(tmp, 'version').split()[-1]}, python {sys.version.split()[0]}, workspaces in {home}")
        print(f"replay check (generated files == files the CLI writes): {replay_check(tmp, end)}", flush=True)

        figures = [
            Figure(None, "python", "python -c pass", repeat("python", n, [sys.executable, "-c", "pass"])),
            Figure(None, "help", "complaintctl --help", repeat("help", n, [CLI, "--help"])),
        ]
        for size in sizes:
            ws = home / f"ws-{size}"
            if ws.exists():
                raise SystemExit(f"{ws} exists; give --keep a new folder")
            print(f"\n== {size:,} cases: building {ws}", flush=True)
            built = build_workspace(ws, size, end, args.exact, args.verify_every)
            phases = ", ".join(f"{k} {fmt(v)}" for k, v in built.phases.items())
            how = "all files by dump_case" if args.exact else f"{built.verified} files checked == dump_case"
            print(f"   built: {built.commits} commits, {how}; {phases}", flush=True)
            figures.append(Figure(size, "build", "build workspace", [built.phases["total"]], phases))
            if args.build_only:
                continue
            print("   measuring ...", flush=True)
            figures += measure(built, n)
            if not args.keep:
                shutil.rmtree(ws, ignore_errors=True)
        print()
        print_table(figures)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
