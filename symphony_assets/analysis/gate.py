"""The CI gate's comparison: findings now versus findings at a baseline, and the Markdown summary.

Pure: findings come in as :class:`GateFinding` lists (gathered elsewhere by the assets' own compute
functions); a finding is *new* when its key occurs more often now than at the baseline, so a moved line
is not new but a second broad ``except`` in the same file is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: Finding kinds the gate knows, with the words the summary uses.
KINDS: dict[str, str] = {
    "cycle": "import cycle",
    "port": "port conflict",
    "except": "broad except without a reason",
    "junk": "junk file",
    "drift": "dependency drift",
}


@dataclass(frozen=True)
class GateFinding:
    kind: str
    #: What stays the same while the finding stays the same (module set, conflict key, path...).
    key: str
    #: One line for people: where and what.
    text: str


@dataclass(frozen=True)
class GateResult:
    fail_on: tuple[str, ...]
    new: tuple[GateFinding, ...]
    fixed: tuple[GateFinding, ...]
    counts_now: dict[str, int]
    counts_before: dict[str, int]

    @property
    def failing(self) -> tuple[GateFinding, ...]:
        return tuple(f for f in self.new if f.kind in self.fail_on)

    @property
    def passed(self) -> bool:
        return not self.failing


def parse_kinds(text: str | None) -> tuple[str, ...]:
    """``"cycle,port"`` (or ``all``/empty for every kind) into known kinds; an unknown one is an error."""
    if not text or text.strip().lower() == "all":
        return tuple(KINDS)
    kinds = tuple(dict.fromkeys(k.strip().lower() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown finding kind(s) {', '.join(unknown)} (known: {', '.join(KINDS)})")
    return kinds


def _surplus(a: Sequence[GateFinding], b: Iterable[GateFinding]) -> list[GateFinding]:
    """Findings of ``a`` whose key occurs more often in ``a`` than in ``b`` (the extra occurrences)."""
    extra = Counter((f.kind, f.key) for f in a) - Counter((f.kind, f.key) for f in b)
    out = []
    for f in a:
        if extra[(f.kind, f.key)] > 0:
            extra[(f.kind, f.key)] -= 1
            out.append(f)
    return out


def compare(now: Sequence[GateFinding], before: Sequence[GateFinding], fail_on: Sequence[str]) -> GateResult:
    count_now = Counter(f.kind for f in now)
    count_before = Counter(f.kind for f in before)
    return GateResult(
        fail_on=tuple(fail_on),
        new=tuple(_surplus(now, before)),
        fixed=tuple(_surplus(before, now)),
        counts_now={k: count_now.get(k, 0) for k in KINDS},
        counts_before={k: count_before.get(k, 0) for k in KINDS},
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(result: GateResult, target: str, baseline: str, limit: int = 30) -> str:
    """A job summary: verdict, counts per kind, then the new findings (and what got fixed)."""
    verdict = "passed" if result.passed else f"failed: {len(result.failing)} new finding(s)"
    lines = [
        f"## Symphony hygiene check: {verdict}",
        "",
        f"Compared `{target}` with the baseline `{baseline}`; failing on: {', '.join(result.fail_on)}.",
        "",
        "| kind | baseline | now | new | fixed | fails the build |",
        "|---|---:|---:|---:|---:|---|",
    ]
    new = Counter(f.kind for f in result.new)
    fixed = Counter(f.kind for f in result.fixed)
    for kind, label in KINDS.items():
        fails = "yes" if kind in result.fail_on else "no"
        lines.append(
            f"| {label} | {result.counts_before[kind]} | {result.counts_now[kind]} | {new.get(kind, 0)}"
            f" | {fixed.get(kind, 0)} | {fails} |"
        )
    for title, items in (("New findings", result.new), ("Fixed since the baseline", result.fixed)):
        if not items:
            continue
        lines += ["", f"### {title}", "", "| kind | finding |", "|---|---|"]
        lines += [f"| {KINDS[f.kind]} | {_cell(f.text)} |" for f in items[:limit]]
        if len(items) > limit:
            lines.append(f"| | and {len(items) - limit} more |")
    return "\n".join(lines) + "\n"
