"""Names shared across layers: jobs, run tags, environment variables."""

SNAPSHOT_JOB = "snapshot_job"
GPU_JOB = "gpu_hour_job"
TRACKER_JOB = "tracker_job"  # defined with its sensor in defs/tracker/sensors.py

#: Assets that act on the world carry this tag so the daily snapshot job leaves them out.
TRIGGER_TAG = "symphony/trigger"
WEBHOOK_ENV = "SYMPHONY_WEBHOOK_URL"

#: Dagster's own run tags for a single-run range of partitions (its public CLI and UI set the same).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
