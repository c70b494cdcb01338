"""Three-way merge of one case file's text: git's merge driver, sync and verify.

The texts are parsed and checked like any case file (a file with conflict
markers, anchors or unknown keys is refused, never merged); the events are
merged by ``replay.merge`` and the result is written in the tool's own layout,
starting from the common version so that the diff shows only what was added.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from complaintctl.core.policy import Policy
from complaintctl.store import workspace
from complaintctl.team import replay
from complaintctl.team.replay import MergeConflict, Merged


def merge_texts(
    policy: Policy,
    rel: str,
    base: str | None,
    ours: str,
    theirs: str,
    history: Callable[[], Iterable[str]] = lambda: (),
) -> tuple[str, Merged]:
    """The merged text. ``history``: earlier texts of the file, newest first,
    read only when the merge base is not a version both sides extend."""
    if ours == theirs:
        doc = workspace.parse_case(ours, rel, policy, roundtrip=False)
        return ours, Merged(doc, (), ())
    if base is None:
        raise MergeConflict(
            "the same case id was created on both sides with different contents",
            where=rel,
            fix="keep one with 'complaintctl sync --keep-ours ID' or '--keep-theirs ID', "
            "then open the other complaint again as a new case",
        )
    ours_doc = workspace.parse_case(ours, rel, policy, roundtrip=False)
    theirs_doc = workspace.parse_case(theirs, rel, policy, roundtrip=False)

    def starts() -> Iterator[Any]:
        for text in itertools.chain([base], history()):
            yield workspace.parse_case(text, rel, policy, roundtrip=True)

    merged = replay.merge(policy, ours_doc, theirs_doc, starts())
    text = workspace.dump_case(merged.case)
    workspace.parse_case(text, rel, policy, roundtrip=False)  # what we write passes our own schema
    return text, merged
