"""The one clock: days are UTC days everywhere (partitions, "today", cleanup's acting day)."""

from datetime import UTC, date, datetime


def utc_today() -> date:
    return datetime.now(UTC).date()
