"""Acting policies: what a codebase allows its sensors to do on their own (pure, no I/O).

``cleanup: {mode: dry-run | execute, max_deletions: N, allow_tracked: false}`` and
``tracker: {mode: dry-run | apply, max_create: N, max_close: N, closing_enabled: false}`` in
symphony.yaml. Anything missing means a dry run; the global kill switch overrides every policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DRY_RUN = "dry-run"
EXECUTE = "execute"
APPLY = "apply"
#: ``SYMPHONY_ACTING`` values that stop all acting (anything else, or unset, leaves policies in charge).
OFF_VALUES = frozenset({"off", "0", "false", "no", "stop", "disabled"})


def acting_env_off(value: str | None) -> bool:
    """True when the kill-switch environment variable says stop."""
    return value is not None and value.strip().lower() in OFF_VALUES


def _int(options: Mapping[str, Any], key: str, default: int) -> int:
    value = options.get(key)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


@dataclass(frozen=True)
class CleanupPolicy:
    execute: bool = False
    max_deletions: int = 50
    allow_tracked: bool = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> CleanupPolicy:
        opts = options or {}
        return cls(
            execute=opts.get("mode") == EXECUTE,
            max_deletions=_int(opts, "max_deletions", cls.max_deletions),
            allow_tracked=opts.get("allow_tracked") is True,
        )

    def run_config(self, acting: bool) -> dict[str, Any]:
        """The ``cleanup_actions`` op config: the policy's caps, and execute only when acting is allowed."""
        execute = self.execute and acting
        return {
            "execute": execute,
            "max_deletions": self.max_deletions,
            "allow_tracked": self.allow_tracked and execute,
        }


@dataclass(frozen=True)
class TrackerPolicy:
    apply: bool = False
    max_create: int = 20
    max_close: int = 10
    closing_enabled: bool = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> TrackerPolicy:
        opts = options or {}
        return cls(
            apply=opts.get("mode") == APPLY,
            max_create=_int(opts, "max_create", cls.max_create),
            max_close=_int(opts, "max_close", cls.max_close),
            closing_enabled=opts.get("closing_enabled") is True,
        )

    def run_config(self, acting: bool) -> dict[str, Any]:
        """The ``tracker_issues`` op config: a dry run unless the policy applies and acting is allowed."""
        return {
            "dry_run": not (self.apply and acting),
            "max_create": self.max_create,
            "max_close": self.max_close,
            "closing_enabled": self.closing_enabled,
        }
