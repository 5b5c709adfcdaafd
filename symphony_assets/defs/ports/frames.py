"""The frames and metadata of ``port_map`` and ``port_conflicts``: rows out of sites and conflicts, and
the Markdown a person reads in the UI."""

from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.analysis.ports import PortConflict, SiteWithContext
from symphony_assets.defs.ports.schemas import PORT_CONFLICTS
from symphony_assets.defs.snapshots import md_table

TOP_N = 15


def port_map_metadata(df: pd.DataFrame) -> dict[str, Any]:
    skipped = df[df["role"] == "skipped"] if not df.empty else df
    skipped_meta = {
        "skipped_files": int(skipped["path"].nunique()) if not skipped.empty else 0,
        "skipped_file_list": md_table(
            [{"path": r["path"], "reason": r["raw"]} for r in skipped.head(TOP_N).to_dict("records")],
            ["path", "reason"],
        ),
    }
    df = df[df["role"] != "skipped"] if not df.empty else df
    if df.empty:
        return {"site_count": 0, "bound_ports": 0, "unresolved_sites": 0, "fallback_sites": 0, **skipped_meta}
    resolved = df["resolved"].astype(bool)
    binding = df[df["role"].isin(["bind", "listen"]) & resolved & (df["port"].fillna(0) > 0)]
    per_port = (
        binding.groupby("port").agg(sites=("path", "size"), files=("path", "nunique")).reset_index()
        if not binding.empty
        else pd.DataFrame(columns=["port", "sites", "files"])
    )
    top = per_port.sort_values(["files", "sites", "port"], ascending=[False, False, True]).head(TOP_N)
    unresolved = df[~resolved]
    return {
        "site_count": len(df),
        "bound_ports": int(binding["port"].nunique()),
        "unresolved_sites": len(unresolved),
        "fallback_sites": int((df["via"] == "fallback").sum()),
        "sites_by_role": md_table(
            [{"role": k, "sites": int(v)} for k, v in df.groupby("role").size().items()], ["role", "sites"]
        ),
        "bound_ports_table": md_table(top.to_dict("records"), ["port", "sites", "files"]),
        "unresolved_site_list": md_table(
            unresolved.head(TOP_N).to_dict("records"), ["path", "line", "role", "raw", "context"]
        ),
        **skipped_meta,
    }


def sites_from_frame(codebase: str, df: pd.DataFrame | None) -> list[SiteWithContext]:
    if df is None or df.empty:
        return []
    out = []
    for r in df.to_dict("records"):
        port = r.get("port")
        out.append(
            SiteWithContext(
                machine=str(r["machine"]),
                codebase=codebase,
                file=str(r["path"]),
                component=str(r["component"]),
                line=int(r["line"]),
                role=str(r["role"]),
                host=None if pd.isna(r.get("host")) else str(r["host"]),
                port=None if port is None or pd.isna(port) else int(port),
                resolved=bool(r["resolved"]),
                socket_type=None if pd.isna(r.get("socket_type")) else str(r["socket_type"]),
            )
        )
    return out


def conflict_rows(conflicts: list[PortConflict]) -> pd.DataFrame:
    rows = [
        {
            "machine": c.machine,
            "port": c.port,
            "transport": c.transport,
            "conflict_key": c.key,
            "components": ", ".join(c.components),
            "codebases": ", ".join(c.codebases),
            "component_count": len(c.components),
            "sites": ", ".join(f"{cb}:{path}:{line}" for cb, path, line, _host in c.sites),
            "cross_codebase": len(c.codebases) > 1,
        }
        for c in conflicts
    ]
    return PORT_CONFLICTS.frame(rows)


def conflict_table(df: pd.DataFrame) -> dg.MarkdownMetadataValue:
    top = df.sort_values(["is_new", "component_count"], ascending=False).head(TOP_N) if not df.empty else df
    return md_table(
        top.to_dict("records") if not df.empty else [],
        ["machine", "port", "transport", "components", "is_new", "first_seen", "sites"],
    )
