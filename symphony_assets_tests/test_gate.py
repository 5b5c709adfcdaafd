"""``symphony check``, the CI gate, on real git repositories: a commit that adds an import cycle fails,
one that does not passes; junk and broad excepts in the working tree; dates and refs as baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from symphony_assets import cli
from symphony_assets.analysis.gate import GateFinding, compare, markdown, parse_kinds
from symphony_assets_tests.gitrepo import GitRepo


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = cli.main(["check", "--codebase", "app", *args])
    return rc, capsys.readouterr().out


@pytest.fixture()
def app(tmp_path: Path, write_config: Any) -> GitRepo:
    repo = GitRepo(tmp_path / "app")
    repo.write("pkg/__init__.py", "")
    repo.write("pkg/a.py", "import os\n\nVALUE = os.sep\n")
    repo.write("pkg/b.py", "from pkg import a\n\nOTHER = a.VALUE\n")
    repo.commit("start", when="2024-03-01T10:00:00+00:00")
    write_config({"name": "app", "path": str(repo.root)})
    return repo


def test_commit_adding_a_cycle_fails_and_one_that_does_not_passes(
    app: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    app.write("pkg/a.py", "import os\n\nfrom pkg import b\n\nVALUE = os.sep\n")
    app.commit("a imports b: a cycle", when="2024-03-02T10:00:00+00:00")
    cycle = app.head()
    app.write("pkg/c.py", "from pkg import a\n")
    app.commit("harmless", when="2024-03-03T10:00:00+00:00")
    harmless = app.head()

    rc, out = check(capsys, "--commit", cycle)
    assert rc == 1, out
    assert "failed: 1 new finding(s)" in out and "pkg.a" in out and "| import cycle | 0 | 1 | 1 |" in out
    rc, out = check(capsys, "--commit", harmless)  # baseline: its parent, which already had the cycle
    assert rc == 0, out
    assert "| import cycle | 1 | 1 | 0 |" in out
    # A date as the baseline: the last commit of that day (before the cycle) makes the cycle new again.
    rc, out = check(capsys, "--commit", harmless, "--baseline", "2024-03-01")
    assert rc == 1, out
    # The cycle is new, but the build fails only on the chosen kinds.
    rc, out = check(capsys, "--commit", cycle, "--fail-on", "junk,port")
    assert rc == 0 and "| import cycle | 0 | 1 | 1 | 0 | no |" in out, out


def test_working_tree_junk_and_broad_except(
    app: GitRepo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rc, out = check(capsys)
    assert rc == 0, out
    app.write("tmp_output.csv", "a,b\n")
    app.write(
        "pkg/b.py", "from pkg import a\n\ntry:\n    OTHER = a.VALUE\nexcept Exception:\n    OTHER = None\n"
    )
    summary = tmp_path / "summary.md"
    rc, out = check(capsys, "--summary-file", str(summary))
    assert rc == 1, out
    assert "tmp_output.csv" in out and "pkg/b.py:5" in out
    assert summary.read_text() == out
    rc, out = check(capsys, "--fail-on", "cycle")
    assert rc == 0, out
    rc, out = check(capsys, "--fail-on", "except")
    assert rc == 1 and "| junk file | 0 | 1 | 1 | 0 | no |" in out, out
    # A reason on the except clears it (the same rule as the code_findings asset).
    app.write(
        "pkg/b.py",
        "from pkg import a\n\ntry:\n    OTHER = a.VALUE\n"
        "except Exception:  # noqa: BLE001 optional\n    OTHER = None\n",
    )
    assert check(capsys, "--fail-on", "except")[0] == 0


def test_bad_arguments_exit_2(app: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(capsys, "--baseline", "no-such-ref")[0] == 2
    assert check(capsys, "--baseline", "1999-01-01")[0] == 2
    assert check(capsys, "--fail-on", "cycles")[0] == 2
    assert cli.main(["check", "--codebase", "nope"]) == 2


def test_compare_counts_repeats_and_renders() -> None:
    before = [GateFinding("except", "x.py|Exception", "x.py:3")]
    now = [
        GateFinding("except", "x.py|Exception", "x.py:9"),
        GateFinding("except", "x.py|Exception", "x.py:20"),
    ]
    result = compare(now, before, parse_kinds("except"))
    assert [f.text for f in result.new] == ["x.py:9"] and not result.fixed and not result.passed
    assert compare(before, now, ("except",)).passed
    text = markdown(result, "t", "b")
    assert text.startswith("## Symphony hygiene check: failed") and "x.py:9" in text
    assert parse_kinds("all") == parse_kinds(None) == ("cycle", "port", "except", "junk", "drift")


def test_the_shipped_workflow_runs_the_gate_on_pushes_and_pull_requests() -> None:
    import yaml

    root = Path(__file__).resolve().parent.parent
    flow = yaml.safe_load((root / "deploy" / "github" / "hygiene.yml").read_text())
    assert set(flow[True]) == {"push", "pull_request"}  # YAML 1.1 reads the key `on` as true
    steps = flow["jobs"]["symphony-check"]["steps"]
    run = next(s["run"] for s in steps if s.get("name") == "symphony check")
    assert "symphony check --commit HEAD --baseline" in run and "$GITHUB_STEP_SUMMARY" in run
    args = cli.build_parser().parse_args(["check", "--commit", "HEAD", "--baseline", "x", "--fail-on", "all"])
    assert args.handler.__name__ == "run_check"
