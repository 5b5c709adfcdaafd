-- Cleanup candidates (one row per file a rule had something to say about) and cleanup run results.
CREATE TABLE symphony.cleanup_candidates (
    codebase    text NOT NULL,
    date        date NOT NULL,
    path        text NOT NULL,
    decision    text NOT NULL,
    rule        text NOT NULL,
    reason      text NOT NULL,
    tracked     boolean NOT NULL,
    size_bytes  bigint,
    modified    timestamp with time zone,
    "references" bigint,
    expires     date
);
CREATE INDEX cleanup_candidates_partition ON symphony.cleanup_candidates (codebase, date);

CREATE TABLE symphony.cleanup_actions (
    codebase    text NOT NULL,
    date        date NOT NULL,
    run_id      text NOT NULL,
    path        text NOT NULL,
    action      text NOT NULL,
    state       text NOT NULL,
    rule        text,
    size_bytes  bigint,
    sha256      text,
    tracked     boolean NOT NULL,
    message     text,
    executed    boolean NOT NULL
);
CREATE INDEX cleanup_actions_partition ON symphony.cleanup_actions (codebase, date);
