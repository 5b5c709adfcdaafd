"""What ``duplicate_code`` computes for one codebase and day: exact duplicates by blob id, near-duplicate
Python files (MinHash signatures through the blob cache) and copies diverged across machines.

Options (``duplicates:`` in ``symphony.yaml``) arrive as :class:`Params`.
"""

import functools
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.analysis import duplicates as dup
from symphony_assets.config import Codebase
from symphony_assets.defs.duplicates.schemas import DUPLICATE_CODE
from symphony_assets.defs.snapshots import md_table
from symphony_assets.resources.cache import AnalysisCache, CacheStats, analyse_by_kind
from symphony_assets.resources.git import FileEntry, Snapshot

DOMAIN = "duplicates"
ANALYSER = "duplicate_code:minhash"
TOP_N = 15
#: Exact duplicates smaller than this are boilerplate (empty ``__init__.py``, one-line stubs).
MIN_EXACT_BYTES = 64
#: Files larger than this get no signature (data, not code).
MAX_SIGNATURE_BYTES = 1_000_000


@dataclass(frozen=True)
class Params:
    threshold: float
    shingle: int
    min_tokens: int
    num_perm: int

    @classmethod
    def of(cls, codebase: Codebase) -> "Params":
        opt = codebase.option
        params = cls(
            threshold=float(opt(DOMAIN, "threshold", dup.DEFAULT_THRESHOLD) or dup.DEFAULT_THRESHOLD),
            shingle=int(opt(DOMAIN, "shingle_size", dup.DEFAULT_SHINGLE) or dup.DEFAULT_SHINGLE),
            min_tokens=int(opt(DOMAIN, "min_tokens", dup.DEFAULT_MIN_TOKENS) or 0),
            num_perm=int(opt(DOMAIN, "num_perm", dup.DEFAULT_NUM_PERM) or dup.DEFAULT_NUM_PERM),
        )
        if not 0.0 < params.threshold <= 1.0 or params.shingle < 1 or params.num_perm < 16:
            raise dg.Failure(
                description=f"codebase {codebase.name!r}: duplicates options out of range: {params}"
            )
        return params

    @property
    def version(self) -> str:
        return f"{dup.ANALYSER_VERSION}:{dup.SCHEME}:{self.shingle}:{self.num_perm}"


@dataclass
class Side:
    """One codebase on one day: its inventory by path and the signatures computed for it."""

    codebase: Codebase
    inventory: dict[str, dict[str, Any]]
    signatures: dict[str, list[int]] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)


def _is_python(path: str) -> bool:
    return path.lower().endswith((".py", ".pyw"))


def _signature_result(entry: FileEntry, content: bytes, params: Params) -> dict[str, Any]:
    toks = dup.tokens(entry.path, content)
    return {"tokens": len(toks), "sig": dup.signature(toks, params.shingle, params.num_perm)}


#: The inventory columns the comparison reads (blob, size, last commit); turning every column of ~2,000
#: rows into dicts each day of a range cost more than the rest of a warm day's comparison.
INVENTORY_COLUMNS = ["path", "blob_id", "size_bytes", "modified", "last_author"]


def inventory_rows(df: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
    if df is None or df.empty:
        return {}
    files = df[~df["ignored"].astype(bool) & (df["git_status"] != "deleted")]
    # Column lists zipped into rows: half the cost of ``to_dict("records")`` on Arrow-backed columns.
    columns = [files[c].tolist() for c in INVENTORY_COLUMNS]
    rows = (dict(zip(INVENTORY_COLUMNS, values, strict=True)) for values in zip(*columns, strict=True))
    return {str(r["path"]): r for r in rows}


SnapshotOf = Callable[[Codebase], Snapshot]


def _signable(entry: FileEntry) -> bool:
    return entry.kind == "file" and (entry.size or 0) <= MAX_SIGNATURE_BYTES


def sign_entries(
    snapshot: Snapshot, entries: list[FileEntry], cache: AnalysisCache, params: Params
) -> tuple[dict[str, Any], CacheStats]:
    """MinHash signatures of ``entries`` by path, through the blob cache. Python files are shingled by
    Python tokens, others by words: the kind is part of the cache key."""
    sign = functools.partial(_signature_result, params=params)
    return analyse_by_kind(snapshot, entries, cache, ANALYSER, params.version, sign, dup.token_kind)


def python_entries(snapshot: Snapshot) -> list[FileEntry]:
    """The Python files every day signs (a range's prefetch reads these)."""
    return [e for e in snapshot.files if _is_python(e.path) and _signable(e)]


def _sign(
    snapshot_of: SnapshotOf,
    side: Side,
    paths: set[str],
    cache: AnalysisCache,
    params: Params,
    stats: CacheStats,
) -> None:
    """Signatures of ``paths`` of this side (only those the snapshot has and that are small enough)."""
    if not paths:
        return
    snapshot = snapshot_of(side.codebase)
    entries = [e for e in snapshot.files if e.path in paths and _signable(e)]
    results, part = sign_entries(snapshot, entries, cache, params)
    stats.add(part)
    for path, raw in results.items():
        side.tokens[path] = int(raw.get("tokens", 0))
        side.signatures[path] = [int(v) for v in raw.get("sig", [])]


def _last_commit(row: Mapping[str, Any] | None) -> str | None:
    if not row:
        return None
    when, who = row.get("modified"), row.get("last_author")
    parts = [str(when) if when is not None and not pd.isna(when) else "", str(who) if who else ""]
    text = " ".join(p for p in parts if p)
    return text or None


def _pair_id(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def compute_duplicates(
    snapshot_of: SnapshotOf,
    own: Side,
    others: list[Side],
    cache: AnalysisCache,
    params: Params,
    near: dup.NearPairs | None = None,
) -> tuple[pd.DataFrame, dict[str, Any], CacheStats]:
    """The day's findings. ``near``, the index a range run keeps from one day to the next (built with
    ``params``' threshold and permutations), re-reads only the signatures that changed."""
    stats = CacheStats()
    me = own.codebase
    rows: list[dict[str, Any]] = []

    def row(kind: str, path: str, other: Side, other_path: str, sim: float, group: str) -> dict[str, Any]:
        mine, theirs = own.inventory.get(path, {}), other.inventory.get(other_path, {})
        return {
            "kind": kind,
            "path": path,
            "other_codebase": other.codebase.name,
            "other_machine": other.codebase.machine,
            "other_path": other_path,
            "similarity": round(sim, 4),
            "blob_id": mine.get("blob_id"),
            "other_blob_id": theirs.get("blob_id"),
            "size_bytes": mine.get("size_bytes"),
            "last_commit": _last_commit(mine),
            "other_last_commit": _last_commit(theirs),
            "group_id": group,
            "finding_key": f"{kind}|{path}|{other.codebase.name}|{other_path}",
        }

    # Exact duplicates: the same blob at two paths of this codebase, or at another path elsewhere.
    by_blob: dict[str, list[tuple[Side, str]]] = {}
    for side in [own, *others]:
        for path, r in side.inventory.items():
            blob, size = r.get("blob_id"), r.get("size_bytes")
            if blob and size is not None and not pd.isna(size) and int(size) >= MIN_EXACT_BYTES:
                by_blob.setdefault(str(blob), []).append((side, path))
    identical_copies = 0
    exact_pairs: set[tuple[str, str, str]] = set()
    for blob, members in sorted(by_blob.items()):
        mine = sorted(p for s, p in members if s is own)
        for i, path in enumerate(mine):
            for other_path in mine[i + 1 :]:
                rows.append(row("exact_duplicate", path, own, other_path, 1.0, blob))
                exact_pairs.add((path, me.name, other_path))
            for side, other_path in members:
                if side is own:
                    continue
                if other_path == path:
                    identical_copies += 1  # the same file deployed on both: not a finding
                    continue
                rows.append(row("exact_duplicate", path, side, other_path, 1.0, blob))
                exact_pairs.add((path, side.codebase.name, other_path))

    # Signatures: every Python file, plus paths whose content differs on another machine.
    diverged: list[tuple[Side, str]] = []
    wanted: dict[str, set[str]] = {own.codebase.name: {p for p in own.inventory if _is_python(p)}}
    for side in others:
        wanted[side.codebase.name] = {p for p in side.inventory if _is_python(p)}
        if side.codebase.machine == me.machine:
            continue
        for path, r in own.inventory.items():
            theirs = side.inventory.get(path)
            if theirs is not None and theirs.get("blob_id") != r.get("blob_id"):
                diverged.append((side, path))
                wanted[own.codebase.name].add(path)
                wanted[side.codebase.name].add(path)
    for side in [own, *others]:
        _sign(snapshot_of, side, wanted[side.codebase.name], cache, params, stats)

    for side, path in diverged:
        sim = dup.similarity(own.signatures.get(path, []), side.signatures.get(path, []))
        rows.append(row("diverged_copy", path, side, path, sim, _pair_id(path, side.codebase.name)))

    # Near-duplicates among Python files (this codebase against itself and every other one).
    sides = {s.codebase.name: s for s in [own, *others]}
    keyed = {
        f"{side.codebase.name}\x00{path}": sig
        for side in sides.values()
        for path, sig in side.signatures.items()
        if _is_python(path) and side.tokens.get(path, 0) >= params.min_tokens
    }
    focus = [k for k in keyed if k.startswith(f"{me.name}\x00")]
    diverged_keys = {(path, s.codebase.name) for s, path in diverged}
    near = near or dup.NearPairs(params.threshold, params.num_perm)
    for a, b, sim in near.update(keyed, focus):
        (ca, pa), (cb, pb) = a.split("\x00", 1), b.split("\x00", 1)
        if ca != me.name:
            (ca, pa), (cb, pb) = (cb, pb), (ca, pa)
        mine_blob = own.inventory.get(pa, {}).get("blob_id")
        theirs_blob = sides[cb].inventory.get(pb, {}).get("blob_id")
        if mine_blob is not None and mine_blob == theirs_blob:
            continue  # exact (or an identical deployed copy): reported above, or not a finding
        if pa == pb and (pa, cb) in diverged_keys or (pa, cb, pb) in exact_pairs:
            continue
        rows.append(row("near_duplicate", pa, sides[cb], pb, sim, _pair_id(pa, cb, pb)))

    df = DUPLICATE_CODE.frame(rows)
    meta = {
        "identical_copies_on_other_codebases": identical_copies,
        "codebases_compared": ", ".join(s.codebase.name for s in others) or "(none)",
        "python_files_signed": sum(1 for p in own.signatures if _is_python(p)),
        "threshold": params.threshold,
    }
    return df, meta, stats


def duplicate_metadata(df: pd.DataFrame) -> dict[str, Any]:
    def of(kind: str) -> pd.DataFrame:
        return df[df["kind"] == kind] if not df.empty else df

    columns = ["path", "other_codebase", "other_path", "similarity"]
    diverged = of("diverged_copy").sort_values("similarity") if not df.empty else df
    return {
        "exact_duplicates": len(of("exact_duplicate")),
        "near_duplicates": len(of("near_duplicate")),
        "diverged_copies": len(diverged),
        "new_findings": int(df["is_new"].astype(bool).sum()) if not df.empty else 0,
        "exact_duplicate_list": md_table(of("exact_duplicate").head(TOP_N).to_dict("records"), columns),
        "near_duplicate_list": md_table(
            of("near_duplicate").sort_values("similarity", ascending=False).head(TOP_N).to_dict("records")
            if not df.empty
            else [],
            columns,
        ),
        "diverged_copy_list": md_table(
            diverged.head(TOP_N).to_dict("records"),
            ["path", "other_codebase", "other_machine", "similarity", "last_commit", "other_last_commit"],
        ),
    }
