"""Config files under explicit limits: alias bombs, deep nesting, node counts, sizes; big reports fast.

Unit level over :func:`extract_ports`, then the same files committed to a real git repository and read
through the ``port_map`` asset.
"""

from __future__ import annotations

import json
import resource
import time
import tracemalloc
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from symphony_assets.analysis import limits
from symphony_assets.analysis.ports import extract as port_extract
from symphony_assets.analysis.ports.extract import extract_ports
from symphony_assets.analysis.ports.sites import PortSite
from symphony_assets.defs.partitions import CODEBASE, snapshot_key
from symphony_assets.defs.ports.assets import port_map
from symphony_assets.resources.git import GitResource
from symphony_assets.resources.postgres import Database, PostgresResource
from symphony_assets.storage.io_manager import WarehouseIOManager
from symphony_assets_tests.gitrepo import GitRepo

DAY = "2024-06-01"


def alias_bomb(levels: int) -> bytes:
    """``a: &a [x,...]``, ``b: &b [*a,...]``, ...: ``9**levels`` scalars once every alias is expanded."""
    names = "abcdefghijklmnop"
    lines = ["a: &a [x,x,x,x,x,x,x,x,x]"]
    for i in range(1, levels):
        lines.append(f"{names[i]}: &{names[i]} [" + ",".join([f"*{names[i - 1]}"] * 9) + "]")
    lines.append("port: 5000")
    return ("\n".join(lines) + "\n").encode()


def report(entries: int) -> bytes:
    """A JSON report shaped like a scanner's: mostly data, a server block and a few endpoints."""
    results = []
    for i in range(entries):
        entry: dict[str, Any] = {"id": i, "name": f"item{i}", "score": i / 7, "tags": ["a", "b"]}
        entry["path"] = f"src/module_{i}.py"
        if i % 5000 == 0:
            entry["endpoint"] = f"http://svc{i}:{9000 + i // 5000}/health"
        results.append(entry)
    data = {"tool": "scan", "server": {"host": "0.0.0.0", "port": 8080}, "results": results}
    return json.dumps(data, indent=2).encode()


def skipped(sites: list[PortSite]) -> list[PortSite]:
    return [s for s in sites if s.role == "skipped"]


def line_of(text: bytes, needle: str) -> int:
    return text[: text.index(needle.encode())].count(b"\n") + 1


def test_alias_bomb_is_bounded_and_the_rest_of_the_file_still_read() -> None:
    data = alias_bomb(9)  # 9**9 = 387 million scalars if expanded
    assert len(data) < 400
    tracemalloc.start()
    started = time.process_time()
    try:
        sites = extract_ports("config/app.yaml", data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.process_time() - started < 10
    assert peak < 50 * 1024 * 1024
    (note,) = skipped(sites)
    assert "aliases" in note.raw and f"{limits.MAX_ALIAS_EXPANSION:,}" in note.raw
    assert note.port is None and not note.resolved and note.via == "skipped"
    # The anchors themselves were read once, and what follows the bomb was not lost.
    assert [(s.port, s.line, s.context) for s in sites if s.role == "config"] == [(5000, 10, "port")]


def test_ordinary_anchors_and_aliases_are_still_followed_everywhere_they_are_used() -> None:
    text = (
        "x-common: &common\n"
        "  port: 7000\n"
        "services:\n"
        "  a:\n"
        "    <<: *common\n"
        "  b:\n"
        "    settings: *common\n"
        "    ports: ['8000:80']\n"
    )
    sites = extract_ports("docker-compose.yml", text.encode())
    assert not skipped(sites)
    assert sorted((s.context, s.port, s.line) for s in sites) == [
        ("services.a.<<.port", 7000, 2),
        ("services.b.ports[0]", 8000, 8),
        ("services.b.settings.port", 7000, 2),
        ("x-common.port", 7000, 2),
    ]


def test_recursive_alias_ends() -> None:
    sites = extract_ports("loop.yaml", b"a: &a\n  port: 1234\n  self: *a\n")
    assert [(s.port, s.context) for s in sites] == [(1234, "a.port")]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.json", "[" * 5000 + "]" * 5000),
        ("deep.json", '{"a":' * 300 + "1" + "}" * 300),
        ("deep.yaml", "[" * 900 + "]" * 900),
        ("deep.yaml", "".join("  " * i + "k:\n" for i in range(400)) + "  " * 400 + "port: 1\n"),
        ("deep.toml", "a = " + "[" * 300 + "]" * 300 + "\n"),
    ],
)
def test_deep_nesting_is_recorded_not_a_crash(name: str, text: str) -> None:
    sites = extract_ports(name, text.encode())
    notes = skipped(sites)
    # Either the parser refused it (then it is read line by line) or the depth limit says why.
    assert all(n.raw.startswith("limit: nested deeper than") for n in notes)
    if name != "deep.toml" and "{" not in text and "k:" not in text:
        assert notes or sites == []
    if "k:" in text or text.startswith('{"a"'):
        (note,) = notes
        assert f"deeper than {limits.MAX_CONFIG_DEPTH} levels" in note.raw


def test_too_many_nodes_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_CONFIG_NODES", 1000)
    for name, text in (("big.json", json.dumps(list(range(5000)))), ("big.yaml", "- 1\n" * 5000)):
        (note,) = extract_ports(name, text.encode())
        assert note.role == "skipped" and note.raw == "limit: more than 1,000 nodes"


def test_a_file_over_the_size_limit_is_recorded_as_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_CONFIG_BYTES", 10_000)
    monkeypatch.setattr(port_extract, "MAX_CONFIG_BYTES", 10_000)
    data = report(200)
    assert len(data) > 10_000
    (note,) = extract_ports("reports/scan.json", data)
    assert note.role == "skipped" and note.line == 1
    assert note.raw == f"too_large: {len(data):,} bytes is over the 10,000-byte limit for config files"


def test_large_json_report_is_fast_and_lines_are_exact() -> None:
    data = report(25_000)
    assert 4_000_000 < len(data) < limits.MAX_CONFIG_BYTES
    started = time.process_time()
    sites = extract_ports("reports/scan.json", data)
    elapsed = time.process_time() - started
    assert elapsed < 15, elapsed  # the pure-Python YAML reader needed ~1.4 s per 500 KB
    assert not skipped(sites)
    got = sorted((s.context, s.port, s.line) for s in sites)
    assert got[:2] == [
        ("results[0].endpoint", 9000, line_of(data, "http://svc0:")),
        ("results[10000].endpoint", 9002, line_of(data, "http://svc10000:")),
    ]
    assert ("server.port", 8080, line_of(data, '"port": 8080')) in got
    assert len(got) == 1 + 25_000 // 5000


def test_large_yaml_report_is_fast() -> None:
    lines = ["server:", "  host: 0.0.0.0", "  port: 8080", "results:"]
    for i in range(60_000):
        lines += [f"- id: {i}", f"  name: item{i}", f"  path: src/module_{i}.py"]
    lines += ["metrics_port: 9100"]
    data = ("\n".join(lines) + "\n").encode()
    assert len(data) > 2_500_000
    started = time.process_time()
    sites = extract_ports("reports/scan.yaml", data)
    assert time.process_time() - started < 15
    assert [(s.context, s.port, s.line) for s in sites] == [
        ("server.port", 8080, 3),
        ("metrics_port", 9100, len(lines)),
    ]


def test_json_lines_match_what_the_yaml_reader_reported() -> None:
    compact = b'{"a": {"port": 1}, "b": [{"url": "tcp://h:2"}, "x=tcp://k:3"]}'
    assert [(s.line, s.context) for s in extract_ports("c.json", compact)] == [
        (1, "a.port"),
        (1, "b[0].url"),
        (1, "b[1]"),
    ]
    pretty = b'{\r\n "a":\r\n   {"port":\r\n\r\n 1},\n"dup": 2, "dup": {"port": 3}\n}'
    assert [(s.line, s.port, s.context) for s in extract_ports("p.json", pretty)] == [
        (5, 1, "a.port"),
        (6, 3, "dup.port"),
    ]
    # Tab-indented JSON (PyYAML refuses it): exact lines, not the old key-search guesses.
    tabbed = b'{\n\t"a": [\n\t\t"port=1",\n\t\t"tcp://*:5555"\n\t]\n}'
    assert [(s.line, s.port) for s in extract_ports("t.json", tabbed)] == [(3, 1), (4, 5555)]


def test_escaped_surrogates_are_stored_as_escapes() -> None:
    data = b'{"url": "tcp://h\\udc80:5", "ws": "\\ud800"}'
    (site,) = extract_ports("s.json", data)
    assert site.port == 5 and site.raw.encode("utf-8")  # encodable: a store accepts it
    assert "\\udc80" in site.raw


# ---------------------------------------------------------------------------------------------------------
# Through the port_map asset, on a real git repository
# ---------------------------------------------------------------------------------------------------------


def test_port_map_asset_survives_an_alias_bomb_and_records_skipped_files(
    tmp_path: Path,
    symphony_env: Path,
    write_config: Any,
    dagster_instance: Any,
    pg_url: str,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = GitRepo(tmp_path / "bombed")
    repo.write("config/app.yaml", alias_bomb(9))
    repo.write("reports/scan.json", report(25_000))
    repo.write("reports/huge.json", b'{"port": 1, "pad": "' + b"x" * limits.MAX_CONFIG_BYTES + b'"}')
    repo.write("svc.py", "import socket\nsocket.socket().bind(('', 6000))\n")
    repo.commit("hostile configs", when=f"{DAY}T10:00:00+00:00")
    write_config({"name": "bombed", "path": str(repo.root), "machine": "box"})
    dagster_instance.add_dynamic_partitions(CODEBASE, ["bombed"])
    postgres = PostgresResource(url=pg_url)
    resources = {
        "git": GitResource(),
        "postgres": postgres,
        "warehouse_io_manager": WarehouseIOManager(
            postgres=postgres, warehouse_root=str(symphony_env / "warehouse")
        ),
    }
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    result = dg.materialize(
        [port_map],
        partition_key=str(snapshot_key("bombed", DAY)),
        resources=resources,
        instance=dagster_instance,
    )
    elapsed = time.monotonic() - started
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert result.success
    assert elapsed < 90, elapsed  # before the fix: minutes and gigabytes for app.yaml alone
    assert grew_mb < 400, grew_mb

    rows = db.read_frame(
        "SELECT path, line, role, port, raw, via FROM symphony.port_map"
        " WHERE codebase = %s ORDER BY path, line",
        ("bombed",),
    )
    by_path = {path: group for path, group in rows.groupby("path")}
    assert set(by_path) == {"config/app.yaml", "reports/huge.json", "reports/scan.json", "svc.py"}
    bomb = by_path["config/app.yaml"]
    assert list(bomb["role"]) == ["skipped", "config"] and int(bomb["port"].iloc[1]) == 5000
    assert "YAML aliases expand to more than" in bomb["raw"].iloc[0]
    huge = by_path["reports/huge.json"]
    assert list(huge["role"]) == ["skipped"] and huge["raw"].iloc[0].startswith("too_large: ")
    assert len(by_path["reports/scan.json"]) == 6 and set(by_path["reports/scan.json"]["via"]) == {"config"}
    assert list(by_path["svc.py"]["port"]) == [6000]

    (mat,) = [m for m in result.get_asset_materialization_events() if m.asset_key.path[-1] == "port_map"]
    meta = {k: v.value for k, v in mat.materialization.metadata.items()}
    assert meta["skipped_files"] == 2
    assert "reports/huge.json" in meta["skipped_file_list"] and "config/app.yaml" in meta["skipped_file_list"]
    assert meta["site_count"] == 1 + 6 + 1  # skipped rows are not sites


def test_toml_keys_never_found_on_a_line_cost_bounded_time() -> None:
    # Keys written with escapes are never found textually: each search used to scan to the end.
    lines = [f'"k\\u00{65 + i % 20:02x}{i}" = {i}' for i in range(20_000)]
    data = ("\n".join(lines) + "\nport = 5\n").encode()
    started = time.process_time()
    sites = extract_ports("settings.toml", data)
    assert time.process_time() - started < 15  # was 190 s
    assert [(s.port, s.context) for s in sites] == [(5, "port")]


def test_yaml_that_libyaml_refuses_is_read_by_pyyaml_when_small() -> None:
    # JSON dumpers write astral characters as surrogate-pair escapes; libyaml refuses them.
    data = b'name: "\\ud83d\\ude00"\nsvc:\n  port: 5000\n'
    # Read as YAML (the key path), not line by line (which would say just "port").
    assert [(s.port, s.line, s.context) for s in extract_ports("x.yaml", data)] == [(5000, 3, "svc.port")]


def test_limits_helpers() -> None:
    assert limits.safe_text("plain") == "plain"
    assert limits.safe_text("a\x00b\udc80") == "a\\x00b\\udc80"
    assert limits.too_large_reason(10, 10, "x") is None
    assert (
        limits.too_large_reason(11, 10, "YAML")
        == "too_large: 11 bytes is over the 10-byte limit for YAML files"
    )
    # A huge string literal is one token; a huge generated module is many.
    assert limits.python_too_large(b'X = "' + b"a" * 5_000_000 + b'"\n') is None
    generated = b"".join(b"x%d = f(%d, [1, 2])\n" % (i, i) for i in range(100_000))
    assert limits.python_weight(generated) == 600_000
    reason = limits.python_too_large(generated)
    assert reason is not None and reason.startswith("too_large: about 600,000 syntax tokens")
    budget = limits.NodeBudget(2, "too many")
    budget.spend(2)
    with pytest.raises(limits.LimitExceeded, match="too many"):
        budget.spend()
