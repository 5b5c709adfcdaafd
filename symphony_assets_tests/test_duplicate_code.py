"""``duplicate_code`` on two machines' codebases: exact, near-duplicate, diverged and identical copies."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from symphony_assets.analysis.duplicates import near_pairs, signature, tokens
from symphony_assets.runner import run_snapshots
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets_tests.gitrepo import GitRepo

DAY = dt.date(2024, 9, 2)


def _responder(extra: str = "") -> str:
    body = "import zmq\n\n\nclass Responder:\n    def __init__(self, port):\n        self.port = port\n"
    for i in range(12):
        body += f"\n    def handle_{i}(self, msg):\n        value = msg.get('k{i}', {i})\n"
        body += f"        return {{'reply': value * {i + 1}, 'port': self.port}}\n"
    return body + extra


def _v2() -> str:
    """The responder with two handlers edited and a line added: near, not equal."""
    return (
        _responder("\nVERSION = 2\n").replace("value * 3,", "value + 3,").replace("value * 9,", "value - 9,")
    )


WORKER = "".join(f"def step_{i}(x):\n    y = x + {i}\n    return y * {i + 2}\n\n" for i in range(15))
HELPER = "def helper(a, b):\n    '''Shared helper, copied by hand.'''\n    return (a + b) * (a - b)\n"


def test_two_machines_one_diverged_copy_one_identical(tmp_path: Path, dagster_instance, write_config) -> None:
    pc1, pc2 = GitRepo(tmp_path / "pc1"), GitRepo(tmp_path / "pc2")
    for repo in (pc1, pc2):
        repo.write("agents/responder.py", _responder())  # identical on both machines
    pc1.write("agents/worker.py", WORKER)
    pc2.write("agents/worker.py", WORKER.replace("y * 3", "y * 30").replace("x + 7", "x - 7"))
    pc1.write("agents/responder_v2.py", _v2())
    pc1.write("tools/helper.py", HELPER)
    pc1.write("tools/copy_of_helper.py", HELPER)
    pc1.commit("pc1", when="2024-09-01T10:00:00+00:00", author="Ann <ann@example.com>")
    pc2.commit("pc2", when="2024-08-30T10:00:00+00:00", author="Bob <bob@example.com>")
    write_config(
        {"name": "pc2", "path": str(pc2.root), "machine": "m2"},
        {"name": "pc1", "path": str(pc1.root), "machine": "m1"},
    )
    outcomes = run_snapshots(
        dagster_instance, ["pc2", "pc1"], DAY, DAY, assets=["file_inventory", "duplicate_code"]
    )
    assert all(o.success for o in outcomes), [o.error for o in outcomes]

    df = Warehouse().read("duplicate_code", {"codebase": "pc1", "date": str(DAY)})
    assert df is not None
    diverged = df[df["kind"] == "diverged_copy"]
    assert list(diverged["path"]) == ["agents/worker.py"]  # the identical responder is not diverged
    row = diverged.iloc[0]
    assert row["other_codebase"] == "pc2" and row["other_machine"] == "m2"
    assert 0.2 < row["similarity"] < 1.0
    assert "Ann" in row["last_commit"] and "2024-09-01" in row["last_commit"]
    assert "Bob" in row["other_last_commit"] and "2024-08-30" in row["other_last_commit"]

    assert not ((df["path"] == "agents/responder.py") & (df["other_codebase"] == "pc2")).any()
    exact = df[df["kind"] == "exact_duplicate"]
    assert set(zip(exact["path"], exact["other_path"], strict=True)) == {
        ("tools/copy_of_helper.py", "tools/helper.py")
    }
    near = df[df["kind"] == "near_duplicate"]
    pairs = {
        (p, o, c) for p, o, c in zip(near["path"], near["other_path"], near["other_codebase"], strict=True)
    }
    assert ("agents/responder.py", "agents/responder_v2.py", "pc1") in pairs
    assert ("agents/responder_v2.py", "agents/responder.py", "pc2") in pairs  # near the other machine's copy
    assert (near["similarity"] >= 0.8).all() and (near["similarity"] < 1.0).all()
    assert not df["is_new"].any()


def test_threshold_decides_what_is_near() -> None:
    a, b = _responder().encode(), _v2().encode()
    sigs = {
        "a": signature(tokens("a.py", a)),
        "b": signature(tokens("b.py", b)),
        "w": signature(tokens("w.py", WORKER.encode())),
    }
    assert [(x, y) for x, y, _ in near_pairs(sigs, 0.8)] == [("a", "b")]
    assert near_pairs(sigs, 0.999) == []
