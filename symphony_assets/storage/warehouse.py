"""The Parquet warehouse: one file per asset partition, written atomically.

Layout: ``<root>/<asset>/<dim>=<value>/<time-dim>=<value>.parquet``, e.g.
``warehouse/file_inventory/codebase=alpha/date=2026-11-05.parquet``. The root may be a local folder or
any URL pyarrow can write to (``s3://bucket/prefix``, ``gs://...``), so runs on other machines share it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from symphony_assets.config import warehouse_root


def _safe(value: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.:" else "_" for ch in value).replace(":", "")


class Warehouse:
    def __init__(self, root: str | None = None) -> None:
        self.root = root or warehouse_root()
        if "://" in self.root:
            self.fs, self.base = pafs.FileSystem.from_uri(self.root)
        else:
            self.fs, self.base = pafs.LocalFileSystem(), self.root
        self.base = self.base.rstrip("/")

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
        """Write to a temp name, then rename: a crash never leaves a half-written partition."""
        path = self.path(asset, keys)
        directory = path.rsplit("/", 1)[0]
        self.fs.create_dir(directory, recursive=True)
        tmp = f"{directory}/.tmp-{uuid.uuid4().hex}.parquet"
        table = pa.Table.from_pandas(df, preserve_index=False)
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
