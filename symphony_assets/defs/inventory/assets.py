"""``file_inventory``: every file of a codebase on a day, in Parquet and Postgres."""

from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.defs.inventory.schemas import FILE_INVENTORY
from symphony_assets.defs.snapshots import materialize_days, md_table, snapshot_asset
from symphony_assets.resources.git import GitResource, Snapshot
from symphony_assets.resources.inventory import InventoryCarry, inventory_day


def compute_file_inventory(snapshot: Snapshot) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The day alone: read every file once, take the history from one ``git log`` pass."""
    frame, meta, _carry = inventory_after(snapshot, None)
    return frame, meta


def inventory_after(
    snapshot: Snapshot, carry: InventoryCarry | None
) -> tuple[pd.DataFrame, dict[str, Any], InventoryCarry | None]:
    """The day, built from the previous day's ``carry`` in a range run (only changed files read)."""
    day = inventory_day(snapshot, carry)
    df = FILE_INVENTORY.frame(day.rows)
    return df, {**inventory_metadata(df), "files_read": day.files_read}, day.carry


def inventory_metadata(df: pd.DataFrame) -> dict[str, Any]:
    if df.empty:
        return {"file_count": 0, "total_bytes": 0}
    sizes = df["size_bytes"].fillna(0).astype("int64")
    by_type = df.groupby("file_type").size().sort_values(ascending=False)
    by_purpose = df.groupby("purpose").size().sort_values(ascending=False)
    largest = df.assign(size=sizes).nlargest(10, "size")
    junk = df[df["purpose"] == "temporary_or_backup"].assign(size=sizes).nlargest(10, "size")
    odd = df[~df["read_status"].isin(["ok", "symlink", "submodule"])]
    return {
        "file_count": len(df),
        "total_bytes": int(sizes.sum()),
        "untracked_files": int((df["git_status"] == "untracked").sum()),
        "temporary_or_backup_files": int((df["purpose"] == "temporary_or_backup").sum()),
        "unreadable_or_odd_files": len(odd),
        "files_by_type": md_table(
            [{"file_type": k, "files": int(v)} for k, v in by_type.items()], ["file_type", "files"]
        ),
        "files_by_purpose": md_table(
            [{"purpose": k, "files": int(v)} for k, v in by_purpose.items()], ["purpose", "files"]
        ),
        "largest_files": md_table(largest.to_dict("records"), ["path", "size", "file_type", "git_status"]),
        "backup_and_temporary_files": md_table(
            junk.to_dict("records"), ["path", "size", "git_status", "modified"]
        ),
        "odd_files": md_table(odd.head(20).to_dict("records"), ["path", "read_status", "notes"]),
    }


@snapshot_asset(
    FILE_INVENTORY,
    group_name="inventory",
    kinds={"git", "parquet", "postgres"},
    code_version="1",
)
def file_inventory(context: dg.AssetExecutionContext, git: GitResource) -> Any:
    """Every file of the codebase at the end of the day: type, size, age, git status, owner,
    references, expiry and purpose. History comes from git objects; today adds the working tree."""
    return materialize_days(context, git, inventory_after)
