"""``security_findings`` through Dagster on real git repos: bandit, the tolerant fallback, newness."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from symphony_assets.analysis.security import scan_file
from symphony_assets.resources.postgres import Database
from symphony_assets.runner import run_snapshots
from symphony_assets.storage.warehouse import Warehouse
from symphony_assets.summary import render, summarise
from symphony_assets_tests.gitrepo import GitRepo

DAY1, DAY2 = dt.date(2024, 6, 1), dt.date(2024, 6, 2)


def _read(day: dt.date) -> pd.DataFrame:
    df = Warehouse().read("security_findings", {"codebase": "sec", "date": str(day)})
    assert df is not None, f"no partition for {day}"
    return df


def _evaluations(instance: dg.DagsterInstance) -> dict[str, bool]:
    key = dg.AssetCheckKey(dg.AssetKey("security_findings"), "no_new_security_findings")
    records = instance.event_log_storage.get_asset_check_execution_history(key, limit=20)
    out = {}
    for record in records:
        data = record.event.dagster_event.event_specific_data
        if isinstance(data, dg.AssetCheckEvaluation) and str(data.partition).startswith("sec|"):
            out[str(data.partition)] = bool(data.passed)
    return out


def test_unparseable_shell_true_is_reported_and_only_new_findings_fail_the_check(
    dagster_instance, git_repo: GitRepo, write_config, db: Database
) -> None:
    git_repo.write("tools/run.py", "import subprocess\n\ndef go(cmd):\n    subprocess.run(cmd, shell=True)\n")
    # Does not parse (Python 2 print plus a broken def): bandit skips it, the fallback must not.
    git_repo.write(
        "legacy/deploy.py",
        "import subprocess\nprint 'deploying'\ndef broken(:\n    pass\n"
        "subprocess.call(command, shell=True)\n",
    )
    git_repo.write("settings.yaml", "db:\n  password: 'Zq8#vLp2!rT9xK'\n")
    git_repo.commit("day one", when=f"{DAY1}T10:00:00+00:00")
    git_repo.write("tools/calc.py", "def calc(expr):\n    return eval(expr)\n")
    git_repo.commit("day two", when=f"{DAY2}T10:00:00+00:00")
    write_config({"name": "sec", "path": str(git_repo.root)})

    (outcome,) = run_snapshots(dagster_instance, ["sec"], DAY1, DAY2, assets=["security_findings"])
    assert outcome.success, outcome.error

    day1 = _read(DAY1)
    legacy = day1[day1["path"] == "legacy/deploy.py"]
    unparsed = legacy[legacy["kind"] == "unparsed_file"]
    assert len(unparsed) == 1 and unparsed.iloc[0]["parse_error"]
    shell = legacy[(legacy["kind"] == "finding") & (legacy["rule_id"] == "B602")]
    assert len(shell) == 1
    assert shell.iloc[0]["via"] == "tree-sitter" and shell.iloc[0]["line"] == 5
    assert shell.iloc[0]["parse_error"]  # marked: found in a file bandit could not read
    bandit_shell = day1[(day1["path"] == "tools/run.py") & (day1["rule_id"] == "B602")]
    assert list(bandit_shell["via"]) == ["bandit"] and list(bandit_shell["line"]) == [4]
    assert not day1[(day1["path"] == "settings.yaml") & (day1["via"] == "secrets")].empty
    assert not day1["is_new"].any()  # first partition: the baseline
    assert (day1["first_seen"] == DAY1).all()

    day2 = _read(DAY2).set_index("fingerprint")
    for fp in day1["fingerprint"]:  # present yesterday and today: not new, first seen yesterday
        assert not day2.loc[fp, "is_new"] and day2.loc[fp, "first_seen"] == DAY1
    new = day2[day2["is_new"]]
    assert list(new["path"]) == ["tools/calc.py"] and list(new["rule_id"]) == ["B307"]
    assert (new["first_seen"] == DAY2).all()

    # The check ran for each partition of the range: the baseline passes, the new eval fails.
    assert _evaluations(dagster_instance) == {f"sec|{DAY1}": True, f"sec|{DAY2}": False}

    in_pg = db.read_frame(
        "SELECT rule_id, is_new FROM symphony.security_findings WHERE codebase = %s AND date = %s",
        ("sec", DAY2),
    )
    assert len(in_pg) == len(day2) and int(in_pg["is_new"].sum()) == 1

    # symphony run's findings summary names the asset and what is new.
    lines = render(summarise(["sec"], DAY1, DAY2, assets=["security_findings"]))
    headline = next(line for line in lines if line.strip().startswith("security_findings"))
    assert "(1 new)" in headline and "1 file bandit cannot parse" in headline
    assert any("NEW MEDIUM B307 tools/calc.py:2" in line for line in lines)


def test_warn_severity_is_configurable(dagster_instance, git_repo: GitRepo, write_config) -> None:
    git_repo.write("a.py", "x = 1\n")
    git_repo.commit("day one", when=f"{DAY1}T10:00:00+00:00")
    git_repo.write("b.py", "import pickle\n\ndef load(b):\n    return pickle.loads(b)\n")
    git_repo.commit("day two", when=f"{DAY2}T10:00:00+00:00")
    write_config({"name": "secwarn", "path": str(git_repo.root), "new_findings": {"severity": "warn"}})
    (outcome,) = run_snapshots(dagster_instance, ["secwarn"], DAY1, DAY2, assets=["security_findings"])
    assert outcome.success, outcome.error
    key = dg.AssetCheckKey(dg.AssetKey("security_findings"), "no_new_security_findings")
    records = dagster_instance.event_log_storage.get_asset_check_execution_history(key, limit=20)
    evaluations = [r.event.dagster_event.event_specific_data for r in records]
    evaluations = [e for e in evaluations if isinstance(e, dg.AssetCheckEvaluation)]  # not the planned ones
    failed = [e for e in evaluations if not e.passed and str(e.partition).startswith("secwarn|")]
    assert [str(e.partition) for e in failed] == [f"secwarn|{DAY2}"]
    assert failed[0].severity == dg.AssetCheckSeverity.WARN


def test_fingerprint_inputs_survive_a_move() -> None:
    before = scan_file("a.py", b"import os\n\nos.system(cmd)\n")
    after = scan_file("a.py", b"import os\n\n\n\n# moved down\nos.system( cmd )\n")
    hashes = {f.rule_id: f.snippet_hash for f in before.findings}
    moved = {f.rule_id: (f.snippet_hash, f.line) for f in after.findings}
    assert hashes["B605"] == moved["B605"][0] and moved["B605"][1] == 6


def test_nosec_comments_are_honoured_and_the_fast_path_changes_nothing(monkeypatch, caplog) -> None:
    """``# nosec`` silences bandit on its line (every rule, or the rules it names); the scan skips the
    tokenizer for files that never spell ``nosec``, and must give exactly what the tokenizer path gives."""
    import pathlib
    import tokenize

    from symphony_assets.analysis import security

    shell = "import subprocess\n\ndef go(cmd):\n    subprocess.run(cmd, shell=True){}\n"
    rules = {
        comment: {f.rule_id for f in scan_file("t.py", shell.format(comment).encode()).findings}
        for comment in ("", "  # nosec", "  # nosec B602", "  # nosec B101", "  # a comment")
    }
    assert "B602" in rules[""] and "B602" in rules["  # a comment"] and "B602" in rules["  # nosec B101"]
    assert "B602" not in rules["  # nosec"] and "B602" not in rules["  # nosec B602"]
    # Honoured by bandit itself, not dropped by an error inside it (as before per-file metrics).
    assert not [r for r in caplog.records if "internal error" in r.getMessage()]

    sources = [shell.format(c).encode() for c in ("", "  # nosec")]
    sources.append("# -*- coding: latin-1 -*-\nimport pickle\npickle.loads(b'')  # nosec\n".encode("latin-1"))
    sources += [p.read_bytes() for p in sorted(pathlib.Path(tokenize.__file__).parent.glob("*.py"))[:150]]
    fast = [scan_file("m.py", s) for s in sources]
    monkeypatch.setattr(security, "_nosec_lines", security._nosec_comments)  # tokenize every file
    slow = [scan_file("m.py", s) for s in sources]
    assert fast == slow
    assert sum(len(f.findings) for f in fast) > 100  # the standard library: real findings were compared
    assert not any(f.rule_id == "B301" for f in fast[2].findings)  # nosec behind an encoding cookie


def test_the_same_bytes_as_python_and_as_text_are_scanned_as_what_each_path_names(git_repo: GitRepo) -> None:
    """The blob cache is keyed by blob id; bandit reads ``.py`` files only. The same bytes committed as
    ``tool.py`` and ``tool.txt`` must give bandit's findings for the first and not the second, whichever
    path meets the blob first (before, the first one decided for both)."""
    from symphony_assets.config import Codebase
    from symphony_assets.defs.security.assets import analyser_version, compute_security_findings
    from symphony_assets.resources.cache import AnalysisCache
    from symphony_assets.resources.git import take_snapshot

    body = "import subprocess\n\ndef go(cmd):\n    subprocess.run(cmd, shell=True)\n"
    for name in ("a_tool.txt", "b_tool.py", "c_tool.txt"):
        git_repo.write(name, body)
    git_repo.commit("same bytes, three names", when=f"{DAY1}T09:00:00+00:00")
    snapshot = take_snapshot(Codebase("kinds", git_repo.root), DAY1, today=dt.date(2030, 1, 1))
    df, _meta, stats = compute_security_findings(snapshot, AnalysisCache(None), analyser_version())
    rules = {path: set(group["rule_id"]) for path, group in df.groupby("path")}
    assert "B602" in rules["b_tool.py"]
    assert not any("B602" in rules.get(p, set()) for p in ("a_tool.txt", "c_tool.txt"))
    assert (stats.analysed, stats.reused) == (2, 1)  # one blob, two kinds: analysed once per kind
