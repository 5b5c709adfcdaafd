-- port_conflicts and dependency_drift compare codebases, so they become fleet-wide assets partitioned
-- by day alone (issue 10): one row per conflict or drift finding over every codebase of the day, with
-- the codebases involved in `codebases`. The per-codebase rows of the old layout were a view of the same
-- findings from each codebase's side; the Parquet files of that layout stay under
-- warehouse/<asset>/codebase=.../ and are no longer read. Rerun a day to rebuild its fleet partition.
DROP TABLE symphony.port_conflicts;
CREATE TABLE symphony.port_conflicts (
    date            date NOT NULL,
    machine         text NOT NULL,
    port            bigint NOT NULL,
    transport       text NOT NULL,
    conflict_key    text NOT NULL,
    components      text NOT NULL,
    codebases       text NOT NULL,
    component_count bigint NOT NULL,
    sites           text NOT NULL,
    cross_codebase  boolean NOT NULL,
    first_seen      date,
    is_new          boolean
);
CREATE INDEX port_conflicts_partition ON symphony.port_conflicts (date);

DROP TABLE symphony.dependency_drift;
CREATE TABLE symphony.dependency_drift (
    date              date NOT NULL,
    package           text NOT NULL,
    status            text NOT NULL,
    codebases         text NOT NULL,
    files             text NOT NULL,
    versions          text NOT NULL,
    marker            text NOT NULL,
    cross_codebase    boolean NOT NULL,
    declaration_count bigint NOT NULL,
    first_seen        date,
    is_new            boolean
);
CREATE INDEX dependency_drift_partition ON symphony.dependency_drift (date);
