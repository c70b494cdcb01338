"""Load and validate policy.yaml into a frozen Policy.

Everything a rule depends on (states, transitions, roles, tiers, categories,
currencies) comes from here; no other module hard-codes the house rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from . import validate as v
from .errors import PolicyError

SCHEMA = 1
COMMANDS = ("note", "propose", "agree", "escalate", "close", "followup", "archive", "reopen")


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
class Policy:
    organisation: str
    timezone: str
    team: tuple[Member, ...]
    roles: tuple[str, ...]
    channels: tuple[str, ...]
    categories: tuple[str, ...]
    severities: tuple[str, ...]
    default_severity: str
    repeat_severity: str
    currencies: Mapping[str, int]
    offer_kinds: tuple[str, ...]
    note_kinds: Mapping[str, str]
    tiers: tuple[Tier, ...]
    direct_tier: str
    resolutions: Mapping[str, Resolution]
    reopen_final_with_reason: bool
    initial: str
    states: Mapping[str, str]
    transitions: tuple[Transition, ...]

    def member(self, actor: str) -> Member | None:
        return next((m for m in self.team if m.id == actor), None)

    def tier_index(self, name: str) -> int:
        return [t.name for t in self.tiers].index(name)

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
    "repeat_severity",
    "currencies",
    "offer_kinds",
    "note_kinds",
    "tiers",
    "direct_tier",
    "resolutions",
    "reopen_final_with_reason",
    "lifecycle",
)


def parse(data: Any) -> Policy:
    """Validate plain data; raise validate.Invalid with the key path."""
    top = v.mapping(data, ())
    v.keys(top, (), _TOP)
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
    team = []
    seen_ids: set[str] = set()
    for i, raw in enumerate(v.seq(top["team"], ("team",))):
        path: v.Path = ("team", i)
        m = v.mapping(raw, path)
        v.keys(m, path, ("id", "name", "roles"))
        member_id = v.string(m["id"], (*path, "id"))
        if member_id in seen_ids:
            v.fail((*path, "id"), f"team member '{member_id}' is listed twice", "list them once")
        seen_ids.add(member_id)
        member_roles = v.strings(m["roles"], (*path, "roles"))
        for j, role in enumerate(member_roles):
            v.choice(role, (*path, "roles", j), roles, "role")
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

    tiers = []
    for i, raw in enumerate(v.seq(top["tiers"], ("tiers",))):
        path = ("tiers", i)
        t = v.mapping(raw, path)
        v.keys(t, path, ("name", "roles"))
        tier_roles = v.strings(t["roles"], (*path, "roles"))
        for j, role in enumerate(tier_roles):
            v.choice(role, (*path, "roles", j), roles, "role")
        tiers.append(Tier(v.string(t["name"], (*path, "name")), tier_roles))
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
        channels=v.strings(top["channels"], ("channels",)),
        categories=v.strings(top["categories"], ("categories",)),
        severities=severities,
        default_severity=v.choice(top["default_severity"], ("default_severity",), severities, "severity"),
        repeat_severity=v.choice(top["repeat_severity"], ("repeat_severity",), severities, "severity"),
        currencies=MappingProxyType(currencies),
        offer_kinds=v.strings(top["offer_kinds"], ("offer_kinds",)),
        note_kinds=MappingProxyType(note_kinds),
        tiers=tuple(tiers),
        direct_tier=v.choice(top["direct_tier"], ("direct_tier",), tier_names, "tier"),
        resolutions=MappingProxyType(resolutions),
        reopen_final_with_reason=v.boolean(top["reopen_final_with_reason"], ("reopen_final_with_reason",)),
        initial=initial,
        states=MappingProxyType(states),
        transitions=tuple(transitions),
    )


def _check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        v.fail(("timezone",), f"unknown time zone '{name}'", "use an IANA name like Asia/Shanghai")


def load_text(text: str, source: str) -> Policy:
    from .yamlio import line_of, load_plain

    data = load_plain(text, source, PolicyError)
    try:
        return parse(data)
    except v.Invalid as exc:
        line = line_of(text, exc.path)
        where = f"{source}:{line}" if line else source
        raise PolicyError(exc.what, where=where, fix=exc.fix) from None


def load(path: Path, display: str = "policy.yaml") -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(
            "no policy.yaml", where=display, fix="run 'complaintctl init DIR' to make a workspace"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read: {exc}", where=display) from None
    return load_text(text, display)
