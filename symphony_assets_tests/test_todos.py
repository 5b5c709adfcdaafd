"""Markers in comments: found only in comments, with fingerprints that follow a marker through edits."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from symphony_assets.analysis.todos import (
    VIA_LEXER,
    VIA_RECOVERED,
    VIA_TOKENIZE,
    TodoItem,
    comment_style,
    extract_todos,
)
from symphony_assets_tests.gitrepo import GitRepo

# Marker words split so this test file holds no marker of its own.
TD = "TO" + "DO"
FM = "FIX" + "ME"
HK = "HA" + "CK"
XX = "X" + "XX"


def _blob(repo: GitRepo, rev: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=repo.root, capture_output=True, check=True
    ).stdout


MODULE = f'''"""Service module."""

import os

# {TD}: make this configurable
LIMIT = 10


def load(path):
    # {TD}: handle missing files
    return open(path).read()


def save(path, data):
    # {TD}: handle missing files
    with open(path, "w") as fh:
        fh.write(data)


class Store:
    def put(self, key):
        # {FM}: race with the reaper
        return key
'''


def test_identical_texts_in_two_functions_get_different_fingerprints() -> None:
    items = extract_todos(".py", MODULE.encode())
    by_scope = {i.scope: i for i in items if i.text == "handle missing files"}
    assert set(by_scope) == {"load", "save"}
    assert by_scope["load"].fingerprint != by_scope["save"].fingerprint
    assert {i.scope for i in items} == {"<module>", "load", "save", "Store.put"}
    assert all(i.via == VIA_TOKENIZE for i in items)
    fix = next(i for i in items if i.tag == FM)
    assert (fix.line, fix.text) == (22, "race with the reaper")


def test_repeats_in_one_scope_are_told_apart_by_occurrence() -> None:
    src = f"def f():\n    # {TD}: same\n    x = 1\n    # {TD}: same\n    return x\n"
    items = extract_todos(".py", src.encode())
    assert len(items) == 2
    assert items[0].fingerprint != items[1].fingerprint


def test_fingerprint_survives_moves_edits_and_renames(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("pkg/service.py", MODULE)
    first = repo.commit("add", when="2024-06-01T12:00:00+00:00")

    # Moved 10 lines down: code inserted above it.
    moved = MODULE.replace("import os\n", "import os\n" + "".join(f"X{i} = {i}\n" for i in range(10)))
    repo.write("pkg/service.py", moved)
    second = repo.commit("insert", when="2024-06-02T12:00:00+00:00")

    # Edited elsewhere (another function changed, whitespace inside the marker re-spaced), then renamed.
    edited = moved.replace("return key", "return key.upper()").replace(
        f"# {FM}: race with the reaper", f"#   {FM}:  race   with the reaper"
    )
    repo.remove("pkg/service.py")
    repo.write("lib/storage_service.py", edited)
    third = repo.commit("rename", when="2024-06-03T12:00:00+00:00")

    before = extract_todos(".py", _blob(repo, first, "pkg/service.py"))
    after_move = extract_todos(".py", _blob(repo, second, "pkg/service.py"))
    after_rename = extract_todos(".py", _blob(repo, third, "lib/storage_service.py"))

    assert [i.line + 10 for i in before] == [i.line for i in after_move]
    assert [i.fingerprint for i in before] == [i.fingerprint for i in after_move]
    assert [i.fingerprint for i in before] == [i.fingerprint for i in after_rename]

    # Changing the text itself is a different marker.
    reworded = extract_todos(".py", edited.replace("handle missing files", "handle absent files", 1).encode())
    assert {i.fingerprint for i in reworded} != {i.fingerprint for i in before}


def test_markers_in_strings_docstrings_and_identifiers_are_not_found() -> None:
    src = (
        f'"""Module doc: # {TD}: not a comment."""\n'
        f"{TD.lower()}_list = []\n"
        f"{TD}_COUNT = 3\n"
        f"message = '# {TD}: inside a string'\n"
        f'query = f"{{x}} # {FM} in an f-string"\n'
        f"def {TD.lower()}s():\n"
        f"    '''# {HK} in a docstring'''\n"
        f"    return '{XX}'\n"
        f"# see {TD}_LIST and my{TD}s for details\n"
    )
    assert extract_todos(".py", src.encode()) == []


def test_python2_file_is_read_through_the_tree_sitter_fallback() -> None:
    src = (
        "def main():\n"
        f"    print 'hello'  # {TD}: port to python 3\n"
        "        pass\n"
        "      x = 1  # a dedent that matches no outer level: tokenize gives up here\n"
    )
    items = extract_todos(".py", src.encode())
    assert [(i.tag, i.text, i.line, i.scope, i.via) for i in items] == [
        (TD, "port to python 3", 2, "main", VIA_RECOVERED)
    ]


def test_clean_python2_file_keeps_scopes() -> None:
    src = (
        "class Old:\n"
        "    def run(self):\n"
        f"        print `self`  # {TD}: repr via backticks\n"
        "        exec 'x = 0777'\n"
    )
    items = extract_todos(".py", src.encode())
    assert [(i.text, i.scope) for i in items] == [("repr via backticks", "Old.run")]


def test_merge_markers_do_not_hide_markers() -> None:
    src = (
        "def f():\n"
        "<<<<<<< HEAD\n"
        f"    return 1  # {TD}: ours\n"
        "=======\n"
        f"    return 2  # {TD}: theirs\n"
        ">>>>>>> feature\n"
    )
    items = extract_todos(".py", src.encode())
    assert [(i.text, i.line) for i in items] == [("ours", 3), ("theirs", 5)]


def test_the_scope_is_the_same_when_the_file_stops_parsing() -> None:
    good = f"class A:\n    def m(self):\n        x = 1\n        # {TD}: trailing\n\n\ny = 2\n"
    broken = good + "print 'py2 tail'\n"
    ok_items, broken_items = extract_todos(".py", good.encode()), extract_todos(".py", broken.encode())
    assert ok_items[0].scope == "A.m"
    assert ok_items[0].fingerprint == broken_items[0].fingerprint


def test_other_languages_use_their_comment_syntax() -> None:
    ts = (
        f'const a = "// {TD} not a comment"; // {TD}: real\n'
        f"const b = `template\n// {TD} inside template`;\n"
        f"/* {FM}: block start\n * {HK}: second line */\n"
    )
    assert [(i.tag, i.text, i.line, i.via) for i in extract_todos(".ts", ts.encode())] == [
        (TD, "real", 1, VIA_LEXER),
        (FM, "block start", 4, VIA_LEXER),
        (HK, "second line", 5, VIA_LEXER),
    ]
    rust = f"fn f<'a>(x: &'a str) -> char {{ '\"' }} // {TD}: lifetimes\n"
    assert [i.text for i in extract_todos(".rs", rust.encode())] == ["lifetimes"]
    shell = f"echo $# '# {TD} quoted' # {TD}: shell\nkey: it's fine # {XX}: yaml\n"
    assert [i.text for i in extract_todos(".sh", shell.encode())] == ["shell", "yaml"]
    docker = f"FROM python:3.11\n# {TD}: pin digest\nRUN echo hi\n"
    assert [i.line for i in extract_todos("Dockerfile", docker.encode())] == [2]
    sql = f"select '-- {TD} no' as x; -- {TD}: index\n/* {FM}: drop */\n"
    assert [i.text for i in extract_todos(".sql", sql.encode())] == ["index", "drop"]
    lua = f"local s = '-- {TD} no' -- {TD}: lua\n--[[ {FM}: block ]]\n"
    assert [i.text for i in extract_todos(".lua", lua.encode())] == ["lua", "block"]
    md = f"# {TD} is a heading, not a comment\n<!-- {TD}: write docs -->\n"
    assert [(i.text, i.line) for i in extract_todos(".md", md.encode())] == [("write docs", 2)]
    assert extract_todos(".csv", f"# {TD}: data\n".encode()) == []


def test_comment_style_table() -> None:
    assert comment_style(".py") == "python"
    assert comment_style("Dockerfile") == "hash"
    assert comment_style("app.Dockerfile") == "hash"
    assert comment_style(".YML") == "hash"
    assert comment_style(".go") == "go"
    assert comment_style(".bin") is None


def test_custom_tags_and_json_round_trip() -> None:
    src = f"# NOTE: keep\n# {TD}: skip\n"
    items = extract_todos(".py", src.encode(), tags=("NOTE",))
    assert [(i.tag, i.text) for i in items] == [("NOTE", "keep")]
    items = extract_todos(".py", MODULE.encode())
    restored = [TodoItem.from_dict(d) for d in json.loads(json.dumps([i.to_dict() for i in items]))]
    assert restored == items


def test_non_utf8_and_binary_input_do_not_crash() -> None:
    latin = f"# -*- coding: latin-1 -*-\n# {TD}: caf\xe9\n".encode("latin-1")
    assert [i.text for i in extract_todos(".py", latin)] == ["caf\xe9"]
    junk = bytes(range(256)) * 4
    assert isinstance(extract_todos(".py", junk), list)
    assert isinstance(extract_todos(".c", junk), list)


def _with_tree(source: bytes) -> list[TodoItem]:
    import ast

    return extract_todos(".py", source, tree=ast.parse(source))


def test_tokenizing_near_markers_finds_what_the_whole_file_gives() -> None:
    """With the caller's ``ast`` only the statements holding a marker word are tokenized; the
    markers, lines, scopes, fingerprints and ``via`` must be those of the whole-file pass."""
    source = f'''\
"""Module doc: {TD} in a docstring is not a marker."""
import os  # {TD}: drop os
x = 1; y = (
    2,  # {TD} inside brackets of the second statement on a line
)
z = 3 + \\
    4  # {TD} after a backslash continuation


@decorator(  # {TD}: decorator argument
    "# {TD} in a string",
)
class Outer:
    """# {TD} in a class docstring."""

    def method(self):
        s = """
# {TD} inside a triple-quoted string
"""
        return s  # {TD}: method body

        # {TD} trailing comment, indented, after the last statement

# {TD} between statements
def last():
    pass  # {TD} last line, no newline at the end'''.encode()
    whole = extract_todos(".py", source)
    firsts = ["drop", "inside", "after", "decorator", "method", "trailing", "between", "last"]
    assert [t.text.split()[0] for t in whole] == firsts
    assert _with_tree(source) == whole
    # ... and it did come from the near-marker pass, which tokenized less than the whole file.
    import ast

    from symphony_assets.analysis.todos import _comments_near_markers, _tag_pattern, statement_spans

    spans = statement_spans(ast.parse(source))
    near = _comments_near_markers(source, spans, _tag_pattern(("TO" + "DO",)))
    assert near is not None and len(near) == 8
    crlf = source.replace(b"\n", b"\r\n")  # ast and tokenize count lone CRs differently: whole file
    assert _with_tree(crlf) == extract_todos(".py", crlf) == whole


def test_tokenizing_near_markers_on_real_files() -> None:
    import pathlib
    import random

    import radon

    import symphony_assets.analysis as analysis

    rng = random.Random(3)
    paths = sorted(pathlib.Path(radon.__file__).parent.rglob("*.py"))
    paths += sorted(pathlib.Path(analysis.__file__).parent.glob("*.py"))
    checked = 0
    for path in paths:
        lines = path.read_bytes().split(b"\n")
        for k in range(5):  # comment lines parse anywhere: in code, in brackets, inside strings
            lines.insert(
                rng.randrange(len(lines) + 1), b" " * rng.choice([0, 4, 8]) + f"# {TD}: {k}".encode()
            )
        source = b"\n".join(lines)
        whole = extract_todos(".py", source)
        assert _with_tree(source) == whole, path
        checked += len(whole)
    assert checked > 100


def test_prose_that_mentions_a_tag_is_not_a_marker() -> None:
    src = (
        f"# Mark {TD} as done\n"
        f"# Generic {TD} structure\n"
        f"# {TD} starts this comment\n"
        f"x = 1  # later: {TD}: followed by a colon\n"
        f"# ask bob ({TD}(bob): parenthesised owner)\n"
        f"# {TD}-{FM} - both tags, pylint misses this one\n"
        f"## {TD} after a doubled hash\n"
        f"# the {FM}! shout\n"
        f"# words {XX} words\n"
    )
    items = extract_todos(".py", src.encode())
    assert [(i.line, i.tag) for i in items] == [(3, TD), (4, TD), (5, TD), (6, TD), (7, TD), (8, FM)]
    assert items[3].text == f"{FM} - both tags, pylint misses this one"
    # The same rule holds in other languages' comments.
    js = f"// Mark {TD} as done\n// {TD}: real one\n/* a {FM} in prose */\n"
    assert [(i.line, i.tag) for i in extract_todos(".js", js.encode())] == [(2, TD)]
