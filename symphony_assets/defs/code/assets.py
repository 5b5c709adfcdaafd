"""``todo_list``, ``code_complexity``, ``code_findings``: code structure per codebase per day.

One multi-asset computes all three, so each day takes ONE snapshot. A Python file's facts come from
the one pass per blob that ``import_graph`` and ``port_map`` share (:mod:`symphony_assets.analysis.facts`),
through the blob cache keyed by (analyser, version, blob id): a backfill analyses each distinct blob
once and reuses the result on every other day, and in every later run. Within a run, radon scores
each definition once, so an edited file costs little more than parsing it. Churn for hotspots comes
from one ``git log`` pass for the whole run when the history allows
(:meth:`~symphony_assets.resources.git.Repo.linear_history`), else one per partition. The assets
can be materialised alone (the multi-asset subsets).
"""

from collections.abc import Iterator
from datetime import date
from typing import Any

import dagster as dg
import pandas as pd

from symphony_assets.analysis import complexity, findings, todos
from symphony_assets.config import Codebase
from symphony_assets.defs.code.checks import (
    BROAD_EXCEPT_CHECK,
    NO_MARKERS_CHECK,
    broad_except_result,
    markers_result,
)
from symphony_assets.defs.code.frames import complexity_frame, findings_frame, todo_frame
from symphony_assets.defs.code.metadata import complexity_metadata, findings_metadata, todo_metadata
from symphony_assets.defs.code.schemas import CODE_COMPLEXITY, CODE_FINDINGS, MARKER_LIST
from symphony_assets.defs.interrupts import stops_on_interrupt
from symphony_assets.defs.newness import NewFindings, new_findings_spec
from symphony_assets.defs.partitions import snapshot_partitions
from symphony_assets.defs.snapshots import (
    SNAPSHOT_MAX_RUNTIME_S,
    SNAPSHOT_RETRY,
    codebase_named,
    partitioned_output,
    run_partitions,
    snapshot_backfill_policy,
    snapshot_metadata,
    take_all,
)
from symphony_assets.resources.cache import AnalysisCache
from symphony_assets.resources.code_facts import (
    CHURN_DAYS,
    RunState,
    gather,
    is_python,
    prefetch_python,
    run_history,
)
from symphony_assets.resources.git import GitResource, Snapshot
from symphony_assets.resources.postgres import PostgresResource
from symphony_assets.resources.python_facts import max_complexity_bytes

DOMAIN = "code"  # per-codebase options: ``code: {max_complexity_bytes: 2000000}`` in symphony.yaml
ASSETS = ("todo_list", "code_complexity", "code_findings")
NO_NEW_MARKERS_CHECK = new_findings_spec("todo_list", "work_markers")
NO_NEW_FINDINGS_CHECK = new_findings_spec("code_findings", "code_findings")


def compute_code_structure(
    snapshot: Snapshot, state: RunState, selected: frozenset[str] = frozenset(ASSETS)
) -> dict[str, tuple[pd.DataFrame, dict[str, Any]]]:
    """The selected assets' frames and metadata for one snapshot."""
    facts = gather(snapshot, state)
    out: dict[str, tuple[pd.DataFrame, dict[str, Any]]] = {}
    cache_meta = facts.stats.metadata()
    if "todo_list" in selected:
        df = todo_frame(facts, state)
        out["todo_list"] = (df, {**todo_metadata(df), **cache_meta})
    if "code_complexity" in selected:
        has_python = any(is_python(e) for e in facts.entries.values()) or facts.failures
        history = state.histories.get(snapshot.codebase.name)
        churn = snapshot.churn(CHURN_DAYS, history) if has_python else {}
        df = complexity_frame(facts, churn, state)
        out["code_complexity"] = (df, {**complexity_metadata(df), **cache_meta})
    if "code_findings" in selected:
        df = findings_frame(snapshot, facts, state)
        out["code_findings"] = (df, {**findings_metadata(df), **cache_meta})
    return out


# ----------------------------------------------------------------------------------------- the asset


def _out(name: str, description: str, schema: Any, version: str) -> dg.AssetOut:
    return dg.AssetOut(
        key=dg.AssetKey(name),
        io_manager_key="warehouse_io_manager",
        group_name="code",
        kinds={"git", "python", "parquet", "postgres"},
        description=description,
        metadata={"dagster/column_schema": schema.dagster_column_schema()},
        code_version=version,
        is_required=False,
    )


@dg.multi_asset(
    name="code_structure",
    outs={
        "todo_list": _out(
            "todo_list",
            "Work markers in comments of every file, with a fingerprint that survives moves, edits and"
            " renames, so a marker can be followed across days.",
            MARKER_LIST,
            f"todo_list-{todos.ANALYSER_VERSION}",
        ),
        "code_complexity": _out(
            "code_complexity",
            "Cyclomatic complexity (radon) of every Python function, method and class, with rank, the"
            " file's 90-day churn and a hotspot score (complexity x churn): complex code that keeps"
            " changing. Files that could not be measured are listed with their status.",
            CODE_COMPLEXITY,
            f"code_complexity-{complexity.ANALYSER_VERSION}",
        ),
        "code_findings": _out(
            "code_findings",
            "Broad exception handlers (and whether a comment explains them), code that uses a CUDA GPU,"
            " backup and legacy files, and Python files that do not parse.",
            CODE_FINDINGS,
            f"code_findings-{findings.ANALYSER_VERSION}",
        ),
    },
    check_specs=[NO_MARKERS_CHECK, BROAD_EXCEPT_CHECK, NO_NEW_MARKERS_CHECK, NO_NEW_FINDINGS_CHECK],
    partitions_def=snapshot_partitions,
    backfill_policy=snapshot_backfill_policy(),
    retry_policy=SNAPSHOT_RETRY,
    op_tags={"dagster/max_runtime": SNAPSHOT_MAX_RUNTIME_S},
    can_subset=True,
)
@stops_on_interrupt
def code_structure(
    context: dg.AssetExecutionContext, git: GitResource, postgres: PostgresResource
) -> Iterator[dg.Output[Any] | dg.AssetCheckResult | dg.AssetCheckEvaluation]:
    """One snapshot per day feeds all three code-structure assets."""
    selected = frozenset(k.path[-1] for k in context.selected_asset_keys) & frozenset(ASSETS)
    state: RunState | None = None
    frames: dict[str, dict[str, pd.DataFrame]] = {name: {} for name in selected}
    metas: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in selected}
    partitions = run_partitions(context)
    days: dict[str, list[date]] = {}
    for _key, name, day in partitions:
        days.setdefault(name, []).append(day)
    codebases: dict[str, Codebase] = {}
    newness = {
        "todo_list": NewFindings(
            NO_NEW_MARKERS_CHECK, "fingerprint", ["path", "line", "tag", "text"], default_severity="warn"
        ),
        "code_findings": NewFindings(
            NO_NEW_FINDINGS_CHECK,
            ["kind", "subkind", "path", "detail"],
            ["kind", "subkind", "path", "line", "detail"],
            judged=lambda df: df[df["kind"] != "gpu_site"],  # GPU sites are facts, not problems
        ),
    }
    for _key, name, _day in partitions:
        codebases.setdefault(name, codebase_named(name))
    # Every day's snapshot up front: a range analyses its new blobs in one pooled batch (prefetch_python).
    snapshots = take_all(context, git)
    prefetched: set[str] = set()
    for key, name, day in partitions:
        codebase = codebases[name]
        max_bytes = max_complexity_bytes(codebase)
        if state is None or state.max_bytes != max_bytes:
            state = RunState(AnalysisCache(postgres.database()), max_bytes)
        snapshot = snapshots[key]
        if len(days[name]) > 1 and name not in prefetched:
            prefetched.add(name)
            prefetch_python([snapshots[k] for k, n, _ in partitions if n == name], state)
        if len(days[name]) > 1 and name not in state.histories and snapshot.repo is not None:
            state.histories[name] = run_history(snapshot.repo, codebase.branch, days[name])
        for asset, (df, meta) in compute_code_structure(snapshot, state, selected).items():
            if asset in newness:
                df = newness[asset].mark(key, codebase, day, df)
                meta = {**meta, "new_findings": newness[asset].new_count(key)}
            frames[asset][key] = df
            metas[asset][key] = {**snapshot_metadata(snapshot), **meta}
        if len(partitions) == 1:  # a backfill logs once at the end: each log event is stored
            context.log.info(f"{key}: commit {snapshot.commit or '(none)'}")
    totals = state.totals() if state is not None else {}
    context.log.info(f"{len(partitions)} partition(s); blobs analysed / reused over the run: {totals}")
    for asset in ASSETS:
        if asset not in selected:
            continue
        yield partitioned_output(context, frames[asset], metas[asset], totals, asset=asset)
    checks = context.selected_asset_check_keys
    newest = context.partition_keys[-1]
    if "todo_list" in selected and NO_MARKERS_CHECK.key in checks:
        yield markers_result(frames["todo_list"][newest], newest)
    if "code_findings" in selected and BROAD_EXCEPT_CHECK.key in checks:
        yield broad_except_result(frames["code_findings"][newest], newest)
    for asset, news in newness.items():
        if asset in selected:
            yield from news.evaluations(context)
