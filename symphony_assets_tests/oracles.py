"""Our findings against the tools users trust, on real third-party code installed in this virtualenv.

Each ``compare_*`` returns a :class:`Comparison`: what we found and what the oracle found, as sets of
comparable keys, after the documented definitional differences (each one listed where it is applied,
with why). Shared by ``test_oracles.py`` (which asserts precision and recall) and
``benchmarks/accuracy.py`` (which prints the table in docs/ACCURACY.md).
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from radon.complexity import cc_visit
from radon.visitors import Class

from symphony_assets.analysis import complexity as complexity_analysis
from symphony_assets.analysis import security
from symphony_assets.analysis.findings import broad_excepts
from symphony_assets.analysis.imports.cycles import find_cycles
from symphony_assets.analysis.imports.extract import extract_imports
from symphony_assets.analysis.imports.graph import strongly_connected_components
from symphony_assets.analysis.imports.modules import build_module_index
from symphony_assets.analysis.imports.resolve import find_unresolved, resolve_imports
from symphony_assets.analysis.pysource import decode_source, parse_python, recover_python
from symphony_assets.analysis.requirements import parse_requirements_file
from symphony_assets.analysis.todos import extract_todos

#: Pure-Python packages of this virtualenv that every install of our dev extras has.
PACKAGES: tuple[str, ...] = ("requests", "click", "jinja2", "yaml", "idna", "dagster_shared")
#: Larger packages for the import graph (grimp's home ground: cycles exist in them).
IMPORT_PACKAGES: tuple[str, ...] = ("requests", "click", "jinja2", "yaml", "pygments", "dagster_shared")

# Marker words split so this file holds no marker of its own.
PYLINT_NOTES = ("FIX" + "ME", "X" + "XX", "TO" + "DO")

#: The line-anchored search: a line that starts with the keyword ``except``.
EXCEPT_LINE = re.compile(r"^[ \t]*except\b")


@dataclass
class Comparison:
    check: str
    ours: set[tuple[object, ...]] = field(default_factory=set)
    oracle: set[tuple[object, ...]] = field(default_factory=set)
    #: Documented differences applied, one line each: ``why -> how many keys it moved``.
    differences: dict[str, int] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return len(self.ours & self.oracle) / len(self.ours) if self.ours else 1.0

    @property
    def recall(self) -> float:
        return len(self.ours & self.oracle) / len(self.oracle) if self.oracle else 1.0

    def row(self) -> str:
        return (
            f"| {self.check} | {len(self.ours)} | {len(self.oracle)} "
            f"| {self.precision:.4f} | {self.recall:.4f} |"
        )

    def misses(self, limit: int = 10) -> str:
        extra = sorted(self.ours - self.oracle, key=repr)[:limit]
        missed = sorted(self.oracle - self.ours, key=repr)[:limit]
        return f"{self.check}: only ours {extra}; only oracle {missed}"

    def drop(self, why: str, keys: Iterable[tuple[object, ...]], side: str) -> None:
        """Take keys out of one side for a documented definitional difference."""
        target = self.ours if side == "ours" else self.oracle
        moved = set(keys) & target
        target -= moved
        self.differences[why] = self.differences.get(why, 0) + len(moved)


def site_packages() -> Path:
    import requests

    return Path(requests.__file__).resolve().parents[1]


def package_files(packages: Sequence[str] = PACKAGES) -> list[Path]:
    root = site_packages()
    return sorted(p for name in packages for p in (root / name).rglob("*.py") if "/tests/" not in str(p))


# ------------------------------------------------------------------------------------------ imports


def compare_imports(packages: Sequence[str] = IMPORT_PACKAGES) -> tuple[Comparison, Comparison]:
    """Module pairs, and modules in cycles, against grimp (all import kinds on both sides)."""
    import grimp

    root = site_packages()
    pairs = Comparison("import pairs vs grimp")
    cycles = Comparison("modules in import cycles vs grimp")
    for package in packages:
        files = sorted((root / package).rglob("*.py"))
        rel = [str(p.relative_to(root)) for p in files]
        per_file = {r: extract_imports(p.read_bytes()) for r, p in zip(rel, files, strict=True)}
        index = build_module_index(rel)
        edges = resolve_imports(index, per_file)
        ours = {(e.importer, e.imported) for e in edges}
        graph = grimp.build_graph(package, include_external_packages=False, cache_dir=None)
        theirs = {(m, i) for m in graph.modules for i in graph.find_modules_directly_imported_by(m) if m != i}
        pairs.ours |= ours
        pairs.oracle |= theirs
        # grimp resolves an import of a module that does not exist to the nearest existing parent;
        # for us that is a missing import (it raises), never an edge: put those back on grimp's side.
        missing = {(u.importer, u.nearest) for u in find_unresolved(index, per_file)}
        pairs.drop(
            "grimp: a missing submodule is an edge to its parent; ours: a missing import",
            missing - ours,
            "oracle",
        )
        # Cycles: members of strongly connected components of each side's graph.
        report = find_cycles(edges)
        cycles.ours |= {(m,) for c in report.cycles for m in c.modules}
        succ: dict[str, set[str]] = {}
        for a, b in theirs - (missing - ours):
            succ.setdefault(a, set()).add(b)
            succ.setdefault(b, set())
        cycles.oracle |= {
            (m,) for comp in strongly_connected_components(sorted(succ), succ) if len(comp) > 1 for m in comp
        }
    return pairs, cycles


# -------------------------------------------------------------------------------------------- TODOs


def compare_todos(files: Sequence[Path]) -> Comparison:
    """Markers against pylint's fixme checker (its default notes; pylint has no HACK)."""
    result = Comparison("TODO markers vs pylint fixme")
    wanted = [p for p in files if any(n.encode() in p.read_bytes() for n in PYLINT_NOTES)]
    mid_comment: set[tuple[object, ...]] = set()
    for path in wanted:
        for item in extract_todos(".py", path.read_bytes()):
            if item.tag not in PYLINT_NOTES:
                continue
            key = (str(path), item.line)
            result.ours.add(key)
            line = path.read_text("utf-8", "replace").splitlines()[item.line - 1]
            comment = line[line.index("#") :] if "#" in line else ""
            if not re.match(rf"#+\s*({'|'.join(PYLINT_NOTES)})(?=[:\s]|$)", comment):
                mid_comment.add(key)
    if wanted:
        pylint = [sys.executable, "-m", "pylint", "--disable=all", "--enable=fixme", "--output-format=json"]
        done = subprocess.run([*pylint, *map(str, wanted)], capture_output=True, text=True, check=False)
        for message in json.loads(done.stdout or "[]"):
            text = message.get("message", "")
            tag = text.split(":", 1)[0].split()[0] if text else ""
            # pylint matches notes in any case (``todo``) and in docstrings when asked; ours: the
            # upper-case tags in comments only.
            if tag in PYLINT_NOTES:
                result.oracle.add((str(Path(message["path"]).resolve()), int(message["line"])))
    result.ours = {(str(Path(str(p)).resolve()), n) for p, n in result.ours}
    mid_comment = {(str(Path(str(p)).resolve()), n) for p, n in mid_comment}
    # pylint reads a note only where it starts the comment and is followed by ``:``, a blank or the
    # end; ours also where it is followed by ``:``/``(``/``-``/``!`` mid-comment, and ``TAG-TAG2``.
    result.drop("ours: a marker mid-comment or glued to '-', pylint: comment start only", mid_comment, "ours")
    return result


# ------------------------------------------------------------------------------------ broad excepts


def _ruff() -> str:
    found = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if found is None:
        raise RuntimeError("ruff is not installed")
    return found


def _ruff_exempt(handler: ast.ExceptHandler) -> bool:
    """BLE001's documented exemptions: the handler re-raises, or logs with the traceback."""
    for node in ast.walk(ast.Module(body=handler.body, type_ignores=[])):
        if isinstance(node, ast.Raise) and (
            node.exc is None
            or (isinstance(node.exc, ast.Name) and node.exc.id == handler.name)
            or node.cause is not None
        ):
            return True
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "exception":
                return True
            if any(k.arg == "exc_info" for k in node.keywords):
                return True
    return False


def compare_excepts(files: Sequence[Path]) -> Comparison:
    """Broad handlers against ruff BLE001 (``except Exception``/``BaseException``) and E722 (bare)."""
    result = Comparison("broad excepts vs ruff BLE001+E722")
    exempt: set[tuple[object, ...]] = set()
    for path in files:
        source = path.read_bytes()
        tree = parse_python(source).tree
        if tree is None:
            continue
        handlers = {h.lineno: h for h in ast.walk(tree) if isinstance(h, ast.ExceptHandler)}
        for found in broad_excepts(source):
            key = (str(path), found.line)
            result.ours.add(key)
            if found.kind != "bare" and _ruff_exempt(handlers[found.line]):
                exempt.add(key)
    command = [
        _ruff(),
        "check",
        "--isolated",
        "--no-cache",
        "--ignore-noqa",
        "--select",
        "BLE001,E722",
        "--output-format",
        "json",
        "--exit-zero",
        *map(str, files),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    for message in json.loads(done.stdout or "[]"):
        result.oracle.add((message["filename"], int(message["location"]["row"])))
    # BLE001 flags the caught name's line (a multi-line tuple: a later line); ours the except line.
    result.oracle = {_handler_line(p, n) for p, n in result.oracle}
    result.drop(
        "BLE001 exempts handlers that re-raise or log the traceback; ours reports them", exempt, "ours"
    )
    return result


def _handler_line(path: object, line: object) -> tuple[object, ...]:
    lines = Path(str(path)).read_text("utf-8", "replace").splitlines()
    n = int(str(line))
    while n > 1 and not EXCEPT_LINE.match(lines[n - 1]):
        n -= 1
    return (str(path), n)


# -------------------------------------------------------------------------------------- complexity


def compare_complexity(files: Sequence[Path]) -> Comparison:
    """Per-definition scores (through our per-block memo) against radon's own ``cc_visit``."""
    result = Comparison("complexity vs radon cc_visit")
    memo: complexity_analysis.BlockMemo = {}
    for path in files:
        source = path.read_bytes()
        report = complexity_analysis.function_complexity(source, blocks=memo)
        if report.status != complexity_analysis.STATUS_OK:
            continue
        result.ours |= {(str(path), f.name, f.line, f.complexity) for f in report.functions}
        for block in cc_visit(source.decode("utf-8", "replace")):
            if getattr(block, "is_method", False):
                continue  # cc_visit lists methods flat as well as in their class: take them from the class
            result.oracle |= _radon_keys(str(path), block, "")
    return result


def _radon_keys(path: str, block: object, prefix: str) -> set[tuple[object, ...]]:
    name = f"{prefix}{block.name}"  # type: ignore[attr-defined]
    keys: set[tuple[object, ...]] = {(path, name, block.lineno, block.complexity)}  # type: ignore[attr-defined]
    children = list(getattr(block, "closures", []))
    if isinstance(block, Class):
        children = list(block.methods) + list(block.inner_classes)
    for child in children:
        keys |= _radon_keys(path, child, f"{name}.")
    return keys


# ------------------------------------------------------------------------------------- requirements

#: Lines in the forms pip's documentation shows (Requirements File Format, VCS Support), with the
#: edge cases of issue 17.
PIP_DOC_LINES = """\
pytest
pytest-cov
beautifulsoup4
docopt == 0.6.1
keyring >= 4.1.1
coverage != 3.5
Mopidy-Dirble ~= 1.1
SomeProject[foo, bar]
SomeProject ==5.4 ; python_version < '3.8'
SomeProject; sys_platform == 'win32'
requests [security] >= 2.8.1, == 2.8.* ; python_version < "2.7"
urllib3 @ https://github.com/urllib3/urllib3/archive/refs/tags/1.26.8.zip
FooProject == 1.2 --hash=sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
git+https://git.example.com/MyProject#egg=MyProject
git+ssh://git.example.com/MyProject#egg=MyProject
git+https://git.example.com/MyProject.git@v1.0#egg=MyProject
hg+https://hg.example.com/MyProject#egg=MyProject
svn+svn://svn.example.com/svn/MyProject#egg=MyProject
bzr+lp:MyProject#egg=MyProject
-e git+https://git.example.com/MyProject#egg=MyProject
-e ./libs/helper
--editable git+https://github.com/org/tool.git#egg=Long_Tool
git+git@github.com:org/other.git#egg=other_pkg
git@github.com:org/repo.git
./downloads/numpy-1.9.2-cp34-none-win32.whl
https://example.com/wheels/Some.Pkg-2.0-1-cp311-cp311-manylinux_2_17_x86_64.whl
"""


def requirement_lines() -> list[str]:
    """Every ``Requires-Dist`` of every distribution installed here (real PEP 508 strings), then the
    pip documentation's forms."""
    lines: set[str] = set()
    for dist in importlib.metadata.distributions():
        for req in dist.requires or []:
            lines.add(req.strip())
    return sorted(lines) + PIP_DOC_LINES.splitlines()


def compare_requirements(lines: Sequence[str] | None = None) -> Comparison:
    """Per line: name, specifier, extras, marker, editable, against pip-requirements-parser."""
    from packaging.utils import canonicalize_name
    from pip_requirements_parser import RequirementsFile

    result = Comparison("requirements vs pip-requirements-parser")
    lines = list(lines if lines is not None else requirement_lines())
    text = "\n".join(lines) + "\n"
    ours = parse_requirements_file("requirements.txt", text.encode(), lambda _p: None)
    for d in ours:
        if d.kind == "error":
            result.ours.add((d.line, "invalid"))
            continue
        result.ours.add(
            (
                d.line,
                d.name,
                d.specifier if d.kind == "version" else "",
                d.extras,
                _marker(d.marker),
                d.kind == "editable",
            )
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "requirements.txt"
        path.write_text(text, encoding="utf-8")
        parsed = RequirementsFile.from_file(str(path))
    for req in parsed.requirements:
        name = canonicalize_name(req.name) if req.name else ""
        versioned = req.link is None
        specifier = ",".join(sorted(str(s) for s in req.specifier)) if versioned and req.specifier else ""
        marker = _marker(str(req.marker)) if req.marker is not None else ""
        result.oracle.add(
            (req.line_number, name, specifier, tuple(sorted(req.extras)), marker, bool(req.is_editable))
        )
    for invalid in parsed.invalid_lines:
        result.oracle.add((invalid.line_number, "invalid"))
    # ``-e ./dir``: pip names it only after building; ours names it after the directory.
    local_editables = {
        k
        for k in result.ours
        if len(k) > 2 and k[-1] is True and not any(o[0] == k[0] and o[1] for o in result.oracle)
    }
    result.drop(
        "ours: an editable directory is named after it; pip: no name before building", local_editables, "ours"
    )
    result.ours |= {(k[0], "", *k[2:]) for k in local_editables}
    return result


def _marker(text: str) -> str:
    return " ".join(text.replace("'", '"').split())


# ------------------------------------------------------------------------------- broken copies


def break_source(source: str, rng: random.Random) -> dict[str, str]:
    """Broken copies of a real file, as real codebases hold them: a Python 2 print statement inserted
    at a few statements, an unclosed bracket or string early in the file, merge-conflict markers, a
    never-closed triple-quoted string, a dropped closing parenthesis, Python 2 ``except E, e``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    lines = source.split("\n")
    starts = sorted(
        {n.lineno for n in ast.walk(tree) if isinstance(n, ast.stmt) and not isinstance(n, ast.Expr)}
    )
    if len(starts) < 5:
        return {}
    early = [s for s in starts if s <= max(starts[0] + 1, starts[len(starts) // 5])]

    def insert(at: int, text: str) -> str:
        copy = list(lines)
        line = copy[at - 1]
        copy.insert(at - 1, line[: len(line) - len(line.lstrip())] + text)
        return "\n".join(copy)

    out: dict[str, str] = {}
    copy = list(lines)
    for at in sorted(rng.sample(starts, min(5, len(starts))), reverse=True):
        line = copy[at - 1]
        copy.insert(at - 1, line[: len(line) - len(line.lstrip())] + 'print "debug", 1')
    out["python2 print"] = "\n".join(copy)
    out["unclosed bracket"] = insert(rng.choice(early), "_broken = dict(a=1,")
    out["unclosed string"] = insert(rng.choice(early), "_msg = 'never closed")
    at = rng.choice(starts)
    copy = list(lines)
    copy[at - 1 : at - 1] = ["<<<<<<< HEAD"]
    copy[at + 1 : at + 1] = ["=======", ">>>>>>> branch"]
    out["merge markers"] = "\n".join(copy)
    top = [s for s in early if not lines[s - 1].startswith((" ", "\t", "@"))]
    if top:
        out["unclosed triple quote"] = insert(rng.choice(top), 'DOC = """never closed')
    closing = [i for i, line in enumerate(lines[: max(20, len(lines) // 4)]) if line.rstrip().endswith(")")]
    if closing:
        copy = list(lines)
        i = rng.choice(closing)
        copy[i] = copy[i].rstrip()[:-1]
        out["dropped parenthesis"] = "\n".join(copy)
    out["python2 except"] = "\n".join(
        re.sub(r"^(\s*except\s+)([\w.]+) as (\w+):", r"\1\2, \3:", s) for s in lines
    )
    return {k: v for k, v in out.items() if _fails(v)}


def _fails(source: str) -> bool:
    try:
        ast.parse(source)
    except SyntaxError:
        return True
    return False


@dataclass
class BrokenCorpus:
    files: int = 0
    handlers: Comparison = field(
        default_factory=lambda: Comparison("except handlers in broken files vs line search")
    )
    imports: Comparison = field(default_factory=lambda: Comparison("imports kept in broken files"))
    todos: Comparison = field(default_factory=lambda: Comparison("TODO markers kept in broken files"))


def compare_broken(files: Sequence[Path], seed: int = 17) -> BrokenCorpus:
    """Broken copies of real files: every ``except`` handler against a line-anchored search, and the
    imports and markers of the intact file that the broken copy still gives."""
    rng = random.Random(seed)
    corpus = BrokenCorpus()
    for path in files:
        source = path.read_text("utf-8", "replace")
        intact_imports = [(s.module, s.level, s.names) for s in extract_imports(source.encode()).imports]
        intact_todos = [(t.tag, t.text) for t in extract_todos(".py", source.encode())]
        for kind, broken in break_source(source, rng).items():
            corpus.files += 1
            data = broken.encode()
            key = (str(path), kind)
            truth = {i for i, line in enumerate(broken.split("\n"), 1) if EXCEPT_LINE.match(line)}
            tree = recover_python(data).tree
            found = {h.lineno for h in ast.walk(tree) if isinstance(h, ast.ExceptHandler)}
            corpus.handlers.ours |= {(*key, n) for n in found}
            corpus.handlers.oracle |= {(*key, n) for n in truth}
            got = [(s.module, s.level, s.names) for s in extract_imports(data).imports]
            corpus.imports.oracle |= _numbered(key, intact_imports)
            corpus.imports.ours |= _numbered(key, got)
            todos = [(t.tag, t.text) for t in extract_todos(".py", data)]
            corpus.todos.oracle |= _numbered(key, intact_todos)
            corpus.todos.ours |= _numbered(key, todos)
    return corpus


def _numbered(key: tuple[str, str], items: Sequence[tuple[object, ...]]) -> set[tuple[object, ...]]:
    """Items with their occurrence index, so repeats count once each."""
    seen: dict[tuple[object, ...], int] = {}
    out = set()
    for item in items:
        n = seen.get(item, 0)
        seen[item] = n + 1
        out.add((*key, *item, n))
    return out


def bandit_whole_module(path: str, content: bytes) -> list[security.SecurityFinding]:
    """bandit's findings as its own ``BanditNodeVisitor.process`` makes them: the whole module in one
    visit, no statement memo. The oracle of ``test_security_memo.py`` and the baseline of
    ``benchmarks/bench_security_memo.py``."""
    visitor = security.new_visitor(path, content, lean=False)
    visitor.process(content)
    lines = decode_source(content).splitlines()
    return sorted(
        (security._finding(security._relative(issue, 0), 0, lines) for issue in visitor.tester.results),
        key=finding_order,
    )


def finding_order(f: security.SecurityFinding) -> tuple[int, str, str, str]:
    return (f.line, f.rule_id, f.message, f.snippet_hash)
