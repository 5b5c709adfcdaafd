"""``agent_registry`` on a real git repo: a startup config against agent files and the ports in code."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from symphony_assets.analysis.agents import declarations
from symphony_assets.runner import load_definitions, run_snapshots
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets_tests.gitrepo import GitRepo

DAY = dt.date(2024, 10, 1)

STARTUP = """\
agents:
  - name: responder
    script_path: agents/responder.py
    port: 5555
    host: pc1
  - name: planner
    script_path: agents/planner.py
    port: 5600
    dependencies: [responder, memory]
  - name: responder
    script_path: agents/responder.py
  - name: router
    module: agents.router
    port: 5700
"""


def test_missing_agent_and_port_that_differs(dagster_instance, git_repo: GitRepo, write_config) -> None:
    git_repo.write("config/startup.yaml", STARTUP)
    git_repo.write(
        "agents/responder.py",
        "import zmq\n\ndef main(ctx):\n    sock = ctx.socket(zmq.REP)\n    sock.bind('tcp://*:5556')\n",
    )
    git_repo.write(
        "agents/router.py",
        "import zmq\n\ndef main(ctx):\n    ctx.socket(zmq.ROUTER).bind('tcp://*:5700')\n",
    )
    git_repo.write("agents/orphan_agent.py", "print('nobody starts me')\n")
    git_repo.commit("agents", when=f"{DAY}T10:00:00+00:00")
    write_config({"name": "reg", "path": str(git_repo.root), "machine": "pc1"})

    assets = ["file_inventory", "port_map", "agent_registry"]
    (outcome,) = run_snapshots(dagster_instance, ["reg"], DAY, DAY, assets=assets)
    assert outcome.success, outcome.error
    df = Warehouse().read("agent_registry", {"codebase": "reg", "date": str(DAY)})
    assert df is not None
    found = {(r["kind"], r["agent"]) for r in df.to_dict("records")}
    assert ("declared_missing", "planner") in found
    assert ("port_differs", "responder") in found
    assert ("declared_twice", "responder") in found
    assert ("undeclared_dependency", "planner") in found
    assert ("undeclared_agent", "orphan_agent") in found
    assert ("ok", "router") in found  # declared by module, present, port matches the code
    port = df[df["kind"] == "port_differs"].iloc[0]
    assert port["declared_port"] == 5555 and port["code_ports"] == "5556"
    assert port["config_path"] == "config/startup.yaml" and port["config_line"] == 2
    missing = df[df["kind"] == "declared_missing"].iloc[0]
    assert missing["script_path"] == "agents/planner.py"
    dep = df[df["kind"] == "undeclared_dependency"].iloc[0]
    assert "memory" in dep["detail"] and "responder" not in dep["detail"]


def test_lineage_has_the_real_upstreams() -> None:
    graph = load_definitions().resolve_asset_graph()
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey("agent_registry")).parent_keys}
    assert parents == {"file_inventory", "port_map"}
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey("duplicate_code")).parent_keys}
    assert parents == {"file_inventory"}


def test_mapping_form_and_list_keys() -> None:
    text = (
        b'{"services": {"api": {"script": "svc/api.py", "port": 8000}}, "other": [{"name": "x", "port": 1}]}'
    )
    assert [d.name for d in declarations("run.json", text)] == ["api", "x"]
    assert [d.name for d in declarations("run.json", text, list_keys=["services"])] == ["api"]
