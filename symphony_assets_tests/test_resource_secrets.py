"""A database password never reaches the code location's snapshot, which is what the UI displays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value

from symphony_assets.resources.postgres import POSTGRES_URL_ENV
from symphony_assets.runner import load_definitions
from symphony_assets_tests.gitrepo import GitRepo

PASSWORD = "pw-" + "Zq81xKeNotInSnapshots"  # distinct enough that a chance match is impossible
URL = f"postgresql://symphony:{PASSWORD}@db.example.invalid/symphony"


def _snapshot_text() -> str:
    """The repository snapshot as Dagster serialises it for the webserver (resources, jobs, assets)."""
    repo = load_definitions().get_repository_def()
    return serialize_value(RepositorySnap.from_def(repo))


def _postgres_values(text: str) -> Any:
    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("name") == "postgres" and "configured_values" in node:
                return node["configured_values"]
            for value in node.values():
                found = walk(value)
                if found is not None:
                    return found
        if isinstance(node, list):
            for value in node:
                found = walk(value)
                if found is not None:
                    return found
        return None

    return walk(json.loads(text))


def test_an_external_url_is_shown_as_its_variable_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_config: Any
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.py", "x = 1\n")
    repo.commit("init")
    write_config({"name": "alpha", "path": str(repo.root)})
    monkeypatch.setenv("SYMPHONY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(POSTGRES_URL_ENV, URL)
    monkeypatch.setenv("SYMPHONY_DAGSTER_PG_URL", URL.replace("postgresql:", "postgresql+psycopg2:"))

    text = _snapshot_text()
    assert PASSWORD not in text
    assert "db.example.invalid" not in text  # nothing of the URL, not only its password
    # The UI shows where the value comes from: the postgres resource's url is the variable.
    values = _postgres_values(text)
    assert values is not None, "no configured values for the postgres resource in the snapshot"
    assert values["url"] == {"__class__": "ExternalResourceConfigEnvVar", "name": POSTGRES_URL_ENV}
    # ... and lists the variable on its "Environment variables" page.
    assert POSTGRES_URL_ENV in json.loads(text)["utilized_env_vars"]


def test_without_an_external_url_the_resource_has_no_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_config: Any
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.py", "x = 1\n")
    repo.commit("init")
    write_config({"name": "alpha", "path": str(repo.root)})
    monkeypatch.setenv("SYMPHONY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(POSTGRES_URL_ENV, raising=False)

    values = _postgres_values(_snapshot_text())
    assert values is not None and values.get("url", "null") == "null"  # the embedded server, at run time
