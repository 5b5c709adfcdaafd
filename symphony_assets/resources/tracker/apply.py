"""Reconciling findings into a tracker: plan with :func:`symphony_assets.analysis.reconcile.plan` under
the codebase's lock, then apply the plan."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from symphony_assets.analysis.reconcile import Action, Finding, Issue, Plan, label_for, plan
from symphony_assets.resources.tracker.base import Tracker, TrackerAuthError, TrackerError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    action: Action
    applied: bool
    number: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class ReconcileResult:
    plan: Plan
    dry_run: bool
    outcomes: tuple[Outcome, ...] = ()

    @property
    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.error is not None]


def reconcile(
    tracker: Tracker,
    codebase: str,
    findings: Iterable[Finding],
    history: Mapping[str, date],
    *,
    today: date,
    dry_run: bool = True,
    close_after_days: int = 3,
    closing_enabled: bool = False,
    max_create: int | None = None,
    max_close: int | None = None,
) -> ReconcileResult:
    """Plan (and unless ``dry_run``, apply) under the codebase's lock, so concurrent runs serialise.

    One failed action does not stop the others: each outcome records its error, and the next run
    retries what is still to do. Bad credentials stop everything at once.
    """
    label = label_for(codebase)
    findings = list(findings)
    with tracker.lock(codebase):
        the_plan = plan(
            findings,
            tracker.list_issues(label),
            history,
            today=today,
            close_after_days=close_after_days,
            closing_enabled=closing_enabled,
            max_create=max_create,
            max_close=max_close,
        )
        if dry_run:
            return ReconcileResult(the_plan, True)
        outcomes: list[Outcome] = []
        steps: list[tuple[Action, Callable[[Action], Issue]]] = [
            *((a, lambda a: _reopen(tracker, a)) for a in the_plan.reopen),
            *((a, lambda a: tracker.update(_num(a), a.title, a.body)) for a in the_plan.update),
            *((a, lambda a: tracker.create(a.title, a.body, [label])) for a in the_plan.create),
            *((a, lambda a: tracker.close(_num(a))) for a in the_plan.close),
        ]
        for action, step in steps:
            try:
                issue = step(action)
            except TrackerAuthError:
                raise
            except TrackerError as exc:
                log.warning("tracker: %s %s failed: %s", action.kind, action.fingerprint, exc)
                outcomes.append(Outcome(action, False, action.number, str(exc)))
            else:
                outcomes.append(Outcome(action, True, issue.number))
        return ReconcileResult(the_plan, False, tuple(outcomes))


def _reopen(tracker: Tracker, action: Action) -> Issue:
    issue = tracker.reopen(_num(action))
    if issue.title != action.title or issue.body != action.body:
        issue = tracker.update(_num(action), action.title, action.body)
    return issue


def _num(action: Action) -> int:
    if action.number is None:
        raise TrackerError(f"{action.kind} {action.fingerprint}: no issue number")
    return action.number
