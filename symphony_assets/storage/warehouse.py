"""The Parquet warehouse: one file per asset partition, written atomically.

Layout: ``<root>/<asset>/<dim>=<value>/<time-dim>=<value>.parquet``, e.g.
``warehouse/file_inventory/codebase=alpha/date=2026-11-05.parquet``. The root may be a local folder
(or ``file://`` URL), or an object store URL opened through fsspec (``s3://bucket/prefix`` with s3fs), so
runs on other machines share it.

S3 credentials come the usual AWS ways (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, an
instance role); ``SYMPHONY_S3_ENDPOINT_URL`` points at an S3-compatible server (MinIO, Ceph, a local test
server). Everything is read when a Warehouse is made, i.e. in the step, never when the code loads.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Mapping
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from symphony_assets.config import warehouse_root

S3_ENDPOINT_ENV = "SYMPHONY_S3_ENDPOINT_URL"
#: Object stores: a PUT is atomic (the object appears whole or not at all), so a partition is written to
#: its final key directly; a rename there would be a second full copy.
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az"})


def storage_options(protocol: str) -> dict[str, Any]:
    """fsspec options for a warehouse URL's protocol, from the environment."""
    if protocol in ("s3", "s3a"):
        endpoint = os.environ.get(S3_ENDPOINT_ENV)
        # No listings cache: another worker may write a partition after this one listed its folder.
        options: dict[str, Any] = {"use_listings_cache": False}
        if endpoint:
            options["endpoint_url"] = endpoint
        return options
    return {}


def _filesystem(root: str) -> tuple[pafs.FileSystem, str, bool]:
    """(pyarrow filesystem, base path, whether writes go straight to the final path)."""
    protocol = root.split("://", 1)[0].lower() if "://" in root else "file"
    if protocol == "file":
        return pafs.LocalFileSystem(), root.removeprefix("file://"), False
    import fsspec

    fs, base = fsspec.core.url_to_fs(root, **storage_options(protocol))
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), str(base), protocol in OBJECT_STORES


def _safe(value: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.:" else "_" for ch in value).replace(":", "")


class Warehouse:
    def __init__(self, root: str | None = None) -> None:
        self.root = root or warehouse_root()
        self.fs, base, self.direct_writes = _filesystem(self.root)
        self.base = base.rstrip("/")

    def path(self, asset: str, keys: Mapping[str, Any]) -> str:
        """Path of one partition; ``keys`` in order, the last one names the file."""
        parts = [f"{name}={_safe(str(value))}" for name, value in keys.items()]
        if not parts:
            return f"{self.base}/{asset}/all.parquet"
        return "/".join([self.base, asset, *parts[:-1], parts[-1] + ".parquet"])

    def uri(self, asset: str, keys: Mapping[str, Any]) -> str:
        path = self.path(asset, keys)
        return path if "://" not in self.root else f"{self.root.split('://')[0]}://{path}"

    def write(self, asset: str, keys: Mapping[str, Any], df: pd.DataFrame) -> str:
        """Write to a temp name, then rename: a crash never leaves a half-written partition. On an object
        store the upload itself is atomic, so it goes to the final key."""
        path = self.path(asset, keys)
        table = pa.Table.from_pandas(df, preserve_index=False)
        if self.direct_writes:
            with self.fs.open_output_stream(path) as out:
                pq.write_table(table, out, compression="zstd")
            return path
        directory = path.rsplit("/", 1)[0]
        self.fs.create_dir(directory, recursive=True)
        tmp = f"{directory}/.tmp-{uuid.uuid4().hex}.parquet"
        try:
            with self.fs.open_output_stream(tmp) as out:
                pq.write_table(table, out, compression="zstd")
            self.fs.move(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):  # never created, or already gone: nothing to clean
                self.fs.delete_file(tmp)
            raise
        return path

    def exists(self, asset: str, keys: Mapping[str, Any]) -> bool:
        info = self.fs.get_file_info(self.path(asset, keys))
        return bool(info.type == pafs.FileType.File)

    def read(self, asset: str, keys: Mapping[str, Any]) -> pd.DataFrame | None:
        """The partition's rows, or None when it was never materialised."""
        if not self.exists(asset, keys):
            return None
        with self.fs.open_input_file(self.path(asset, keys)) as fh:
            return pq.read_table(fh).to_pandas(types_mapper=pd.ArrowDtype)
