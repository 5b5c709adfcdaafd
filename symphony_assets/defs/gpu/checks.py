"""Check on ``gpu_utilisation``: warn when a GPU stays above the threshold for much of the hour.

Evaluated by the asset itself (``check_specs``) on the partition it just wrote, like the code checks:
a separate unpartitioned check could not tell which host/hour it is judging. The threshold and the
number of minutes that count as "stays above" come from the asset's run config.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.defs.snapshots import md_table

GPU_HOT_CHECK = dg.AssetCheckSpec(
    "gpu_not_saturated",
    asset="gpu_utilisation",
    description=(
        "No GPU spends more than `hot_minutes` minutes of the hour with utilisation or memory "
        "occupancy above `threshold_pct` (a warning: saturation is worth knowing, not an error)."
    ),
)


def hot_result(df: pd.DataFrame, partition: str, threshold: float, hot_minutes: int) -> dg.AssetCheckResult:
    hot = df[df["minutes_any_above"] >= hot_minutes] if not df.empty else df
    metadata: dict[str, Any] = {
        "partition": partition,
        "threshold_pct": threshold,
        "hot_minutes": hot_minutes,
        "devices": len(df),
        "hot_devices": len(hot),
        "where": md_table(
            hot.to_dict("records"),
            ["device_uuid", "minutes_util_above", "minutes_memory_above", "gpu_util_p95", "peak_memory_pct"],
        ),
    }
    return dg.AssetCheckResult(
        check_name=GPU_HOT_CHECK.name,
        asset_key=GPU_HOT_CHECK.asset_key,
        passed=hot.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )
