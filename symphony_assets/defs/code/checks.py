"""Checks on the code-structure assets, evaluated by the assets themselves on the newest partition.

The checks live in the asset's own run (``check_specs``) rather than as separate check functions:
the assets are partitioned by codebase x day and a separate, unpartitioned check could not tell which
partition it is judging. A run covering several days judges its newest day, the state people act on.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.defs.snapshots import md_table

BROAD_EXCEPT_CHECK = dg.AssetCheckSpec(
    "no_unexplained_broad_except",
    asset="code_findings",
    description="Every except:, except Exception and except BaseException carries a comment saying why.",
)
NO_MARKERS_CHECK = dg.AssetCheckSpec(
    "no_work_markers",
    asset="todo_list",
    description="No work markers left in comments (a warning: they are tracked, not forbidden).",
)


def broad_except_result(df: pd.DataFrame, partition: str) -> dg.AssetCheckResult:
    unexplained = df[(df["kind"] == "broad_except") & ~df["has_reason"].fillna(False).astype(bool)]
    rows = unexplained.head(20).to_dict("records")
    metadata: dict[str, Any] = {
        "partition": partition,
        "unexplained_broad_excepts": len(unexplained),
        "where": md_table(rows, ["path", "line", "subkind", "via"]),
    }
    return dg.AssetCheckResult(
        check_name=BROAD_EXCEPT_CHECK.name,
        asset_key=BROAD_EXCEPT_CHECK.asset_key,
        passed=unexplained.empty,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )


def markers_result(df: pd.DataFrame, partition: str) -> dg.AssetCheckResult:
    metadata: dict[str, Any] = {
        "partition": partition,
        "markers": len(df),
        "files": int(df["path"].nunique()) if not df.empty else 0,
    }
    return dg.AssetCheckResult(
        check_name=NO_MARKERS_CHECK.name,
        asset_key=NO_MARKERS_CHECK.asset_key,
        passed=df.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )
