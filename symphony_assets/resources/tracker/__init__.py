"""Issue trackers that findings are reconciled into: a built-in Postgres one (default) and GitHub.

Both satisfy :class:`Tracker` (:mod:`.base`, with the errors trackers raise). Reconciling
(:func:`reconcile`, :mod:`.apply`) takes a per-codebase lock (:mod:`.locks`), lists the labelled
issues, plans with :func:`symphony_assets.analysis.reconcile.plan`, and applies the plan. Creating is
idempotent in both: the built-in tracker (:mod:`.builtin`) has a UNIQUE (label, fingerprint)
constraint; GitHub (:mod:`.github`) has no idempotency key, so after a POST whose outcome is unknown
(timeout, 5xx) the tracker re-lists the label and looks for the fingerprint before trying again.
:class:`TrackerResource` (:mod:`.resource`) chooses the tracker.
"""

from __future__ import annotations

from symphony_assets.analysis.reconcile import Issue
from symphony_assets.resources.tracker.apply import Outcome, ReconcileResult, reconcile
from symphony_assets.resources.tracker.base import (
    CircuitOpenError,
    Tracker,
    TrackerAuthError,
    TrackerBusyError,
    TrackerError,
    TrackerForbiddenError,
    TrackerNotFoundError,
    TrackerRateLimitError,
    TrackerUnavailableError,
    TrackerValidationError,
)
from symphony_assets.resources.tracker.breaker import CircuitBreaker
from symphony_assets.resources.tracker.builtin import BuiltinTracker
from symphony_assets.resources.tracker.github import GitHubTracker
from symphony_assets.resources.tracker.resource import TrackerResource

__all__ = [
    "BuiltinTracker",
    "CircuitBreaker",
    "CircuitOpenError",
    "GitHubTracker",
    "Issue",
    "Outcome",
    "ReconcileResult",
    "Tracker",
    "TrackerAuthError",
    "TrackerBusyError",
    "TrackerError",
    "TrackerForbiddenError",
    "TrackerNotFoundError",
    "TrackerRateLimitError",
    "TrackerUnavailableError",
    "TrackerResource",
    "TrackerValidationError",
    "reconcile",
]
