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

#: When an asset of the daily snapshot runs: ``codebase`` (default: one run per codebase), ``fleet``
#: (partitioned by day over every codebase: after all of them) or ``cross`` (codebase x day, but reads
#: every codebase's partitions of the day: after all of them too).
PHASE_TAG = "symphony/phase"
FLEET_JOB = "fleet_job"
CROSS_JOB = "cross_codebase_job"
#: On an ``AssetIn``: the IO manager hands the input as ``{partition_key: frame | None}`` even when it
#: covers one partition, since an input that spans codebases must say whose frame is whose.
BY_PARTITION = "symphony/by_partition"
#: The fleet-wide finding assets (partitioned by day; the codebases of a row are in its ``codebases``).
FLEET_ASSETS = ("port_conflicts", "dependency_drift")
