-- Monthly git upkeep of a local codebase (asset git_maintenance, codebase x date): size before and after.
CREATE TABLE symphony.git_maintenance (
    codebase            text NOT NULL,
    date                date NOT NULL,
    run_id              text NOT NULL,
    command             text NOT NULL,
    status              text NOT NULL,
    message             text,
    size_before_bytes   bigint,
    size_after_bytes    bigint,
    loose_before        bigint,
    loose_after         bigint,
    packs_before        bigint,
    packs_after         bigint,
    duration_s          double precision
);
CREATE INDEX git_maintenance_partition ON symphony.git_maintenance (codebase, date);
