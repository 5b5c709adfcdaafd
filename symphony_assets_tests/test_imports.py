"""Import graph and cycles over real package trees written to temp dirs."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

import dagster
import pytest

from symphony_assets.analysis.imports import cycles as cycles_module
from symphony_assets.analysis.imports.cycles import find_cycles
from symphony_assets.analysis.imports.extract import _ast_imports, _bindings, _keyword_lines, extract_imports
from symphony_assets.analysis.imports.modules import ModuleIndex, build_module_index
from symphony_assets.analysis.imports.resolve import Edge, resolve_imports
from symphony_assets.analysis.imports.statements import (
    IMPORT_TIME_KINDS,
    KINDS,
    LATENT_KINDS,
    FileImports,
    ImportStmt,
)
from symphony_assets.analysis.pysource import parse_python


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)


def graph(
    root: Path, source_roots: Sequence[str] = (), external: frozenset[str] = frozenset()
) -> tuple[ModuleIndex, dict[str, FileImports], list[Edge]]:
    """What an asset does: read every file under ``root``, extract, index, resolve."""
    paths = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            paths.append(Path(folder, name).relative_to(root).as_posix())
    imports = {p: extract_imports((root / p).read_bytes()) for p in paths if p.endswith(".py")}
    index = build_module_index(paths, source_roots)
    return index, imports, resolve_imports(index, imports, external)


def pairs(edges: Sequence[Edge]) -> set[tuple[str, str]]:
    return {(e.importer, e.imported) for e in edges}


def test_relative_imports_levels_and_submodule_vs_name(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "app/__init__.py": "VERSION = 1\n",
            "app/core/__init__.py": "from . import models, CONSTANT\nCONSTANT = 2\n",
            "app/core/models.py": "from .. import VERSION\n",
            "app/core/db/__init__.py": "",
            "app/core/db/engine.py": (
                "from . import pool\nfrom .. import models\nfrom ... import util\n"
                "from ...util import helper\n"
                "from .pool import Pool\n"
            ),
            "app/core/db/pool.py": "from .... import too_far\n",
            "app/util.py": "def helper(): ...\n",
        },
    )
    index, imports, edges = graph(tmp_path)
    engine = imports["app/core/db/engine.py"].imports
    assert [(s.module, s.names, s.level) for s in engine] == [
        ("", ("pool",), 1),
        ("", ("models",), 2),
        ("", ("util",), 3),
        ("util", ("helper",), 3),
        ("pool", ("Pool",), 1),
    ]
    got = {(e.importer, e.imported, e.line) for e in edges}
    assert got == {
        ("app.core", "app.core.models", 1),  # submodule
        ("app.core.models", "app", 1),  # a name defined in app/__init__.py
        ("app.core.db.engine", "app.core.db.pool", 1),
        ("app.core.db.engine", "app.core.models", 2),
        ("app.core.db.engine", "app.util", 3),
        ("app.core.db.engine", "app.util", 4),
        ("app.core.db.engine", "app.core.db.pool", 5),
    }
    # `from . import CONSTANT` inside app/core/__init__.py is a self-import: no edge.
    assert ("app.core", "app.core") not in pairs(edges)
    assert index.module_for_path("app/core/db/__init__.py") == "app.core.db"
    assert index.is_package("app.core.db") and not index.is_package("app.util")


def test_namespace_packages(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "company/billing/invoice.py": "from company.billing import tax\nimport company.shipping.rates\n",
            "company/billing/tax.py": "",
            "company/shipping/rates.py": "from company import billing\n",
        },
    )
    index, _, edges = graph(tmp_path)
    assert {"company", "company.billing", "company.shipping"} <= index.namespace_packages
    assert index.is_package("company.billing")
    # `from company import billing` names a namespace package: there is no file to point at.
    assert pairs(edges) == {
        ("company.billing.invoice", "company.billing.tax"),
        ("company.billing.invoice", "company.shipping.rates"),
    }


def test_stdlib_and_installed_names_never_resolve_to_repo_folders(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "common/__init__.py": "",
            "common/logging/__init__.py": "import logging\nLOG = logging.getLogger()\n",
            "common/json.py": "import json\n",
            "requests/__init__.py": "",
            "app.py": (
                "import logging\nimport json\nimport requests\nfrom common import logging as clog\n"
                "from common.logging import LOG\nimport common.json\n"
            ),
        },
    )
    _, _, edges = graph(tmp_path, external=frozenset({"requests"}))
    assert pairs(edges) == {("app", "common.logging"), ("app", "common.json")}
    assert [e.line for e in edges if e.imported == "common.logging"] == [4, 5]
    # Without the installed-name list, the vendored top-level folder is the repo's own module.
    _, _, edges = graph(tmp_path)
    assert ("app", "requests") in pairs(edges)


def test_duplicate_module_claims(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "tools.py": "",
            "tools/__init__.py": "",
            "tools/run.py": "import tools\n",
            "libs/a/shared/__init__.py": "",
            "libs/b/shared/__init__.py": "",
            "libs/b/shared/extra.py": "from shared import extra\n",
        },
    )
    index, _, edges = graph(tmp_path, source_roots=["libs/a", "libs/b"])
    dups = {d.module: d for d in index.duplicates}
    assert set(dups) == {"tools", "shared"}
    assert dups["tools"].paths == ("tools.py", "tools/__init__.py")
    assert dups["tools"].winner == "tools/__init__.py"  # a package beats a module in the same folder
    assert dups["shared"].winner == "libs/a/shared/__init__.py"  # first root on the search path
    assert index.module_for_path("tools.py") == "tools"
    # shared.extra importing itself through the package is a self-import: no edge.
    assert {(e.importer, e.imported, e.imported_path) for e in edges} == {
        ("tools.run", "tools", "tools/__init__.py"),
    }


def test_src_layout_and_custom_source_roots(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "src/mylib/__init__.py": "from mylib.core import run\n",
            "src/mylib/core.py": "",
            "tests/test_core.py": "from mylib import core\nimport src.mylib\n",
            "services/api/handlers.py": "import models\nfrom mylib import core\n",
            "services/api/models.py": "",
            "my-scripts/run-it.py": "import mylib\n",
        },
    )
    index, _, edges = graph(tmp_path)
    assert index.roots == ("src", "")
    assert index.module_for_path("src/mylib/core.py") == "mylib.core"
    assert index.module_for_path("services/api/models.py") == "services.api.models"
    assert pairs(edges) == {
        ("mylib", "mylib.core"),
        ("tests.test_core", "mylib.core"),
        ("services.api.handlers", "mylib.core"),
        ("my-scripts.run-it", "mylib"),
    }
    index, _, edges = graph(tmp_path, source_roots=["src", "services/api"])
    assert index.module_for_path("services/api/models.py") == "models"
    assert ("handlers", "models") in pairs(edges)
    assert not index.has_module("my-scripts.run-it")  # named, but nothing can import it


def test_import_kinds(tmp_path: Path) -> None:
    source = """\
import a
from typing import TYPE_CHECKING
import typing
try:
    import b
except ImportError:
    import c
else:
    import c2
finally:
    import c3
if TYPE_CHECKING:
    import d
else:
    import e
if typing.TYPE_CHECKING:
    import f
if not TYPE_CHECKING:
    import g
if sys.version_info >= (3, 11):
    import h
elif os.name == "nt":
    import i
class K:
    import j
    def m(self):
        import k
        if TYPE_CHECKING:
            import l
def outer():
    try:
        import m
    except ImportError:
        pass
if __name__ == "__main__":
    import n
with ctx():
    import o
for x in y:
    import p
if TYPE_CHECKING:
    try:
        import q
    except ImportError:
        pass
try:
    if cond:
        import r
except ImportError:
    pass
"""
    expected = {
        "a": "module",
        "typing": "module",
        "b": "try",
        "c": "try",
        "c2": "try",
        "c3": "try",
        "d": "type_checking",
        "e": "conditional",
        "f": "type_checking",
        "g": "conditional",
        "h": "conditional",
        "i": "conditional",
        "j": "module",
        "k": "function",
        "l": "function",
        "m": "function",
        "n": "main",
        "o": "module",
        "p": "module",
        "q": "type_checking",
        "r": "conditional",
    }
    write_tree(tmp_path, {"kinds.py": source, "broken.py": source + "def broken(:\n"})
    parsed = extract_imports((tmp_path / "kinds.py").read_bytes())
    assert parsed.via == "ast"
    assert {s.module: s.kind for s in parsed.imports} == expected
    # The tree-sitter fallback reads the same file (made unparseable at its end) the same way.
    fallback = extract_imports((tmp_path / "broken.py").read_bytes())
    assert fallback.via == "fallback" and fallback.parse_error
    assert fallback.parse_error_line == source.count("\n") + 1
    assert {s.module: s.kind for s in fallback.imports} == expected
    strip = [(s.module, s.names, s.level, s.line, s.kind) for s in parsed.imports]
    assert [(s.module, s.names, s.level, s.line, s.kind) for s in fallback.imports] == strip
    assert {s.via for s in fallback.imports} == {"fallback"}


def test_unparseable_files_still_give_edges(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "legacy/__init__.py": "",
            "legacy/old.py": (
                b"import os\nfrom legacy import newer\nfrom . import helpers\n"
                b"print 'hello'\ntry:\n    import legacy.optional as opt\n"
                b"except ImportError, e:\n    opt = None\n"
            ),
            "legacy/helpers.py": (
                b"<<<<<<< HEAD\nfrom legacy import old\n=======\nfrom legacy import newer\n>>>>>>> x\n"
            ),
            "legacy/newer.py": b"\x00import legacy.helpers\n",
            "legacy/optional.py": "",
        },
    )
    _, imports, edges = graph(tmp_path)
    old = imports["legacy/old.py"]
    assert old.via == "fallback" and old.python2 and old.parse_error_line == 4
    assert {e.via for e in edges} == {"fallback"}
    assert {(e.importer, e.imported, e.line, e.kind) for e in edges} == {
        ("legacy.old", "legacy.newer", 2, "module"),
        ("legacy.old", "legacy.helpers", 3, "module"),
        ("legacy.old", "legacy.optional", 6, "try"),
        ("legacy.helpers", "legacy.old", 2, "module"),
        ("legacy.helpers", "legacy.newer", 4, "module"),
        ("legacy.newer", "legacy.helpers", 1, "module"),
    }
    assert not imports["legacy/helpers.py"].python2
    report = find_cycles(edges)
    assert [c.modules for c in report.real] == [("legacy.helpers", "legacy.newer", "legacy.old")]


def test_function_and_type_checking_cycles_are_latent(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "svc/__init__.py": "",
            "svc/orders.py": "from svc import users\n",
            "svc/users.py": "def load():\n    from svc import orders\n",
            "svc/types.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from svc.users import U\n"
            ),
            "svc/view.py": "from svc import types\n",
        },
    )
    write_tree(tmp_path, {"svc/users.py": "from svc import view\ndef load():\n    from svc import orders\n"})
    _, _, edges = graph(tmp_path)
    report = find_cycles(edges)
    assert report.real == ()
    assert len(report.latent) == 1
    cycle = report.latent[0]
    assert cycle.modules == ("svc.orders", "svc.types", "svc.users", "svc.view")
    assert cycle.cycle_id.startswith("latent-")
    # The loop shows a latent import; the shortest such loop is orders <-> users.
    assert cycle.loop_text == "svc.users:3 -> svc.orders:1 -> svc.users"
    assert cycle.loop[0].kind == "function"
    # Only latent imports are offered for cutting, and cutting them removes the component.
    assert {(e.importer, e.imported, e.kind) for e in cycle.cut} == {
        ("svc.users", "svc.orders", "function"),
        ("svc.types", "svc.users", "type_checking"),
    }
    assert find_cycles([e for e in edges if e not in cycle.cut]).cycles == ()


def _edge(a: str, b: str, line: int = 1, kind: str = "module") -> Edge:
    return Edge(a, b, a.replace(".", "/") + ".py", b.replace(".", "/") + ".py", line, kind, "ast")


def test_three_module_cycle_shortest_loop_and_cut(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/cart.py": "import os\nfrom shop import pricing\n",
            "shop/pricing.py": '"""Prices."""\n\nfrom shop.tax import rate\n',
            "shop/tax.py": "from shop import cart\n",
        },
    )
    _, _, edges = graph(tmp_path)
    report = find_cycles(edges)
    assert report.latent == () and len(report.real) == 1
    cycle = report.real[0]
    assert cycle.modules == ("shop.cart", "shop.pricing", "shop.tax") and cycle.size == 3
    assert cycle.loop_text == "shop.cart:2 -> shop.pricing:3 -> shop.tax:1 -> shop.cart"
    assert [e.importer_path for e in cycle.loop] == ["shop/cart.py", "shop/pricing.py", "shop/tax.py"]
    assert len(cycle.cut) == 1 and cycle.cut[0] in edges
    assert find_cycles([e for e in edges if e not in cycle.cut]).cycles == ()


def test_shortest_loop_among_several_and_shared_edge_cut() -> None:
    # Two loops through the same import a->b: cutting that one import breaks both.
    edges = [_edge("a", "b"), _edge("b", "c"), _edge("c", "d"), _edge("d", "a"), _edge("b", "a", 4)]
    edges += [_edge("b", "e"), _edge("e", "a")]
    report = find_cycles(edges)
    cycle = report.real[0]
    assert cycle.size == 5
    assert cycle.loop_text in {"a:1 -> b:4 -> a", "b:4 -> a:1 -> b"}
    cut = {(e.importer, e.imported) for e in cycle.cut}
    assert cut == {("a", "b")}


def test_two_loops_through_one_module_need_two_cuts(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/cart.py": "import os\nfrom shop import pricing\nfrom shop import catalog\n",
            "shop/pricing.py": "\n\nfrom shop.tax import rate\n",
            "shop/tax.py": "from shop import cart\n",
            "shop/catalog.py": "from shop import stock\n",
            "shop/stock.py": "from shop import warehouse\n",
            "shop/warehouse.py": "from shop import cart\n",
        },
    )
    _, _, edges = graph(tmp_path)
    report = find_cycles(edges)
    assert len(report.cycles) == 1
    cycle = report.cycles[0]
    assert not cycle.latent and cycle.size == 6
    assert cycle.loop_text == "shop.cart:2 -> shop.pricing:3 -> shop.tax:1 -> shop.cart"
    assert [e.importer_path for e in cycle.loop] == ["shop/cart.py", "shop/pricing.py", "shop/tax.py"]
    # The loops share a module but no import: one import per loop must go.
    assert len(cycle.cut) == 2
    remaining = [e for e in edges if e not in cycle.cut]
    assert find_cycles(remaining).cycles == ()


def test_real_cycle_inside_latent_component() -> None:
    edges = [
        _edge("a", "b"),
        _edge("b", "a", 2),
        _edge("b", "c", 3, "function"),
        _edge("c", "a", 1),
        _edge("a", "c", 5, "conditional"),
        _edge("c", "d", 2, "type_checking"),
        _edge("d", "a"),
    ]
    report = find_cycles(edges)
    assert [c.modules for c in report.real] == [("a", "b", "c")]
    assert report.real[0].loop_text in {"a:1 -> b:2 -> a", "b:2 -> a:1 -> b", "a:5 -> c:1 -> a"}
    assert [c.modules for c in report.latent] == [("a", "b", "c", "d")]
    latent = report.latent[0]
    assert {(e.importer, e.imported) for e in latent.cut} == {("c", "d")}
    assert latent.loop[0].kind in {"function", "type_checking"}
    cut = set(latent.cut)
    after = find_cycles([e for e in edges if e not in cut])
    assert after.latent == () and [c.modules for c in after.real] == [("a", "b", "c")]
    # a function import alongside an import-time one for the same pair is still import-time
    both = find_cycles([_edge("x", "y"), _edge("y", "x", 1), _edge("y", "x", 9, "function")])
    assert len(both.real) == 1 and both.latent == ()
    assert [e.line for e in both.real[0].cut if e.importer == "y"] in ([], [1])


def test_big_scc_is_fast_and_cut_is_verified(tmp_path: Path) -> None:
    n = 500
    files = {"big/__init__.py": ""}
    for i in range(n):
        targets = {(i + 1) % n, (i * 7 + 3) % n, (i * 13 + 5) % n}
        body = "".join(f"from big import m{t}\n" for t in sorted(targets) if t != i)
        body += f"def later():\n    from big import m{(i * 31 + 11) % n}\n"
        files[f"big/m{i}.py"] = body
    write_tree(tmp_path, files)
    _, _, edges = graph(tmp_path)
    started = time.monotonic()
    report = find_cycles(edges)
    elapsed = time.monotonic() - started
    assert len(report.real) == 1 and report.real[0].size == n
    cycle = report.real[0]
    assert 2 <= len(cycle.loop) < 20
    for step, nxt in zip(cycle.loop, [*cycle.loop[1:], cycle.loop[0]]):
        assert step.imported == nxt.importer
    assert 0 < len(cycle.cut) < len(edges) // 2
    assert find_cycles([e for e in edges if e not in cycle.cut and e.kind == "module"]).cycles == ()
    assert elapsed < 5  # a guard only; it runs in a fraction of a second


def test_long_chain_needs_no_recursion() -> None:
    n = 20_000
    edges = [_edge(f"m{i}", f"m{i + 1}") for i in range(n)] + [_edge(f"m{n}", "m0", 7)]
    report = find_cycles(edges)
    assert len(report.real) == 1 and report.real[0].size == n + 1
    assert len(report.real[0].loop) == n + 1
    assert len(report.real[0].cut) == 1


def test_json_round_trip(tmp_path: Path) -> None:
    write_tree(tmp_path, {"x.py": "import a, b.c\nfrom .. import (d, e)\nprint 'x'\n"})
    parsed = extract_imports((tmp_path / "x.py").read_bytes())
    assert parsed.via == "fallback" and parsed.python2
    text = parsed.to_json()
    assert FileImports.from_json(text) == parsed
    good = extract_imports(b"from x import *\ndef f():\n    import y\n")
    assert FileImports.from_json(good.to_json()) == good
    assert good.imports[0] == ImportStmt("x", ("*",), 0, 1, "module", "ast")
    with pytest.raises(ValueError):
        FileImports.from_json('{"v": 999}')
    with pytest.raises(ValueError):
        FileImports.from_json('{"v": 1, "imports": [[1]]}')


# --------------------------------------------------------------------------------------------------
# Speed-ups that must not change results: the pruned statement walk, the bounded loop search, the
# constrained order and work budget of latent cuts.


def _full_walk(source: bytes) -> FileImports:
    """The reference: every statement of the tree visited, no pruning."""
    outcome = parse_python(source)
    assert outcome.tree is not None
    return FileImports(imports=tuple(_ast_imports(outcome.tree)), bindings=_bindings(outcome.tree))


def test_pruned_walk_equals_full_walk_on_real_files() -> None:
    # Every module of an installed real package (dagster, ~800 files) plus our own code.
    roots = [Path(dagster.__file__).parent, Path(__file__).parents[1] / "symphony_assets"]
    files = sorted(p for root in roots for p in root.rglob("*.py"))
    assert len(files) > 500
    pruned = compared = 0
    for path in files:
        source = path.read_bytes()
        if parse_python(source).tree is None:
            continue
        compared += 1
        pruned += _keyword_lines(source) is not None
        assert extract_imports(source) == _full_walk(source), path
    assert compared > 500 and pruned > compared * 0.9  # the fast path is the common one


@pytest.mark.parametrize(
    "source",
    [
        # The keyword on a continuation line, deep in nested blocks of every kind.
        b"def f():\n    if x:\n        pass\n    else:\n        from a \\\n            import b\n",
        b"class A:\n    @dec\n    def m(self):\n        try:\n            pass\n"
        b"        finally:\n            from . \\\n                import c\n",
        b"if TYPE_CHECKING:\n    pass\nelif y:\n    with z:\n        for i in j:\n"
        b"            while k:\n                from a import (\n                    b,\n"
        b"                    c)\n",
        b"match x:\n    case 1:\n        import m1\n    case _:\n        pass\n"
        b"async def g():\n    async with h:\n        import m2\n",
        # ``import`` only inside strings and comments, and as part of longer names.
        b'def f():\n    """import os"""\n    x = importlib  # import y\n    return __import__("z")\n',
        # No import at all, and a function-level import on the last line.
        b"x = 1\n",
        b"def f():\n    import a",
    ],
)
def test_pruned_walk_edge_cases(source: bytes) -> None:
    assert _keyword_lines(source) is not None
    assert extract_imports(source) == _full_walk(source)
    assert extract_imports(source.replace(b"\n", b"\r\n")) == _full_walk(source)


def test_keyword_lines_declines_where_lines_may_not_line_up() -> None:
    assert _keyword_lines(b"import a\rimport b\r") is None  # a lone CR is a line break for Python
    assert _keyword_lines(b"# -*- coding: latin-1 -*-\nimport a\n") is None
    assert _keyword_lines(b"#!/usr/bin/env python\n# coding=utf-8\nimport a\n") is None
    assert _keyword_lines(b"x = 1\ny = 2\n# coding: not a cookie on line 3\nimport a\n") == [4]
    cr = extract_imports(b"def f():\r    import a\r")
    assert [(s.module, s.kind, s.line) for s in cr.imports] == [("a", "function", 2)]


def _random_edges(rng: random.Random, modules: int, count: int) -> list[Edge]:
    kinds = sorted(KINDS)
    return [
        _edge(
            f"m{rng.randrange(modules)}", f"m{rng.randrange(modules)}", rng.randint(1, 40), rng.choice(kinds)
        )
        for _ in range(count)
    ]


def _shortest_cycle_through(pairs: set[tuple[str, str]], first: set[tuple[str, str]]) -> int:
    """Brute force: fewest edges of a loop that uses one of ``first`` (BFS from every such edge)."""
    succ: dict[str, set[str]] = {}
    for u, v in pairs:
        succ.setdefault(u, set()).add(v)
    best = 10**9
    for u, v in first:
        dist = {v: 0}
        queue = deque([v])
        while queue:
            node = queue.popleft()
            if node == u:
                best = min(best, dist[node] + 1)
                break
            for s in succ.get(node, ()):
                if s not in dist:
                    dist[s] = dist[node] + 1
                    queue.append(s)
    return best


def _breaks(pairs: set[tuple[str, str]], members: set[str]) -> bool:
    """Whether ``pairs`` (restricted to ``members``) has no cycle left."""
    edges = [_edge(u, v) for u, v in pairs if u in members and v in members]
    return find_cycles(edges).cycles == ()


def test_loops_shortest_and_cuts_minimal_on_random_graphs() -> None:
    rng = random.Random(20261121)
    checked_real = checked_latent = 0
    for _ in range(150):
        edges = _random_edges(rng, rng.randint(3, 25), rng.randint(3, 60))
        pairs = {(e.importer, e.imported) for e in edges if e.importer != e.imported}
        live = {
            (e.importer, e.imported)
            for e in edges
            if e.kind in IMPORT_TIME_KINDS and e.importer != e.imported
        }
        for cycle in find_cycles(edges).cycles:
            members = set(cycle.modules)
            steps = [(e.importer, e.imported) for e in cycle.loop]
            assert all(a[1] == b[0] for a, b in zip(steps, [*steps[1:], steps[0]]))
            assert {m for step in steps for m in step} <= members
            cut = {(e.importer, e.imported) for e in cycle.cut}
            if not cycle.latent:
                checked_real += 1
                inside = {p for p in live if p[0] in members and p[1] in members}
                if len(inside) <= 48:  # every edge is a start: the loop is a shortest cycle
                    assert len(steps) == _shortest_cycle_through(inside, inside)
                assert all(e.kind in IMPORT_TIME_KINDS for e in cycle.cut)
                assert _breaks(inside - cut, members)
                for pair in cut:  # minimal: each cut import is needed
                    assert not _breaks(inside - (cut - {pair}), members)
            else:
                checked_latent += 1
                inside = {p for p in pairs if p[0] in members and p[1] in members}
                latent_pairs = {p for p in inside if p not in live}
                if len(latent_pairs) <= 48:
                    assert len(steps) == _shortest_cycle_through(inside, latent_pairs)
                assert all(e.kind in LATENT_KINDS for e in cycle.cut)
                after = find_cycles([e for e in edges if e not in cycle.cut])
                assert not any(members <= set(c.modules) for c in after.latent)
                for pair in cut:  # small components stay fully minimised
                    trial = [e for e in edges if e not in cycle.cut or (e.importer, e.imported) == pair]
                    assert any(members & set(c.modules) for c in find_cycles(trial).latent)
    assert checked_real > 50 and checked_latent > 20


def _big_latent_edges(n: int = 3000) -> list[Edge]:
    """A chain of import-time imports with a few real cycles in it, tied into one latent component
    by random function-level imports, as in the benchmark snapshot."""
    rng = random.Random(7)
    edges = [_edge(f"m{i}", f"m{i + 1}", 1) for i in range(n - 1)]
    edges += [_edge(f"m{i + 5}", f"m{i}", 2) for i in range(0, n - 5, 500)]
    edges += [_edge(f"m{rng.randrange(n)}", f"m{rng.randrange(n)}", 3, "function") for _ in range(4 * n)]
    return edges


def test_big_latent_component_gets_a_bounded_valid_cut() -> None:
    n = 3000
    edges = _big_latent_edges(n)
    started = time.process_time()
    report = find_cycles(edges)
    elapsed = time.process_time() - started
    assert [c.size for c in report.real] == [6] * 6
    assert len(report.latent) == 1 and report.latent[0].size > n * 0.9
    latent = report.latent[0]
    assert latent.cut and all(e.kind == "function" for e in latent.cut)
    assert any(e.kind == "function" for e in latent.loop)
    cut = set(latent.cut)
    after = find_cycles([e for e in edges if e not in cut])
    assert after.latent == () and [c.modules for c in after.real] == [c.modules for c in report.real]
    for cycle in report.real:  # real cycles keep the full treatment: one import cuts each
        assert len(cycle.cut) == 1
    assert elapsed < 10  # a guard only: a quarter of a second here


def _layered_edges(n: int) -> list[Edge]:
    """Like the benchmark snapshot: import-time imports mostly run "downwards", one function-level
    import per module ties most modules into a latent component whose cut needs much put-back."""
    rng = random.Random(7)
    edges = []
    for i in range(n - 1):
        for j in rng.sample(range(i + 1, n), min(3, n - 1 - i)):
            edges.append(_edge(f"m{i}", f"m{j}", 1))
    edges += [_edge(f"m{i}", f"m{rng.randrange(n)}", 3, "function") for i in range(n)]
    return edges


def test_latent_cut_budget_binds_on_a_layered_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    edges = _layered_edges(1500)
    bounded = find_cycles(edges).latent[0]
    monkeypatch.setattr(cycles_module, "_LATENT_CUT_FLOOR", 10**9)
    full = find_cycles(edges).latent[0]
    assert bounded.modules == full.modules and bounded.loop == full.loop
    assert len(full.cut) < len(bounded.cut)  # the budget was used up: a valid but longer cut
    for cut in (bounded.cut, full.cut):
        chosen = set(cut)
        assert find_cycles([e for e in edges if e not in chosen]).cycles == ()


_REPORT_DIGEST = """
import hashlib
from symphony_assets_tests.test_imports import _layered_edges
from symphony_assets.analysis.imports.cycles import find_cycles
report = find_cycles(_layered_edges(1500))
text = repr([(c.cycle_id, c.loop, c.cut) for c in report.cycles])
print(hashlib.sha1(text.encode()).hexdigest(), len(report.latent[0].cut))
"""


def test_cycles_are_the_same_in_every_process() -> None:
    # The latent cut's work budget counts node visits, so the search order must not depend on
    # string hashing, which differs per process: same input, same report, whatever PYTHONHASHSEED.
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", _REPORT_DIGEST],
            cwd=Path(__file__).parents[1],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        outputs.add(done.stdout.strip())
    assert len(outputs) == 1, outputs
    assert int(outputs.pop().split()[1]) > 0


def test_missing_modules_are_findings_not_edges(tmp_path: Path) -> None:
    from symphony_assets.analysis.imports.resolve import find_unresolved

    write_tree(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.core import helper\n__all__ = ['helper']\n",
            "pkg/core/__init__.py": "from . import hybrid\n",
            "pkg/core/helper.py": "",
            "pkg/core/hybrid.py": (
                "from .resiliency.breaker import Breaker\n"  # pkg.core.resiliency does not exist
                "from pkg import helper, nothere\n"  # helper: bound in pkg/__init__.py; nothere: missing
                "import pkg.ghost.deeper\n"
                "from pkg.ns import thing\n"  # a namespace package: only submodules are attributes
                "from lazy import anything\n"  # a module __getattr__ may give any name: an edge
            ),
            "lazy/__init__.py": "__getattr__, __dir__, __all__ = attach(__name__, ['anything'])\n",
            "pkg/tools.py": "from pkg.core import fast, typed\n",  # a compiled extension and a stub exist
            "pkg/core/fast.cpython-311-x86_64-linux-gnu.so": "",
            "pkg/core/typed.pyi": "",
            "pkg/ns/real.py": "",
            "pkg/resiliency/__init__.py": "",
            "pkg/resiliency/breaker.py": "class Breaker:\n    pass\n",
        },
    )
    paths = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()]
    index = build_module_index(paths)
    per_file = {p: extract_imports((tmp_path / p).read_bytes()) for p in paths if p.endswith(".py")}
    edges = {(e.importer, e.imported, e.line) for e in resolve_imports(index, per_file)}
    assert edges == {
        ("pkg", "pkg.core.helper", 1),
        ("pkg.core", "pkg.core.hybrid", 1),
        ("pkg.core.hybrid", "pkg", 2),
        ("pkg.tools", "pkg.core", 1),
        ("pkg.core.hybrid", "lazy", 5),
    }
    missing = {(u.importer, u.line, u.looked_for, u.nearest) for u in find_unresolved(index, per_file)}
    assert missing == {
        ("pkg.core.hybrid", 1, "pkg.core.resiliency.breaker", "pkg.core"),
        ("pkg.core.hybrid", 2, "pkg.nothere", "pkg"),
        ("pkg.core.hybrid", 3, "pkg.ghost.deeper", "pkg"),
        ("pkg.core.hybrid", 4, "pkg.ns.thing", "pkg.ns"),
    }
    # The only loop pkg.core -> pkg.core.hybrid -> pkg.core would run through a missing module.
    assert not [c for c in find_cycles(resolve_imports(index, per_file)).cycles if not c.latent]
