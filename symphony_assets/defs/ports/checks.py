"""The new-port-conflict check, evaluated by ``port_conflicts`` on the newest partition of its run.

It lives in the asset's own run (``check_specs``) because the asset is partitioned by codebase x day
and a separate check could not tell which partition it judges. A conflict that was already there the
day before does not fail it again (it is still listed); a new one does.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.defs.snapshots import md_table

NO_NEW_PORT_CONFLICTS_CHECK = dg.AssetCheckSpec(
    "no_new_port_conflicts",
    asset="port_conflicts",
    description="No port conflict on the codebase's machine that the previous day's partition did not have.",
)


def new_port_conflicts_result(df: pd.DataFrame, partition: str, previous_known: bool) -> dg.AssetCheckResult:
    new = df[df["is_new"].astype(bool)] if not df.empty else df
    metadata: dict[str, Any] = {
        "partition": partition,
        "new_conflicts": len(new),
        "all_conflicts": len(df),
        "previous_day_known": previous_known,
        "new_conflict_list": md_table(
            new.head(20).to_dict("records") if not new.empty else [],
            ["machine", "port", "transport", "components", "sites"],
        ),
    }
    return dg.AssetCheckResult(
        check_name=NO_NEW_PORT_CONFLICTS_CHECK.name,
        asset_key=NO_NEW_PORT_CONFLICTS_CHECK.asset_key,
        passed=new.empty,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )
