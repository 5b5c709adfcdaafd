"""Tolerant parsing: real files of the kinds that break ``ast.parse`` in real codebases."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

from symphony_assets.analysis.pysource import (
    comments,
    decode_source,
    enclosing_qualname,
    in_error,
    iter_nodes,
    node_line,
    node_text,
    parse_python,
    qualname_at,
    recover_python,
    recovered_comments,
    ts_tree,
)

PY2_FILE = b"""\
import os, sys
from util import helper  # py2 era

def main(argv):
    print "hello", argv
    try:
        run()
    except ValueError, e:
        print >>sys.stderr, `e`
    exec "x = 1" in {}
    mode = 0777
    return 10L
"""

MERGE_FILE = b"""\
import alpha
<<<<<<< HEAD
import beta  # ours
=======
import gamma  # theirs
>>>>>>> feature
class Widget:
    def render(self):
        import delta  # lazy
        return delta.draw(self)
"""


def _write(tmp_path: Path, name: str, data: bytes) -> bytes:
    path = tmp_path / name
    path.write_bytes(data)
    return path.read_bytes()


def test_valid_file_parses_and_is_not_python2(tmp_path: Path) -> None:
    src = _write(tmp_path, "ok.py", b"import os\nprint('x')\n")
    outcome = parse_python(src)
    assert outcome.ok and outcome.tree is not None
    assert outcome.error is None and outcome.error_line is None
    assert outcome.python2 is False


def test_python2_file(tmp_path: Path) -> None:
    src = _write(tmp_path, "legacy.py", PY2_FILE)
    outcome = parse_python(src)
    assert outcome.tree is None
    # the tokenizer rejects the octal literal before the parser sees the print statement
    assert outcome.error is not None and outcome.error_line == 11
    assert "leading zeros" in outcome.error
    assert outcome.python2 is True
    # tree-sitter still reads the whole file: both imports and the function are there.
    tree = ts_tree(src)
    imports = [node_text(n) for n in iter_nodes(tree, ("import_statement", "import_from_statement"))]
    assert imports == ["import os, sys", "from util import helper"]
    assert [c.text for c in comments(src)] == [" py2 era"]


def test_print_statement_message() -> None:
    outcome = parse_python(b"import os\nprint 'hi'\n")
    assert outcome.error is not None and "Missing parentheses in call to 'print'" in outcome.error
    assert outcome.error_line == 2 and outcome.python2


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (b"try:\n    f()\nexcept (A, B) as e:\n    pass\nx = `1`\n", True),
        (b"x = 0777 +\n", True),
        (b"exec code\nfoo(\n", True),
        (b"raise ValueError, 'bad'\n", True),
        (b"if a <> b:\n    pass\n", True),
        (b"x = 12L\n", True),
        (b"def f(:\n    return 0o777\n", False),
        (b"x = (\n", False),
    ],
)
def test_python2_heuristics_only_fire_on_python2_constructs(snippet: bytes, expected: bool) -> None:
    outcome = parse_python(snippet)
    assert outcome.tree is None
    assert outcome.python2 is expected


def test_merge_markers_keep_the_rest_usable(tmp_path: Path) -> None:
    src = _write(tmp_path, "conflicted.py", MERGE_FILE)
    outcome = parse_python(src)
    assert outcome.tree is None and outcome.error_line == 2
    assert outcome.python2 is False
    tree = ts_tree(src)
    assert tree.root_node.has_error
    names = {node_text(n): node_line(n) for n in iter_nodes(tree, ("import_statement",))}
    assert names == {"import alpha": 1, "import beta": 3, "import gamma": 5, "import delta": 9}
    lazy = next(n for n in iter_nodes(tree, ("import_statement",)) if node_text(n) == "import delta")
    assert enclosing_qualname(lazy) == "Widget.render"
    assert not in_error(lazy)
    top = next(n for n in iter_nodes(tree, ("import_statement",)) if node_text(n) == "import alpha")
    assert enclosing_qualname(top) == ""
    assert [(c.line, c.text) for c in comments(src)] == [(3, " ours"), (5, " theirs"), (9, " lazy")]
    errors = list(iter_nodes(tree, ("ERROR",)))
    assert errors and all(in_error(e) for e in errors)
    assert {node_line(e) for e in errors} >= {2, 4, 6}


def test_nul_bytes_never_raise(tmp_path: Path) -> None:
    src = _write(tmp_path, "nul.py", b"import os\x00\n# after nul\nimport sys\n")
    outcome = parse_python(src)
    assert outcome.tree is None
    assert outcome.error is not None and "null" in outcome.error
    texts = [c.text for c in comments(src)]
    assert texts == [" after nul"]
    tree = ts_tree(src)
    assert "import sys" in [node_text(n) for n in iter_nodes(tree, ("import_statement",))]


def test_deep_nesting_is_a_value_not_a_crash() -> None:
    outcome = parse_python(b"x = " + b"(" * 5000 + b"1" + b")" * 5000 + b"\n")
    assert outcome.tree is None and outcome.error
    outcome = parse_python(b"x = " + b"-" * 200_000 + b"1\n")
    assert outcome.tree is None and outcome.error
    assert sum(1 for _ in iter_nodes(ts_tree(b"x = " + b"[" * 3000 + b"]" * 3000 + b"\n"))) > 3000


def test_non_utf8_with_coding_cookie(tmp_path: Path) -> None:
    src = _write(
        tmp_path, "latin.py", "# -*- coding: latin-1 -*-\nname = 'café'  # señal\n".encode("latin-1")
    )
    assert decode_source(src) == "# -*- coding: latin-1 -*-\nname = 'café'  # señal\n"
    outcome = parse_python(src)
    assert outcome.ok
    assert [(c.line, c.col, c.text) for c in comments(src)] == [
        (1, 0, " -*- coding: latin-1 -*-"),
        (2, 15, " señal"),
    ]
    strings = [node_text(n) for n in iter_nodes(ts_tree(src), ("string_content",))]
    assert strings == ["café"]


def test_non_utf8_without_cookie(tmp_path: Path) -> None:
    src = _write(tmp_path, "raw.py", b"name = 'caf\xe9'  # se\xf1al\nimport os\n")
    text = decode_source(src)
    assert text.splitlines()[1] == "import os"
    assert "\ufffd" in text
    outcome = parse_python(src)
    assert outcome.tree is None and outcome.error
    found = comments(src)
    assert len(found) == 1 and found[0].line == 1 and found[0].text.startswith(" se")
    assert [node_text(n) for n in iter_nodes(ts_tree(src), ("import_statement",))] == ["import os"]


def test_bom_and_unknown_cookie() -> None:
    assert decode_source(b"\xef\xbb\xbfx = 1\n") == "x = 1\n"
    assert decode_source(b"# coding: no-such-codec\nx = '\xe9'\n").endswith("x = '\ufffd'\n")
    tree = ts_tree(b"\xef\xbb\xbfimport os\n")
    assert not tree.root_node.has_error


def test_docstring_hash_is_not_a_comment(tmp_path: Path) -> None:
    src = _write(
        tmp_path,
        "doc.py",
        b'def f():\n    """Usage:\n\n    # not a comment\n    """\n'
        b'    s = "# nor this"\n    return 1  # real\n',
    )
    assert [(c.line, c.text) for c in comments(src)] == [(7, " real")]
    # same on the fallback path: the file is made unparseable for tokenize (bad dedent).
    broken = src + b"  x = (\n   # also real\n"
    found = comments(broken)
    assert [c.text for c in found] == [" real", " also real"]
    assert all("not a comment" not in c.text for c in found)


def test_huge_string_literal_stays_fast(tmp_path: Path) -> None:
    src = _write(tmp_path, "blob.py", b'DATA = "' + b"ab" * 2_500_000 + b'"  # payload\nimport os\n')
    started = time.monotonic()
    assert parse_python(src).ok
    assert [c.text for c in comments(src)] == [" payload"]
    assert [node_text(n) for n in iter_nodes(ts_tree(src), ("import_statement",))] == ["import os"]
    broken = src + b"def (\n"
    assert parse_python(broken).tree is None
    assert [c.text for c in comments(broken)] == [" payload"]
    # a guard against quadratic behaviour only; the real cost is well under a second
    assert time.monotonic() - started < 20


def test_enclosing_qualname_nested_and_decorated() -> None:
    src = (
        b"class A:\n    @staticmethod\n    def m():\n"
        b"        def inner():\n            # here\n            pass\n"
    )
    tree = ts_tree(src)
    comment = next(iter_nodes(tree, ("comment",)))
    assert enclosing_qualname(comment) == "A.m.inner"
    inner = next(n for n in iter_nodes(tree, ("function_definition",)) if node_line(n) == 4)
    assert enclosing_qualname(inner) == "A.m.inner"


# ------------------------------------------------------------------------------------ recover_python


def _handler_lines(source: bytes) -> list[int]:
    tree = recover_python(source).tree
    return sorted(n.lineno for n in ast.walk(tree) if isinstance(n, ast.ExceptHandler))


def _anchored_excepts(source: bytes) -> list[int]:
    return [i for i, line in enumerate(source.decode().split("\n"), 1) if line.lstrip().startswith("except")]


RECOVERY_CASES = {
    # An unclosed bracket early used to swallow the rest of the file into one error.
    "unclosed_bracket": b"import os\nx = dict(a=1,\n\ndef f():\n    try:\n        g()\n"
    b"    except Exception:\n        pass\n\nclass A:\n    def m(self):\n        try:\n"
    b"            pass\n        except:\n            pass\n",
    # A single-quoted string left open ends at its line; a triple-quoted one that never closes stops
    # at the next definition, and a 'closer' glued to a word is the next docstring's opener.
    "unclosed_strings": b"s = 'never closed\nt = '''never closed\ndef f():\n    '''Doc.'''\n    try:\n"
    b"        pass\n    except ValueError:\n        pass\n",
    # Python 2: print statements (also between an if body and its elif), except E, e, backticks.
    "python2": b"def f(x):\n    if x:\n        y = 1\n    print 'x', `x`\n    elif y:\n        try:\n"
    b"            pass\n        except Exception, e:\n            print e\n    return x\n",
    # Merge-conflict markers around both sides of a handler.
    "merge": b"try:\n    a()\n<<<<<<< HEAD\nexcept KeyError:\n    pass\n=======\n"
    b"except (KeyError, ValueError):\n    pass\n>>>>>>> branch\n",
    # One-line clauses in Python 2 (from lib2to3's grammar test data).
    "one_liners": b"def f():\n    try: raise RuntimeError, 'just testing'\n"
    b"    except RuntimeError, msg: print msg\n    except: pass\n    else: pass\n",
    # Tabs and spaces mixed in indentation, as Python 2 allowed (tabs to multiples of 8).
    "tabs": b"def f():\n        try:\n\t    pass\n        except OSError:\n\t    return 1\n",
}


@pytest.mark.parametrize("name", sorted(RECOVERY_CASES))
def test_recovery_finds_every_handler_after_an_error(name: str) -> None:
    source = RECOVERY_CASES[name]
    assert parse_python(source).tree is None
    assert _handler_lines(source) == _anchored_excepts(source)


def test_recovery_keeps_structure_and_reports_what_it_skipped() -> None:
    source = RECOVERY_CASES["python2"]
    recovered = recover_python(source)
    assert recovered.recovered and recovered.outcome.python2
    (func,) = recovered.tree.body
    assert isinstance(func, ast.FunctionDef) and func.name == "f" and func.end_lineno == 10
    handler = next(n for n in ast.walk(func) if isinstance(n, ast.ExceptHandler))
    # ``except Exception, e`` keeps its type (a broad handler stays broad).
    assert isinstance(handler.type, ast.Name) and handler.type.id == "Exception" and handler.name == "e"
    assert recovered.skipped == ((4, 4), (8, 9))  # the stray print; the rewritten header and print e
    assert qualname_at(recovered.tree, 7) == "f"
    # A file that parses comes back as it is, nothing skipped.
    fine = recover_python(b"import os\n")
    assert not fine.recovered and fine.skipped == ()


def test_recovery_never_raises() -> None:
    blobs = [b"(" * 5000, b"\xff\xfe\x00garbage(", b"def f(:\n  pass\n" * 50, b"\x00\x00", b"'''", b"else:\n"]
    blobs.append(b"if x:\n" + b" " * 4 + b"if y:\n" * 300)
    for blob in blobs:
        assert isinstance(recover_python(blob).tree, ast.Module)


def test_recovered_comments_skip_strings_after_an_error() -> None:
    source = (
        b"x = (1,\n# real comment\ns = '# not a comment'\nt = '''\n# inside a string\n'''\ny = 2  # tail\n"
    )
    found = [(c.line, c.text) for c in recovered_comments(source)]
    assert found == [(2, " real comment"), (7, " tail")]


def test_an_unclosed_call_ends_at_the_next_statement_line() -> None:
    # After ``foo(1,`` a line at the same indentation that assigns or calls is a new statement; one
    # that ends in ``,`` (a keyword argument) is not.
    source = b"def f():\n    x = foo(1,\n    y = bar(2)\n    z = 3\n    w = dict(\n    a=1,\n    )\n"
    tree = recover_python(source).tree
    names = [
        t.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    ]
    assert sorted(names) == ["w", "y", "z"]
