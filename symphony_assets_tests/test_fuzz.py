"""Property-based fuzzing of the pure analysis functions with ``hypothesis``.

For any input: no exception escapes, every result is well-formed (types, ranges, enumerations, text a
store accepts), and each call finishes within a time bound. Inputs are built from fragments of the
formats (Python, YAML/JSON/TOML, requirements, crontabs) mixed with random bytes, so they reach past
the first syntax error. Examples are derandomised (CI sees the same ones each run) and kept small:
the whole module runs in well under two minutes.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symphony_assets.analysis import cleanup_rules, filetypes, findings, imports, ports, requirements, todos
from symphony_assets.analysis.complexity import function_complexity
from symphony_assets.analysis.references import count_references

T = TypeVar("T")

#: Per-call bound: inputs are at most a few KB, real calls take milliseconds (2 cores, shared).
CALL_SECONDS = 5.0
FUZZ = settings(
    max_examples=300,
    deadline=None,  # the per-call bound below is explicit and generous: a loaded CI box is not a bug
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MARK = "TO" + "DO"  # built at run time: our own hygiene check must not see a marker here


def timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    started = time.process_time()
    result = fn(*args, **kwargs)
    elapsed = time.process_time() - started
    assert elapsed < CALL_SECONDS, f"{fn.__name__} took {elapsed:.1f} s"
    return result


def storable(*texts: str | None) -> None:
    """Text a Parquet file and a Postgres text/JSON column accept: UTF-8 encodable, no NUL."""
    for text in texts:
        if text is None:
            continue
        assert isinstance(text, str)
        text.encode("utf-8")
        assert "\x00" not in text


def fragments(pieces: Iterable[str]) -> st.SearchStrategy[bytes]:
    """Bytes made of format fragments, random text and random bytes, in any order."""
    piece = st.one_of(
        st.sampled_from([p.encode("utf-8") for p in pieces]),
        st.text(max_size=12).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.binary(max_size=6),
    )
    return st.lists(piece, max_size=40).map(b"".join)


PYTHON = fragments(
    [
        "import os\n",
        "from . import x\n",
        "from ..pkg.mod import (a,\n b)\n",
        "import zmq, socket\n",
        "def f(x, port=5000):\n",
        "class C(Base):\n",
        "    ",
        "\t",
        "pass\n",
        "return x\n",
        "try:\n",
        "except:\n",
        "except Exception:  # why: logged\n",
        "except (ValueError, BaseException) as e:\n",
        "finally:\n",
        "if x:\n",
        "else:\n",
        "while True:\n",
        "with open(p) as f:\n",
        "lambda: 0",
        "sock.bind(('0.0.0.0', 5555))\n",
        "s.connect(f'tcp://{HOST}:{PORT}')\n",
        "PORT = 80 + 1\n",
        "os.environ.get('P', 8080)\n",
        "app.run(port=int(os.getenv('PORT', '9')))\n",
        "x.cuda()\n",
        "torch.device('cuda:0')\n",
        "import cupy\n",
        "print 'py2'\n",
        "exec 'x'\n",
        "0777L\n",
        f"# {MARK}: fix it\n",
        f"x = 1  # {MARK}(me) later\n",
        "'''",
        '"""',
        "'",
        '"',
        "f'{",
        "}'",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ":",
        ",",
        "\\\n",
        "\r\n",
        "\r",
        "\x00",
        "\x0c",
        "\ufeff",
        "<<<<<<< HEAD\n",
        "=======\n",
        ">>>>>>> other\n",
        "# -*- coding: latin-1 -*-\n",
        "# coding: klingon\n",
        "@decorator\n",
        "async def g():\n",
        "await x\n",
        "yield\n",
        "match x:\n",
        "    case 1:\n",
        "x = " + "(" * 60 + ")" * 60 + "\n",
        "y = " + "+".join(["1"] * 300) + "\n",
    ]
)
CONFIG = fragments(
    [
        "port: 5000\n",
        "db_port: ${DB_PORT:-5432}\n",
        "host: 0.0.0.0\n",
        "url: tcp://*:5555\n",
        "endpoint: http://h:80/x\n",
        "services:\n",
        "  web:\n",
        "    ports:\n",
        "      - '8000:80'\n",
        "      - 9000-9100:9000-9100/udp\n",
        "      - published: 7000\n",
        "environment:\n",
        "  - PORT=81\n",
        "a: &a [1, 2]\n",
        "b: [*a, *a, *a]\n",
        "<<: *a\n",
        "c: &c {p: *a}\n",
        "*c",
        "---\n",
        "...\n",
        "%YAML 1.1\n",
        "!!int ",
        "!!str ",
        "? ",
        "- ",
        "  ",
        "\t",
        "{",
        "}",
        "[",
        "]",
        '"',
        "'",
        ",",
        ": ",
        "#",
        "\\u00e9",
        "\\ud800",
        "\\udc80",
        "1e400",
        "NaN",
        "true",
        "null",
        '{"port": 1, "nested": {"listen": "0.0.0.0:2"}}',
        '"bind": "tcp://*:3",',
        "[[[[[[[[",
        "]]]]]]]]",
        "[tool.x]\n",
        "port = 5\n",
        "x = [[1], [2]]\n",
        'y = {a = "tcp://h:4"}\n',
        "export P=6\n",
        "P=${Q:-7}\n",
        "\x00",
        "\r\n",
        "\ufeff",
    ]
)
REQUIREMENTS = fragments(
    [
        "requests==2.31.0\n",
        "Django>=4,<5\n",
        "numpy[extra1,extra2]~=2.0; python_version<'3.12'\n",
        "-r other.txt\n",
        "-c constraints.txt\n",
        "-e .\n",
        "-e git+https://x/y.git#egg=pkg\n",
        "https://h/p-1.0.whl\n",
        "./local/pkg\n",
        "--index-url https://pypi\n",
        "# comment\n",
        "pkg @ https://h/p.zip\n",
        "\\\n",
        "==",
        ">=",
        "[",
        "]",
        ";",
        "@",
        " ",
        "\t",
        "\x00",
        "\r",
        "a" * 50,
        "-r requirements.txt\n",
        "--requirement\n",
    ]
)
PYPROJECT = fragments(
    [
        "[project]\n",
        'dependencies = ["requests>=2", "x==1"]\n',
        "[project.optional-dependencies]\n",
        'dev = ["pytest"]\n',
        "[dependency-groups]\n",
        'test = ["a", {include-group = "dev"}]\n',
        "[tool.poetry.dependencies]\n",
        'python = "^3.11"\n',
        'flask = "^2.0"\n',
        'x = {version = "~1.2", optional = true}\n',
        "[tool.poetry.group.dev.dependencies]\n",
        "[",
        "]",
        '"',
        "=",
        "\n",
        "{",
        "}",
        "\x00",
    ]
)
CRONTAB = fragments(
    [
        "* * * * * /bin/sh scripts/run.sh\n",
        "@daily python3 jobs/clean.py --x\n",
        "0 5 * * 1 cd /x && ./a\n",
        "[Service]\n",
        "ExecStart=/usr/bin/python3 -m agents.main\n",
        "ExecStartPre=-/bin/true\n",
        '{"scripts": ["a.py"]}',
        "scripts:\n  - b.sh\n",
        "#",
        " ",
        "\t",
        "\x00",
        "\n",
        "'",
        '"',
    ]
)
SUFFIXES = st.sampled_from([".py", ".sh", ".js", ".c", ".yaml", ".toml", ".md", "Dockerfile", ".sql", ".txt"])
PATHS = st.one_of(
    st.lists(
        st.sampled_from(["src", "a b", "..", ".", "", "tmp", ".git", "x.py", "f.tmp", "~", "\n", "é"]),
        min_size=1,
        max_size=5,
    ).map("/".join),
    st.text(min_size=1, max_size=30),
)


def check_sites(sites: list[ports.PortSite], source: bytes) -> None:
    assert isinstance(sites, list)
    text = source.decode("utf-8", "replace")
    lines = max(len(text.splitlines()), text.count("\n") + text.count("\r")) + 2
    for site in sites:
        assert isinstance(site, ports.PortSite)
        assert 1 <= site.line <= lines
        assert site.role in ("bind", "connect", "listen", "config", "unknown", "skipped")
        assert site.via in ("ast", "fallback", "config", "skipped")
        assert site.port is None or 0 <= site.port <= ports.MAX_PORT
        assert isinstance(site.resolved, bool) and len(site.raw) <= ports.RAW_LIMIT
        assert not (site.resolved and site.port is None)
        storable(site.raw, site.host, site.context, site.socket_type)


@FUZZ
@given(CONFIG, st.sampled_from(["x.yaml", "x.json", "x.toml", ".env", "docker-compose.yml"]))
def test_ports_config(source: bytes, name: str) -> None:
    check_sites(timed(ports.extract_ports, name, source), source)


@FUZZ
@given(
    st.recursive(
        st.one_of(st.integers(-5, 70_000), st.text(max_size=10), st.booleans(), st.none()),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
        ),
        max_leaves=30,
    )
)
def test_ports_json_documents(data: Any) -> None:
    import json

    source = json.dumps(data, indent=1).encode()
    check_sites(timed(ports.extract_ports, "x.json", source), source)


@FUZZ
@given(PYTHON)
def test_ports_python(source: bytes) -> None:
    check_sites(timed(ports.extract_ports, "agent.py", source), source)


@FUZZ
@given(PYTHON, st.sampled_from(list(todos.DEFAULT_TAGS)))
def test_todos_python(source: bytes, tag: str) -> None:
    items = timed(todos.extract_todos, ".py", source)
    assert isinstance(items, list)
    for item in items:
        assert item.tag in todos.DEFAULT_TAGS and item.line >= 1 and item.via
        storable(item.text, item.scope, item.fingerprint)
    fingerprints = [i.fingerprint for i in items]
    assert len(fingerprints) == len(set(fingerprints))


@FUZZ
@given(st.one_of(PYTHON, CONFIG, CRONTAB), SUFFIXES)
def test_todos_other_languages(source: bytes, suffix: str) -> None:
    for item in timed(todos.extract_todos, suffix, source):
        assert item.tag in todos.DEFAULT_TAGS and item.line >= 1
        storable(item.text, item.scope)


@FUZZ
@given(PYTHON)
def test_findings_and_imports_and_complexity(source: bytes) -> None:
    for handler in timed(findings.broad_excepts, source):
        assert handler.line >= 1 and handler.kind in ("bare", "Exception", "BaseException")
        assert isinstance(handler.has_reason, bool)
    for site in timed(findings.gpu_sites, source):
        assert site.line >= 1 and site.kind
        storable(site.snippet)
    found = timed(imports.extract_imports, source)
    assert isinstance(found, imports.FileImports)
    for stmt in found.imports:
        assert stmt.line >= 1 and stmt.level >= 0 and stmt.via in ("ast", "fallback")
        storable(stmt.module, *stmt.names)
    storable(found.parse_error)
    report = timed(function_complexity, source)
    assert report.status
    for fn in report.functions:
        assert 1 <= fn.line <= fn.end_line and fn.complexity >= 1 and fn.rank in "ABCDEF"


@FUZZ
@given(
    REQUIREMENTS,
    st.dictionaries(
        st.sampled_from(["other.txt", "constraints.txt", "requirements.txt"]), REQUIREMENTS, max_size=3
    ),
)
def test_requirements(source: bytes, includes: dict[str, bytes]) -> None:
    decls = timed(requirements.parse_requirements_file, "requirements.txt", source, includes.get)
    check_declarations(decls)
    timed(requirements.find_drift, {"a": decls, "b": decls[::-1]})


@FUZZ
@given(PYPROJECT)
def test_pyproject(source: bytes) -> None:
    check_declarations(timed(requirements.parse_pyproject, "pyproject.toml", source))


def check_declarations(decls: list[requirements.Declaration]) -> None:
    for decl in decls:
        assert decl.kind in ("version", "url", "path", "editable", "error")
        assert decl.line >= 0
        assert (decl.error is not None) == (decl.kind == "error")
        assert len(decl.name) <= 1000
        storable(decl.name, decl.specifier, decl.marker, decl.raw, decl.error, decl.file, *decl.extras)


@FUZZ
@given(PATHS, st.one_of(st.none(), st.binary(max_size=300), CONFIG, PYTHON), st.booleans(), st.booleans())
def test_inventory_file_types(path: str, content: bytes | None, symlink: bool, submodule: bool) -> None:
    kind = timed(filetypes.classify_file, path, content, is_symlink=symlink, is_submodule=submodule)
    assert isinstance(kind, str) and kind
    assert isinstance(timed(filetypes.purpose, path, kind, content), str)
    marker = timed(filetypes.parse_expiry, content)
    if marker is not None:
        assert (marker.date is None) != (marker.error is None)
    assert isinstance(timed(filetypes.is_binary, content or b""), bool)


@FUZZ
@given(
    PATHS,
    st.booleans(),
    st.booleans(),
    st.integers(0, 10**12),
    st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2100, 1, 1)),
    st.integers(0, 5),
    st.one_of(st.none(), st.dates(min_value=dt.date(1970, 1, 2), max_value=dt.date(2100, 1, 1))),
    st.dictionaries(
        st.sampled_from(["crontab", "deploy/a.service", "automation.yaml", "x.timer"]), CRONTAB, max_size=3
    ),
)
def test_cleanup_rules(
    path: str,
    tracked: bool,
    ignored: bool,
    size: int,
    modified: dt.datetime,
    references: int,
    expires: dt.date | None,
    automation_files: dict[str, bytes],
) -> None:
    targets = timed(cleanup_rules.automation_targets, automation_files)
    assert all(isinstance(t, str) for t in targets)
    facts = cleanup_rules.FileFacts(
        path, tracked, ignored, size, modified.replace(tzinfo=dt.UTC), references, expires
    )
    verdict = timed(
        cleanup_rules.judge, facts, cleanup_rules.CleanupRules(), dt.date(2024, 6, 1), {}, targets
    )
    assert verdict.decision in ("keep", "candidate", "review") and verdict.rule and verdict.reason
    if cleanup_rules.unsafe_reason(path):
        assert verdict.decision == "keep"  # a path that is unsafe to touch is never a candidate


@FUZZ
@given(st.lists(st.tuples(PATHS, st.one_of(st.none(), PYTHON)), max_size=6))
def test_references(files: list[tuple[str, bytes | None]]) -> None:
    counts = timed(count_references, files)
    assert set(counts) <= {path for path, _ in files}
    for count in counts.values():
        assert count.references >= 0 and count.module_references >= 0
