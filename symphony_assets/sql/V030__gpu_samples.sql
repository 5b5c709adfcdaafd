-- Raw GPU samples appended by the gpu_sampler sensor (not asset tables: append-only, idempotent).
-- ts is NVML's timestamp (microseconds since the epoch; timestamptz keeps microseconds exactly).
-- host is the machine label (the `host` partition), not the network host name.
CREATE TABLE symphony.gpu_samples (
    host        text NOT NULL,
    device_uuid text NOT NULL,
    sample_type text NOT NULL,  -- gpu_util, mem_util (%), mem_used_bytes, mem_total_bytes, temperature_c, power_mw
    ts          timestamp with time zone NOT NULL,
    value       double precision NOT NULL,
    PRIMARY KEY (host, device_uuid, sample_type, ts)
);
CREATE INDEX gpu_samples_host_ts ON symphony.gpu_samples (host, ts);

-- One row per process per read (kind 'memory': used memory, command line) and per NVML
-- per-process utilisation sample (kind 'utilisation').
CREATE TABLE symphony.gpu_process_samples (
    host              text NOT NULL,
    device_uuid       text NOT NULL,
    pid               bigint NOT NULL,
    ts                timestamp with time zone NOT NULL,
    kind              text NOT NULL,
    used_memory_bytes bigint,
    sm_util           double precision,
    mem_util          double precision,
    cmdline           text[],
    cwd               text,
    status            text NOT NULL,  -- ok, exited, access_denied, zombie, n/a
    PRIMARY KEY (host, device_uuid, pid, ts, kind)
);
CREATE INDEX gpu_process_samples_host_ts ON symphony.gpu_process_samples (host, ts);

-- What each sampler read found: ok, no NVML library, no devices, nvml error; devices as JSON.
CREATE TABLE symphony.gpu_sampler_status (
    host         text NOT NULL,
    read_at      timestamp with time zone NOT NULL,
    status       text NOT NULL,
    message      text NOT NULL,
    devices      jsonb NOT NULL,
    samples      bigint NOT NULL,
    process_rows bigint NOT NULL,
    PRIMARY KEY (host, read_at)
);
