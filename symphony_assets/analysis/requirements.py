"""Dependency declarations (requirements files, pyproject.toml) and drift between them.

Deployments of one system drift apart when two files, or two codebases, pin the same package to
different versions, or ask for ranges no single version satisfies. This module reads declarations
with ``packaging`` (never hand-written version parsing) and compares them.

Pure: the caller hands in file contents and a ``read_include`` callback for ``-r``/``-c`` targets,
so the same code reads a working tree or a git snapshot. Bad lines become ``kind="error"`` rows.
"""

from __future__ import annotations

import posixpath
import re
import shlex
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from symphony_assets.analysis import limits

__all__ = [
    "Declaration",
    "Drift",
    "find_drift",
    "is_requirements_file",
    "missing_include_target",
    "parse_pyproject",
    "parse_requirements_file",
    "poetry_to_pep440",
]

Kind = Literal["version", "url", "path", "editable", "error"]
DriftStatus = Literal["conflicting_pins", "unsatisfiable", "pinned_and_unpinned", "declared_twice_in_file"]

#: ``-r`` chains deeper than this are cut (and recorded) rather than followed.
MAX_INCLUDE_DEPTH = 20


@dataclass(frozen=True)
class Declaration:
    """One declared dependency, or one line that could not be read as one (``kind="error"``)."""

    #: PEP 503 normalised name (``Foo_Bar`` -> ``foo-bar``); empty when unknown.
    name: str
    #: PEP 440 specifier set as text (``>=1.2,<2``); empty for "any version" and non-version kinds.
    specifier: str
    extras: tuple[str, ...]
    marker: str
    kind: Kind
    file: str
    line: int
    raw: str
    error: str | None = None
    #: Where in the file: ``requirements``, ``constraints``, ``project``, ``optional:dev``, ``poetry:main``.
    section: str = "requirements"


# ---------------------------------------------------------------------------------------------------------
# requirements.txt
# ---------------------------------------------------------------------------------------------------------

_REQ_NAME = re.compile(r"(?i)^(?:[\w.\-]*-)?requirements?(?:[\w.\-]*)\.(?:txt|in)$")
_IGNORED_OPTIONS = frozenset(
    {
        "-i",
        "--index-url",
        "--extra-index-url",
        "--no-index",
        "-f",
        "--find-links",
        "--no-binary",
        "--only-binary",
        "--prefer-binary",
        "--pre",
        "--trusted-host",
        "--require-hashes",
        "--use-feature",
        "--upgrade-strategy",
    }
)
_INCLUDE_OPTIONS = {"-r": "requirements", "--requirement": "requirements"}
_CONSTRAINT_OPTIONS = {"-c": "constraints", "--constraint": "constraints"}
_EDITABLE_OPTIONS = frozenset({"-e", "--editable"})
_URL_SCHEME = re.compile(r"^(?:[a-z][a-z0-9+.\-]*\+)?[a-z][a-z0-9+.\-]*://", re.I)
_EGG = re.compile(r"[#&]egg=([A-Za-z0-9_.\-]+)(\[[^\]]*\])?")
_ARCHIVE = re.compile(r"(?i)\.(?:whl|tar\.gz|tgz|tar\.bz2|zip)$")
#: scp-like SSH locations (``git@github.com:org/repo.git``, ``git+git@host:org/repo``) and pip's
#: VCS schemes without ``//`` (``bzr+lp:Project``): URLs, not ``name @ url`` requirements.
_SCP_LIKE = re.compile(r"^(?:[a-z]+\+)?[A-Za-z0-9_.\-]+@[A-Za-z0-9_.\-]+:(?!//)\S")
_VCS_NO_SLASHES = re.compile(r"(?i)^(?:git|hg|svn|bzr)\+[a-z]+:(?!//)\S")
#: PEP 427: ``{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl``.
_WHEEL = re.compile(
    r"(?i)(?:^|[/\\=])([A-Za-z0-9_.]+)-[^-/\\]+(?:-[^-/\\]+)?-[^-/\\]+-[^-/\\]+-[^-/\\]+\.whl$"
)


def is_requirements_file(path: str) -> bool:
    """pip-style files: ``requirements*.txt``, ``*-requirements.txt``, ``*.in``, ``*constraints.txt``."""
    name = posixpath.basename(path)
    lower = name.lower()
    if lower.endswith(".in") and not lower.startswith("manifest"):
        return True
    return bool(_REQ_NAME.match(name)) or lower in ("constraints.txt",) or lower.endswith("-constraints.txt")


def parse_requirements_file(
    path: str, content: bytes, read_include: Callable[[str], bytes | None]
) -> list[Declaration]:
    """Declarations of a pip requirements/constraints file and of every file it includes.

    Includes are resolved relative to the including file (posix paths, as in a git tree), each file
    is read at most once (cycles end quietly), and a missing include is an ``error`` row.
    """
    section = "constraints" if "constraint" in posixpath.basename(path).lower() else "requirements"
    out: list[Declaration] = []
    _parse_file(posixpath.normpath(path), content, read_include, section, out, set(), 0)
    return [_storable(d) for d in out]


def _storable(decl: Declaration) -> Declaration:
    """Text every store accepts (no NUL, no lone surrogate, no name too long to index)."""
    if len(decl.raw) > limits.MAX_LINE_CHARS or len(decl.name) > limits.MAX_NAME_CHARS:
        reason = f"limit: line longer than {limits.MAX_LINE_CHARS:,} characters or name longer than"
        reason += f" {limits.MAX_NAME_CHARS:,}"
        decl = _error(decl.file, decl.line, decl.raw[:200], reason, decl.section)
    raw = limits.safe_text(decl.raw)
    error = None if decl.error is None else limits.safe_text(decl.error)
    return decl if (raw, error) == (decl.raw, decl.error) else replace(decl, raw=raw, error=error)


def _parse_file(
    path: str,
    content: bytes,
    read_include: Callable[[str], bytes | None],
    section: str,
    out: list[Declaration],
    seen: set[str],
    depth: int,
) -> None:
    seen.add(path)
    too_large = limits.too_large_reason(len(content), limits.MAX_TEXT_BYTES, "requirements")
    if too_large:
        out.append(_error(path, 0, "", too_large, section))
        return
    text = content.decode("utf-8", "replace")
    for line_no, logical in _logical_lines(text):
        stripped = _strip_comment(logical).strip()
        if not stripped:
            continue
        if stripped.startswith("-"):
            _option_line(path, line_no, stripped, read_include, section, out, seen, depth)
            continue
        out.append(_requirement_line(path, line_no, stripped, section))


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Lines with ``\\`` continuations joined, each with the number of its first physical line."""
    buffer: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer.append(line[:-1])
            continue
        buffer.append(line)
        yield start, " ".join(buffer)
        buffer = []
    if buffer:
        yield start, " ".join(buffer)


def _strip_comment(line: str) -> str:
    """pip's rule: ``#`` at the start, or after whitespace, begins a comment (``#egg=`` does not)."""
    if line.lstrip().startswith("#"):
        return ""
    match = re.search(r"\s#", line)
    return line[: match.start()] if match else line


def _split_option(text: str) -> tuple[str, str]:
    """``-r x``, ``-rx``, ``--requirement=x``, ``--requirement x`` -> (option, value)."""
    if text.startswith("--"):
        # The option name ends at the first ``=`` or blank, whichever comes first: the value of
        # ``--editable git+https://host/repo#egg=Name`` holds a ``=`` of its own.
        match = re.match(r"--[^\s=]*", text)
        name = match.group(0) if match else text
        value = text[len(name) :].strip()
        return name, value[1:].strip() if value.startswith("=") else value
    option, rest = text[:2], text[2:]
    return option, rest.strip()


def _option_line(
    path: str,
    line_no: int,
    text: str,
    read_include: Callable[[str], bytes | None],
    section: str,
    out: list[Declaration],
    seen: set[str],
    depth: int,
) -> None:
    option, value = _split_option(text)
    if option in _IGNORED_OPTIONS:
        return
    if option in _EDITABLE_OPTIONS:
        out.append(_editable(path, line_no, value, text, section))
        return
    include_section = _INCLUDE_OPTIONS.get(option) or _CONSTRAINT_OPTIONS.get(option)
    if include_section is None:
        out.append(_error(path, line_no, text, f"unknown option {option}", section))
        return
    target = _unquote(value)
    if not target:
        out.append(_error(path, line_no, text, f"{option} needs a file name", section))
        return
    if _URL_SCHEME.match(target):
        out.append(_error(path, line_no, text, f"remote include {target} not followed", section))
        return
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if resolved in seen:
        return
    if depth >= MAX_INCLUDE_DEPTH:
        out.append(_error(path, line_no, text, f"includes nested deeper than {MAX_INCLUDE_DEPTH}", section))
        return
    data = read_include(resolved)
    if data is None:
        out.append(_error(path, line_no, text, f"included file {resolved} not found", section))
        return
    child_section = "constraints" if include_section == "constraints" else section
    _parse_file(resolved, data, read_include, child_section, out, seen, depth + 1)


_MISSING_INCLUDE = re.compile(r"^included file (?P<target>.+) not found$")


def missing_include_target(decl: Declaration) -> str | None:
    """The repo path an error row says was missing, so a caller reading files itself can follow it."""
    if decl.kind != "error" or decl.error is None:
        return None
    match = _MISSING_INCLUDE.match(decl.error)
    return match.group("target") if match else None


def _unquote(value: str) -> str:
    try:
        parts = shlex.split(value)
    except ValueError:
        return value.strip()
    return parts[0] if parts else ""


def _strip_per_requirement_options(text: str) -> str:
    """Drop ``--hash=...`` and other ``--option`` tokens that may follow a requirement."""
    match = re.search(r"\s--?[a-zA-Z]", " " + text)
    return text[: match.start() - 1].strip() if match and match.start() > 0 else text.strip()


def _requirement_line(path: str, line_no: int, raw: str, section: str) -> Declaration:
    text = _strip_per_requirement_options(raw)
    if _URL_SCHEME.match(text) or _SCP_LIKE.match(text) or _VCS_NO_SLASHES.match(text):
        return _url_declaration(path, line_no, text, raw, "url", section)
    if "@" in text.split(";", 1)[0]:
        return _from_pep508(text, path, line_no, raw, section)
    if _looks_like_path(text):
        return _url_declaration(path, line_no, text, raw, "path", section)
    return _from_pep508(text, path, line_no, raw, section)


def _looks_like_path(text: str) -> bool:
    head = text.split(";", 1)[0].strip()
    if head.startswith((".", "/", "~")) or "\\" in head:
        return True
    return "/" in head and "@" not in head or bool(_ARCHIVE.search(head))


def _url_declaration(path: str, line_no: int, target: str, raw: str, kind: Kind, section: str) -> Declaration:
    """A URL/path requirement: never a version, named by its ``#egg=`` fragment when it has one."""
    location, _, marker = target.partition(";")
    egg = _EGG.search(location)
    name = canonicalize_name(egg.group(1)) if egg else _wheel_name(location)
    extras = tuple(sorted(e.strip() for e in egg.group(2)[1:-1].split(","))) if egg and egg.group(2) else ()
    return Declaration(
        name=name,
        specifier="",
        extras=extras,
        marker=marker.strip(),
        kind=kind,
        file=path,
        line=line_no,
        raw=raw,
        section=section,
    )


def _wheel_name(location: str) -> str:
    """The distribution a wheel file names (PEP 427), or ``""`` when the location is no wheel."""
    match = _WHEEL.search(location.split("#", 1)[0].split("?", 1)[0].strip())
    return canonicalize_name(match.group(1)) if match else ""


def _editable(path: str, line_no: int, value: str, raw: str, section: str) -> Declaration:
    target = _unquote(value)
    if not target:
        return _error(path, line_no, raw, "-e needs a path or URL", section)
    base = _url_declaration(path, line_no, target, raw, "editable", section)
    if base.name or _URL_SCHEME.match(target) or _SCP_LIKE.match(target) or _VCS_NO_SLASHES.match(target):
        return base
    # ``-e ./pkg[extra]``: the directory name is the best name we have without reading its metadata.
    local = re.sub(r"\[[^\]]*\]$", "", target.rstrip("/"))
    name = posixpath.basename(local)
    return Declaration(
        name=canonicalize_name(name) if name and name != "." else "",
        specifier="",
        extras=(),
        marker="",
        kind="editable",
        file=path,
        line=line_no,
        raw=raw,
        section=section,
    )


def _from_pep508(text: str, path: str, line_no: int, raw: str, section: str) -> Declaration:
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        return _error(path, line_no, raw, f"invalid requirement: {exc}", section)
    kind: Kind = "version"
    if req.url:
        kind = "path" if req.url.startswith("file:") else "url"
    return Declaration(
        name=canonicalize_name(req.name),
        specifier=str(req.specifier) if kind == "version" else "",
        extras=tuple(sorted(req.extras)),
        marker=str(req.marker) if req.marker is not None else "",
        kind=kind,
        file=path,
        line=line_no,
        raw=raw,
        section=section,
    )


def _error(path: str, line_no: int, raw: str, message: str, section: str, name: str = "") -> Declaration:
    return Declaration(
        name=name,
        specifier="",
        extras=(),
        marker="",
        kind="error",
        file=path,
        line=line_no,
        raw=raw,
        error=message,
        section=section,
    )


# ---------------------------------------------------------------------------------------------------------
# pyproject.toml
# ---------------------------------------------------------------------------------------------------------


def parse_pyproject(path: str, content: bytes) -> list[Declaration]:
    """PEP 621 ``[project]`` dependencies and extras, PEP 735 groups, and Poetry dependency tables."""
    text = content.decode("utf-8", "replace")
    if len(text) > limits.MAX_PURE_PARSE_CHARS:  # tomllib is pure Python
        reason = f"too_large: {len(text):,} characters (limit {limits.MAX_PURE_PARSE_CHARS:,})"
        return [_error(path, 0, "", reason, "pyproject")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return [_storable(_error(path, 0, "", f"invalid TOML: {exc}", "pyproject"))]
    except RecursionError:
        return [_error(path, 0, "", limits.depth_reason(limits.MAX_CONFIG_DEPTH), "pyproject")]
    lines = _LineIndex(text)
    out: list[Declaration] = []
    project = data.get("project")
    if isinstance(project, dict):
        _pep508_list(path, project.get("dependencies"), "project", lines, out)
        optional = project.get("optional-dependencies")
        if isinstance(optional, dict):
            for group, entries in optional.items():
                _pep508_list(path, entries, f"optional:{group}", lines, out)
    groups = data.get("dependency-groups")
    if isinstance(groups, dict):
        for group, entries in groups.items():
            if isinstance(entries, list):
                _pep508_list(path, [e for e in entries if isinstance(e, str)], f"group:{group}", lines, out)
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    if isinstance(poetry, dict):
        _poetry_table(path, poetry.get("dependencies"), "poetry:main", lines, out)
        _poetry_table(path, poetry.get("dev-dependencies"), "poetry:dev", lines, out)
        poetry_groups = poetry.get("group")
        if isinstance(poetry_groups, dict):
            for group, body in poetry_groups.items():
                if isinstance(body, dict):
                    _poetry_table(path, body.get("dependencies"), f"poetry:{group}", lines, out)
    return [_storable(d) for d in out]


class _LineIndex:
    """Approximate line numbers (tomllib gives none): the first line holding the needle."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def find(self, needle: str, key: bool = False) -> int:
        pattern = re.compile(r"^\s*[\"']?" + re.escape(needle) + r"[\"']?\s*=") if key else None
        for index, line in enumerate(self.lines):
            if pattern.search(line) if pattern is not None else needle in line:
                return index + 1
        return 0


def _pep508_list(path: str, entries: object, section: str, lines: _LineIndex, out: list[Declaration]) -> None:
    if entries is None:
        return
    if not isinstance(entries, list):
        out.append(_error(path, 0, repr(entries)[:200], f"{section}: expected a list", section))
        return
    for entry in entries:
        if not isinstance(entry, str):
            out.append(_error(path, 0, repr(entry)[:200], f"{section}: expected a string", section))
            continue
        line_no = lines.find(entry)
        out.append(_from_pep508(entry, path, line_no, entry, section))


def _poetry_table(path: str, table: object, section: str, lines: _LineIndex, out: list[Declaration]) -> None:
    if not isinstance(table, dict):
        return
    for raw_name, value in table.items():
        name = str(raw_name)
        if name.lower() == "python":
            continue
        line_no = lines.find(name, key=True)
        for entry in value if isinstance(value, list) else [value]:
            out.append(_poetry_entry(path, name, entry, section, line_no))


def _poetry_entry(path: str, name: str, entry: object, section: str, line_no: int) -> Declaration:
    raw = f"{name} = {entry!r}"[:300]
    canonical = canonicalize_name(name)
    extras: tuple[str, ...] = ()
    marker = ""
    if isinstance(entry, str):
        constraint = entry
    elif isinstance(entry, dict):
        extras = tuple(sorted(str(e) for e in entry.get("extras") or ()))
        marker = _normal_marker(str(entry.get("markers") or ""))
        sources: tuple[tuple[str, Kind], ...] = (("git", "url"), ("url", "url"), ("path", "path"))
        for key, kind in sources:
            if key in entry:
                if entry.get("develop"):
                    kind = "editable"
                return Declaration(
                    name=canonical,
                    specifier="",
                    extras=extras,
                    marker=marker,
                    kind=kind,
                    file=path,
                    line=line_no,
                    raw=raw,
                    section=section,
                )
        constraint = str(entry.get("version") or "*")
    else:
        return _error(path, line_no, raw, "unsupported Poetry dependency value", section, canonical)
    try:
        specifier = poetry_to_pep440(constraint)
    except ValueError as exc:
        return _error(path, line_no, raw, str(exc), section, canonical)
    return Declaration(
        name=canonical,
        specifier=specifier,
        extras=extras,
        marker=marker,
        kind="version",
        file=path,
        line=line_no,
        raw=raw,
        section=section,
    )


def _normal_marker(text: str) -> str:
    """Markers in ``packaging``'s spelling, so equal conditions compare equal across formats."""
    if not text.strip():
        return ""
    try:
        return str(Marker(text))
    except InvalidMarker:
        return text.strip()


_POETRY_OP = re.compile(r"^(\^|~(?!=)|~=|===|==|!=|>=|<=|>|<|=)?\s*(.+)$")


def poetry_to_pep440(constraint: str) -> str:
    """Translate a Poetry constraint into a PEP 440 specifier set (as text).

    The mapping (Poetry's documented semantics):

    * ``*`` or empty: any version (empty specifier).
    * ``^X.Y.Z``: ``>=X.Y.Z`` and below the next bump of the left-most non-zero part among those
      written (``^1.2.3`` -> ``<2``, ``^0.2.3`` -> ``<0.3``, ``^0.0.3`` -> ``<0.0.4``, ``^0.0`` -> ``<0.1``).
    * ``~X.Y.Z`` / ``~X.Y``: ``>=`` it and ``<X.(Y+1)``; ``~X``: ``<X+1``.
    * A bare version ``1.2.3`` or ``=1.2.3``: ``==1.2.3``; ``1.2.*``: ``==1.2.*``.
    * PEP 440 operators (``>=``, ``<``, ``!=``, ``~=`` ...) pass through; parts joined by ``,`` or spaces
      are all required. ``||`` (either/or) has no single-set equivalent and is rejected.
    """
    text = constraint.strip()
    if "||" in text:
        raise ValueError(f"Poetry constraint {constraint!r} uses '||', which a PEP 440 set cannot express")
    if text in ("", "*"):
        return ""
    pieces = [p for p in re.split(r"\s*,\s*|\s+(?=[\^~<>=!])", text) if p]
    specs: list[str] = []
    for piece in pieces:
        specs.extend(_poetry_piece(piece, constraint))
    try:
        return str(SpecifierSet(",".join(specs)))
    except InvalidSpecifier as exc:
        raise ValueError(f"Poetry constraint {constraint!r} is not valid: {exc}") from exc


def _poetry_piece(piece: str, original: str) -> list[str]:
    match = _POETRY_OP.match(piece.strip())
    if match is None:
        raise ValueError(f"Poetry constraint {original!r} is not valid")
    op, version_text = match.group(1) or "", match.group(2).strip()
    if version_text == "*":
        return []
    if op in ("", "="):
        return [f"=={version_text}"]
    if op not in ("^", "~"):
        return [f"{op}{version_text}"]
    try:
        version = Version(version_text)
    except InvalidVersion as exc:
        raise ValueError(f"Poetry constraint {original!r}: {exc}") from exc
    written = [int(p) for p in version_text.split("+")[0].split("-")[0].split(".") if p.isdigit()]
    release = written or list(version.release)
    if op == "^":
        bump = next((i for i, part in enumerate(release) if part != 0), len(release) - 1)
    else:
        bump = 0 if len(release) == 1 else 1
    upper = [*release[:bump], release[bump] + 1]
    return [f">={version}", "<" + ".".join(str(p) for p in upper)]


# ---------------------------------------------------------------------------------------------------------
# Drift
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    package: str
    status: DriftStatus
    #: Codebases (scopes) involved, sorted.
    scopes: tuple[str, ...]
    #: ``scope:file:line`` of every declaration involved, sorted.
    files: tuple[str, ...]
    #: The distinct specifiers involved (``==1.2``, ``>=2``, or ``(any)``), sorted.
    versions: tuple[str, ...]
    #: The environment marker the declarations share, empty when unconditional.
    marker: str = ""

    @property
    def cross_scope(self) -> bool:
        return len(self.scopes) > 1


@dataclass(frozen=True)
class _Decl:
    scope: str
    decl: Declaration

    @property
    def where(self) -> str:
        return f"{self.scope}:{self.decl.file}:{self.decl.line}"


def find_drift(decls_by_scope: Mapping[str, Sequence[Declaration]]) -> list[Drift]:
    """Disagreements between declarations of the same package, within and across scopes.

    Only ``kind="version"`` rows with a name take part. Declarations under different, non-empty
    environment markers may never apply together, so they are compared only with unconditional ones
    and with those under the same marker.

    * ``conflicting_pins``: ``==`` to two different versions.
    * ``unsatisfiable``: no version meets every specifier (when that is not already a pin conflict).
      Decided by testing candidates: every version a specifier names, plus neighbours of each (the next
      release at each level, a step below, a sub-release above). Range bounds sit at named versions, so a
      non-empty intersection of ranges contains one of these; ``!=`` and ``==X.*`` holes are honoured
      because each candidate is checked against the full set with ``packaging``.
    * ``pinned_and_unpinned``: one place pins, another accepts any version.
    * ``declared_twice_in_file``: the same package twice in one file section under the same marker.
    """
    rows = [
        _Decl(scope, decl)
        for scope, decls in decls_by_scope.items()
        for decl in decls
        if decl.kind == "version" and decl.name
    ]
    by_package: dict[str, list[_Decl]] = {}
    for row in rows:
        by_package.setdefault(row.decl.name, []).append(row)
    found: dict[tuple[str, str, tuple[str, ...]], Drift] = {}
    for package, members in sorted(by_package.items()):
        for drift in _twice_in_file(package, members):
            found.setdefault((drift.status, package, drift.files), drift)
        markers = sorted({m.decl.marker for m in members if m.decl.marker})
        groups: list[tuple[str, list[_Decl]]] = []
        unconditional = [m for m in members if not m.decl.marker]
        if not markers:
            groups.append(("", unconditional))
        for marker in markers:
            groups.append((marker, unconditional + [m for m in members if m.decl.marker == marker]))
        for marker, group in groups:
            for drift in _compare(package, marker, group):
                found.setdefault((drift.status, package, drift.files), drift)
    return sorted(found.values(), key=lambda d: (d.package, d.status, d.files))


def _drift(package: str, status: DriftStatus, marker: str, involved: Sequence[_Decl]) -> Drift:
    return Drift(
        package=package,
        status=status,
        scopes=tuple(sorted({d.scope for d in involved})),
        files=tuple(sorted({d.where for d in involved})),
        versions=tuple(sorted({d.decl.specifier or "(any)" for d in involved})),
        marker=marker,
    )


def _twice_in_file(package: str, members: list[_Decl]) -> list[Drift]:
    by_place: dict[tuple[str, str, str, str], list[_Decl]] = {}
    for member in members:
        key = (member.scope, member.decl.file, member.decl.section, member.decl.marker)
        by_place.setdefault(key, []).append(member)
    return [
        _drift(package, "declared_twice_in_file", key[3], group)
        for key, group in by_place.items()
        if len(group) > 1
    ]


def _pin(specifier: str) -> Version | None:
    """The version of a lone ``==V`` (not a wildcard) specifier."""
    try:
        spec_set = SpecifierSet(specifier)
    except InvalidSpecifier:
        return None
    specs = list(spec_set)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or specs[0].version.endswith(".*"):
        return None
    try:
        return Version(specs[0].version)
    except InvalidVersion:
        return None


def _compare(package: str, marker: str, group: list[_Decl]) -> list[Drift]:
    if len(group) < 2:
        return []
    out: list[Drift] = []
    pinned = [(d, v) for d in group if (v := _pin(d.decl.specifier)) is not None]
    distinct = {v for _, v in pinned}
    if len(distinct) > 1:
        out.append(_drift(package, "conflicting_pins", marker, [d for d, _ in pinned]))
    elif not _satisfiable([d.decl.specifier for d in group]):
        ranged = [d for d in group if d.decl.specifier]
        out.append(_drift(package, "unsatisfiable", marker, ranged))
    unpinned = [d for d in group if not d.decl.specifier]
    if pinned and unpinned:
        out.append(_drift(package, "pinned_and_unpinned", marker, [d for d, _ in pinned] + unpinned))
    return out


def _satisfiable(specifiers: Iterable[str]) -> bool:
    combined = SpecifierSet()
    named: list[Version] = []
    for text in specifiers:
        if not text:
            continue
        try:
            spec_set = SpecifierSet(text)
        except InvalidSpecifier:
            continue
        combined &= spec_set
        for spec in spec_set:
            named.extend(_named_versions(spec))
    if not named:
        return True
    return any(combined.contains(candidate, prereleases=True) for candidate in _candidates(named))


def _named_versions(spec: Specifier) -> list[Version]:
    text = spec.version
    if text.endswith(".*"):
        text = text[:-2]
    try:
        return [Version(text)]
    except InvalidVersion:
        return []


def _candidates(named: Iterable[Version]) -> set[Version]:
    out: set[Version] = set()
    for version in named:
        out.add(version)
        release = list(version.release)
        out.add(Version(".".join(str(p) for p in [*release, 1])))
        for level in range(len(release)):
            bumped = [*release[:level], release[level] + 1]
            out.add(Version(".".join(str(p) for p in bumped)))
        nonzero = [i for i, part in enumerate(release) if part != 0]
        if nonzero:
            i = nonzero[-1]
            lower = [*release[:i], release[i] - 1, 9999]
            out.add(Version(".".join(str(p) for p in lower)))
    return out
