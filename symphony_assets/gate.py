"""``symphony check``: the CI gate. Analyse the working tree (or a commit) with the assets' own compute
functions, compare with a baseline (a git ref or a date), print a Markdown summary and fail the build
when findings of the chosen kinds are new.

No database needed: the per-file analysis cache is off, so a CI runner with only git and Python works.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from symphony_assets.analysis.gate import KINDS, GateFinding, compare, markdown, parse_kinds
from symphony_assets.config import Codebase, ConfigError, load_config

if TYPE_CHECKING:
    from symphony_assets.resources.git import Snapshot

log = logging.getLogger(__name__)
#: Far enough in the past that the cleanup rules' age thresholds never hide a junk name.
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


class GateError(RuntimeError):
    """The check could not run (unknown ref, no such codebase); exit status 2."""


# ------------------------------------------------------------------------------------------ snapshots
def snapshot_of(codebase: Codebase, ref: str | None) -> Snapshot:
    """The working tree (``ref`` None), a commit (any git revision) or the last commit of a day
    (``YYYY-MM-DD``, UTC)."""
    from symphony_assets.resources.git import Repo, Snapshot, _excluded, take_snapshot

    today = datetime.now(UTC).date()
    if ref is None:
        return take_snapshot(codebase, today, today=today)
    try:
        day = date.fromisoformat(ref)
    except ValueError:
        day = None
    if day is not None:
        snap = take_snapshot(codebase, day, today=day + timedelta(days=1))  # a day's commit, never live
        if snap.commit is None:
            raise GateError(f"no commit at or before {ref} in {codebase.path}")
        return snap
    repo = Repo(codebase.path, codebase.name)
    commit = repo.run("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False).decode().strip()
    if not commit:
        raise GateError(f"{ref!r} is not a commit in {codebase.path}")
    stamp = int(repo.run("show", "-s", "--format=%ct", commit).decode().strip())
    when = datetime.fromtimestamp(stamp, tz=UTC)
    files = [e for e in repo.tree_entries(commit) if not _excluded(e.path, codebase.exclude)]
    return Snapshot(codebase, when.date(), repo, commit, when, False, files)


# ------------------------------------------------------------------------------------------- findings
def gather(snapshot: Snapshot, kinds: tuple[str, ...]) -> list[GateFinding]:
    """Every finding of the wanted kinds in one snapshot, through the assets' compute functions."""
    from symphony_assets.resources.cache import AnalysisCache

    cache = AnalysisCache(None, enabled=False)
    out: list[GateFinding] = []
    if "cycle" in kinds:
        out += _cycles(snapshot, cache)
    if "port" in kinds:
        out += _ports(snapshot, cache)
    if "except" in kinds:
        out += _broad_excepts(snapshot, cache)
    if "junk" in kinds:
        out += _junk(snapshot)
    if "drift" in kinds:
        out += _drift(snapshot, cache)
    return out


def _records(df: Any) -> list[dict[str, Any]]:
    return [] if df is None or df.empty else list(df.to_dict("records"))


def _cycles(snapshot: Snapshot, cache: Any) -> list[GateFinding]:
    from symphony_assets.defs.imports.assets import compute_import_graph
    from symphony_assets.defs.imports.frames import compute_import_cycles, edges_from_frame

    graph, _ = compute_import_graph(snapshot, cache)
    df, _ = compute_import_cycles(edges_from_frame(graph))
    return [
        GateFinding("cycle", str(r["modules"]), f"{r['size']} modules: {r['loop']}")
        for r in _records(df)
        if not r["latent"]
    ]


def _ports(snapshot: Snapshot, cache: Any) -> list[GateFinding]:
    from symphony_assets.defs.ports.assets import compute_port_conflicts, compute_port_map

    own, _ = compute_port_map(snapshot, cache)
    df, _ = compute_port_conflicts({snapshot.codebase.name: own})
    return [
        GateFinding("port", str(r["conflict_key"]), f"port {r['port']} ({r['components']}): {r['sites']}")
        for r in _records(df)
    ]


def _broad_excepts(snapshot: Snapshot, cache: Any) -> list[GateFinding]:
    from symphony_assets.defs.code.assets import compute_code_structure
    from symphony_assets.resources.code_facts import RunState

    df, _ = compute_code_structure(snapshot, RunState(cache), frozenset({"code_findings"}))["code_findings"]
    return [
        GateFinding("except", f"{r['path']}|{r['subkind']}", f"{r['path']}:{int(r['line'])}: {r['detail']}")
        for r in _records(df)
        if r["kind"] == "broad_except" and not bool(r.get("has_reason"))
    ]


def _junk(snapshot: Snapshot) -> list[GateFinding]:
    """Temp-named files the cleanup rules would propose (at any age) and backup copies, committed or
    lying untracked in the working tree; ignored files are build output, not the commit's business."""
    from symphony_assets.analysis.cleanup_rules import FileFacts, judge
    from symphony_assets.analysis.findings import backup_kind
    from symphony_assets.defs.cleanup.settings import rules_for

    rules = rules_for(snapshot.codebase)
    out = []
    for entry in snapshot.files:
        if entry.kind != "file" or entry.ignored or entry.git_status in ("ignored", "deleted"):
            continue
        facts = FileFacts(entry.path, entry.tracked, False, entry.size or 0, _LONG_AGO, 0, None)
        verdict = judge(facts, rules, snapshot.day, {}, frozenset())
        backup = backup_kind(entry.path)
        if verdict.decision in ("candidate", "review") and verdict.rule != "expired":
            out.append(GateFinding("junk", entry.path, f"{entry.path}: {verdict.reason}"))
        elif backup is not None:
            what = backup.replace("_", " ")
            out.append(GateFinding("junk", entry.path, f"{entry.path}: looks like a {what}"))
    return out


def _drift(snapshot: Snapshot, cache: Any) -> list[GateFinding]:
    from symphony_assets.defs.dependencies.assets import compute_declarations, compute_drift

    own, _ = compute_declarations(snapshot, cache)
    df, _ = compute_drift({snapshot.codebase.name: own})
    return [
        GateFinding("drift", f"{r['package']}|{r['status']}", f"{r['package']} {r['status']}: {r['versions']}"
                    f" in {r['files']}")
        for r in _records(df)
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------- CLI
def run_check(args: argparse.Namespace) -> int:
    """Exit 0 when nothing new of the chosen kinds, 1 when something is, 2 when the check cannot run."""
    try:
        kinds = parse_kinds(args.fail_on)
        codebase = load_config().named_or_current(args.codebase)
        target = snapshot_of(codebase, args.commit)
        baseline_ref = args.baseline or (f"{args.commit}^" if args.commit else "HEAD")
        baseline = snapshot_of(codebase, baseline_ref)
    except (ValueError, ConfigError, GateError) as exc:
        sys.stderr.write(f"symphony: check: {exc}\n")
        return 2
    wanted = tuple(KINDS)  # every kind is counted for the summary; only ``kinds`` fail the build
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Dagster's beta notes from importing the asset modules
        result = compare(gather(target, wanted), gather(baseline, wanted), kinds)
    where = f"@{(target.commit or '')[:12]}" if args.commit else " (working tree)"
    target_label = codebase.name + where
    text = markdown(result, target_label, f"{baseline_ref} ({(baseline.commit or '')[:12]})")
    sys.stdout.write(text)
    if args.summary_file:
        with open(args.summary_file, "a", encoding="utf-8") as fh:
            fh.write(text)
    log.info("check %s: %d new, %d failing", codebase.name, len(result.new), len(result.failing))
    return 0 if result.passed else 1


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``symphony check [--codebase N] [--commit REF] [--baseline REF|DATE] [--fail-on KINDS]``."""
    p = sub.add_parser(
        "check",
        help="CI gate: fail when new findings appear compared with a baseline",
        description="Analyse the working tree (or --commit) and compare with --baseline (a git ref or a "
        "YYYY-MM-DD date; default HEAD, or the commit's parent). Prints a Markdown summary; exit status 1 "
        "when new findings of the --fail-on kinds appear, 2 when the check cannot run.",
    )
    p.add_argument("--codebase", help="codebase name from symphony.yaml (default: the one we stand in)")
    p.add_argument("--commit", help="analyse this commit instead of the working tree")
    p.add_argument("--baseline", help="git ref or date (YYYY-MM-DD) to compare with")
    kinds = ", ".join(KINDS)
    p.add_argument("--fail-on", default="all", help=f"comma-separated kinds: {kinds} (default all)")
    p.add_argument("--summary-file", help="also append the summary here (e.g. $GITHUB_STEP_SUMMARY)")
    p.set_defaults(handler=run_check)
