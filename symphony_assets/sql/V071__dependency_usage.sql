-- Declared vs imported dependencies (asset dependency_usage): missing, unused, transitive, with the
-- module-to-distribution mapping's source per row.
CREATE TABLE symphony.dependency_usage (
    codebase        text NOT NULL,
    date            date NOT NULL,
    module          text NOT NULL,
    package         text NOT NULL,
    status          text NOT NULL,
    mapping_source  text NOT NULL,
    declared_in     text NOT NULL,
    imported_in     text NOT NULL,
    import_count    bigint NOT NULL,
    optional        boolean NOT NULL,
    via_package     text NOT NULL,
    finding_key     text NOT NULL,
    first_seen      date NOT NULL,
    is_new          boolean NOT NULL
);
CREATE INDEX dependency_usage_partition ON symphony.dependency_usage (codebase, date);
