-- Packages declared inconsistently (asset dependency_drift), within the codebase or against any other
-- codebase on the same date.
CREATE TABLE symphony.dependency_drift (
    codebase        text NOT NULL,
    date            date NOT NULL,
    package         text NOT NULL,
    status          text NOT NULL,
    codebases       text NOT NULL,
    files           text NOT NULL,
    versions        text NOT NULL,
    marker          text NOT NULL,
    cross_codebase  boolean NOT NULL,
    declaration_count bigint NOT NULL
);
CREATE INDEX dependency_drift_partition ON symphony.dependency_drift (codebase, date);
