"""Fixtures and helpers for the cleanup executor's tests (a junk-filled repository, a private audit log)."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg2
import pytest

from symphony_assets.resources.quarantine import AuditLog
from symphony_assets_tests.gitrepo import GitRepo


@pytest.fixture()
def cleanup_audit(pg_url: str) -> AuditLog:
    return AuditLog(lambda: psycopg2.connect(pg_url), f"cb-{uuid.uuid4().hex[:10]}")


@pytest.fixture()
def quarantine_repo(tmp_path: Path) -> GitRepo:
    r = GitRepo(tmp_path / "repo")
    r.write("README.md", "# x\n")
    r.write("src/app.py", "print('hi')\n")
    r.write("scripts/debug_old.py", "old = 1\n")
    r.write("data/tmp_blob.bin", bytes(range(256)) * 40)
    r.commit("init")
    r.write("tmp_out.csv", "a,b\n1,2\n")
    r.write("logs/run.log", "line\n" * 100)
    r.write("nested/deep/x.bak", b"\x00\x01binary")
    return r
