"""Security findings of one file: bandit's rules, secrets-like literals, and a tolerant fallback.

``bandit`` runs as a library over the bytes handed in (no subprocess, no file read): one test set is
built per process and each file gets its own node visitor. A file ``ast`` rejects is not lost: its
parse error is recorded and the tolerant parser (tree-sitter, through :mod:`.pysource`) still finds
the sites that matter most (``shell=True``, ``eval``/``exec``, ``pickle`` loads, binding to all
interfaces), marked ``via="tree-sitter"``. Secrets-like literals (cloud keys, tokens, private keys,
password-like names assigned a literal) are found by patterns on the text, for any file type.

Every finding carries a hash of its source lines (whitespace-insensitive), so a fingerprint built
from rule, path and that hash survives the finding moving up or down the file.
"""

from __future__ import annotations

import ast
import codecs
import functools
import hashlib
import io
import logging
import math
import re
import tokenize
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from symphony_assets.analysis.pysource import (
    ParseOutcome,
    decode_source,
    in_error,
    iter_nodes,
    node_line,
    node_text,
    parse_python,
    ts_tree,
)

LOG = logging.getLogger(__name__)

#: Bump when results change shape or meaning (the per-blob cache is keyed by it).
ANALYSER_VERSION = "1"
#: The blob cache's analyser for Python files' scans (text files: ``security_findings:text``).
PYTHON_ANALYSER = "security_findings:python"


def analyser_version() -> str:
    """The cache version: ours and bandit's own, since bandit's rules decide the results."""
    try:
        from importlib.metadata import version

        bandit_version = version("bandit")
    except Exception:  # noqa: BLE001 - any metadata failure only means the cache key is less precise
        bandit_version = "unknown"
    return f"{ANALYSER_VERSION}:bandit-{bandit_version}"


VIA_BANDIT = "bandit"
VIA_FALLBACK = "tree-sitter"
VIA_SECRETS = "secrets"

#: Suffixes scanned for secrets-like literals besides Python files.
SECRET_SUFFIXES = (
    ".py",
    ".pyw",
    ".env",
    ".ini",
    ".cfg",
    ".conf",
    ".toml",
    ".yaml",
    ".yml",
    ".json",
    ".sh",
    ".txt",
)
#: Files larger than this are not scanned for secrets (data dumps, not configuration).
MAX_SECRET_SCAN_BYTES = 1_000_000


@dataclass(frozen=True)
class SecurityFinding:
    rule_id: str
    rule_name: str
    severity: str  # LOW, MEDIUM, HIGH
    confidence: str  # LOW, MEDIUM, HIGH
    line: int
    end_line: int
    message: str
    snippet: str  # the first source line, stripped and cut to 200 characters
    snippet_hash: str
    via: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SecurityFinding:
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class FileScan:
    findings: tuple[SecurityFinding, ...]
    #: Why bandit could not read the file (a syntax error, or bandit failing on it); None when it could.
    parse_error: str | None = None
    parse_error_line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "parse_error": self.parse_error,
            "parse_error_line": self.parse_error_line,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FileScan:
        return cls(
            findings=tuple(SecurityFinding.from_dict(f) for f in raw.get("findings", ())),
            parse_error=raw.get("parse_error"),
            parse_error_line=raw.get("parse_error_line"),
        )


def snippet_hash(lines: list[str]) -> str:
    """Hash of source lines with all whitespace removed: stable under re-indentation and moves."""
    text = "\n".join("".join(line.split()) for line in lines)
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _snippet(lines: list[str], first: int, last: int) -> tuple[str, str]:
    first = max(1, first)
    last = max(first, min(last, len(lines)))
    chosen = lines[first - 1 : last]
    head = chosen[0].strip()[:200] if chosen else ""
    return head, snippet_hash(chosen)


def is_python(path: str) -> bool:
    return path.lower().endswith((".py", ".pyw"))


def wants_scan(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    return name.endswith(SECRET_SUFFIXES) or name.startswith(".env")


def scan_file(path: str, content: bytes, outcome: ParseOutcome | None = None) -> FileScan:
    """Every security finding of one file; never raises on bad input.

    ``outcome``: ``parse_python(content)`` when the caller parsed already (the facts pass); bandit then
    visits that tree, so nothing may read it untouched after this (bandit links nodes to parents)."""
    text = decode_source(content)
    lines = text.splitlines()
    findings: list[SecurityFinding] = []
    parse_error: str | None = None
    parse_line: int | None = None
    if is_python(path):
        outcome = outcome or parse_python(content, detect_python2=False)
        if outcome.tree is not None:
            try:
                findings += _bandit(path, content, outcome.tree, lines)
            except Exception as exc:  # noqa: BLE001 - a plugin failing on odd code must not lose the file
                parse_error = f"bandit failed: {type(exc).__name__}: {exc}"
        else:
            parse_error, parse_line = outcome.error or "invalid syntax", outcome.error_line
        if parse_error is not None:
            findings += _fallback(content, lines)
    if len(content) <= MAX_SECRET_SCAN_BYTES:
        taken = {(f.line, f.rule_id) for f in findings}
        password_lines = {f.line for f in findings if f.rule_id in _BANDIT_PASSWORD_RULES}
        for f in _secrets(lines):
            if (f.line, f.rule_id) in taken:
                continue
            if f.rule_id == "SEC100" and f.line in password_lines:
                continue  # bandit already reported this assignment
            findings.append(f)
    findings.sort(key=lambda f: (f.line, f.rule_id, f.snippet_hash))
    return FileScan(tuple(findings), parse_error, parse_line)


# ------------------------------------------------------------------------------------------- bandit

_BANDIT_PASSWORD_RULES = frozenset({"B105", "B106", "B107"})


@functools.lru_cache(maxsize=1)
def _bandit_setup() -> Any:
    """bandit's manager (test set, meta AST, metrics); loading its plugins is costly, so once."""
    from bandit.core import config as b_config
    from bandit.core import manager as b_manager

    # bandit's plugin loader logs an error for each optional output formatter not installed (sarif).
    logging.getLogger("stevedore.extension").setLevel(logging.CRITICAL)
    # bandit logs a warning for every path it cannot map to a module name (ours are repo-relative).
    logging.getLogger("bandit").setLevel(logging.ERROR)
    return b_manager.BanditManager(b_config.BanditConfig(), "file", quiet=True)


def _nosec_lines(content: bytes) -> dict[int, set[str] | None]:
    """``# nosec`` comments, as bandit honours them (every rule, or the rules named)."""
    # bandit's pattern needs the word ``nosec``; without it, and with no encoding cookie (in which it
    # could be spelled in other bytes), tokenizing the file would only find comments that map to None,
    # which bandit reads as no comment at all. Skipping the tokenizer saves ~10% of the scan.
    if b"nosec" not in content and not any(b"coding" in line for line in content.split(b"\n", 2)[:2]):
        return {}
    return _nosec_comments(content)


def _nosec_comments(content: bytes) -> dict[int, set[str] | None]:
    """What bandit's ``_parse_nosec_comment`` makes of every comment, by line (None: not a nosec)."""
    from bandit.core.manager import _parse_nosec_comment

    out: dict[int, set[str] | None] = {}
    try:
        for tok in tokenize.tokenize(io.BytesIO(content).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = _parse_nosec_comment(tok.string)
    except (tokenize.TokenError, SyntaxError):
        pass
    return out


def new_visitor(path: str, content: bytes, lean: bool = True) -> Any:
    """bandit's node visitor for one file, with the ``# nosec`` comments bandit would honour in it.

    ``lean``: the visitor that skips the nodes no test reads (:func:`_lean_visitor_class`); False gives
    bandit's own ``BanditNodeVisitor`` (the oracle of the tests and the benchmark's baseline)."""
    from bandit.core import metrics as b_metrics
    from bandit.core import node_visitor

    manager = _bandit_setup()
    cls = _lean_visitor_class() if lean else node_visitor.BanditNodeVisitor
    # Per-file metrics, begun as bandit's manager begins them: its tester notes each ``# nosec`` there,
    # and without a current file it fails on every suppressed finding ("internal error"). A fresh
    # object per file, so nothing accumulates over a backfill's thousands of files.
    metrics = b_metrics.Metrics()
    metrics.begin(path)
    return cls(path, io.BytesIO(content), manager.b_ma, manager.b_ts, False, _nosec_lines(content), metrics)


@functools.lru_cache(maxsize=1)
def _lean_visitor_class() -> type:
    """bandit's node visitor without its cost for the nodes no test reads.

    For every node, bandit builds a context dict, computes its line range, formats debug messages and
    runs the tests registered for its type, and most types (``Name``, ``Load``, ``Attribute``,
    ``Compare``: 93% of the nodes of real code) have none and no ``visit_`` method, so all of that is
    thrown away. This visitor still links every node to its parent and sibling, in the same order (the
    tests read those links), and visits in full, through bandit's own methods, every node of a type
    that has tests or a ``visit_`` method, and string and bytes constants (``visit_Constant`` does
    nothing for the others). One frame per level of nesting, as bandit's ``generic_visit``, so a deep
    file fails where bandit's would. ``test_security_memo.py`` compares it with bandit's own visitor;
    ``benchmarks/bench_security_memo.py`` measures it.
    """
    from bandit.core import node_visitor

    tested = {name for name, tests in _bandit_setup().b_ts.tests.items() if tests}
    visitor_names = dir(node_visitor.BanditNodeVisitor)
    methods = {n.removeprefix("visit_") for n in visitor_names if n.startswith("visit_")}
    loud = frozenset((tested | methods) - {"Constant"})
    strings = (str, bytes)

    class LeanNodeVisitor(node_visitor.BanditNodeVisitor):  # type: ignore[misc]
        def generic_visit(self, node: ast.AST) -> None:
            for _, value in ast.iter_fields(node):
                items: list[tuple[int, Any]]  # nodes given bandit's own attributes
                if isinstance(value, list):
                    last = len(value) - 1
                    items = [(i, item) for i, item in enumerate(value) if isinstance(item, ast.AST)]
                else:
                    last, items = 0, [(0, value)] if isinstance(value, ast.AST) else []
                for index, item in items:
                    item._bandit_sibling = value[index + 1] if index < last else None
                    item._bandit_parent = node
                    name = type(item).__name__
                    if name in loud or (name == "Constant" and isinstance(item.value, strings)):
                        if self.pre_visit(item):
                            self.visit(item)
                            self.generic_visit(item)
                            self.post_visit(item)
                    else:
                        self.generic_visit(item)

    return LeanNodeVisitor


#: One bandit issue of a top-level statement, lines relative to the statement's first line:
#: (rule id, rule name, severity, confidence, line, first line, last line, message).
_RelativeIssue = tuple[str, str, str, str, int, int, int, str]


@dataclass(frozen=True)
class _StatementScan:
    """What bandit's visit of one top-level statement produced: its issues, and what it added to the
    visitor's import state (the imports and aliases the statements after it are checked against)."""

    issues: tuple[_RelativeIssue, ...]
    imports: tuple[str, ...]
    aliases: tuple[tuple[str, str], ...]


#: Statement scans by :func:`_statement_key`. A backfill meets each file again in version after version
#: that differ in a statement or two, the rest unchanged or moved; their findings are taken from here
#: instead of visiting them again. A pure memo (the key holds everything a result depends on), bounded.
_STATEMENT_MEMO: OrderedDict[bytes, _StatementScan] = OrderedDict()
STATEMENT_MEMO_SIZE = 20_000


def _bandit(
    path: str, content: bytes, tree: ast.Module, lines: list[str], lean: bool = True
) -> list[SecurityFinding]:
    """bandit's node visitor over ``tree`` (``ast.parse(content)``), one top-level statement at a time,
    taking the findings of a statement met before from :data:`_STATEMENT_MEMO`.

    This walks the module as ``BanditNodeVisitor.process`` does (statements in order, the same parent
    and sibling links, then the whole-file tests); ``test_security_memo.py`` checks the findings against
    ``process`` itself over many files and versions.
    """
    visitor = new_visitor(path, content, lean)
    nosec = visitor.nosec_lines
    raw_lines = content.splitlines()  # ast's numbering: \n, \r\n and \r end a line, nothing else does
    file_key = _file_key(path, content)
    out: list[SecurityFinding] = []
    body = tree.body
    state = _state_key(visitor)
    for index, statement in enumerate(body):
        statement._bandit_sibling = body[index + 1] if index + 1 < len(body) else None  # type: ignore[attr-defined]
        statement._bandit_parent = tree  # type: ignore[attr-defined]
        first = min([statement.lineno] + [d.lineno for d in getattr(statement, "decorator_list", ())])
        key = _statement_key(file_key, state, statement, first, raw_lines, nosec)
        scan = _recall(key)
        if scan is None:
            scan = _visit_statement(visitor, statement, first)
            if key is not None and not _reads_the_module(visitor):
                _remember(key, scan)
        else:
            visitor.imports.update(scan.imports)
            visitor.import_aliases.update(scan.aliases)
        if scan.imports or scan.aliases:
            state = _state_key(visitor)
        out += (_finding(issue, first - 1, lines) for issue in scan.issues)
    for extra in tree.type_ignores:  # only with type comments parsed; visited as bandit does, no memo
        extra._bandit_sibling, extra._bandit_parent = None, tree  # type: ignore[attr-defined]
        out += (_finding(issue, 0, lines) for issue in _visit_statement(visitor, extra, 1).issues)
    visitor.tester.results.clear()
    # The tests that read the whole file, not the tree (``process`` runs them last).
    visitor.context = {
        "file_data": visitor.fdata,
        "filename": visitor.fname,
        "lineno": 0,
        "linerange": [0, 1],
        "col_offset": 0,
    }
    visitor.update_scores(visitor.tester.run_tests(visitor.context, "File"))
    out += (_finding(_relative(issue, 0), 0, lines) for issue in visitor.tester.results)
    return out


def _file_key(path: str, content: bytes) -> bytes:
    """What a statement's findings depend on beyond its own bytes: the path (bandit's skips match the
    file name; the module's dotted name comes from it) and the source encoding (string constants)."""
    head = content.split(b"\n", 2)[:2]
    encoding = "utf-8"
    if any(b"coding" in line for line in head) or content.startswith(codecs.BOM_UTF8):
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(content).readline)
        except (SyntaxError, LookupError, ValueError):
            encoding = "?"
    return f"{ANALYSER_VERSION}\0{path}\0{encoding}\0".encode("utf-8", "surrogatepass")


def _state_key(visitor: Any) -> bytes:
    state = (sorted(visitor.imports), sorted(visitor.import_aliases.items()))
    return hashlib.blake2b(repr(state).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _statement_key(
    file_key: bytes,
    state: bytes,
    statement: ast.stmt,
    first: int,
    raw_lines: list[bytes],
    nosec: Mapping[int, set[str] | None],
) -> bytes | None:
    """Everything one statement's findings depend on: its whole lines (comments included) and where in
    them it starts and ends, the ``# nosec`` comments bandit sees on those lines, the file key and the
    import state before it. None when its lines cannot be told (then it is visited, not memoised)."""
    last = statement.end_lineno
    if last is None or last > len(raw_lines) or first < 1:
        return None
    marks = sorted(
        (n - first, sorted(v) if v is not None else None) for n, v in nosec.items() if first <= n <= last
    )
    digest = hashlib.blake2b(file_key, digest_size=20)
    digest.update(state)
    digest.update(
        repr((statement.lineno - first, statement.col_offset, statement.end_col_offset, marks)).encode()
    )
    for line in raw_lines[first - 1 : last]:
        digest.update(line)
        digest.update(b"\n")
    return digest.digest()


#: bandit's XSS check (B703) runs once this is imported, and for a call outside any function it reads
#: the whole module body for the variable passed: a statement's findings then depend on the others.
_MODULE_READER_IMPORT = "django.utils.safestring"


def _reads_the_module(visitor: Any) -> bool:
    """Whether a statement's findings may depend on other statements. Imports only grow during a visit,
    so a state without the import after a statement had none during it either."""
    return any(_MODULE_READER_IMPORT in name for name in visitor.imports)


def _recall(key: bytes | None) -> _StatementScan | None:
    if key is None:
        return None
    scan = _STATEMENT_MEMO.get(key)
    if scan is not None:
        _STATEMENT_MEMO.move_to_end(key)
    return scan


def _remember(key: bytes, scan: _StatementScan) -> None:
    _STATEMENT_MEMO[key] = scan
    if len(_STATEMENT_MEMO) > STATEMENT_MEMO_SIZE:
        _STATEMENT_MEMO.popitem(last=False)


def _visit_statement(visitor: Any, statement: ast.AST, first: int) -> _StatementScan:
    """Visit one top-level node as ``generic_visit`` of the module would, and say what it produced."""
    imports, aliases = set(visitor.imports), dict(visitor.import_aliases)
    start = len(visitor.tester.results)
    if visitor.pre_visit(statement):
        visitor.visit(statement)
        visitor.generic_visit(statement)
        visitor.post_visit(statement)
    issues = tuple(_relative(issue, first - 1) for issue in visitor.tester.results[start:])
    added = tuple(sorted(visitor.imports - imports))
    changed = tuple((k, v) for k, v in visitor.import_aliases.items() if k not in aliases or aliases[k] != v)
    return _StatementScan(issues, added, changed)


def _relative(issue: Any, shift: int) -> _RelativeIssue:
    linerange = [int(n) for n in (issue.linerange or [issue.lineno])]
    rule = (str(issue.test_id), str(issue.test), str(issue.severity), str(issue.confidence))
    return (*rule, int(issue.lineno) - shift, min(linerange) - shift, max(linerange) - shift, str(issue.text))


def _finding(issue: _RelativeIssue, shift: int, lines: list[str]) -> SecurityFinding:
    rule_id, name, severity, confidence, line, first, last, message = issue
    snippet, digest = _snippet(lines, first + shift, last + shift)
    return SecurityFinding(rule_id, name, severity, confidence, line + shift, last + shift, message, snippet,
                           digest, VIA_BANDIT)  # fmt: skip


# ------------------------------------------------------------------- tolerant fallback (tree-sitter)

#: Calls the fallback reports in files bandit cannot read, with bandit's ids for the same issue.
_CALL_RULES: dict[str, tuple[str, str, str, str, str]] = {
    # callee: (rule id, rule name, severity, confidence, message)
    "eval": ("B307", "blacklist", "MEDIUM", "HIGH", "Use of possibly insecure function (eval)."),
    "exec": ("B102", "exec_used", "MEDIUM", "HIGH", "Use of exec detected."),
    "pickle.load": ("B301", "blacklist", "MEDIUM", "HIGH", "Pickle can be unsafe on untrusted data."),
    "pickle.loads": ("B301", "blacklist", "MEDIUM", "HIGH", "Pickle can be unsafe on untrusted data."),
    "os.system": ("B605", "start_process_with_a_shell", "HIGH", "HIGH", "Starting a process with a shell."),
}  # fmt: skip
_SHELL_RULE = (
    "B602",
    "subprocess_popen_with_shell_equals_true",
    "HIGH",
    "HIGH",
    "subprocess call with shell=True identified, security issue.",
)
_BIND_RULE = (
    "B104",
    "hardcoded_bind_all_interfaces",
    "MEDIUM",
    "MEDIUM",
    "Possible binding to all interfaces.",
)


def _fallback(content: bytes, lines: list[str]) -> list[SecurityFinding]:
    """The most dangerous sites in a file ``ast`` rejects, from tree-sitter's error-tolerant tree."""
    out: list[SecurityFinding] = []
    strings: list[Any] = []
    tree = ts_tree(content)

    def add(rule: tuple[str, str, str, str, str], node: Any, note: str) -> None:
        line = node_line(node)
        end = int(node.end_point[0]) + 1
        snippet, digest = _snippet(lines, line, end)
        rule_id, name, severity, confidence, message = rule
        out.append(
            SecurityFinding(rule_id, name, severity, confidence, line, end, message + note, snippet, digest,
                            VIA_FALLBACK)
        )  # fmt: skip

    # One walk for both kinds; the findings are sorted afterwards, and each kind keeps its own order.
    for node in iter_nodes(tree, ("call", "string")):
        if node.type == "string":
            if node_text(node).strip("\"'bBrRuU") == "0.0.0.0":
                strings.append(node)
            continue
        fn = node.child_by_field_name("function")
        callee = node_text(fn) if fn is not None else ""
        rules = [_CALL_RULES[callee]] if callee in _CALL_RULES else []
        args = node.child_by_field_name("arguments")
        for kw in args.children if args is not None else ():
            if kw.type != "keyword_argument":
                continue
            name = kw.child_by_field_name("name")
            value = kw.child_by_field_name("value")
            if name is not None and value is not None and node_text(name) == "shell" and value.type == "true":
                rules.append(_SHELL_RULE)
        if rules:  # where the call lies is looked up only for a call reported
            note = " (file does not parse; read by the tolerant parser" + (
                ", inside the damaged part)" if in_error(node) else ")"
            )
            for rule in rules:
                add(rule, node, note)
    for string in strings:
        add(_BIND_RULE, string, " (file does not parse; read by the tolerant parser)")
    return out


# ------------------------------------------------------------------------------------------ secrets

_SECRET_PATTERNS: tuple[tuple[str, str, str, re.Pattern[str]], ...] = (
    ("SEC001", "aws_access_key_id", "HIGH", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("SEC002", "github_token", "HIGH", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{40,})\b")),
    ("SEC003", "slack_token", "HIGH", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("SEC004", "private_key", "HIGH", re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY")),
    ("SEC005", "openai_style_key", "HIGH", re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}")),
    ("SEC006", "credentials_in_url", "MEDIUM", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^/\s@'\"]{3,}@[^\s'\"]+")),
)  # fmt: skip

#: ``api_key = "..."``, ``"password": "..."``, ``TOKEN=...``: a password-like name given a literal.
_ASSIGNED = re.compile(
    r"""(?ix)
    (?<![A-Za-z0-9_])(?P<name>[A-Za-z0-9_.-]*(?:passw(?:or)?d|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key))
    ["']?\s*(?::|=|:=)\s*
    (?:(?P<q>["'])(?P<quoted>[^"'\n]{8,})(?P=q)|(?P<bare>[^"'\s#,}]{8,}))
    """
)
_PLACEHOLDER = re.compile(
    r"(?i)^(\$\{?|<|\{\{|%\(|x{4,}|\*{4,}|changeme|example|dummy|placeholder|your[_-]|none$|null$|true$|false$)"
)


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    counts = {c: value.count(c) for c in set(value)}
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _secrets(lines: list[str]) -> list[SecurityFinding]:
    out: list[SecurityFinding] = []
    for number, line in enumerate(lines, start=1):
        if len(line) > 2000:
            continue  # minified data, not a configuration line
        found = False
        for rule_id, name, severity, pattern in _SECRET_PATTERNS:
            if pattern.search(line):
                snippet, digest = _snippet(lines, number, number)
                message = f"Possible secret in the source: {name.replace('_', ' ')}."
                out.append(
                    SecurityFinding(rule_id, name, severity, "HIGH", number, number, message, snippet, digest,
                                    VIA_SECRETS)
                )  # fmt: skip
                found = True
        if found:
            continue
        match = _ASSIGNED.search(line)
        if match is None:
            continue
        value = match.group("quoted") or match.group("bare") or ""
        if _PLACEHOLDER.search(value) or "(" in value or value.isidentifier() and not match.group("q"):
            continue  # a variable, a call, an env reference or a placeholder, not a literal
        if entropy(value) < 3.0:
            continue
        snippet, digest = _snippet(lines, number, number)
        message = f"Possible hard-coded secret assigned to {match.group('name')!r}."
        out.append(
            SecurityFinding("SEC100", "secret_like_literal", "MEDIUM", "MEDIUM", number, number, message,
                            snippet, digest, VIA_SECRETS)
        )  # fmt: skip
    return out
