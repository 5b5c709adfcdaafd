"""Dependency drift is reported, not gated: no asset check fails on it.

Drift between codebases is often deliberate (a deployment held back on purpose), so a failing check
would be noise; the ``dependency_drift`` table and its metadata carry the findings instead. This
module holds the summary both assets share.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from symphony_assets.defs.snapshots import md_table

TOP_N = 15


def drift_metadata(df: pd.DataFrame) -> dict[str, Any]:
    if df.empty:
        return {"drift_count": 0, "cross_codebase_drift": 0, "conflicting_pins": 0, "unsatisfiable": 0}
    by_status = df.groupby("status").size()
    ordered = df.assign(
        rank=df["status"].map(
            {"unsatisfiable": 0, "conflicting_pins": 1, "pinned_and_unpinned": 2, "declared_twice_in_file": 3}
        )
    ).sort_values(["rank", "declaration_count"], ascending=[True, False])
    return {
        "drift_count": len(df),
        "cross_codebase_drift": int(df["cross_codebase"].astype(bool).sum()),
        "conflicting_pins": int(by_status.get("conflicting_pins", 0)),
        "unsatisfiable": int(by_status.get("unsatisfiable", 0)),
        "pinned_and_unpinned": int(by_status.get("pinned_and_unpinned", 0)),
        "declared_twice_in_file": int(by_status.get("declared_twice_in_file", 0)),
        "drift": md_table(
            ordered.head(TOP_N).to_dict("records"), ["package", "status", "versions", "codebases", "files"]
        ),
    }
