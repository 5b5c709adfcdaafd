-- Duplicated code (asset duplicate_code): exact duplicates, near-duplicate Python files, and copies of
-- one path that diverged between codebases of different machines.
CREATE TABLE symphony.duplicate_code (
    codebase        text NOT NULL,
    date            date NOT NULL,
    kind            text NOT NULL,
    path            text NOT NULL,
    other_codebase  text NOT NULL,
    other_machine   text NOT NULL,
    other_path      text NOT NULL,
    similarity      double precision NOT NULL,
    blob_id         text,
    other_blob_id   text,
    size_bytes      bigint,
    last_commit     text,
    other_last_commit text,
    group_id        text NOT NULL,
    finding_key     text NOT NULL,
    first_seen      date NOT NULL,
    is_new          boolean NOT NULL
);
CREATE INDEX duplicate_code_partition ON symphony.duplicate_code (codebase, date);
