"""Pure: which recorded events still count (a 'retract' takes one back).

No imports from the rest of the core, so the clocks and the lifecycle can
both use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def event_key(event: Mapping[str, Any]) -> str:
    """How a 'retract' names the event it takes back: its time, author and
    action (positions change when a merge interleaves two sides' events)."""
    return f"{event['at']} {event['by']} {event['action']}"


def retracted(events: Iterable[Mapping[str, Any]]) -> set[str]:
    """The keys (``event_key``) of events a later 'retract' took back."""
    return {str(e["retracts"]) for e in events if e.get("action") == "retract" and e.get("retracts")}


def live_events(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Events that still count: not taken back, and not the retractions themselves."""
    events = list(events)
    gone = retracted(events)
    if not gone:  # the common case: no key to make
        return [e for e in events if e["action"] != "retract"]
    return [e for e in events if e["action"] != "retract" and event_key(e) not in gone]
