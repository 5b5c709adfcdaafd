"""bandit one top-level statement at a time, with a memo of statements met before, finds exactly what
bandit's own ``BanditNodeVisitor.process`` finds: over hand-made cases that would trip an incomplete
memo key, and over standard-library files edited the way a day of churn edits them."""

from __future__ import annotations

import ast
import random
import sysconfig
from pathlib import Path

import pytest

from symphony_assets.analysis import security
from symphony_assets.analysis.pysource import decode_source
from symphony_assets_tests.oracles import bandit_whole_module, finding_order


def _by_memo(path: str, content: bytes) -> list[security.SecurityFinding]:
    lines = decode_source(content).splitlines()
    return sorted(security._bandit(path, content, ast.parse(content), lines), key=finding_order)


@pytest.fixture(autouse=True)
def _empty_memo():
    security._STATEMENT_MEMO.clear()
    yield
    security._STATEMENT_MEMO.clear()


def _count_visits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    visited: list[int] = []
    real = security._visit_statement

    def spy(visitor, statement, first):
        visited.append(first)
        return real(visitor, statement, first)

    monkeypatch.setattr(security, "_visit_statement", spy)
    return visited


#: Versions of one file, in order; each must come out as bandit alone finds it, memo warm from the last.
CASES: dict[str, list[str]] = {
    # The same call means another module once the alias before it changes.
    "alias": [
        "import pickle as p\n\ndef load(x):\n    return p.loads(x)\n",
        "import marshal as p\n\ndef load(x):\n    return p.loads(x)\n",
        "import json as p\n\ndef load(x):\n    return p.loads(x)\n",
    ],
    # An import inside a function changes how calls are read in the statements after it.
    "import in a function": [
        "def setup():\n    from subprocess import call as run\n\ndef go(cmd):\n    run(cmd, shell=True)\n",
        "def setup():\n    pass\n\ndef go(cmd):\n    run(cmd, shell=True)\n",
    ],
    # nosec comments on the statement's own lines, whole and per rule, and removed again.
    "nosec": [
        "import subprocess\nsubprocess.call(x, shell=True)\nassert x\n",
        "import subprocess\nsubprocess.call(x, shell=True)  # nosec\nassert x  # nosec B101\n",
        "import subprocess\nsubprocess.call(x, shell=True)  # nosec B101\nassert x  # nosec B602\n",
        "import subprocess\nsubprocess.call(x, shell=True)\nassert x\n",
    ],
    # Two statements on one line share their line's bytes.
    "one line": [
        "import os; os.system(cmd); eval(x)\n",
        "import os; eval(x); os.system(cmd)\n",
        "\n\nimport os; os.system(cmd); eval(x)\n",
    ],
    # Decorators above a function, moved down by a line inserted above them.
    "decorators": [
        "import flask\n@app.route('/x')\n@other(password='s3cr3t-Value!')\n"
        "def view(password='hunter2secret'):\n    return eval(x)\n",
        "import flask\n# moved\n@app.route('/x')\n@other(password='s3cr3t-Value!')\n"
        "def view(password='hunter2secret'):\n    return eval(x)\n",
    ],
    # A statement that moves, one that is edited, one added at the end.
    "churn": [
        "import subprocess\nimport pickle\n\ndef a(x):\n    return pickle.loads(x)\n\n"
        "def b(c):\n    subprocess.Popen(c, shell=True)\n    assert c\n",
        "import subprocess\nimport pickle\nimport json  # 1\n\ndef a(x):\n    # note\n"
        "    return pickle.loads(x)\n\ndef b(c):\n    subprocess.Popen(c, shell=True)\n    assert c\n",
        "import subprocess\nimport pickle\nimport json  # 1\n\ndef a(x):\n    # note\n"
        "    return pickle.loads(x)\n\ndef b(c):\n    subprocess.Popen(c, shell=False)\n    assert c\n\n"
        "def c():\n    exec('1')\n",
    ],
    # Module-level mark_safe: bandit's XSS check reads the whole module body for the variable.
    "mark_safe": [
        "from django.utils.safestring import mark_safe\nv = request.GET['x']\nmark_safe(v)\n",
        "from django.utils.safestring import mark_safe\nv = 'constant'\nmark_safe(v)\n",
    ],
    # Line endings ast counts and a form feed it does not.
    "line endings": [
        "import os\r\nos.system(x)\r\n\x0c\r\neval(y)\r\n",
        "import os\rx = 1\ros.system(x)\r\x0c\reval(y)\r",
        "import os\n\x0c\nos.system(x)\neval(y)\n",
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_statement_memo_finds_what_bandit_finds(name: str) -> None:
    for version in CASES[name]:
        content = version.encode()
        assert _by_memo("pkg/mod.py", content) == bandit_whole_module("pkg/mod.py", content), version


def test_a_latin1_cookie_changes_the_strings_so_the_memo_does_not_carry_over() -> None:
    # The same bytes below each cookie: the cookie alone decides what the string is (on a middle line,
    # so that no column offset, counted in UTF-8 bytes of the decoded text, tells them apart).
    body = "password = (\n    'caf\xe9-s3cr3t-value'\n)\nassert password\n".encode()
    latin = b"# -*- coding: latin-1 -*-\n" + body
    utf8 = b"# -*- coding: utf-8 -*-\n" + body
    for content in (utf8, latin, utf8):
        assert _by_memo("m.py", content) == bandit_whole_module("m.py", content)


def test_an_unchanged_statement_is_not_visited_again(monkeypatch: pytest.MonkeyPatch) -> None:
    visited = _count_visits(monkeypatch)
    functions = "".join(f"\n\ndef f{i}(x):\n    return eval(x)\n" for i in range(10))
    before = ("import os\n" + functions).encode()
    after = (
        "import os\n# a line above moves everything\n" + functions.replace("f3(x):\n", "f3(x, y):\n")
    ).encode()
    assert len(_by_memo("m.py", before)) == 10
    assert len(visited) == 11
    visited.clear()
    found = _by_memo("m.py", after)
    assert found == bandit_whole_module("m.py", after)
    assert len(visited) == 1  # only the edited function; the other nine moved a line and are reused
    assert [f.line for f in found] == [6 + 4 * i for i in range(10)]  # each eval, a line lower


def _stdlib_sample(count: int) -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.glob("*.py") if 2_000 < p.stat().st_size < 40_000)
    return random.Random(7).sample(files, count)


def _edits(rng: random.Random, text: str) -> list[str]:
    """Versions of a file as a day's churn makes them: a comment line inside, an import at the top
    (every statement below moves and the import state changes), a shell call appended, an alias."""
    lines = text.split("\n")
    at = rng.randrange(len(lines))
    commented = "\n".join(
        lines[:at] + [" " * (len(lines[at]) - len(lines[at].lstrip())) + "# note"] + lines[at:]
    )
    return [
        text,
        commented,
        "import subprocess as os\n" + commented,
        commented
        + "\n\ndef extra(cmd):\n    import subprocess\n    subprocess.call(cmd, shell=True)  # nosec B603\n",
        text,
    ]


def test_statement_memo_over_standard_library_files_and_their_edits() -> None:
    rng = random.Random(11)
    compared = 0
    for path in _stdlib_sample(25):
        text = path.read_text(encoding="utf-8")
        for version in _edits(rng, text):
            content = version.encode("utf-8")
            try:
                ast.parse(content)
            except SyntaxError:
                continue  # a comment line inside a string's continuation, say
            assert _by_memo(path.name, content) == bandit_whole_module(path.name, content), path.name
            compared += 1
    assert compared >= 100
    assert security._STATEMENT_MEMO  # the memo was used
