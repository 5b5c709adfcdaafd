"""The import-cycle check, evaluated by ``import_cycles`` itself on the newest partition of its run.

Like the code-structure checks it lives in the asset's own run (``check_specs``): the asset is
partitioned by codebase x day and a separate, unpartitioned check could not tell which partition it
judges. Latent cycles (only through function-level, TYPE_CHECKING or ``__main__`` imports) do not fail
it; they are reported in its metadata.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.defs.snapshots import md_table

NO_IMPORT_CYCLES_CHECK = dg.AssetCheckSpec(
    "no_import_cycles",
    asset="import_cycles",
    description="No import cycle among modules at import time (latent cycles are reported, not failed).",
)


def import_cycles_result(df: pd.DataFrame, partition: str) -> dg.AssetCheckResult:
    latent = df["latent"].astype(bool) if not df.empty else pd.Series([], dtype=bool)
    real = df[~latent] if not df.empty else df
    metadata: dict[str, Any] = {
        "partition": partition,
        "import_cycles": len(real),
        "latent_cycles": int(latent.sum()),
        "modules_in_cycles": int(real["size"].sum()) if not real.empty else 0,
        "cycles": md_table(real.head(20).to_dict("records"), ["size", "loop", "cut"]),
    }
    return dg.AssetCheckResult(
        check_name=NO_IMPORT_CYCLES_CHECK.name,
        asset_key=NO_IMPORT_CYCLES_CHECK.asset_key,
        passed=real.empty,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )
