-- Health of each registered automation script per codebase x day, from Dagster's run records.
CREATE TABLE symphony.automation_health (
    codebase            text NOT NULL,
    date                date NOT NULL,
    task                text NOT NULL,
    job                 text NOT NULL,
    schedule            text,
    runs                bigint NOT NULL,
    succeeded           bigint NOT NULL,
    failed              bigint NOT NULL,
    success_rate        double precision,
    mean_duration_s     double precision,
    max_duration_s      double precision,
    retries             bigint NOT NULL,
    last_status         text,
    last_run_id         text,
    last_failure        text,
    last_failed_run_id  text
);
CREATE INDEX automation_health_partition ON symphony.automation_health (codebase, date);
