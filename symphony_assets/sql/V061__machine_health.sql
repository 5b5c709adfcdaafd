-- Health readings of a machine per hour (asset machine_health, partitioned by host x hour).
CREATE TABLE symphony.machine_health (
    host        text NOT NULL,
    hour        timestamp with time zone NOT NULL,
    metric      text NOT NULL,
    subject     text NOT NULL,
    value       double precision NOT NULL,
    unit        text NOT NULL,
    threshold   double precision,
    status      text NOT NULL,
    detail      text,
    measured_at timestamp with time zone NOT NULL
);
CREATE INDEX machine_health_partition ON symphony.machine_health (host, hour);
