"""Each cleanup rule, in order, with the rule name and reason it leaves behind."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from symphony_assets.analysis.cleanup_rules import (
    CleanupRules,
    FileFacts,
    RegistryEntry,
    automation_targets,
    expired_paths,
    is_automation_source,
    judge,
)

TODAY = date(2026, 3, 1)
RULES = CleanupRules()


def facts(
    path: str,
    *,
    tracked: bool = False,
    ignored: bool = False,
    age_days: int = 30,
    references: int = 0,
    expires: date | None = None,
) -> FileFacts:
    modified = datetime(2026, 3, 1, 12, tzinfo=UTC) - timedelta(days=age_days)
    return FileFacts(path, tracked, ignored, 10, modified, references, expires)


def verdict(f: FileFacts, registry=None, automation=frozenset(), rules=RULES):
    return judge(f, rules, TODAY, registry or {}, automation)


@pytest.mark.parametrize(
    "path",
    ["/etc/tmp_x.log", "../tmp_x.log", "a/../../tmp_x.log", "", "C:\\tmp_x.log", "a\\..\\tmp_x.log"],
)
def test_unsafe_paths_are_kept(path: str) -> None:
    v = verdict(facts(path, age_days=400))
    assert (v.decision, v.rule) == ("keep", "unsafe_path")


@pytest.mark.parametrize(
    "path",
    [
        ".git/tmp_x.log",
        ".venv/lib/tmp_a.py",
        "web/node_modules/x/debug_a.log",
        "build/tmp_x.o",
        "dist/x.bak",
        "pkg.egg-info/tmp_x",
    ],
)
def test_critical_dirs_are_kept(path: str) -> None:
    v = verdict(facts(path, age_days=400))
    assert (v.decision, v.rule) == ("keep", "critical_dir")


def test_critical_dirs_are_configurable() -> None:
    rules = CleanupRules.from_options({"extra_critical_dirs": ["artifacts"]})
    assert verdict(facts("artifacts/tmp_1.log"), rules=rules).rule == "critical_dir"
    assert verdict(facts("artifacts/tmp_1.log")).decision == "candidate"


@pytest.mark.parametrize(
    "path",
    [
        "README.tmp",
        "docs/README_backup_2024-01-01.md",
        ".gitignore",
        "pyproject.toml",
        "requirements-dev.txt",
        "Makefile",
        "deploy_backup_20240101.sh",
        "ops/deploy/tmp_rollout.sh",
        "migrations/0001_tmp.py",
        "app/migrations/debug_fix.py",
    ],
)
def test_protected_patterns_are_kept(path: str) -> None:
    v = verdict(facts(path, age_days=400))
    assert (v.decision, v.rule) == ("keep", "protected"), v


def test_protected_patterns_are_configurable() -> None:
    rules = CleanupRules.from_options({"protected_patterns": ["keep_*"]})
    assert verdict(facts("keep_tmp.log"), rules=rules).rule == "protected"
    # Replacing the list drops the defaults.
    assert verdict(facts("README_backup_20240101"), rules=rules).decision == "candidate"


def test_automation_targets_from_crontab_systemd_and_registry() -> None:
    files = {
        "ops/crontab": (
            b"# nightly jobs\nMAILTO=ops@example.com\nSHELL=/bin/bash\n"
            b"0 3 * * * cd /opt/app && /usr/bin/python3 scripts/tmp_nightly.py --full"
            b" >> /var/log/x.log 2>&1\n"
            b"@reboot /opt/app/tools/debug_boot.sh\n"
            b"*/5 * * * * root /opt/app/bin/temp_poll.sh\n"
        ),
        "deploy/app-report.service": (
            b"[Service]\nWorkingDirectory=/opt/app\nExecStartPre=-/opt/app/bin/prep.sh\n"
            b"ExecStart=/usr/bin/env python3 /opt/app/jobs/report_temp.py --quiet\n"
        ),
        "automation.txt": b"# scheduled by hand\n./jobs/debug_sync.py\n\n",
        "automation.yaml": b"scripts:\n  - path: jobs/tmp_a.py\n  - jobs/tmp_b.py\n",
        "src/app.py": b"0 3 * * * /opt/x.sh\n",
    }
    targets = automation_targets(files)
    assert "scripts/tmp_nightly.py" in targets
    assert "/opt/app/tools/debug_boot.sh" in targets
    assert "/opt/app/bin/temp_poll.sh" in targets
    assert "/opt/app/bin/prep.sh" in targets
    assert "/opt/app/jobs/report_temp.py" in targets
    assert {"jobs/debug_sync.py", "jobs/tmp_a.py", "jobs/tmp_b.py"} <= targets
    assert not any(t.startswith("/usr/") or t.startswith("/var/log") for t in targets)
    assert "/opt/x.sh" not in targets  # src/app.py is not a crontab
    assert is_automation_source("ops/crontab") and is_automation_source("x/y.service")
    assert not is_automation_source("src/app.py")

    for path in [
        "scripts/tmp_nightly.py",
        "tools/debug_boot.sh",
        "bin/temp_poll.sh",
        "jobs/report_temp.py",
        "jobs/debug_sync.py",
        "jobs/tmp_a.py",
    ]:
        v = verdict(facts(path, age_days=400), automation=targets)
        assert (v.decision, v.rule) == ("keep", "automation"), path
    assert verdict(facts("jobs/tmp_c.py", age_days=400), automation=targets).decision == "candidate"


def test_broken_automation_files_do_not_crash() -> None:
    files = {"automation.yaml": b"scripts: [unclosed", "a.service": b"\xff\xfeExecStart='unbalanced\n"}
    assert isinstance(automation_targets(files), set)


def test_expiry_marker_in_file() -> None:
    future = verdict(facts("notes.md", expires=TODAY + timedelta(days=1), tracked=True))
    assert (future.decision, future.rule) == ("keep", "not_expired")
    today = verdict(facts("notes.md", expires=TODAY))
    assert today.decision == "keep"
    past = verdict(facts("notes.md", expires=TODAY - timedelta(days=1), age_days=0))
    assert (past.decision, past.rule) == ("candidate", "expired")
    assert "marker" in past.reason


def test_expiry_in_registry() -> None:
    def entry(delta: timedelta) -> RegistryEntry:
        now = datetime(2026, 3, 1, 12, tzinfo=UTC)
        return RegistryEntry("out/report.csv", now - timedelta(days=3), now + delta, "jobs.x:make", 42)

    past = verdict(facts("out/report.csv", age_days=0), {"out/report.csv": entry(timedelta(days=-2))})
    assert (past.decision, past.rule) == ("candidate", "expired")
    assert "jobs.x:make" in past.reason
    future = verdict(facts("out/report.csv", age_days=100), {"out/report.csv": entry(timedelta(days=2))})
    assert (future.decision, future.rule) == ("keep", "not_expired")
    # Both places: the later expiry wins.
    both = verdict(
        facts("out/report.csv", expires=TODAY - timedelta(days=5)),
        {"out/report.csv": entry(timedelta(days=2))},
    )
    assert both.decision == "keep"
    assert expired_paths({"out/report.csv": entry(timedelta(days=-2))}, TODAY) == ["out/report.csv"]
    assert expired_paths({"out/report.csv": entry(timedelta(days=2))}, TODAY) == []


@pytest.mark.parametrize(
    "path",
    [
        "tmp_result.csv",
        "a/temp_x",
        "data_temp.json",
        "ai_generated_summary.md",
        "debug_dump.txt",
        "test_output_17.txt",
        "draft_v3_plan.md",
        "db_backup_2024-05-01.sql",
        "db_backup_20240501",
        "x.tmp",
        "x.bak",
        "run.log",
        ".main.py.swp",
        ".main.py.swo",
        "sub/.DS_Store",
        "pkg/__pycache__/m.cpython-311.pyc",
    ],
)
def test_untracked_temp_output_older_than_a_week_is_candidate(path: str) -> None:
    v = verdict(facts(path, age_days=8))
    assert (v.decision, v.rule) == ("candidate", "temp_untracked"), v
    assert "8 days" in v.reason
    young = verdict(facts(path, age_days=7))
    assert young.decision == "keep"


@pytest.mark.parametrize("path", ["draft_plan.md", "draft_vX_plan.md", "backup_notes.md", "temporary.py"])
def test_similar_names_are_not_temp(path: str) -> None:
    assert verdict(facts(path, age_days=400)).decision == "keep"


def test_ignored_files_count_as_untracked() -> None:
    v = verdict(facts("debug_x.txt", ignored=True, age_days=10))
    assert v.decision == "candidate" and "ignored" in v.reason


def test_tracked_stale_temp_needs_review() -> None:
    v = verdict(facts("scripts/debug_old.py", tracked=True, age_days=181, references=1))
    assert (v.decision, v.rule) == ("review", "temp_tracked_stale")
    assert verdict(facts("scripts/debug_old.py", tracked=True, age_days=180)).decision == "keep"
    assert verdict(facts("scripts/debug_old.py", tracked=True, age_days=400, references=2)).decision == "keep"
    assert verdict(facts("scripts/old.py", tracked=True, age_days=400)).decision == "keep"


def test_thresholds_configurable() -> None:
    rules = CleanupRules.from_options(
        {"untracked_min_age_days": 1, "tracked_min_age_days": 10, "tracked_max_references": 0}
    )
    assert verdict(facts("tmp_a", age_days=2), rules=rules).decision == "candidate"
    assert verdict(facts("tmp_a", tracked=True, age_days=11), rules=rules).decision == "review"
    assert verdict(facts("tmp_a", tracked=True, age_days=11, references=1), rules=rules).decision == "keep"
    extra = CleanupRules.from_options({"extra_temp_patterns": ["scratch_<N>.*"]})
    assert verdict(facts("scratch_12.txt"), rules=extra).decision == "candidate"
    assert verdict(facts("scratch_12.txt")).decision == "keep"


def test_rule_order_first_match_wins() -> None:
    # Protected beats expiry; automation beats expiry; expiry beats the temp-name rules.
    past = TODAY - timedelta(days=3)
    assert verdict(facts("Makefile", expires=past)).rule == "protected"
    assert verdict(facts("jobs/tmp_x.sh", expires=past), automation={"jobs/tmp_x.sh"}).rule == "automation"
    assert verdict(facts("tmp_x", expires=TODAY + timedelta(days=3), age_days=400)).rule == "not_expired"
    assert verdict(facts("regular.py")).rule == "default"
