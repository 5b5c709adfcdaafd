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


def test_fleet_assets_read_every_codebase_through_declared_mappings() -> None:
    """The comparisons across codebases are what they are: fleet-wide (by day) assets fed by every
    codebase's partitions of the day through a partition mapping, and the cross-codebase duplicates
    read every codebase's inventory of their day the same way."""
    graph = load_definitions().resolve_asset_graph()
    for fleet, upstream in (("port_conflicts", "port_map"), ("dependency_drift", "dependency_declarations")):
        node = graph.get(dg.AssetKey(fleet))
        assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition), fleet
        assert {k.to_user_string() for k in node.parent_keys} == {upstream}
        mapping = graph.get_partition_mapping(dg.AssetKey(fleet), dg.AssetKey(upstream))
        assert isinstance(mapping, dg.MultiToSingleDimensionPartitionMapping), fleet
    mapping = graph.get_partition_mapping(dg.AssetKey("duplicate_code"), dg.AssetKey("file_inventory"))
    assert isinstance(mapping, dg.MultiPartitionMapping)
    # tracker_issues reads its day of each fleet-wide source (and keeps the rows naming its codebase).
    for fleet in ("port_conflicts", "dependency_drift"):
        mapping = graph.get_partition_mapping(dg.AssetKey("tracker_issues"), dg.AssetKey(fleet))
        assert isinstance(mapping, dg.MultiToSingleDimensionPartitionMapping)
