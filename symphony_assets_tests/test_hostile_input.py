"""A corpus of hostile files committed to a real git repository and run through every snapshot asset.

Alias bombs, nesting thousands of levels deep (JSON, YAML, TOML, Python), NUL bytes, multi-megabyte
lines, invalid encodings, file names with newlines and invalid UTF-8: the run succeeds, every file is
in ``file_inventory``, and a file that hits a limit is recorded with its reason, nothing lost.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pandas as pd

from symphony_assets.analysis import limits
from symphony_assets.resources.postgres import Database
from symphony_assets.runner import run_snapshots
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets_tests.gitrepo import GitRepo

DAY = dt.date(2024, 6, 1)
MARK = "TO" + "DO"  # built at run time: our own hygiene check must not see a marker here


def alias_bomb(levels: int) -> bytes:
    names = "abcdefghijklmnop"
    lines = ["a: &a [x,x,x,x,x,x,x,x,x]"]
    for i in range(1, levels):
        lines.append(f"{names[i]}: &{names[i]} [" + ",".join([f"*{names[i - 1]}"] * 9) + "]")
    return ("\n".join(lines) + "\nport: 5000\n").encode()


def hostile_corpus() -> dict[bytes, bytes]:
    deep_json = b"[" * 100_000 + b"]" * 100_000
    return {
        b"config/app.yaml": alias_bomb(9),
        b"config/deep.json": deep_json,
        b"config/deep_object.json": b'{"a":' * 500 + b"1" + b"}" * 500,
        b"config/deep.yaml": b"[" * 5000 + b"]" * 5000,
        b"config/deep_block.yaml": b"".join(b"  " * i + b"k:\n" for i in range(600)),
        b"config/deep.toml": b"a = " + b"[" * 2000 + b"]" * 2000 + b"\n",
        b"config/huge.json": b'{"port": 1, "pad": "' + b"x" * limits.MAX_CONFIG_BYTES + b'"}',
        b"config/nul.yaml": b"port: 80\x00\nhost: x\n",
        b"config/bad_utf8.yaml": b"port: 81\nname: \xff\xfe\xfd\n",
        b"config/surrogates.json": b'{"url": "tcp://h\\udc80:82", "x": "\\ud800"}',
        b"config/.env": b"PORT=83\nLINE=" + b"y" * 2_000_000 + b"\n\x00=\xff\n",
        b"pyproject.toml": b"[project]\ndependencies = " + b"[" * 3000 + b"]" * 3000 + b"\n",
        b"requirements.txt": b"-r requirements.txt\nrequests==2.0\x00\n\xff\xfe==1\n"
        + b"a" * 500_000
        + b"\n-r missing.txt\n",
        b"src/deep_parens.py": b"x = " + b"(" * 5000 + b")" * 5000 + b"\n",
        b"src/long_sum.py": b"x = " + b"+".join([b"1"] * 100_000) + b"\n",
        b"src/deep_blocks.py": b"".join(b" " * i + b"if x:\n" for i in range(150)) + b" " * 150 + b"pass\n",
        b"src/nul.py": b"import os\x00\nsock.bind(('', 5001))\n",
        b"src/huge_line.py": b"x = '" + b"a" * 3_000_000 + b"'\n",
        b"src/latin1.py": b"# -*- coding: latin-1 -*-\n# " + MARK.encode() + b": caf\xe9\nimport os\n",
        b"src/lying_cookie.py": b"# coding: utf-8\nx = '\xff\xfe'\nimport sys\n",
        b"src/unknown_cookie.py": b"# coding: klingon\nimport json\n",
        b"src/merge.py": b"<<<<<<< HEAD\nimport a\n=======\nimport b\n>>>>>>> other\n",
        b"src/py2.py": b"print 'hello'\nexcept Exception, e:\n",
        b"scripts/run.sh": b"#!/bin/sh\n# " + MARK.encode() + b" fix\n" + b"echo " + b"z" * 1_000_000 + b"\n",
        b"crontab": b"* * * * * /bin/sh scripts/run.sh\n\x00\xff garbage\n" + b"*" * 100_000 + b"\n",
        b"deploy/agent.service": b"[Service]\nExecStart=/usr/bin/python src/nul.py\nExecStart=\xff\n",
        b"src/long_import.py": b"import " + b"m" * 5000 + b"\nfrom " + b"p" * 5000 + b" import x\n",
        b"/".join([b"d" * 200] * 15) + b"/long_path.py": b"import os\n",
        # Over the token limit (not the byte limit): parsing it would take ~0.5 GB.
        b"src/generated.py": b"".join(b"x%d = f(%d, [1, 2])\n" % (i, i) for i in range(100_000)),
        b"src/gpu_nul.py": b"import torch\nx = t.cuda()  # \x00 zero\n",
        b"scripts/nul.sh": b"# " + MARK.encode() + b" a \x00 b\n",
        b"new\nline.py": b"import os\n",
        b"bad-\xff\xfe-name.yaml": b"port: 84\n",
        b"tab\tname.json": b'{"port": 85}',
        b"binary.bin": bytes(range(256)) * 64,
    }


def test_hostile_corpus_runs_end_to_end_with_nothing_lost(
    dagster_instance: Any, git_repo: GitRepo, write_config: Any, db: Database
) -> None:
    corpus = hostile_corpus()
    for name, content in corpus.items():
        git_repo.write(name, content)
    git_repo.commit("hostile files", when=f"{DAY}T10:00:00+00:00")
    write_config({"name": "hostile", "path": str(git_repo.root)})

    started = time.monotonic()
    outcomes = run_snapshots(dagster_instance, ["hostile"], DAY, DAY)
    elapsed = time.monotonic() - started
    # Its own run, the fleet-wide run, its cross-codebase run.
    assert [o.success for o in outcomes] == [True, True, True], [o.error for o in outcomes]
    assert elapsed < 240, elapsed

    def table(asset: str) -> pd.DataFrame:
        df = Warehouse().read(asset, {"codebase": "hostile", "date": str(DAY)})
        assert df is not None, f"{asset} partition was not written"
        return df

    inventory = table("file_inventory")
    tracked = git_repo.git("ls-files", "-z").split("\0")[:-1]
    assert len(inventory) == len(corpus) == len(tracked)
    paths = set(inventory["path"])
    assert "new\nline.py" in paths and "tab\tname.json" in paths
    assert any(p.startswith("bad-") and p.endswith("-name.yaml") for p in paths)

    ports = table("port_map")
    skipped = {r["path"]: r["raw"] for r in ports[ports["role"] == "skipped"].to_dict("records")}
    assert "YAML aliases expand" in skipped["config/app.yaml"]
    assert skipped["config/huge.json"].startswith("too_large: ")
    assert skipped["config/deep_object.json"].startswith("limit: nested deeper than")
    assert skipped["config/deep_block.yaml"].startswith("limit: nested deeper than")
    found = {(r["path"], int(r["port"])) for r in ports.to_dict("records") if not pd.isna(r["port"])}
    assert {("config/app.yaml", 5000), ("config/surrogates.json", 82), ("config/.env", 83)} <= found
    assert ("tab\tname.json", 85) in found and ("config/bad_utf8.yaml", 81) in found
    assert ("bad-\\xff\\xfe-name.yaml", 84) in found  # the name as the inventory shows it

    declarations = table("dependency_declarations")
    pyproject = declarations[declarations["path"] == "pyproject.toml"]
    assert list(pyproject["kind"]) == ["error"]
    assert pyproject["error"].iloc[0].startswith("limit: nested deeper than")
    requirements = declarations[declarations["path"] == "requirements.txt"]
    errors = list(requirements["error"].dropna())
    assert any(e.startswith("limit: line longer than") for e in errors), errors
    assert "requests==2.0\\x00" in set(requirements["raw"])  # an error row; the NUL kept, escaped

    assert skipped["src/generated.py"].startswith("too_large: about ")
    complexity = table("code_complexity")
    generated = complexity[complexity["path"] == "src/generated.py"]
    assert list(generated["status"]) == ["too_large"], generated.to_dict("records")

    todo_rows = table("todo_list")
    assert any("\\x00" in text for text in todo_rows[todo_rows["path"] == "scripts/nul.sh"]["text"])
    code_findings = table("code_findings")
    gpu_nul = code_findings[code_findings["path"] == "src/gpu_nul.py"]
    assert any("\\x00" in str(d) for d in gpu_nul["detail"]), gpu_nul.to_dict("records")

    # Every asset table this run wrote can be read back from Postgres as well.
    count = db.read_frame(
        "SELECT count(*) AS n FROM symphony.file_inventory WHERE codebase = %s", ("hostile",)
    )
    assert int(count["n"].iloc[0]) == len(corpus)
