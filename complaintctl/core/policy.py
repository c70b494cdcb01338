"""Load and validate policy.yaml into a frozen Policy.

Everything a rule depends on (states, transitions, roles, tiers, categories,
currencies) comes from here; no other module hard-codes the house rules.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from complaintctl.core import validate as v
from complaintctl.core.deadlines import CLOCKS, Limit

SCHEMA = 1
COMMANDS = (
    "note",
    "approve",
    "refuse",
    "withdraw",
    "draft",
    "signoff",
    "send",
    "wait",
    "resume",
    "propose",
    "agree",
    "escalate",
    "flag",
    "lower",
    "close",
    "followup",
    "archive",
    "reopen",
    "assign",
    "correct",
    "retract",
    "plan",
    "execute",
)
# Changes to the workspace itself (policy.yaml, templates/, the team): not
# case events, but audited the same way (one commit, trailers, verify).
POLICY_ACTIONS = ("policy", "team-add", "team-remove", "team-roles")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)([mhd])$")
_HOURS_RE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Tier:
    name: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Resolution:
    name: str
    label: str
    requires_state: str | None = None
    final: bool = False
    final_when_executed: bool = False


@dataclass(frozen=True)
class Transition:
    command: str
    from_states: tuple[str, ...]
    to: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class LimitRule:
    limit: Limit
    urgent: bool | None = None
    severities: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TimeLimits:
    warn_at: float
    pause_states: tuple[str, ...]
    rules: Mapping[str, tuple[LimitRule, ...]]


@dataclass(frozen=True)
class BusinessHours:
    hours: Mapping[int, tuple[time, time]]
    holidays: str | None
    closed: frozenset[date]
    open: frozenset[date]


CAUSES = ("internal", "external", "unknown")
CONTACT_FIELDS = ("phone", "email", "address", "account")

# What 'correct' may change, by the name the user types, and where it lives.
CORRECTABLE: dict[str, tuple[str, ...]] = {
    "name": ("customer", "name"),
    "phone": ("customer", "phone"),
    "email": ("customer", "email"),
    "address": ("customer", "address"),
    "account": ("customer", "account"),
    "category": ("category",),
    "matter": ("matter",),
    "demand": ("demand",),
    "summary": ("summary",),
    "cause": ("cause",),
    "urgent": ("urgent",),
    "subject-staff": ("subject_staff",),
}
REQUIRED_ON_OPEN = ("demand", "contact", *CONTACT_FIELDS)


@dataclass(frozen=True)
class DomainRules:
    """The field's rules that a hurried or dishonest agent could get around
    (docs/domain.md). Each applies only when policy.yaml's ``rules:`` sets it,
    so a history made under an older policy replays as it was made."""

    # Fields a new complaint must carry ('contact': at least one way to reach the customer).
    required_on_open: tuple[str, ...] = ()
    # cause -> roles that may set it (an agent may not call a case 'external' to cool it).
    cause_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # The resolution that says "outside our responsibility": never for a cause we own.
    outside_responsibility: str | None = None
    # severity -> roles that may lower a case from it.
    lower_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # cause -> roles that may change a recorded cause away from it (an agent
    # may not undo 'internal' and then close the case as outside our responsibility).
    cause_undo_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # field -> roles that may 'correct' it (un-marking urgent clears a 2-hour breach).
    correct_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # From this severity up, 'agree' needs the signer and evidence of consent.
    consent_from: str | None = None
    # Replies through these channels go draft -> sign-off -> send, never as a note.
    signed_off_replies: tuple[str, ...] = ()
    # A withdrawn bottom-line offer caps later offers as a refused one does.
    bottom_line_withdrawn_caps: bool = False
    # An agreement is carried out measure by measure ('plan', 'execute'); it
    # is closed as executed only when every measure is done.
    measures_required: bool = False
    # A case whose customer accepted an offer closes only as a resolution
    # that needs the agreement (carried out) or as a final outside decision:
    # not as 'explained' or 'withdrawn', which left its measures undone.
    agreement_binds_close: bool = False
    # "The same matter" for repeats and 'not accepted again': the matter tag
    # when both complaints carry one, else the same category within this
    # many seconds of the earlier case's end (None: same category, ever).
    same_matter_within_s: float | None = None
    # An urgent case, or one at the top severity, below direct_tier is flagged
    # (stalled: "escalate it") until it is escalated.
    serious_at_direct_tier: bool = False
    # From this severity up a case goes up the tiers (DOMAIN: every important,
    # hot, major or repeat complaint goes up tier by tier): at the first tier
    # it is flagged (stalled: "escalate it") until escalated. None: no rule.
    escalate_from: str | None = None
    # Note kinds that do not count as progress for the stall flag: only what
    # the customer sees or a real change of the case resets "untouched".
    quiet_notes: tuple[str, ...] = ()
    # Categories where money offered is either the double refund of an
    # overcharge (--overcharge) or said not to be one (--not-overcharge WHY).
    overcharge_categories: tuple[str, ...] = ()
    # Closing an executed double refund records that the customer was told
    # it is done, and through which channel (close --told CHANNEL).
    double_refund_told: bool = False
    # Time spent waiting on the customer does not count towards the
    # severity rule "unresolved for N days".
    waiting_stops_unresolved: bool = False


@dataclass(frozen=True)
class SeverityRules:
    repeat: str
    same_matter: tuple[int, int, str] | None  # customers, within days, severity
    unresolved: tuple[tuple[int, str], ...]  # days, severity
    risk: str
    lawsuit: str
    media: str
    collective: tuple[tuple[int, str], ...]  # people, severity
    # Needs outside expertise or another company's help (None: no rule).
    outside: str | None = None


@dataclass(frozen=True)
class Unreachable:
    attempts: int
    within_s: float
    apart_s: float


@dataclass(frozen=True)
class Policy:
    organisation: str
    timezone: str
    team: tuple[Member, ...]
    roles: tuple[str, ...]
    channels: tuple[str, ...]
    categories: tuple[str, ...]
    severities: tuple[str, ...]
    default_severity: str
    severity_rules: SeverityRules
    currencies: Mapping[str, int]
    approval_limits: Mapping[str, Mapping[str, Decimal] | None]
    reply_signoffs: tuple[Tier, ...]  # name, roles: in order
    evidence_max_bytes: int
    offer_kinds: tuple[str, ...]
    note_kinds: Mapping[str, str]
    tiers: tuple[Tier, ...]
    direct_tier: str
    stall_after_s: float
    time_limits: TimeLimits
    business_hours: BusinessHours | None
    unreachable: Unreachable
    resolutions: Mapping[str, Resolution]
    reopen_final_with_reason: bool
    initial: str
    states: Mapping[str, str]
    transitions: tuple[Transition, ...]
    # Optional: git's allowed-signers file for 'verify --signatures'.
    allowed_signers: str | None = None
    # Optional (defaults below): who may change the policy, the team and the
    # templates; commands only the owner (or a higher tier) may run; actions
    # a person must take in their own shell (never entered for them by --as).
    # An older policy without owner_only or self_only keeps its rules (none),
    # so its history still replays; the default policy.yaml sets both.
    policy_roles: tuple[str, ...] = ("manager", "executive")
    owner_only: tuple[str, ...] = ()
    self_only: tuple[str, ...] = ()
    # Optional: the channels that count as writing (a notice to an unreachable
    # customer goes through one); None (key absent): not checked.
    written_channels: tuple[str, ...] | None = None
    # Optional: no case file is larger (a 200 MB one took 20 s and 0.9 GB to check).
    case_file_max_bytes: int = 1_000_000
    # Optional: the domain rules that apply (none when the key is absent).
    rules: DomainRules = DomainRules()
    # Optional: the registered name in another language (zh: the name on the seal).
    organisation_names: Mapping[str, str] = field(default_factory=dict)
    # lang -> the letterhead line under the name (address, phone), as letters print it
    letterhead: Mapping[str, str] = field(default_factory=dict)
    # clock -> the share within its limit (percent) the house aims at; the report draws it
    report_targets: Mapping[str, int] = field(default_factory=dict)
    # lang -> group -> code -> label: how documents and reports in that
    # language name the policy's codes (states, categories, channels, ...).
    labels: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    # Optional: the language of the agreement 'agree' files (agree --lang overrides).
    letter_language: str = "en"

    def labels_in(self, lang: str) -> Mapping[str, Mapping[str, str]]:
        """Names of the policy's codes in ``lang``, by group (none: codes print as they are)."""
        return self.labels.get(lang, {})

    def organisation_in(self, lang: str) -> str:
        """The organisation's name for a document in ``lang`` (en: ``organisation``)."""
        return self.organisation_names.get(lang, self.organisation)

    def holds_any(self, user: str, roles: Sequence[str]) -> bool:
        """``user`` holds one of ``roles`` (anyone does when no team is listed)."""
        if not self.team:
            return True
        member = self.member(user)
        return member is not None and bool(set(member.roles) & set(roles))

    def holders(self, roles: Sequence[str], exclude: Sequence[str] = ()) -> list[str]:
        """Members holding one of ``roles``, but those in ``exclude``."""
        out = {e.casefold() for e in exclude}
        return [m.id for m in self.team if set(m.roles) & set(roles) and m.id.casefold() not in out]

    def holds_tier_above(self, user: str, tier: str) -> bool:
        """``user`` holds a role of a tier above ``tier``."""
        member = self.member(user)
        if member is None:
            return False
        above = self.tiers[self.tier_index(tier) + 1 :]
        return any(set(member.roles) & set(t.roles) for t in above)

    def holds_tier(self, user: str, tier: str) -> bool:
        member = self.member(user)
        return member is not None and bool(set(member.roles) & set(self.tiers[self.tier_index(tier)].roles))

    def may_change_policy(self, user: str) -> bool:
        """An empty team lets anyone change it; else a member holding a policy role."""
        if not self.team:
            return True
        member = self.member(user)
        return member is not None and bool(set(member.roles) & set(self.policy_roles))

    @property
    def repeat_severity(self) -> str:
        return self.severity_rules.repeat

    def limits_for(self, severity: str, urgent: bool) -> Mapping[str, Limit]:
        """The limit of each clock for a case of this severity and urgency."""
        table = self._limits
        if (severity, urgent) not in table:
            out = {}
            for clock, rules in self.time_limits.rules.items():
                for rule in rules:
                    if rule.urgent is not None and rule.urgent != urgent:
                        continue
                    if rule.severities is not None and severity not in rule.severities:
                        continue
                    out[clock] = rule.limit
                    break
            table[(severity, urgent)] = MappingProxyType(out)
        return table[(severity, urgent)]

    # Looked up for every case a bulk read rows (a cold build, a report):
    # worked out once per policy. (Not fields: policy_key and == see none of them.)
    @functools.cached_property
    def _limits(self) -> dict[tuple[str, bool], Mapping[str, Limit]]:
        return {}

    @functools.cached_property
    def tier_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tiers)

    @functools.cached_property
    def open_states(self) -> frozenset[str]:
        """States in which a case can still be closed: the case is open."""
        return frozenset(s for t in self.transitions if t.command == "close" for s in t.from_states)

    def member(self, actor: str) -> Member | None:
        """The member with this id (e-mail ids compare case-insensitively)."""
        wanted = actor.casefold()
        return next((m for m in self.team if m.id.casefold() == wanted), None)

    def tier_index(self, name: str) -> int:
        return self.tier_names.index(name)

    def severity_rank(self, name: str) -> int:
        return self.severities.index(name)

    def allowed_commands(self, state: str) -> list[str]:
        return sorted({t.command for t in self.transitions if state in t.from_states})

    def transition(self, command: str, state: str, kind: str | None = None) -> Transition | None:
        for t in self.transitions:
            if t.command == command and state in t.from_states and t.kind in (None, kind):
                return t
        return None


_TOP = (
    "schema",
    "organisation",
    "timezone",
    "team",
    "roles",
    "channels",
    "categories",
    "severities",
    "default_severity",
    "severity_rules",
    "currencies",
    "approval_limits",
    "reply_signoffs",
    "evidence_max_bytes",
    "offer_kinds",
    "note_kinds",
    "tiers",
    "direct_tier",
    "stall_after",
    "time_limits",
    "business_hours",
    "unreachable",
    "resolutions",
    "reopen_final_with_reason",
    "lifecycle",
)
# Added after schema 1 was first written: optional, with the default stated.
_OPTIONAL = (
    "allowed_signers",
    "policy_roles",
    "owner_only",
    "self_only",
    "case_file_max_bytes",
    "written_channels",
    "rules",
    "organisation_names",
    "letterhead",
    "report_targets",
    "labels",
    "letter_language",
)


def parse(data: Any) -> Policy:
    """Validate plain data; raise validate.Invalid with the key path."""
    top = v.mapping(data, ())
    v.keys(top, (), _TOP, _OPTIONAL)
    schema = v.integer(top["schema"], ("schema",))
    if schema != SCHEMA:
        v.fail(
            ("schema",),
            f"policy schema {schema} is not supported (this complaintctl reads {SCHEMA})",
            "upgrade complaintctl or migrate the policy",
        )
    timezone = v.string(top["timezone"], ("timezone",))
    _check_timezone(timezone)

    roles = v.strings(top["roles"], ("roles",))
    channels = v.strings(top["channels"], ("channels",))
    team = []
    seen_ids: set[str] = set()
    for i, raw in enumerate(v.seq(top["team"], ("team",))):
        path: v.Path = ("team", i)
        m = v.mapping(raw, path)
        v.keys(m, path, ("id", "name", "roles"))
        member_id = v.string(m["id"], (*path, "id"))
        if member_id.casefold() in seen_ids:
            v.fail((*path, "id"), f"team member '{member_id}' is listed twice", "list them once")
        seen_ids.add(member_id.casefold())
        member_roles = _role_list(m["roles"], (*path, "roles"), roles)
        team.append(Member(member_id, v.string(m["name"], (*path, "name")), member_roles))

    severities = v.strings(top["severities"], ("severities",))
    currencies_raw = v.mapping(top["currencies"], ("currencies",))
    currencies = {}
    for code, places in currencies_raw.items():
        if not (isinstance(code, str) and len(code) == 3 and code.isupper()):
            v.fail(("currencies", str(code)), f"'{code}' is not an ISO 4217 code", "use e.g. CNY")
        currencies[code] = v.integer(places, ("currencies", code), low=0, high=4)
    note_kinds_raw = v.mapping(top["note_kinds"], ("note_kinds",))
    note_kinds = {str(k): v.string(text, ("note_kinds", str(k))) for k, text in note_kinds_raw.items()}
    for needed in ("internal", "reply", "contact-failed"):
        if needed not in note_kinds:
            v.fail(("note_kinds",), f"note kind '{needed}' is missing", f"add '{needed}:'")

    tiers = _named_roles(top["tiers"], "tiers", roles)
    if not tiers:
        v.fail(("tiers",), "no tiers", "list at least one tier")
    tier_names = [t.name for t in tiers]

    lifecycle = v.mapping(top["lifecycle"], ("lifecycle",))
    v.keys(lifecycle, ("lifecycle",), ("initial", "states", "transitions"))
    states_raw = v.mapping(lifecycle["states"], ("lifecycle", "states"))
    states = {str(k): v.string(text, ("lifecycle", "states", str(k))) for k, text in states_raw.items()}
    initial = v.choice(lifecycle["initial"], ("lifecycle", "initial"), states, "state")
    transitions = []
    for i, raw in enumerate(v.seq(lifecycle["transitions"], ("lifecycle", "transitions"))):
        path = ("lifecycle", "transitions", i)
        t = v.mapping(raw, path)
        v.keys(t, path, ("command", "from"), ("to", "kind"))
        command = v.choice(t["command"], (*path, "command"), COMMANDS, "command")
        froms = v.strings(t["from"], (*path, "from"))
        for j, state in enumerate(froms):
            v.choice(state, (*path, "from", j), states, "state")
        to = None if t.get("to") is None else v.choice(t["to"], (*path, "to"), states, "state")
        kind = None
        if t.get("kind") is not None:
            kind = v.choice(t["kind"], (*path, "kind"), note_kinds, "note kind")
        transitions.append(Transition(command, froms, to, kind))

    resolutions = {}
    res_raw = v.mapping(top["resolutions"], ("resolutions",))
    for name, raw in res_raw.items():
        path = ("resolutions", str(name))
        r = {} if raw is None else v.mapping(raw, path)
        v.keys(r, path, ("label",), ("requires_state", "final", "final_when_executed"))
        req = r.get("requires_state")
        resolutions[str(name)] = Resolution(
            name=str(name),
            label=v.string(r["label"], (*path, "label")),
            requires_state=None if req is None else v.choice(req, (*path, "requires_state"), states, "state"),
            final=v.boolean(r.get("final", False), (*path, "final")),
            final_when_executed=v.boolean(
                r.get("final_when_executed", False), (*path, "final_when_executed")
            ),
        )
    if not resolutions:
        v.fail(("resolutions",), "no resolutions", "list at least one way a case can end")

    return Policy(
        organisation=v.string(top["organisation"], ("organisation",)),
        timezone=timezone,
        team=tuple(team),
        roles=roles,
        channels=channels,
        categories=v.strings(top["categories"], ("categories",)),
        severities=severities,
        default_severity=v.choice(top["default_severity"], ("default_severity",), severities, "severity"),
        severity_rules=_severity_rules(top["severity_rules"], severities),
        currencies=MappingProxyType(currencies),
        approval_limits=_approval_limits(top["approval_limits"], roles, currencies),
        reply_signoffs=_named_roles(top["reply_signoffs"], "reply_signoffs", roles),
        evidence_max_bytes=v.integer(top["evidence_max_bytes"], ("evidence_max_bytes",), low=1),
        offer_kinds=v.strings(top["offer_kinds"], ("offer_kinds",)),
        note_kinds=MappingProxyType(note_kinds),
        tiers=tuple(tiers),
        direct_tier=v.choice(top["direct_tier"], ("direct_tier",), tier_names, "tier"),
        stall_after_s=duration(top["stall_after"], ("stall_after",)),
        time_limits=_time_limits(top["time_limits"], states, severities, top["business_hours"] is not None),
        business_hours=None if top["business_hours"] is None else _business_hours(top["business_hours"]),
        unreachable=_unreachable(top["unreachable"]),
        resolutions=MappingProxyType(resolutions),
        reopen_final_with_reason=v.boolean(top["reopen_final_with_reason"], ("reopen_final_with_reason",)),
        initial=initial,
        states=MappingProxyType(states),
        transitions=tuple(transitions),
        allowed_signers=None
        if top.get("allowed_signers") is None
        else v.string(top["allowed_signers"], ("allowed_signers",)),
        policy_roles=_optional_roles(top, "policy_roles", roles, ("manager", "executive")),
        owner_only=_optional_commands(top, "owner_only", ()),
        self_only=_optional_commands(top, "self_only", ()),
        written_channels=None
        if top.get("written_channels") is None
        else tuple(
            v.choice(c, ("written_channels", i), channels, "channel")
            for i, c in enumerate(v.strings(top["written_channels"], ("written_channels",)))
        ),
        case_file_max_bytes=1_000_000
        if top.get("case_file_max_bytes") is None
        else v.integer(top["case_file_max_bytes"], ("case_file_max_bytes",), low=10_000),
        labels=_labels(top.get("labels")),
        report_targets=MappingProxyType(
            {
                v.choice(str(k), ("report_targets", str(k)), CLOCKS, "clock"): v.integer(
                    n, ("report_targets", str(k)), low=0, high=100
                )
                for k, n in v.mapping(top.get("report_targets") or {}, ("report_targets",)).items()
            }
        ),
        letterhead=MappingProxyType(
            {
                str(k): v.string(line, ("letterhead", str(k)))
                for k, line in v.mapping(top.get("letterhead") or {}, ("letterhead",)).items()
            }
        ),
        organisation_names=MappingProxyType(
            {
                str(k): v.string(name, ("organisation_names", str(k)))
                for k, name in v.mapping(top.get("organisation_names") or {}, ("organisation_names",)).items()
            }
        ),
        letter_language="en"
        if top.get("letter_language") is None
        else v.choice(top["letter_language"], ("letter_language",), ("en", "zh"), "language"),
        rules=DomainRules()
        if top.get("rules") is None
        else _rules(
            top["rules"],
            roles,
            severities,
            resolutions,
            channels,
            note_kinds,
            v.strings(top["categories"], ("categories",)),
        ),
    )


LABEL_GROUPS = (
    "states", "severities", "categories", "channels", "tiers", "resolutions", "note_kinds", "offer_kinds",
    "offer_statuses", "clocks", "clock_statuses", "causes", "actions",
)  # fmt: skip


def _labels(raw: Any) -> Mapping[str, Mapping[str, Mapping[str, str]]]:
    out: dict[str, Mapping[str, Mapping[str, str]]] = {}
    for lang, groups in v.mapping(raw or {}, ("labels",)).items():
        path: v.Path = ("labels", str(lang))
        found = v.mapping(groups, path)
        v.keys(found, path, (), LABEL_GROUPS)
        out[str(lang)] = MappingProxyType(
            {
                str(group): MappingProxyType(
                    {
                        str(code): v.string(text, (*path, str(group), str(code)))
                        for code, text in v.mapping(names, (*path, str(group))).items()
                    }
                )
                for group, names in found.items()
            }
        )
    return MappingProxyType(out)


def _rules(
    raw: Any,
    roles: tuple[str, ...],
    severities: tuple[str, ...],
    resolutions: Mapping[str, Any],
    channels: tuple[str, ...],
    note_kinds: Mapping[str, str],
    categories: Sequence[str],
) -> DomainRules:
    path: v.Path = ("rules",)
    r = v.mapping(raw, path)
    names = [f.name for f in dataclasses.fields(DomainRules) if f.name != "same_matter_within_s"]
    v.keys(r, path, (), [*names, "same_matter_within"])

    def role_map(key: str, names: Sequence[str], what: str) -> dict[str, tuple[str, ...]]:
        found = v.mapping(r.get(key) or {}, (*path, key))
        for name in found:
            v.choice(name, (*path, key, str(name)), names, what)
        return {str(k): _role_list(val, (*path, key, str(k)), roles) for k, val in found.items()}

    required = v.strings(r.get("required_on_open") or [], (*path, "required_on_open"))
    for i, name in enumerate(required):
        v.choice(name, (*path, "required_on_open", i), REQUIRED_ON_OPEN, "field")
    outside = r.get("outside_responsibility")
    consent = r.get("consent_from")
    return DomainRules(
        required_on_open=required,
        cause_roles=MappingProxyType(role_map("cause_roles", CAUSES, "cause")),
        outside_responsibility=None
        if outside is None
        else v.choice(outside, (*path, "outside_responsibility"), resolutions, "resolution"),
        lower_roles=MappingProxyType(role_map("lower_roles", severities, "severity")),
        cause_undo_roles=MappingProxyType(role_map("cause_undo_roles", CAUSES, "cause")),
        correct_roles=MappingProxyType(role_map("correct_roles", tuple(CORRECTABLE), "correctable field")),
        consent_from=None
        if consent is None
        else v.choice(consent, (*path, "consent_from"), severities, "severity"),
        signed_off_replies=tuple(
            v.choice(c, (*path, "signed_off_replies", i), channels, "channel")
            for i, c in enumerate(v.strings(r.get("signed_off_replies") or [], (*path, "signed_off_replies")))
        ),
        bottom_line_withdrawn_caps=v.boolean(
            r.get("bottom_line_withdrawn_caps", False), (*path, "bottom_line_withdrawn_caps")
        ),
        measures_required=v.boolean(r.get("measures_required", False), (*path, "measures_required")),
        agreement_binds_close=v.boolean(
            r.get("agreement_binds_close", False), (*path, "agreement_binds_close")
        ),
        quiet_notes=tuple(
            v.choice(k, (*path, "quiet_notes", i), note_kinds, "note kind")
            for i, k in enumerate(v.strings(r.get("quiet_notes") or [], (*path, "quiet_notes")))
        ),
        serious_at_direct_tier=v.boolean(
            r.get("serious_at_direct_tier", False), (*path, "serious_at_direct_tier")
        ),
        escalate_from=None
        if r.get("escalate_from") is None
        else v.choice(r["escalate_from"], (*path, "escalate_from"), severities, "severity"),
        overcharge_categories=tuple(
            v.choice(c, (*path, "overcharge_categories", i), categories, "category")
            for i, c in enumerate(
                v.strings(r.get("overcharge_categories") or [], (*path, "overcharge_categories"))
            )
        ),
        double_refund_told=v.boolean(r.get("double_refund_told", False), (*path, "double_refund_told")),
        waiting_stops_unresolved=v.boolean(
            r.get("waiting_stops_unresolved", False), (*path, "waiting_stops_unresolved")
        ),
        same_matter_within_s=None
        if r.get("same_matter_within") is None
        else duration(r["same_matter_within"], (*path, "same_matter_within")),
    )


def _optional_roles(
    top: Mapping[str, Any], key: str, roles: tuple[str, ...], default: tuple[str, ...]
) -> tuple[str, ...]:
    if top.get(key) is None:
        return tuple(r for r in default if r in roles) or roles
    return _role_list(top[key], (key,), roles)


def _optional_commands(top: Mapping[str, Any], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    if top.get(key) is None:
        return default
    found = v.strings(top[key], (key,))
    for i, command in enumerate(found):
        v.choice(command, (key, i), COMMANDS, "command")
    return found


def span_seconds(text: str) -> float | None:
    """'90m', '48h', '7d' in seconds; None if the text is not such a span."""
    m = _DURATION_RE.match(text.strip())
    if not m or float(m.group(1)) <= 0:
        return None
    return float(m.group(1)) * {"m": 60, "h": 3600, "d": 86400}[m.group(2)]


def duration(value: Any, path: v.Path, *, business: bool = False) -> float:
    """'90m', '48h', '7d' -> seconds. Business time is counted in h or m."""
    text = v.string(value, path)
    seconds = span_seconds(text)
    if seconds is None:
        v.fail(path, f"'{text}' is not a duration", "write it like 90m, 48h or 7d")
    if business and text.strip().endswith("d"):
        v.fail(
            path,
            f"'{text}': business time is counted in hours",
            "write it in h, e.g. 16h for two 8-hour days",
        )
    return seconds


def _role_list(value: Any, path: v.Path, roles: tuple[str, ...]) -> tuple[str, ...]:
    names = v.strings(value, path)
    for j, role in enumerate(names):
        v.choice(role, (*path, j), roles, "role")
    return names


def _named_roles(raw: Any, key: str, roles: tuple[str, ...]) -> tuple[Tier, ...]:
    """A list of {name, roles}: escalation tiers, reply sign-off steps."""
    out = []
    for i, item in enumerate(v.seq(raw, (key,))):
        path: v.Path = (key, i)
        step = v.mapping(item, path)
        v.keys(step, path, ("name", "roles"))
        out.append(
            Tier(v.string(step["name"], (*path, "name")), _role_list(step["roles"], (*path, "roles"), roles))
        )
    return tuple(out)


def _approval_limits(
    raw: Any, roles: tuple[str, ...], currencies: Mapping[str, int]
) -> Mapping[str, Mapping[str, Decimal] | None]:
    path: v.Path = ("approval_limits",)
    out: dict[str, Mapping[str, Decimal] | None] = {}
    for role, limits in v.mapping(raw, path).items():
        v.choice(role, (*path, str(role)), roles, "role")
        if limits is None:
            out[str(role)] = None  # no limit
            continue
        per: dict[str, Decimal] = {}
        for code, amount in v.mapping(limits, (*path, str(role))).items():
            p = (*path, str(role), str(code))
            v.choice(code, p, currencies, "currency")
            try:
                value = Decimal(str(amount))
            except InvalidOperation:
                v.fail(p, f"'{amount}' is not an amount", 'write it like "200.00"')
            if isinstance(amount, bool) or not value.is_finite() or value < 0:
                v.fail(p, f"'{amount}' is not an amount", 'write it like "200.00"')
            per[str(code)] = value
        out[str(role)] = MappingProxyType(per)
    return MappingProxyType(out)


def _severity_rules(raw: Any, severities: tuple[str, ...]) -> SeverityRules:
    path: v.Path = ("severity_rules",)
    r = v.mapping(raw, path)
    v.keys(
        r,
        path,
        ("repeat", "unresolved", "risk", "lawsuit", "media", "collective"),
        ("same_matter", "outside"),
    )

    def sev(value: Any, p: v.Path) -> str:
        return v.choice(value, p, severities, "severity")

    same = None
    if r.get("same_matter") is not None:
        sm = v.mapping(r["same_matter"], (*path, "same_matter"))
        v.keys(sm, (*path, "same_matter"), ("customers", "within_days", "severity"))
        same = (
            v.integer(sm["customers"], (*path, "same_matter", "customers"), low=2),
            v.integer(sm["within_days"], (*path, "same_matter", "within_days"), low=1),
            sev(sm["severity"], (*path, "same_matter", "severity")),
        )

    def steps(key: str, unit: str) -> tuple[tuple[int, str], ...]:
        out = []
        for i, item in enumerate(v.seq(r[key], (*path, key))):
            p = (*path, key, i)
            step = v.mapping(item, p)
            v.keys(step, p, (unit, "severity"))
            out.append((v.integer(step[unit], (*p, unit), low=1), sev(step["severity"], (*p, "severity"))))
        return tuple(sorted(out))

    return SeverityRules(
        repeat=sev(r["repeat"], (*path, "repeat")),
        same_matter=same,
        unresolved=steps("unresolved", "days"),
        risk=sev(r["risk"], (*path, "risk")),
        lawsuit=sev(r["lawsuit"], (*path, "lawsuit")),
        media=sev(r["media"], (*path, "media")),
        collective=steps("collective", "people"),
        outside=None if r.get("outside") is None else sev(r["outside"], (*path, "outside")),
    )


def _time_limits(
    raw: Any, states: Mapping[str, str], severities: tuple[str, ...], has_hours: bool
) -> TimeLimits:
    path: v.Path = ("time_limits",)
    r = v.mapping(raw, path)
    v.keys(r, path, ("warn_at", "pause_states"), CLOCKS)
    warn_at = r["warn_at"]
    if isinstance(warn_at, bool) or not isinstance(warn_at, int | float) or not 0 < warn_at <= 1:
        v.fail((*path, "warn_at"), "warn_at must be a fraction above 0 and at most 1", "write e.g. 0.8")
    pause = v.strings(r["pause_states"], (*path, "pause_states"))
    for i, state in enumerate(pause):
        v.choice(state, (*path, "pause_states", i), states, "state")
    rules: dict[str, tuple[LimitRule, ...]] = {}
    for clock in CLOCKS:
        rows = []
        for i, item in enumerate(v.seq(r.get(clock, []), (*path, clock))):
            p = (*path, clock, i)
            row = v.mapping(item, p)
            v.keys(row, p, ("limit",), ("count", "urgent", "severity"))
            count = v.choice(row.get("count", "calendar"), (*p, "count"), ("calendar", "business"), "count")
            if count == "business" and not has_hours:
                v.fail(
                    (*p, "count"),
                    "business time needs business_hours",
                    "add business_hours: or count: calendar",
                )
            business = count == "business"
            sevs = None
            if row.get("severity") is not None:
                sevs = v.strings(row["severity"], (*p, "severity"))
                for j, name in enumerate(sevs):
                    v.choice(name, (*p, "severity", j), severities, "severity")
            urgent = None if row.get("urgent") is None else v.boolean(row["urgent"], (*p, "urgent"))
            limit = Limit(duration(row["limit"], (*p, "limit"), business=business), business)
            rows.append(LimitRule(limit, urgent, sevs))
        rules[clock] = tuple(rows)
    return TimeLimits(float(warn_at), pause, MappingProxyType(rules))


def _dates(raw: Any, path: v.Path) -> frozenset[date]:
    out = set()
    for i, item in enumerate(v.seq(raw, path)):
        if isinstance(item, date):
            out.add(item)
            continue
        try:
            out.add(date.fromisoformat(v.string(item, (*path, i))))
        except ValueError:
            v.fail((*path, i), f"'{item}' is not a date", "write it like 2026-12-31")
    return frozenset(out)


def _business_hours(raw: Any) -> BusinessHours:
    path: v.Path = ("business_hours",)
    r = v.mapping(raw, path)
    v.keys(r, path, ("holidays", "closed", "open"), WEEKDAYS)
    hours = {}
    for index, day in enumerate(WEEKDAYS):
        if r.get(day) is None:
            continue
        text = v.string(r[day], (*path, day))
        m = _HOURS_RE.match(text)
        if not m:
            v.fail((*path, day), f"'{text}' is not a span of hours", 'write it like "09:00-18:00"')
        try:
            start = time(int(m.group(1)), int(m.group(2)))
            end = time(int(m.group(3)), int(m.group(4)))
        except ValueError:
            v.fail((*path, day), f"'{text}' is not a span of hours", 'write it like "09:00-18:00"')
        if end <= start:
            v.fail((*path, day), f"'{text}' ends before it starts", 'write it like "09:00-18:00"')
        hours[index] = (start, end)
    if not hours:
        v.fail(path, "no working hours on any day", 'give at least one day, e.g. mon: "09:00-18:00"')
    country = None if r["holidays"] is None else v.string(r["holidays"], (*path, "holidays"))
    return BusinessHours(
        MappingProxyType(hours),
        country,
        _dates(r["closed"], (*path, "closed")),
        _dates(r["open"], (*path, "open")),
    )


def _unreachable(raw: Any) -> Unreachable:
    path: v.Path = ("unreachable",)
    r = v.mapping(raw, path)
    v.keys(r, path, ("attempts", "within", "apart"))
    return Unreachable(
        v.integer(r["attempts"], (*path, "attempts"), low=0, high=20),
        duration(r["within"], (*path, "within")),
        duration(r["apart"], (*path, "apart")),
    )


def _check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        v.fail(("timezone",), f"unknown time zone '{name}'", "use an IANA name like Asia/Shanghai")
