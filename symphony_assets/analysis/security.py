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

import functools
import hashlib
import io
import logging
import math
import re
import tokenize
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from symphony_assets.analysis.pysource import (
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


def scan_file(path: str, content: bytes) -> FileScan:
    """Every security finding of one file; never raises on bad input."""
    text = decode_source(content)
    lines = text.splitlines()
    findings: list[SecurityFinding] = []
    parse_error: str | None = None
    parse_line: int | None = None
    if is_python(path):
        outcome = parse_python(content)
        if outcome.ok:
            try:
                findings += _bandit(path, content, lines)
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


def _bandit(path: str, content: bytes, lines: list[str]) -> list[SecurityFinding]:
    from bandit.core import metrics as b_metrics
    from bandit.core import node_visitor

    manager = _bandit_setup()
    # Per-file metrics, begun as bandit's manager begins them: its tester notes each ``# nosec`` there,
    # and without a current file it fails on every suppressed finding ("internal error"). A fresh
    # object per file, so nothing accumulates over a backfill's thousands of files.
    metrics = b_metrics.Metrics()
    metrics.begin(path)
    visitor = node_visitor.BanditNodeVisitor(
        path, io.BytesIO(content), manager.b_ma, manager.b_ts, False, _nosec_lines(content), metrics
    )
    visitor.process(content)
    out = []
    for issue in visitor.tester.results:
        linerange = [int(n) for n in (issue.linerange or [issue.lineno])]
        first, last = min(linerange), max(linerange)
        snippet, digest = _snippet(lines, first, last)
        out.append(
            SecurityFinding(
                rule_id=str(issue.test_id),
                rule_name=str(issue.test),
                severity=str(issue.severity),
                confidence=str(issue.confidence),
                line=int(issue.lineno),
                end_line=last,
                message=str(issue.text),
                snippet=snippet,
                snippet_hash=digest,
                via=VIA_BANDIT,
            )
        )
    return out


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

    for call in iter_nodes(tree, ("call",)):
        note = " (file does not parse; read by the tolerant parser" + (
            ", inside the damaged part)" if in_error(call) else ")"
        )
        fn = call.child_by_field_name("function")
        callee = node_text(fn) if fn is not None else ""
        if callee in _CALL_RULES:
            add(_CALL_RULES[callee], call, note)
        args = call.child_by_field_name("arguments")
        if args is None:
            continue
        for kw in args.children:
            if kw.type != "keyword_argument":
                continue
            name = kw.child_by_field_name("name")
            value = kw.child_by_field_name("value")
            if name is not None and value is not None and node_text(name) == "shell" and value.type == "true":
                add(_SHELL_RULE, call, note)
    for string in iter_nodes(tree, ("string",)):
        if node_text(string).strip("\"'bBrRuU") == "0.0.0.0":
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
