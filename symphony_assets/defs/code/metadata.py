"""Asset metadata of ``todo_list``, ``code_complexity`` and ``code_findings``: totals and top-N tables."""

from typing import Any

import numpy as np
import pandas as pd

from symphony_assets.analysis import complexity
from symphony_assets.defs.snapshots import md_table

TOP_N = 15


def todo_metadata(df: pd.DataFrame) -> dict[str, Any]:
    if df.empty:
        return {"todo_count": 0, "files_with_todos": 0}
    by_tag = df.groupby("tag").size().sort_values(ascending=False)
    by_file = df.groupby("path").size().sort_values(ascending=False).head(TOP_N)
    return {
        "todo_count": len(df),
        "files_with_todos": int(df["path"].nunique()),
        "todos_by_tag": md_table([{"tag": k, "count": int(v)} for k, v in by_tag.items()], ["tag", "count"]),
        "files_with_most_todos": md_table(
            [{"path": k, "count": int(v)} for k, v in by_file.items()], ["path", "count"]
        ),
        "todos": md_table(df.head(TOP_N).to_dict("records"), ["path", "line", "tag", "text", "scope"]),
    }


_HOTSPOT_COLUMNS = ["path", "function", "complexity", "churn_90d", "hotspot_score"]


def complexity_metadata(df: pd.DataFrame) -> dict[str, Any]:
    """Totals over functions and methods; class rows are left out (radon's class score repeats them).

    Works on NumPy views and picks the few top rows by position: a backfill calls it for every day
    of a table with tens of thousands of rows a day.
    """
    status = df["status"].to_numpy(dtype=object)
    measured = status == complexity.STATUS_OK
    ok = measured & (df["kind"].to_numpy(dtype=object, na_value=None) != "class")
    cx = df["complexity"].to_numpy(dtype="int64", na_value=0)
    hot = df["hotspot_score"].to_numpy(dtype="int64", na_value=0)

    def top(score: np.ndarray[Any, Any], where: np.ndarray[Any, Any], columns: list[str]) -> Any:
        index = np.flatnonzero(where)
        index = index[np.argsort(-score[index], kind="stable")[:TOP_N]]
        return md_table(df.iloc[index][columns].to_dict("records"), columns)

    unmeasured = np.flatnonzero(~measured)
    return {
        "functions": int(ok.sum()),
        "max_complexity": int(cx[ok].max()) if ok.any() else 0,
        "complex_functions": int((cx[ok] > 10).sum()),  # rank C or worse
        "unmeasured_files": len(unmeasured),
        "parse_failures": int((status == complexity.STATUS_PARSE_ERROR).sum()),
        "most_complex_functions": top(cx, ok, ["path", "function", "line", "complexity", "rank"]),
        "hotspots": top(hot, ok & (hot > 0), _HOTSPOT_COLUMNS),
        "not_measured": md_table(
            df.iloc[unmeasured[:TOP_N]][["path", "status", "message"]].to_dict("records"),
            ["path", "status", "message"],
        ),
    }


def findings_metadata(df: pd.DataFrame) -> dict[str, Any]:
    def of(kind: str) -> pd.DataFrame:
        return df[df["kind"] == kind]

    excepts = of("broad_except")
    unexplained = excepts[~excepts["has_reason"].fillna(False).astype(bool)]
    gpu = of("gpu_site")
    backups = of("backup_file")
    failures = of("parse_failure")
    columns = ["path", "line", "subkind", "detail"]
    return {
        "broad_excepts": len(excepts),
        "broad_except_without_reason": len(unexplained),
        "gpu_sites": len(gpu),
        "gpu_files": int(gpu["path"].nunique()) if not gpu.empty else 0,
        "backup_files": len(backups),
        "parse_failures": len(failures),
        "unexplained_broad_excepts": md_table(unexplained.head(TOP_N).to_dict("records"), columns),
        "gpu_site_list": md_table(gpu.head(TOP_N).to_dict("records"), columns),
        "backup_file_list": md_table(backups.head(TOP_N).to_dict("records"), ["path", "subkind", "detail"]),
        "parse_failure_list": md_table(failures.head(TOP_N).to_dict("records"), columns),
    }
