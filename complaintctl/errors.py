"""The one exception hierarchy: every expected failure is a ComplaintError.

The CLI catches ComplaintError at a single boundary, prints ``str(error)`` on
one line to stderr and exits with ``error.exit_code``. Messages say what is
wrong, where (a case id or ``FILE:LINE``), and how to fix it.
"""

from __future__ import annotations


class ComplaintError(Exception):
    """Base of every failure the user can act on."""

    exit_code = 1

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(what)

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        text = f"{self.where}: {self.what}" if self.where else self.what
        if self.fix:
            text += f"; {self.fix}"
        return text


class UsageError(ComplaintError):
    """A bad argument or option value (exit 2, like a parse error)."""

    exit_code = 2


class WorkspaceError(ComplaintError):
    """No workspace, or the workspace is in a state commands cannot run in."""


class PolicyError(ComplaintError):
    """policy.yaml is missing, malformed or inconsistent."""


class CaseFileError(ComplaintError):
    """A case file is unreadable, malformed or unsafe."""


class NotFoundError(ComplaintError):
    """No case with that id."""


class RuleError(ComplaintError):
    """The change is refused by the lifecycle or a rule of the policy."""


class GitError(ComplaintError):
    """git refused or failed; the workspace has been rolled back."""


class LockError(ComplaintError):
    """Another complaintctl command holds the workspace lock."""


class TemplateError(ComplaintError):
    """A template is missing, unsafe or refers to something undefined."""
