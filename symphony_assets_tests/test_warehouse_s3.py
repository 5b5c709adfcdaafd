"""The warehouse on an object store: ``s3://bucket/prefix`` through fsspec/s3fs, against a real S3 server.

moto's ``ThreadedMotoServer`` speaks the S3 wire protocol (HTTP, signed requests) on 127.0.0.1 and a free
port, started here and stopped after; s3fs reaches it through ``SYMPHONY_S3_ENDPOINT_URL`` with
credentials from the usual ``AWS_*`` variables, as a deployment would reach MinIO or S3. A real snapshot of
``file_inventory`` and ``cleanup_candidates`` (which reads file_inventory through the IO manager) writes
its partitions there; the test reads them back with a separate boto3 client.
"""

from __future__ import annotations

import datetime as dt
import io
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
import pytest

from symphony_assets.resources.postgres import Database
from symphony_assets.runner import run_snapshots
from symphony_assets.storage.warehouse import S3_ENDPOINT_ENV, Warehouse
from symphony_assets_tests.gitrepo import GitRepo

BUCKET, PREFIX = "symphony-test", "warehouse/parquet"
FIRST, LAST = dt.date(2024, 5, 1), dt.date(2024, 5, 2)
ASSETS = ["file_inventory", "cleanup_candidates"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A local S3 server with one empty bucket; credentials and endpoint in the environment."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        for name, value in (("AWS_ACCESS_KEY_ID", "symphony-test"), ("AWS_SECRET_ACCESS_KEY", "not-a-secret"),
                            ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
            monkeypatch.setenv(name, value)
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(S3_ENDPOINT_ENV, endpoint)
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        server.stop()


def _objects(endpoint: str) -> dict[str, bytes]:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint)
    listing = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listing}


def test_a_snapshot_with_the_warehouse_on_s3(
    dagster_instance: Any,
    write_config: Any,
    tmp_path: Path,
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    db: Database,
) -> None:
    repo = GitRepo(tmp_path / "src")
    repo.write("README.md", "# demo\n")
    repo.write("src/app.py", "import os\n")
    repo.write("notes_tracked.md", "Expires: 2020-01-01\nold notes\n")
    repo.commit("init", when=f"{FIRST}T10:00:00+00:00")
    repo.write("src/more.py", "import sys\n")
    repo.commit("more", when=f"{LAST}T10:00:00+00:00")
    write_config({"name": "alpha", "path": str(repo.root)})
    root = f"s3://{BUCKET}/{PREFIX}"
    monkeypatch.setenv("SYMPHONY_WAREHOUSE", root)

    (outcome,) = run_snapshots(dagster_instance, ["alpha"], FIRST, LAST, assets=ASSETS)
    assert outcome.success, outcome.error

    objects = _objects(s3_endpoint)
    days = [str(FIRST), str(LAST)]
    expected_keys = {f"{PREFIX}/{a}/codebase=alpha/date={d}.parquet" for a in ASSETS for d in days}
    assert set(objects) == expected_keys  # and no temp objects left behind
    assert not (tmp_path / "symphony_home" / "warehouse").exists()  # nothing went to a local folder

    warehouse = Warehouse()
    for day in days:
        key = f"{PREFIX}/file_inventory/codebase=alpha/date={day}.parquet"
        raw = pq.read_table(io.BytesIO(objects[key])).to_pandas()
        through_fsspec = warehouse.read("file_inventory", {"codebase": "alpha", "date": day})
        assert through_fsspec is not None and sorted(through_fsspec["path"]) == sorted(raw["path"])
    assert "src/more.py" in set(raw["path"])  # the second day's commit

    # cleanup_candidates got file_inventory through the IO manager, read from S3.
    for day in days:
        inventory = warehouse.read("file_inventory", {"codebase": "alpha", "date": day})
        candidates = warehouse.read("cleanup_candidates", {"codebase": "alpha", "date": day})
        assert inventory is not None and candidates is not None
        assert set(candidates["path"]) and set(candidates["path"]) <= set(inventory["path"])
        rules = dict(zip(candidates["path"], candidates["rule"], strict=True))
        assert rules["notes_tracked.md"] == "expired", rules

    for asset in ASSETS:
        records = dagster_instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset)), limit=100
        ).records
        mine = {r.partition_key: r for r in records if r.run_id == outcome.run_id}
        assert set(mine) == {f"alpha|{d}" for d in days}
        for day in days:
            meta = mine[f"alpha|{day}"].asset_materialization.metadata
            assert meta["dagster/uri"].value == f"{root}/{asset}/codebase=alpha/date={day}.parquet"
            assert "note" not in meta, meta.get("note")  # "file_inventory has no partition for this day"
        count = db.read_frame(
            f"SELECT count(*) AS n FROM symphony.{asset} WHERE codebase = 'alpha' AND date BETWEEN %s AND %s",
            (FIRST, LAST),
        )["n"][0]
        frames = [warehouse.read(asset, {"codebase": "alpha", "date": d}) for d in days]
        assert count == sum(len(f) for f in frames if f is not None)  # the Postgres mirror matches

    # `symphony status` lists the warehouse through the same filesystem.
    from symphony_assets.status import warehouse_state

    state = warehouse_state()
    assert state["root"] == root and state["files"] == len(expected_keys)
    assert state["bytes"] == sum(len(b) for b in objects.values())


def test_storage_options_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from symphony_assets.storage.warehouse import storage_options

    monkeypatch.delenv(S3_ENDPOINT_ENV, raising=False)
    assert storage_options("s3") == {"use_listings_cache": False}
    monkeypatch.setenv(S3_ENDPOINT_ENV, "http://127.0.0.1:9000")
    assert storage_options("s3")["endpoint_url"] == "http://127.0.0.1:9000"
    assert storage_options("memory") == {}
