"""The lineage the webserver serves is the way the data really flows (issue 10).

A real snapshot of two codebases runs with every warehouse read recorded (which asset's step read which
asset's partition); then the real webserver's GraphQL API is asked for every asset's upstream keys. A
read of another asset that is not a declared upstream fails the test, so a hidden read cannot come back.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from symphony_assets.runner import load_definitions, run_snapshots
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets_tests.gitrepo import GitRepo
from symphony_assets_tests.test_ui import own_instance, webserver  # noqa: F401 - fixtures

DAY = dt.date(2024, 5, 2)

LINEAGE_QUERY = """
query Lineage {
  assetNodes { assetKey { path } dependencyKeys { path } }
}
"""


def _graphql(base: str, query: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        body = json.loads(resp.read())
    assert "errors" not in body, body
    return dict(body["data"])


#: (the step's assets, the first day the step's run covers, the asset read, the partition keys read)
Read = tuple[frozenset[str], str, str, dict[str, str]]


@pytest.fixture()
def recorded_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Read]]:
    """Every ``Warehouse.read`` made from inside an asset's body. Reads by the IO manager happen before
    the body runs, for declared inputs only, and are not listed."""
    reads: list[Read] = []
    original = Warehouse.read

    def read(self: Warehouse, asset: str, keys: Any) -> Any:
        try:
            context = dg.AssetExecutionContext.get()
        except dg.DagsterInvariantViolationError:
            context = None
        if context is not None:
            step = frozenset(k.to_user_string() for k in context.assets_def.keys)
            first_day = min(str(k).rsplit("|", 1)[-1] for k in context.partition_keys)
            reads.append((step, first_day, asset, {str(k): str(v) for k, v in dict(keys).items()}))
        return original(self, asset, keys)

    monkeypatch.setattr(Warehouse, "read", read)
    yield reads


def test_webserver_lineage_matches_the_reads_the_code_performs(
    own_instance: Any,  # noqa: F811 - the fixture imported above
    recorded_reads: list[Read],
    tmp_path: Path,
    write_config: Any,
    symphony_env: Path,
) -> None:
    repos = {}
    for name, port in (("north", 5555), ("south", 5555)):
        repo = GitRepo(tmp_path / name)
        repo.write("agent.py", f"import socket\nsocket.socket().bind(('', {port}))\n")
        repo.write("requirements.txt", f"requests=={'2.30' if name == 'north' else '2.31'}\n")
        repo.write("shared/util.py", "def helper():\n    return 1\n")
        repo.commit("one", when="2024-05-01T10:00:00+00:00")
        repo.write("notes_old.py", "# a backup\n")
        repo.commit("two", when="2024-05-02T10:00:00+00:00")
        repos[name] = repo
    write_config(*({"name": n, "path": str(r.root), "machine": "box"} for n, r in repos.items()))

    # Newness looks for its own previous partitions too (allowed: its own history, not another asset).
    outcomes = run_snapshots(own_instance, list(repos), DAY, DAY)
    assert all(o.success for o in outcomes), [(o.codebase, o.error) for o in outcomes]
    assert recorded_reads, "no read recorded: the recorder is not in the path"

    with webserver(tmp_path) as base:
        nodes = _graphql(base, LINEAGE_QUERY)["assetNodes"]
    served = {
        "/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]} for n in nodes
    }
    # The webserver serves the graph the code declares...
    graph = load_definitions().resolve_asset_graph()
    declared = {
        key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
        for key in graph.get_all_asset_keys()
    }
    assert served == declared
    # ...and every read made inside an asset's body is of a declared upstream or of its own history.
    hidden = []
    for step, first_day, asset, keys in recorded_reads:
        upstream = set().union(*(served[a] for a in step))
        if asset in step:  # its own history: only days before those the run writes
            assert keys["date"] < first_day, (sorted(step), first_day, keys)
            continue
        if asset not in upstream:
            hidden.append((sorted(step), asset, keys))
    assert not hidden, f"reads of assets that are not declared upstream: {hidden}"
    # The reads users asked about show in the served lineage.
    assert served["tracker_issues"] >= {
        "import_cycles",
        "port_conflicts",
        "dependency_drift",
        "code_findings",
    }
    assert served["port_conflicts"] == {"port_map"}
    assert served["dependency_drift"] == {"dependency_declarations"}
    assert "gpu_samples" in served["gpu_utilisation"]
