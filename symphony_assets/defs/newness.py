"""What is new today: ``first_seen`` and ``is_new`` for finding assets, and a check on new findings only.

A finding asset names each finding by a stable key (a fingerprint). Each partition is compared with
the previous AVAILABLE partition of the same asset and codebase (of the same asset, for a fleet-wide
one): its own history, not another asset's, so no input is declared for it. This run's earlier days
first, then the warehouse, up to :data:`LOOKBACK_DAYS` back. A finding already there keeps its ``first_seen``;
one that was not is new. With no earlier partition at all nothing is called new (the first day is
the baseline), so an old mess never hides a new problem and never floods the first check either.

The check (one per finding asset, ``no_new_<what>``) is partitioned like its asset and evaluated for
EVERY partition of a range run, each evaluation carrying its own partition key. Whether a new
finding fails it (severity ERROR) or warns is per codebase: ``new_findings: {severity: warn}`` or
``new_findings: {assets: {security_findings: warn}}`` in ``symphony.yaml``; a fleet-wide asset's check
takes the asset's default.
"""

import warnings
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.config import Codebase
from symphony_assets.defs.partitions import partition_columns, snapshot_partitions
from symphony_assets.defs.snapshots import md_table
from symphony_assets.storage.warehouse import Warehouse

DOMAIN = "new_findings"
#: How far back the previous available partition is looked for.
LOOKBACK_DAYS = 31
SEVERITIES = {"error": dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN}


def new_findings_spec(
    asset: str, what: str, partitions_def: dg.PartitionsDefinition = snapshot_partitions
) -> dg.AssetCheckSpec:
    """``no_new_<what>`` on ``asset``, partitioned like the asset (one evaluation per partition)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a partitioned check spec is a preview feature in 1.13; we accept it
        return dg.AssetCheckSpec(
            f"no_new_{what}",
            asset=asset,
            partitions_def=partitions_def,
            description=(
                f"No {what.replace('_', ' ')} that the previous available partition did not have"
                " (old findings are listed, not failed). Severity per codebase: new_findings.severity."
            ),
        )


def check_severity(codebase: Codebase, asset: str, default: str = "error") -> dg.AssetCheckSeverity:
    """``new_findings.assets.<asset>``, else ``new_findings.severity``, else ``default``."""
    per_asset = codebase.option(DOMAIN, "assets", {}) or {}
    word = str(per_asset.get(asset) or codebase.option(DOMAIN, "severity", default) or default).lower()
    if word not in SEVERITIES:
        raise dg.Failure(
            description=f"codebase {codebase.name!r}: new_findings severity {word!r} is not error or warn"
        )
    return SEVERITIES[word]


class History:
    """Previous partitions of one asset: this run's frames by (codebase, day), then the warehouse.
    ``codebase`` is None for a fleet-wide asset (partitioned by day alone)."""

    def __init__(self, asset: str, warehouse: Warehouse | None = None) -> None:
        self.asset = asset
        self.warehouse = warehouse or Warehouse()
        self.this_run: dict[tuple[str | None, date], pd.DataFrame] = {}

    def remember(self, codebase: str | None, day: date, df: pd.DataFrame) -> None:
        self.this_run[(codebase, day)] = df

    def previous(self, codebase: str | None, day: date) -> tuple[date, pd.DataFrame] | None:
        for back in range(1, LOOKBACK_DAYS + 1):
            before = day - timedelta(days=back)
            df = self.this_run.get((codebase, before))
            if df is None:
                keys = (
                    {"date": str(before)} if codebase is None else {"codebase": codebase, "date": str(before)}
                )
                df = self.warehouse.read(self.asset, keys)
            if df is not None:
                return before, df
        return None


def finding_keys(df: pd.DataFrame, key: str | Sequence[str]) -> pd.Series:
    """The finding key of each row: one column, or several joined with ``|``."""
    if isinstance(key, str):
        return df[key].astype(str)
    parts = [df[c].astype(str).fillna("") for c in key]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "|" + part
    return joined.astype(str)


def mark_new(
    df: pd.DataFrame, key: str | Sequence[str], day: date, previous: tuple[date, pd.DataFrame] | None
) -> pd.DataFrame:
    """Fill ``first_seen`` and ``is_new`` of ``df`` by its finding ``key`` (a column, or columns
    joined) against ``previous``; a previous partition without the key's columns knows nothing."""
    out = df.copy()
    if out.empty:
        return out
    keys = finding_keys(out, key)
    if previous is None:
        out["first_seen"] = pd.Series([day] * len(out), index=out.index, dtype=out["first_seen"].dtype)
        out["is_new"] = pd.Series([False] * len(out), index=out.index, dtype=out["is_new"].dtype)
        return out
    prev_day, prev = previous
    seen: dict[str, date] = {}
    columns = [key] if isinstance(key, str) else list(key)
    if not prev.empty and all(c in prev.columns for c in columns):
        firsts = prev["first_seen"] if "first_seen" in prev.columns else pd.Series([None] * len(prev))
        for k, first in zip(finding_keys(prev, key).tolist(), firsts.tolist(), strict=False):
            known = first if isinstance(first, date) and not pd.isna(first) else prev_day
            seen[k] = min(seen.get(k, known), known)
    out["first_seen"] = pd.Series(
        [seen.get(k, day) for k in keys], index=out.index, dtype=out["first_seen"].dtype
    )
    out["is_new"] = pd.Series([k not in seen for k in keys], index=out.index, dtype=out["is_new"].dtype)
    return out


def new_findings_evaluations(
    context: dg.AssetExecutionContext,
    spec: dg.AssetCheckSpec,
    frames: Mapping[str, pd.DataFrame],
    compared: Mapping[str, date | None],
    severities: Mapping[str, dg.AssetCheckSeverity],
    columns: Sequence[str],
    counts: Mapping[str, Any] | None = None,
) -> Iterator[dg.Output[Any] | dg.AssetCheckEvaluation]:
    """One evaluation of ``spec`` per partition of the run (each with its partition key), after the
    check's single output. ``frames`` are the partitions' rows with ``is_new``; ``compared`` the day
    each was compared with (None: no earlier partition); ``columns`` those listed for new findings."""
    if spec.key not in context.selected_asset_check_keys:
        return
    yield dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(spec.key))
    for key, df in frames.items():
        new = df[df["is_new"].fillna(False).astype(bool)] if not df.empty else df
        before = compared.get(key)
        cols = [c for c in columns if c in df.columns]
        yield dg.AssetCheckEvaluation(
            asset_key=spec.asset_key,
            check_name=spec.name,
            passed=new.empty,
            partition=key,
            severity=severities.get(key, dg.AssetCheckSeverity.ERROR),
            metadata={
                "partition": str(key),
                "codebase": str(partition_columns(key).get("codebase", "(every codebase)")),
                "new_findings": len(new),
                "all_findings": len(df),
                "compared_with": str(before) if before else "(no earlier partition: baseline)",
                "new_finding_list": md_table(new.head(20).to_dict("records") if not new.empty else [], cols),
                **(counts or {}),
            },
        )


class NewFindings:
    """Newness for one finding asset over one run, in three calls: :meth:`mark` each partition's
    frame, then ``yield from`` :meth:`evaluations` after the asset's output."""

    def __init__(
        self,
        spec: dg.AssetCheckSpec,
        key: str | Sequence[str],
        columns: Sequence[str],
        judged: Any = None,
        default_severity: str = "error",
    ) -> None:
        self.spec = spec
        self.asset = spec.asset_key.path[-1]
        self.key = key
        self.columns = list(columns)
        #: ``judged(df) -> df``: the rows the check judges (e.g. real cycles only); default all.
        self.judged = judged
        self.default_severity = default_severity
        self.history = History(self.asset)
        self.compared: dict[str, date | None] = {}
        self.severities: dict[str, dg.AssetCheckSeverity] = {}
        self.frames: dict[str, pd.DataFrame] = {}

    def mark(self, partition: str, codebase: Codebase | None, day: date, df: pd.DataFrame) -> pd.DataFrame:
        """``codebase`` None: a fleet-wide asset, whose check takes the default severity."""
        name = codebase.name if codebase is not None else None
        previous = self.history.previous(name, day)
        out = mark_new(df, self.key, day, previous)
        self.history.remember(name, day, out)
        self.compared[partition] = previous[0] if previous else None
        self.severities[partition] = (
            check_severity(codebase, self.asset, self.default_severity)
            if codebase is not None
            else SEVERITIES[self.default_severity]
        )
        self.frames[partition] = out
        return out

    def new_count(self, partition: str) -> int:
        df = self.frames.get(partition)
        if df is None or df.empty:
            return 0
        judged = self.judged(df) if self.judged else df
        return int(judged["is_new"].fillna(False).astype(bool).sum()) if not judged.empty else 0

    def evaluations(
        self, context: dg.AssetExecutionContext
    ) -> Iterator[dg.Output[Any] | dg.AssetCheckEvaluation]:
        frames = {
            k: (self.judged(df) if self.judged and not df.empty else df) for k, df in self.frames.items()
        }
        yield from new_findings_evaluations(
            context, self.spec, frames, self.compared, self.severities, self.columns
        )
