"""Decide what to do in an issue tracker so that it mirrors today's findings, idempotently.

Identity never relies on titles (people edit them): each finding's fingerprint is written into the
issue body as a hidden HTML comment, and issues carry one label per codebase. Planning is a pure
function of (findings, the issues that carry the label, when each fingerprint was last seen), so a
rerun over the same inputs plans nothing new, and applying a plan twice is harmless.

Adapters turn rows of the finding assets (plain dicts) into :class:`Finding`, so the planner does not
depend on their schemas.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Literal

LABEL_PREFIX = "symphony:"
MARKER_PREFIX = "<!-- symphony-fingerprint:"
#: GitHub rejects titles much past 256 characters and bodies past 65,536; stay well under both.
MAX_TITLE = 200
MAX_BODY = 60_000

_FINGERPRINT_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._/+=-]{0,199}$")
_MARKER_RE = re.compile(r"<!--\s*symphony-fingerprint:\s*([A-Za-z0-9][A-Za-z0-9:._/+=-]{0,199})\s*-->")

ActionKind = Literal["create", "update", "close", "reopen", "unchanged", "duplicate", "pending_close"]


@dataclass(frozen=True)
class Finding:
    """One thing worth an issue, whatever asset it came from."""

    fingerprint: str
    source: str
    title: str
    body: str
    file: str | None
    line: int | None
    codebase: str

    def __post_init__(self) -> None:
        if not _FINGERPRINT_OK.match(self.fingerprint):
            raise ValueError(f"fingerprint {self.fingerprint!r} must be 1-200 of [A-Za-z0-9:._/+=-]")


@dataclass(frozen=True)
class Issue:
    """A tracker's issue, as much of it as reconciling needs (the same shape for every tracker)."""

    number: int
    title: str
    body: str
    state: str  # "open" or "closed"
    labels: tuple[str, ...]
    created_at: datetime | None = None
    url: str | None = None

    @property
    def fingerprint(self) -> str | None:
        return parse_fingerprint(self.body)

    @property
    def is_open(self) -> bool:
        return self.state == "open"


@dataclass(frozen=True)
class Action:
    """One planned step, also the row the asset writes (one per finding or managed issue)."""

    kind: ActionKind
    fingerprint: str
    number: int | None = None
    title: str = ""
    body: str = ""
    finding: Finding | None = None
    reason: str = ""


@dataclass(frozen=True)
class Plan:
    create: tuple[Action, ...] = ()
    update: tuple[Action, ...] = ()
    close: tuple[Action, ...] = ()
    reopen: tuple[Action, ...] = ()
    unchanged: tuple[Action, ...] = ()
    skipped_by_cap: tuple[Action, ...] = ()
    #: Extra issues sharing a fingerprint with the one kept; reported, never touched.
    duplicates: tuple[Action, ...] = ()
    #: Open issues whose finding is gone but which are not closed (yet, or closing is off).
    pending_close: tuple[Action, ...] = ()
    #: Findings dropped because an earlier finding in the input had the same fingerprint.
    ignored: tuple[Finding, ...] = field(default=())

    @property
    def changes(self) -> int:
        return len(self.create) + len(self.update) + len(self.close) + len(self.reopen)

    def actions(self) -> list[Action]:
        """Every action in a stable order; skipped ones keep their intended kind."""
        return [
            *self.create,
            *self.update,
            *self.reopen,
            *self.close,
            *self.unchanged,
            *self.pending_close,
            *self.duplicates,
            *self.skipped_by_cap,
        ]


def label_for(codebase: str) -> str:
    return f"{LABEL_PREFIX}{codebase}"


def marker(fingerprint: str) -> str:
    return f"{MARKER_PREFIX} {fingerprint} -->"


def parse_fingerprint(body: str | None) -> str | None:
    """The fingerprint hidden in an issue body, or None for issues we do not manage."""
    if not body:
        return None
    match = _MARKER_RE.search(body)
    return match.group(1) if match else None


def render_title(finding: Finding) -> str:
    title = " ".join(finding.title.split()) or f"{finding.source} finding"
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "\u2026"


def render_body(finding: Finding) -> str:
    """The body written to the tracker: the finding's text, then the hidden identity marker."""
    text = finding.body.strip()
    if len(text) > MAX_BODY:
        text = text[:MAX_BODY] + "\n\n\u2026 (truncated)"
    return f"{text}\n\n{marker(finding.fingerprint)}\n"


def _issue_order(issue: Issue) -> tuple[int, float, int]:
    """Oldest first, open before closed, so the kept issue is stable between runs."""
    created = issue.created_at.timestamp() if issue.created_at else float("inf")
    return (0 if issue.is_open else 1, created, issue.number)


def _finding_order(finding: Finding) -> tuple[str, str, int, str]:
    return (finding.source, finding.file or "", finding.line or 0, finding.fingerprint)


def plan(
    findings: Iterable[Finding],
    existing_issues: Iterable[Issue],
    history: Mapping[str, date],
    *,
    today: date,
    close_after_days: int = 3,
    closing_enabled: bool = False,
    max_create: int | None,
    max_close: int | None,
    respect_manual_close: bool = True,
) -> Plan:
    """Plan the tracker changes that make ``existing_issues`` mirror ``findings``.

    ``existing_issues`` are the issues carrying the codebase label, open and closed; those without a
    fingerprint marker are not ours and are ignored. ``history`` maps a fingerprint to the last day
    (before ``today``) it was seen. An open issue whose finding has been gone for ``close_after_days``
    daily partitions is closed when ``closing_enabled``; a closed issue whose finding is present again
    is reopened, except (``respect_manual_close``) when the finding was also present the day before:
    then a person closed it while it was live, and we do not fight them.
    """
    if close_after_days < 1:
        raise ValueError("close_after_days must be at least 1")
    wanted: dict[str, Finding] = {}
    ignored: list[Finding] = []
    codebases: set[str] = set()
    for finding in sorted(findings, key=_finding_order):
        codebases.add(finding.codebase)
        if finding.fingerprint in wanted:
            ignored.append(finding)
        else:
            wanted[finding.fingerprint] = finding
    if len(codebases) > 1:
        raise ValueError(f"plan one codebase at a time, got {sorted(codebases)}")

    by_fp: dict[str, list[Issue]] = {}
    for issue in existing_issues:
        fp = issue.fingerprint
        if fp is not None:
            by_fp.setdefault(fp, []).append(issue)

    creates: list[Action] = []
    updates: list[Action] = []
    reopens: list[Action] = []
    closes: list[Action] = []
    unchanged: list[Action] = []
    pending: list[Action] = []
    duplicates: list[Action] = []

    kept: dict[str, Issue] = {}
    for fp, issues in by_fp.items():
        ordered = sorted(issues, key=_issue_order)
        kept[fp] = ordered[0]
        for extra in ordered[1:]:
            duplicates.append(
                Action(
                    "duplicate",
                    fp,
                    extra.number,
                    extra.title,
                    reason=f"same fingerprint as #{ordered[0].number}, which is kept",
                )
            )

    for fp, finding in wanted.items():
        title, body = render_title(finding), render_body(finding)
        match = kept.get(fp)
        if match is None:
            creates.append(Action("create", fp, None, title, body, finding, "new finding"))
            continue
        issue = match
        if not issue.is_open:
            last = history.get(fp)
            if respect_manual_close and last is not None and (today - last).days <= 1:
                unchanged.append(
                    Action(
                        "unchanged",
                        fp,
                        issue.number,
                        title,
                        body,
                        finding,
                        "closed while the finding was live",
                    )
                )
            else:
                reopens.append(Action("reopen", fp, issue.number, title, body, finding, "finding is back"))
            continue
        if issue.title != title or issue.body != body:
            updates.append(
                Action("update", fp, issue.number, title, body, finding, _what_changed(issue, title, body))
            )
        else:
            unchanged.append(Action("unchanged", fp, issue.number, title, body, finding, "up to date"))

    for fp, issue in sorted(kept.items(), key=lambda kv: kv[1].number):
        if fp in wanted or not issue.is_open:
            continue
        last = history.get(fp)
        missing = (today - last).days if last is not None else None
        if missing is None:
            pending.append(
                Action("pending_close", fp, issue.number, issue.title, reason="never seen in history")
            )
        elif missing < close_after_days:
            pending.append(
                Action(
                    "pending_close",
                    fp,
                    issue.number,
                    issue.title,
                    reason=f"gone for {missing} of {close_after_days} days",
                )
            )
        elif not closing_enabled:
            pending.append(
                Action(
                    "pending_close",
                    fp,
                    issue.number,
                    issue.title,
                    reason=f"gone {missing} days; closing is off",
                )
            )
        else:
            closes.append(Action("close", fp, issue.number, issue.title, reason=f"gone for {missing} days"))

    skipped: list[Action] = []
    if max_create is not None and len(creates) > max_create:
        skipped += [replace(a, reason=f"over max_create={max_create}") for a in creates[max(max_create, 0) :]]
        creates = creates[: max(max_create, 0)]
    if max_close is not None and len(closes) > max_close:
        skipped += [replace(a, reason=f"over max_close={max_close}") for a in closes[max(max_close, 0) :]]
        closes = closes[: max(max_close, 0)]

    return Plan(
        create=tuple(creates),
        update=tuple(updates),
        close=tuple(closes),
        reopen=tuple(reopens),
        unchanged=tuple(unchanged),
        skipped_by_cap=tuple(skipped),
        duplicates=tuple(duplicates),
        pending_close=tuple(pending),
        ignored=tuple(ignored),
    )


def _what_changed(issue: Issue, title: str, body: str) -> str:
    parts = [
        name for name, same in (("title", issue.title == title), ("body", issue.body == body)) if not same
    ]
    return " and ".join(parts) + " changed"


def plan_markdown(plan_: Plan, limit: int = 50) -> str:
    """A short Markdown summary for asset metadata: what would be (or was) created, updated, closed."""
    sections: list[str] = []
    for heading, actions in (
        ("Create", plan_.create),
        ("Update", plan_.update),
        ("Reopen", plan_.reopen),
        ("Close", plan_.close),
        ("Skipped by cap", plan_.skipped_by_cap),
        ("Duplicates (reported, untouched)", plan_.duplicates),
    ):
        if actions:
            sections.append(f"### {heading} ({len(actions)})\n" + actions_markdown(actions, limit))
    return "\n\n".join(sections) or "Nothing to do."


def actions_markdown(actions: Sequence[Action], limit: int = 50) -> str:
    """One bullet per action: issue number, title, where, why."""
    if not actions:
        return "_none_"
    lines = []
    for a in actions[:limit]:
        ref = f"#{a.number} " if a.number is not None else ""
        where = ""
        if a.finding is not None and a.finding.file:
            where = f" `{a.finding.file}:{a.finding.line}`" if a.finding.line else f" `{a.finding.file}`"
        lines.append(f"- {ref}{_md_escape(a.title)}{where} ({a.reason})")
    if len(actions) > limit:
        lines.append(f"- \u2026 and {len(actions) - limit} more")
    return "\n".join(lines)


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text)


# ----------------------------------------------------------------------------------------------
# Adapters: rows of finding assets (dicts) -> Finding.


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:24]


def _str(row: Mapping[str, Any], *keys: str, default: str = "") -> str:
    for key in keys:
        value = row.get(key)
        if value is not None and value == value:  # NaN is not equal to itself
            return str(value)
    return default


def _int(row: Mapping[str, Any], key: str) -> int | None:
    value = row.get(key)
    try:
        return int(value) if value is not None and value == value else None
    except (TypeError, ValueError):
        return None


def _names(value: Any) -> list[str]:
    """A list of names from a list, a tuple, an array, or a string joined by '->', ',' or spaces."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = re.split(r"\s*(?:->|→|,|\s)\s*", value.strip())
    else:
        try:
            parts = [str(v) for v in value]
        except TypeError:
            parts = [str(value)]
    return [p for p in parts if p]


def from_todo_rows(rows: Iterable[Mapping[str, Any]], codebase: str) -> list[Finding]:
    """``todo_list`` rows (tag, text, path, line, scope, fingerprint) -> findings; fingerprints kept."""
    out: list[Finding] = []
    for row in rows:
        fp = _str(row, "fingerprint")
        if not fp:
            continue
        if not _FINGERPRINT_OK.match(fp):
            fp = f"h:{_digest(fp)}"  # keep odd fingerprints stable but safe inside an HTML comment
        tag = _str(row, "tag", default="note").upper()
        text = _str(row, "text").strip()
        file, line, scope = _str(row, "path", "file") or None, _int(row, "line"), _str(row, "scope")
        first_line = text.splitlines()[0] if text else "(no text)"
        where = f"{file}:{line}" if file and line else (file or "?")
        body = "\n".join(
            [
                f"A `{tag}` comment in `{where}`" + (f", in `{scope}`" if scope else "") + ":",
                "",
                *[f"> {ln}" if ln else ">" for ln in (text or "(no text)").splitlines()],
                "",
                f"Codebase: `{codebase}`. Reported by Symphony from the `todo_list` asset.",
            ]
        )
        out.append(Finding(fp, "todo", f"{tag}: {first_line}", body, file, line, codebase))
    return out


def _canonical_cycle(modules: Sequence[str]) -> list[str]:
    """Rotate a cycle to start at its smallest module, so the same cycle always hashes alike."""
    mods = list(modules)
    if len(mods) > 1 and mods[0] == mods[-1]:
        mods = mods[:-1]
    if not mods:
        return mods
    start = mods.index(min(mods))
    return mods[start:] + mods[:start]


def _bullets(value: Any, limit: int = 50) -> list[str]:
    items = (
        _names(value) if not isinstance(value, str) else [x.strip() for x in value.split(",") if x.strip()]
    )
    out = [f"- `{x}`" for x in items[:limit]]
    if len(items) > limit:
        out.append(f"- \u2026 and {len(items) - limit} more")
    return out


def _safe_id(prefix: str, value: str) -> str:
    """``prefix:value`` when that is a valid fingerprint, else a digest of it."""
    candidate = f"{prefix}:{value}"
    return candidate if _FINGERPRINT_OK.match(candidate) else f"{prefix}:{_digest(value)}"


def from_import_cycle_rows(
    rows: Iterable[Mapping[str, Any]], codebase: str, include_latent: bool = False
) -> list[Finding]:
    """``import_cycles`` rows: one finding per real cycle, for as long as it exists.

    Only cycles without an issue get one, so in steady state that means new cycles; a cycle must stay
    a finding while it exists, or its issue would be closed. Latent cycles (only through
    function-level or TYPE_CHECKING imports) are skipped unless asked for.
    """
    out: list[Finding] = []
    for row in rows:
        if not include_latent and bool(row.get("latent") or False):
            continue
        raw = row.get("modules", row.get("cycle"))
        mods = [m.strip() for m in raw.split(",")] if isinstance(raw, str) and "," in raw else _names(raw)
        cycle = _canonical_cycle([m for m in mods if m])
        if len(cycle) < 2:
            continue
        cycle_id = _str(row, "cycle_id")
        fp = _safe_id("cycle", cycle_id) if cycle_id else f"cycle:{_digest(*sorted(cycle))}"
        shown = ", ".join(sorted(cycle)[:4]) + (", \u2026" if len(cycle) > 4 else "")
        loop, cut = _str(row, "loop"), _str(row, "cut")
        body = [
            f"These {len(cycle)} modules import each other in a cycle:",
            "",
            *[f"- `{m}`" for m in sorted(cycle)],
        ]
        if loop:
            body += ["", f"One shortest loop: `{loop}`"]
        if cut:
            body += [
                "",
                "Removing these imports breaks the cycle:",
                "",
                *_bullets(cut.split(";") if ";" in cut else cut),
            ]
        body += ["", f"Codebase: `{codebase}`. Reported by Symphony from the `import_cycles` asset."]
        out.append(
            Finding(
                fp,
                "import_cycle",
                f"Import cycle: {shown}",
                "\n".join(body),
                _str(row, "file") or None,
                None,
                codebase,
            )
        )
    return out


def from_port_conflict_rows(rows: Iterable[Mapping[str, Any]], codebase: str) -> list[Finding]:
    """``port_conflicts`` rows: one finding per (machine, transport, port), whoever binds it.

    The identity leaves out the components so that a third service joining a conflict updates the
    issue instead of opening another.
    """
    by_port: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        port = _str(row, "port")
        if port:
            key = (_str(row, "machine", default="local"), _str(row, "transport", default="tcp"), port)
            by_port.setdefault(key, []).append(row)
    out: list[Finding] = []
    for (machine, transport, port), claims in sorted(by_port.items()):
        components = sorted(
            {
                c
                for r in claims
                for c in (
                    [x.strip() for x in _str(r, "components").split(",") if x.strip()]
                    or _names(r.get("claimants"))
                    or [_str(r, "service", "file", default="?")]
                )
            }
        )
        sites = sorted({x.strip() for r in claims for x in _str(r, "sites").split(",") if x.strip()})
        title = f"Port {port}/{transport} on {machine} is bound by {len(components)} components"
        body = [
            f"Port `{port}/{transport}` on machine `{machine}` is bound by more than one component:",
            "",
            *[f"- `{c}`" for c in components],
        ]
        if sites:
            body += ["", "Where:", "", *[f"- `{x}`" for x in sites[:50]]]
        body += ["", f"Codebase: `{codebase}`. Reported by Symphony from the `port_conflicts` asset."]
        first_site = sites[0].split(":") if sites else []
        file = first_site[1] if len(first_site) >= 3 else (_str(claims[0], "file") or None)
        out.append(
            Finding(
                f"port:{_digest(machine, transport, port)}",
                "port_conflict",
                title,
                "\n".join(body),
                file,
                None,
                codebase,
            )
        )
    return out


def from_dependency_drift_rows(rows: Iterable[Mapping[str, Any]], codebase: str) -> list[Finding]:
    """``dependency_drift`` rows: one finding per package; versions and places go in the body."""
    out: list[Finding] = []
    seen: set[str] = set()
    for row in rows:
        package = _str(row, "package", "name")
        key = package.lower().replace("_", "-").replace(".", "-")
        if not package or key in seen:
            continue
        seen.add(key)
        status = _str(row, "status", default="drift")
        versions = _str(row, "versions")
        title = f"Dependency drift: {package} ({status.replace('_', ' ')})"
        body = [f"`{package}` is declared inconsistently: {status.replace('_', ' ')}.", ""]
        if versions:
            body += [f"Specifiers: `{versions}`", ""]
        files = _str(row, "files")
        if files:
            body += ["Declarations:", "", *_bullets(files), ""]
        others = _str(row, "codebases")
        if others:
            body += [f"Codebases involved: `{others}`", ""]
        body += [f"Codebase: `{codebase}`. Reported by Symphony from the `dependency_drift` asset."]
        out.append(
            Finding(f"drift:{_digest(key)}", "dependency_drift", title, "\n".join(body), None, None, codebase)
        )
    return out


def from_legacy_file_rows(rows: Iterable[Mapping[str, Any]], codebase: str) -> list[Finding]:
    """Backup/legacy files, grouped one finding per folder (so fifty ``.bak`` files are one issue)."""
    by_dir: dict[str, list[str]] = {}
    for row in rows:
        path = _str(row, "path", "file")
        if path:
            by_dir.setdefault(posixpath.dirname(path) or ".", []).append(path)
    out: list[Finding] = []
    for folder, files in sorted(by_dir.items()):
        files = sorted(set(files))
        shown = files[:100]
        title = f"{len(files)} backup/legacy file{'s' if len(files) != 1 else ''} in {folder}/"
        body = "\n".join(
            [
                f"Folder `{folder}/` holds files that look like backups or leftovers:",
                "",
                *[f"- `{f}`" for f in shown],
                *([f"- \u2026 and {len(files) - len(shown)} more"] if len(files) > len(shown) else []),
                "",
                f"Codebase: `{codebase}`. Reported by Symphony from the cleanup scan.",
            ]
        )
        out.append(Finding(f"legacy:{_digest(folder)}", "legacy_files", title, body, folder, None, codebase))
    return out


#: Read-only: source name -> adapter.
ADAPTERS: Mapping[str, Callable[[Iterable[Mapping[str, Any]], str], list[Finding]]] = MappingProxyType(
    {
        "todo": from_todo_rows,
        "import_cycle": from_import_cycle_rows,
        "port_conflict": from_port_conflict_rows,
        "dependency_drift": from_dependency_drift_rows,
        "legacy_files": from_legacy_file_rows,
    }
)
