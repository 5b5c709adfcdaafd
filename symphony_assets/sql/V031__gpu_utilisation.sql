-- One row per GPU per hour of a machine (asset gpu_utilisation, partitioned by host x hour).
CREATE TABLE symphony.gpu_utilisation (
    host                  text NOT NULL,
    hour                  timestamp with time zone NOT NULL,
    device_uuid           text NOT NULL,
    samples               bigint NOT NULL,
    gpu_util_p50          double precision,
    gpu_util_p95          double precision,
    gpu_util_max          double precision,
    mem_util_p95          double precision,
    peak_memory_bytes     bigint,
    memory_total_bytes    bigint,
    peak_memory_pct       double precision,
    max_temperature_c     double precision,
    max_power_mw          double precision,
    minutes_util_above    bigint NOT NULL,
    minutes_memory_above  bigint NOT NULL,
    minutes_any_above     bigint NOT NULL,
    threshold_pct         double precision NOT NULL,
    top_processes         text
);
CREATE INDEX gpu_utilisation_partition ON symphony.gpu_utilisation (host, hour);
