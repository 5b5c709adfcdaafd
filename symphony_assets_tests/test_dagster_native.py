"""Works the way Dagster users expect (issue 12): config problems are data, removed codebases retire,
the Dagster CLI works from the project root, and an installed wheel runs outside the checkout."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from symphony_assets import cli
from symphony_assets.config import ConfigError, load_config
from symphony_assets.defs.partitions import CODEBASE
from symphony_assets.orchestration import codebase_sync_sensor, sync_codebases
from symphony_assets.runner import PROJECT_ROOT
from symphony_assets_tests.gitrepo import GitRepo

BIN = Path(sys.executable).parent
TODAY = dt.datetime.now(dt.UTC).date()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "symphony.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("codebases:\n  - name: a\n    path: /x\n  - name: [unclosed\n", 4, "not valid YAML"),
        ("start_date: 2024-13-45\ncodebases:\n  - {name: a, path: /x}\n", 1, "start_date"),
        ("codebases:\n  - name: a\n    path: /x\n    imports: {source_rots: [src]}\n", 4, "source_rots"),
        ("codebases:\n  - name: a\n    path: /x\n    clenaup: {}\n", 4, "unknown key 'clenaup'"),
        ("codebases:\n  - name: a\n    path: /x\n    cleanup: {stale_file_hours: soon}\n", 4, "number"),
        ("codebase:\n  - {name: a, path: /x}\n", 1, "unknown key 'codebase'"),
    ],
)
def test_config_problems_name_the_file_line_and_reason(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.path == path and err.value.line == line, str(err.value)
    assert words in str(err.value) and str(err.value).startswith(f"{path}:{line}: ")


def test_a_broken_config_never_takes_the_code_location_down(
    tmp_path: Path, dagster_instance: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "start_date: not-a-date\ncodebases: [\n")
    env = {**os.environ, "SYMPHONY_CONFIG": str(path)}
    loaded = subprocess.run(
        [sys.executable, "-c", "from symphony_assets.definitions import defs; print(len(defs().assets))"],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert loaded.returncode == 0 and int(loaded.stdout.strip()) > 10, loaded.stderr[-2000:]

    monkeypatch.setenv("SYMPHONY_CONFIG", str(path))
    ctx = dg.build_sensor_context(instance=dagster_instance)
    with pytest.raises(dg.Failure) as failure:
        codebase_sync_sensor(ctx)
    assert f"{path}:2:" in str(failure.value.description)

    from symphony_assets.defs.inventory.checks import symphony_config_valid

    result = symphony_config_valid()
    assert not result.passed and result.metadata["line"].value == 2

    assert cli.main(["run"]) == 2
    assert f"{path}:2: not valid YAML" in capsys.readouterr().err


def test_removed_codebase_is_retired_and_keeps_its_history(
    tmp_path: Path, dagster_instance: Any, write_config: Any, symphony_env: Path
) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.write("a.py", "x = 1\n")
    repo.commit("c")
    write_config({"name": "keep", "path": str(repo.root)}, {"name": "gone", "path": str(repo.root)})
    from symphony_assets.runner import run_snapshots

    (keep, gone) = run_snapshots(dagster_instance, ["keep", "gone"], TODAY, TODAY, assets=["file_inventory"])
    assert keep.success and gone.success
    write_config({"name": "keep", "path": str(repo.root)})
    result = sync_codebases(dagster_instance)
    assert result.retired == ["gone"]
    assert "gone" not in dagster_instance.get_dynamic_partitions(CODEBASE)
    mats = dagster_instance.fetch_materializations(dg.AssetKey("file_inventory"), limit=10).records
    assert any("gone" in str(m.partition_key) for m in mats)  # history stays
    tick = codebase_sync_sensor(dg.build_sensor_context(instance=dagster_instance))
    assert "1 codebases in sync" in str(tick.skip_message)


def _clean_env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SYMPHONY_", "DAGSTER_"))}
    return {**keep, **extra}


def test_dagster_cli_works_from_the_project_root_with_no_symphony_environment(tmp_path: Path) -> None:
    """`dagster asset materialize` from the project root, only a private home: the instance storage class
    starts the embedded Postgres, migrates, knows the configured codebases, and the partition lands."""
    repo = GitRepo(tmp_path / "r")
    repo.write("a.py", "x = 1\n")
    repo.commit("c")
    config = _write(tmp_path, f"codebases:\n  - name: demo\n    path: {repo.root}\n")
    home = Path(
        tempfile.mkdtemp(prefix="symphony-home-")
    )  # pgserver's user must reach it: not pytest's 0700 tree
    env = _clean_env(SYMPHONY_HOME=str(home), SYMPHONY_CONFIG=str(config))
    try:
        done = subprocess.run(
            [str(BIN / "dagster"), "asset", "materialize", "-m", "symphony_assets.definitions",
             "--select", "file_inventory", "--partition", f"demo|{TODAY}"],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert (home / "warehouse" / "file_inventory" / "codebase=demo" / f"date={TODAY}.parquet").exists()
    finally:
        subprocess.run([str(BIN / "symphony"), "pg", "stop"], env=env, check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def test_dg_check_defs_from_the_project_root(tmp_path: Path) -> None:
    env = _clean_env(SYMPHONY_HOME=str(tmp_path / "home"), PATH=f"{BIN}:{os.environ['PATH']}")
    try:  # loading the definitions starts the home's embedded PostgreSQL
        done = subprocess.run(
            [str(BIN / "dg"), "check", "defs"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
            check=False, timeout=300,
        )  # fmt: skip
    finally:
        subprocess.run([str(BIN / "symphony"), "pg", "stop"], env=env, check=False, capture_output=True)
    assert done.returncode == 0 and "All definitions loaded successfully" in done.stdout + done.stderr, (
        done.stdout[-2000:] + done.stderr[-2000:]
    )


def test_ui_keeps_the_users_directory_and_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, symphony_env: Path
) -> None:
    """`symphony ui` finds symphony.yaml where `symphony run` does: no change of directory."""
    config = _write(tmp_path, f"codebases:\n  - name: here\n    path: {tmp_path}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # restored after: the command sets both
    monkeypatch.delenv("SYMPHONY_CONFIG", raising=False)
    seen: dict[str, Any] = {}

    def fake_exec(path: str, argv: list[str], env: dict[str, str]) -> None:
        seen.update(path=path, argv=argv, env=env, cwd=os.getcwd())

    monkeypatch.setattr(os, "execve", fake_exec)
    cli.main(["ui", "--port", "3999"])
    assert seen["cwd"] == str(tmp_path)
    assert seen["env"]["SYMPHONY_CONFIG"] == str(config)
    assert "-m" in seen["argv"] and "symphony_assets.definitions" in seen["argv"]


def test_the_wheel_runs_outside_the_checkout(tmp_path: Path) -> None:
    """Build the wheel, install it into a fresh virtualenv (dependencies borrowed from ours, the project
    itself not), and run `symphony run` inside a temp repository: migrations and the instance template
    must come from the package, not from the source tree."""
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
         str(PROJECT_ROOT)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = wheels.glob("symphony_assets-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python3*/site-packages"))
    deps = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "dagster").exists())
    (site / "borrowed_deps.pth").write_text(deps + "\n")  # a plain path: our editable hook is not loaded
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    symphony = [str(venv / "bin" / "python"), "-m", "symphony_assets.cli"]
    repo = GitRepo(tmp_path / "elsewhere")
    repo.write("pkg/__init__.py", "")
    repo.write("pkg/a.py", "import pkg.b\n")
    repo.write("pkg/b.py", "import pkg.a\n")
    repo.commit("cycle")
    home = Path(
        tempfile.mkdtemp(prefix="symphony-home-")
    )  # pgserver's user must reach it: not pytest's 0700 tree
    env = _clean_env(SYMPHONY_HOME=str(home), PYTHONPATH="", PATH=f"{venv}/bin:{BIN}:{os.environ['PATH']}")
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import symphony_assets; print(symphony_assets.__file__)"],
        env=env, cwd=repo.root, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert str(site) in where.stdout, where.stdout
    try:
        run = subprocess.run(
            [*symphony, "run", "--asset", "file_inventory", "--asset", "import_cycles"],
            env=env, cwd=repo.root, capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert list((home / "warehouse" / "import_cycles").rglob("*.parquet"))
    finally:
        subprocess.run([*symphony, "pg", "stop"], env=env, check=False, capture_output=True, timeout=120)
        shutil.rmtree(home, ignore_errors=True)


def test_codebase_owners_are_shown_on_its_partitions(
    tmp_path: Path, dagster_instance: Any, write_config: Any, symphony_env: Path
) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.write("a.py", "x = 1\n")
    repo.commit("c")
    write_config(
        {"name": "owned", "path": str(repo.root), "owners": ["team:platform", "ana@example.com"]},
        {"name": "free", "path": str(repo.root)},
    )
    from symphony_assets.runner import run_snapshots

    outcomes = run_snapshots(dagster_instance, ["owned", "free"], TODAY, TODAY, assets=["file_inventory"])
    assert all(o.success for o in outcomes)
    metas = {
        str(r.partition_key): r.asset_materialization.metadata
        for r in dagster_instance.fetch_materializations(dg.AssetKey("file_inventory"), limit=10).records
    }
    assert metas[f"owned|{TODAY}"]["owners"].value == "team:platform, ana@example.com"
    assert "owners" not in metas[f"free|{TODAY}"]
