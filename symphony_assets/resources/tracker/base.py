"""What every issue tracker is: the :class:`Tracker` protocol, and the errors trackers raise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from symphony_assets.analysis.reconcile import LABEL_PREFIX, Issue


class TrackerError(RuntimeError):
    """Something a tracker refused or could not do; messages never contain credentials."""


class TrackerAuthError(TrackerError):
    """Bad or missing credentials: retrying will not help."""


class TrackerForbiddenError(TrackerError):
    """Authenticated, but not allowed (token scope, repository permissions)."""


class TrackerValidationError(TrackerError):
    def __init__(self, message: str, errors: list[Any] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class TrackerNotFoundError(TrackerError):
    pass


class TrackerRateLimitError(TrackerError):
    """Rate limited for longer than we are willing to wait."""


class TrackerUnavailableError(TrackerError):
    """The tracker kept failing (5xx, timeouts, connection errors) through every retry."""


class CircuitOpenError(TrackerUnavailableError):
    """Too many consecutive failures: calls fail fast until the cool-down has passed."""


class TrackerBusyError(TrackerError):
    """Another reconcile of the same codebase holds the lock."""


@runtime_checkable
class Tracker(Protocol):
    def list_issues(self, label: str) -> list[Issue]:
        """Every issue carrying ``label``, open and closed."""
        ...

    def create(self, title: str, body: str, labels: Sequence[str]) -> Issue: ...

    def update(self, number: int, title: str, body: str) -> Issue: ...

    def close(self, number: int) -> Issue: ...

    def reopen(self, number: int) -> Issue: ...

    def lock(self, codebase: str) -> Any:
        """A context manager held while one codebase is reconciled."""
        ...


def key_label(labels: Sequence[str]) -> str:
    """The label that scopes a fingerprint: the codebase label when there is one."""
    for label in labels:
        if label.startswith(LABEL_PREFIX):
            return label
    return labels[0] if labels else ""
