"""Declared schema of ``automation_health`` (sql/V060__automation_health.sql)."""

from symphony_assets.storage.tables import FLOAT, INT, STRING, Column, TableSchema

AUTOMATION_HEALTH = TableSchema(
    name="automation_health",
    description="Each registered automation script's runs of the day: successes, failures, durations.",
    columns=(
        Column("task", STRING, "Script name in automation.yaml", False),
        Column("job", STRING, "The Dagster job that runs it", False),
        Column("schedule", STRING, "Cron (UTC); empty for a script that only runs after others"),
        Column("runs", INT, "Runs started that day (UTC)", False),
        Column("succeeded", INT, "Runs that succeeded", False),
        Column("failed", INT, "Runs that failed or were cancelled", False),
        Column("success_rate", FLOAT, "succeeded / finished runs"),
        Column("mean_duration_s", FLOAT, "Mean wall time of finished runs, seconds"),
        Column("max_duration_s", FLOAT, "Longest finished run, seconds"),
        Column("retries", INT, "Retried attempts (the retry policy) over the day's runs", False),
        Column("last_status", STRING, "Status of the day's last run"),
        Column("last_run_id", STRING, "Its run id"),
        Column("last_failure", STRING, "Error of the day's last failed run"),
        Column("last_failed_run_id", STRING, "Its run id"),
    ),
)
