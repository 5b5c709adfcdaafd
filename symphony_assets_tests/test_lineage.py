"""The lineage shows where data comes from (issue 10, in part): declared inputs, not hidden reads."""

from __future__ import annotations

import dagster as dg

from symphony_assets.runner import load_definitions


def test_tracker_issues_is_downstream_of_every_source_it_reads() -> None:
    graph = load_definitions().resolve_asset_graph()
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey("tracker_issues")).parent_keys}
    assert parents == {"todo_list", "import_cycles", "port_conflicts", "dependency_drift", "code_findings"}


def test_gpu_assets_show_their_sources() -> None:
    graph = load_definitions().resolve_asset_graph()

    def parents(asset: str) -> set[str]:
        return {k.to_user_string() for k in graph.get(dg.AssetKey(asset)).parent_keys}

    assert parents("gpu_utilisation") == {"gpu_samples"}
    assert parents("agent_inventory") == {"file_inventory", "code_findings", "port_map", "gpu_samples"}
