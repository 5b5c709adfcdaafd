"""What ``symphony run`` found, in words: the headline of each finding asset per codebase and day.

Read back from the Parquet warehouse (the source of truth) after the runs: import cycles with their
shortest loop, port conflicts with the port and the files binding it, drifting packages with their
versions, new work markers, junk bytes reclaimable, files that do not parse. Each finding is compared
with the previous day's partition, so what is new is marked, and each asset with something to show
says where to look next (the UI's asset page, the Postgres table).
"""

from __future__ import annotations

import json
import os
import sys
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import pandas as pd

from symphony_assets.core.names import FLEET_ASSETS
from symphony_assets.defs.fleet import involves
from symphony_assets.storage.warehouse import Warehouse

UI_URL_ENV = "SYMPHONY_UI_URL"
DEFAULT_UI_URL = "http://127.0.0.1:3000"
#: Finding assets, in the order the summary shows them.
FINDING_ASSETS = (
    "import_cycles",
    "port_conflicts",
    "dependency_drift",
    "todo_list",
    "cleanup_candidates",
    "code_findings",
    "security_findings",
    "dependency_usage",
    "duplicate_code",
    "agent_registry",
)
#: Detail lines shown per asset and day; the rest is counted.
MAX_DETAILS = 3
#: Earlier days of a range shown with what appeared on them, per codebase.
MAX_EARLIER_DAYS = 10


@dataclass
class Headline:
    """One finding asset on one day: a sentence, counts, and the findings worth naming."""

    asset: str
    text: str
    count: int
    new: int
    details: list[str] = field(default_factory=list)
    compared: bool = True  # False: no previous partition, nothing can be called new


@dataclass
class DayFindings:
    codebase: str
    day: str
    headlines: list[Headline]


@dataclass
class CodebaseFindings:
    codebase: str
    first: str
    last: str
    newest: DayFindings | None
    earlier: list[DayFindings]  # days before the newest with something new on them
    look_next: list[dict[str, str]]


def ui_url() -> str:
    return os.environ.get(UI_URL_ENV, DEFAULT_UI_URL).rstrip("/")


def asset_page(asset: str, codebase: str, day: str) -> str:
    """The asset's page at the codebase's partition of the day (the day's, for a fleet-wide asset)."""
    key = day if asset in FLEET_ASSETS else f"{codebase}|{day}"
    return f"{ui_url()}/assets/{asset}?partition={quote(key, safe='')}"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _str(value: Any) -> str:
    return (
        "" if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)) else str(value)
    )


def _new_and_old(
    df: pd.DataFrame, prev: pd.DataFrame | None, key: Callable[[Any], str]
) -> tuple[list[Any], list[Any]]:
    """Rows of ``df`` split into (new, already there) by ``key`` against the previous partition."""
    seen = {key(r) for r in prev.itertuples()} if prev is not None else set()
    rows = list(df.itertuples())
    if prev is None:
        return [], rows
    return [r for r in rows if key(r) not in seen], [r for r in rows if key(r) in seen]


def _details(
    new: list[Any], old: list[Any], describe: Callable[[Any], str], old_too: bool = True
) -> list[str]:
    lines = [f"NEW {describe(r)}" for r in new[:MAX_DETAILS]]
    if old_too:
        lines += [f"    {describe(r)}" for r in old[: max(0, MAX_DETAILS - len(lines))]]
    shown = min(len(new), MAX_DETAILS) + (min(len(old), max(0, MAX_DETAILS - len(new))) if old_too else 0)
    total = len(new) + (len(old) if old_too else 0)
    if total > shown:
        lines.append(f"    ... and {total - shown} more")
    return lines


def _new_words(new: int, compared: bool) -> str:
    return f" ({new} new)" if compared and new else ""


def _cycles(df: pd.DataFrame, prev: pd.DataFrame | None) -> Headline:
    latent = df["latent"].astype(bool) if not df.empty else pd.Series([], dtype=bool)
    real = df[~latent.to_numpy()] if not df.empty else df
    prev_real = prev[~prev["latent"].astype(bool).to_numpy()] if prev is not None and not prev.empty else prev
    new, old = _new_and_old(real, prev_real, lambda r: str(r.cycle_id))
    text = _plural(len(real), "import cycle") + _new_words(len(new), prev is not None)
    text += f", {int(latent.sum())} latent"
    details = _details(new, old, lambda r: f"{r.loop}  (cut: {_str(r.cut) or '?'})")
    return Headline("import_cycles", text, len(real), len(new), details, prev is not None)


def _ports(df: pd.DataFrame, prev: pd.DataFrame | None) -> Headline:
    new, old = _new_and_old(df, prev, lambda r: str(r.conflict_key))
    text = _plural(len(df), "port conflict") + _new_words(len(new), prev is not None)

    def describe(r: Any) -> str:
        return f"port {r.port}/{r.transport} on {r.machine}: {r.sites}"

    return Headline("port_conflicts", text, len(df), len(new), _details(new, old, describe), prev is not None)


def _drift(df: pd.DataFrame, prev: pd.DataFrame | None) -> Headline:
    new, old = _new_and_old(df, prev, lambda r: f"{r.package}|{r.status}")
    text = _plural(len(df), "drifting package") + _new_words(len(new), prev is not None)

    def describe(r: Any) -> str:
        return f"{r.package} {r.versions} ({r.status}) in {r.files}"

    return Headline(
        "dependency_drift", text, len(df), len(new), _details(new, old, describe), prev is not None
    )


def _markers(df: pd.DataFrame, prev: pd.DataFrame | None) -> Headline:
    new, old = _new_and_old(df, prev, lambda r: str(r.fingerprint))
    text = _plural(len(df), "work marker") + _new_words(len(new), prev is not None)

    def describe(r: Any) -> str:
        return f"{r.path}:{r.line} {r.tag} {_str(r.text)}".rstrip()

    # Markers can be many: name only the new ones (all of them are new on a first day).
    shown_new = new if prev is not None else old
    details = _details(shown_new, [], describe, old_too=False)
    return Headline("todo_list", text, len(df), len(new), details, prev is not None)


def _junk(df: pd.DataFrame, prev: pd.DataFrame | None) -> Headline:
    cands = df[df["decision"] == "candidate"] if not df.empty else df
    review = int((df["decision"] == "review").sum()) if not df.empty else 0
    prev_cands = prev[prev["decision"] == "candidate"] if prev is not None and not prev.empty else prev
    new, old = _new_and_old(cands, prev_cands, lambda r: str(r.path))
    size = (
        float(pd.to_numeric(cands["size_bytes"], errors="coerce").fillna(0).sum()) if not cands.empty else 0.0
    )
    text = f"{_size(size)} reclaimable in {_plural(len(cands), 'file')}" + _new_words(
        len(new), prev is not None
    )
    text += f"; {review} for review"

    def describe(r: Any) -> str:
        return f"{r.path} ({_size(float(r.size_bytes or 0))}, {r.rule})"

    return Headline(
        "cleanup_candidates", text, len(cands), len(new), _details(new, old, describe), prev is not None
    )


def _parse_failures(df: pd.DataFrame, prev: pd.DataFrame | None) -> Headline:
    fails = df[df["kind"] == "parse_failure"] if not df.empty else df
    prev_fails = prev[prev["kind"] == "parse_failure"] if prev is not None and not prev.empty else prev
    new, old = _new_and_old(fails, prev_fails, lambda r: str(r.path))
    text = _plural(len(fails), "file does not parse", "files do not parse") + _new_words(
        len(new), prev is not None
    )

    def describe(r: Any) -> str:
        return f"{r.path}: {_str(r.detail)}".rstrip(": ")

    return Headline(
        "code_findings", text, len(fails), len(new), _details(new, old, describe), prev is not None
    )


def _security(df: pd.DataFrame, prev: pd.DataFrame | None) -> Headline:
    found = df[df["kind"] == "finding"] if not df.empty else df
    new, old = _new_and_old(found, prev, lambda r: str(r.fingerprint))
    high = int((found["severity"] == "HIGH").sum()) if not found.empty else 0
    unparsed = int((df["kind"] == "unparsed_file").sum()) if not df.empty else 0
    text = _plural(len(found), "security finding") + _new_words(len(new), prev is not None)
    text += f", {high} high; {_plural(unparsed, 'file')} bandit cannot parse"

    def describe(r: Any) -> str:
        return f"{r.severity} {r.rule_id} {r.path}:{r.line} {_str(r.message)}"

    return Headline(
        "security_findings", text, len(found), len(new), _details(new, old, describe), prev is not None
    )


def _usage(df: pd.DataFrame, prev: pd.DataFrame | None) -> Headline:
    bad = df[df["status"].isin(["missing", "unused", "transitive"])] if not df.empty else df
    new, old = _new_and_old(bad, prev, lambda r: str(r.finding_key))
    missing = int((bad["status"] == "missing").sum()) if not bad.empty else 0
    text = f"{_plural(missing, 'missing dependency', 'missing dependencies')}"
    text += f", {int((bad['status'] == 'unused').sum()) if not bad.empty else 0} unused"
    text += f", {int((bad['status'] == 'transitive').sum()) if not bad.empty else 0} transitive"
    text += _new_words(len(new), prev is not None)

    def describe(r: Any) -> str:
        where = _str(r.imported_in or r.declared_in)
        return f"{r.status} {r.module} -> {r.package} ({r.mapping_source}) {where}"

    return Headline(
        "dependency_usage", text, len(bad), len(new), _details(new, old, describe), prev is not None
    )


def _duplicates(df: pd.DataFrame, prev: pd.DataFrame | None) -> Headline:
    new, old = _new_and_old(df, prev, lambda r: str(r.finding_key))
    diverged = int((df["kind"] == "diverged_copy").sum()) if not df.empty else 0
    near = int((df["kind"] == "near_duplicate").sum()) if not df.empty else 0
    text = f"{_plural(diverged, 'diverged copy', 'diverged copies')}, {near} near-duplicate pairs"
    text += f", {int((df['kind'] == 'exact_duplicate').sum()) if not df.empty else 0} exact"
    text += _new_words(len(new), prev is not None)

    def describe(r: Any) -> str:
        return f"{r.kind} {r.path} ~ {r.other_codebase}:{r.other_path} ({float(r.similarity):.2f})"

    return Headline("duplicate_code", text, len(df), len(new), _details(new, old, describe), prev is not None)


def _registry(df: pd.DataFrame, prev: pd.DataFrame | None) -> Headline:
    bad = df[df["kind"] != "ok"] if not df.empty else df
    new, old = _new_and_old(bad, prev, lambda r: str(r.finding_key))
    text = _plural(len(bad), "agent registry problem") + _new_words(len(new), prev is not None)

    def describe(r: Any) -> str:
        return f"{r.kind} {r.agent}: {_str(r.detail)}"

    return Headline(
        "agent_registry", text, len(bad), len(new), _details(new, old, describe), prev is not None
    )


_HEADLINES: dict[str, Callable[[pd.DataFrame, pd.DataFrame | None], Headline]] = {
    "import_cycles": _cycles,
    "port_conflicts": _ports,
    "dependency_drift": _drift,
    "todo_list": _markers,
    "cleanup_candidates": _junk,
    "code_findings": _parse_failures,
    "security_findings": _security,
    "dependency_usage": _usage,
    "duplicate_code": _duplicates,
    "agent_registry": _registry,
}


class _Reader:
    """Reads a partition once for the day it is and the day after (each day is compared with the one
    before), keeping only the last days of each asset read: a 61-day range would otherwise hold every
    finding frame of the range at once, the largest memory of the whole ``symphony run``."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self._cache: OrderedDict[tuple[str, str, str], pd.DataFrame | None] = OrderedDict()

    def read(self, asset: str, codebase: str, day: str) -> pd.DataFrame | None:
        """The codebase's partition; of a fleet-wide asset, the day's rows that involve the codebase."""
        key = (asset, codebase, day)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if asset in FLEET_ASSETS:
            found = involves(self.warehouse.read(asset, {"date": day}), codebase)
        else:
            found = self.warehouse.read(asset, {"codebase": codebase, "date": day})
        self._cache[key] = found
        if len(self._cache) > 3 * len(FINDING_ASSETS):
            self._cache.popitem(last=False)
        return found


def day_findings(reader: _Reader, codebase: str, day: date, assets: Sequence[str]) -> DayFindings:
    """The headline of each finding asset that has a partition for ``codebase`` on ``day``."""
    headlines = []
    for asset in assets:
        df = reader.read(asset, codebase, str(day))
        if df is None:
            continue
        prev = reader.read(asset, codebase, str(day - timedelta(days=1)))
        headlines.append(_HEADLINES[asset](df, prev))
    return DayFindings(codebase, str(day), headlines)


def summarise(
    codebases: Sequence[str],
    first: date,
    last: date,
    assets: Sequence[str] | None = None,
    warehouse: Warehouse | None = None,
) -> list[CodebaseFindings]:
    """Per codebase: the newest day in full, the earlier days of the range that brought something new."""
    chosen = [a for a in FINDING_ASSETS if not assets or a in assets]
    if not chosen:
        return []  # only non-finding assets were asked for (file_inventory, import_graph, ...)
    reader = _Reader(warehouse or Warehouse())
    out = []
    for name in codebases:
        newest = day_findings(reader, name, last, chosen)
        earlier = []
        day = first
        while day < last:
            found = day_findings(reader, name, day, chosen)
            found.headlines = [h for h in found.headlines if h.compared and h.new]
            if found.headlines:
                earlier.append(found)
            day += timedelta(days=1)
        look = [
            {"asset": h.asset, "ui": asset_page(h.asset, name, str(last)), "postgres": f"symphony.{h.asset}"}
            for h in newest.headlines
            if h.count
        ]
        out.append(
            CodebaseFindings(name, str(first), str(last), newest if newest.headlines else None, earlier, look)
        )
    return out


def render(findings: Sequence[CodebaseFindings]) -> list[str]:
    """The summary as lines of text for a person."""
    lines: list[str] = []
    for cb in findings:
        span = cb.last if cb.first == cb.last else f"{cb.first}...{cb.last}, newest day {cb.last}"
        lines.append(f"Findings for {cb.codebase} ({span}):")
        if cb.newest is None:
            lines.append("  (no finding asset has a partition for this day)")
            continue
        width = max(len(h.asset) for h in cb.newest.headlines)
        for h in cb.newest.headlines:
            lines.append(f"  {h.asset:<{width}}  {h.text}")
            lines += [f"  {'':<{width}}  {d}" for d in h.details]
        if cb.earlier:
            lines.append("  new earlier in the range:")
            for day in cb.earlier[-MAX_EARLIER_DAYS:]:
                for h in day.headlines:
                    news = [d for d in h.details if d.startswith("NEW ")]
                    lines.append(f"    {day.day}  {h.asset}: {news[0] if news else h.text}")
                    lines += [f"    {'':<10}  {'':<{len(h.asset)}}  {d}" for d in news[1:]]
            if len(cb.earlier) > MAX_EARLIER_DAYS:
                lines.append(f"    ({len(cb.earlier) - MAX_EARLIER_DAYS} earlier days with news not shown)")
        if cb.look_next:
            lines.append("  look next:")
            for look in cb.look_next:
                lines.append(f"    {look['ui']}")
            tables = ", ".join(look["postgres"] for look in cb.look_next)
            lines.append(f"    Postgres: {tables} (WHERE codebase = '{cb.codebase}' AND date = '{cb.last}')")
    return lines


def as_json(findings: Sequence[CodebaseFindings]) -> list[dict[str, Any]]:
    return [asdict(cb) for cb in findings]


def outcome_lines(outcome: Any, progress: Any | None = None) -> list[str]:
    """One run's outcome (a ``runner.RunOutcome``) in words; row counts only in ``--json``."""
    status = "ok" if outcome.success else "FAILED"
    took = ""
    if progress is not None and progress.started is not None:
        from symphony_assets.progress import fmt_duration

        took = f", {fmt_duration(progress.elapsed())}"
    lines = [f"{outcome.codebase} {outcome.partitions}: {status} (run {outcome.run_id}{took})"]
    lines += [f"    note: {note}" for note in outcome.notes]
    if outcome.error:
        lines.append(f"    error: {outcome.error}")
        lines.append(f"    its event log: symphony logs {outcome.run_id}")
    return lines


def report_run(
    args: Any,
    outcomes: Sequence[Any],
    runs: Sequence[Any],
    codebases: Sequence[str],
    first: date,
    last: date,
) -> int:
    """What ``symphony run`` prints once its runs ended; returns the exit status (1 if a run failed).

    ``args`` carries ``quiet``, ``json`` and ``asset``; ``runs`` are the :class:`progress.RunProgress`.
    """
    from symphony_assets.config import warehouse_root

    failed = [o for o in outcomes if not o.success]
    if args.quiet and not args.json:
        for outcome in failed:
            sys.stderr.write("\n".join(outcome_lines(outcome)) + "\n")
        return 1 if failed else 0
    ran_snapshots = any(r.run_id for r in runs)
    findings = summarise(codebases, first, last, assets=args.asset) if ran_snapshots else []
    if args.json:
        by_run = {r.run_id: r.as_dict() for r in runs if r.run_id}
        doc = {
            "success": not failed,
            "runs": [
                {
                    "codebase": o.codebase,
                    "partitions": o.partitions,
                    "success": o.success,
                    "run_id": o.run_id,
                    "error": o.error,
                    "rows": o.rows,
                    "notes": o.notes,
                    "progress": by_run.get(o.run_id),
                }
                for o in outcomes
            ],
            "findings": as_json(findings),
            "warehouse": warehouse_root(),
        }
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        return 1 if failed else 0
    by_id = {r.run_id: r for r in runs if r.run_id}
    lines: list[str] = []
    for outcome in outcomes:
        lines += outcome_lines(outcome, by_id.get(outcome.run_id))
    if findings:
        lines.append("")
        lines += render(findings)
    lines.append("")
    lines.append(f"Parquet:  {warehouse_root()}")
    lines.append("Postgres: schema 'symphony' (`symphony pg url` prints the URL); UI: `symphony ui`")
    sys.stdout.write("\n".join(lines) + "\n")
    return 1 if failed else 0
