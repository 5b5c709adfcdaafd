-- Stale processes and stale temp files found (and, when asked, stopped or quarantined) per codebase x day.
CREATE TABLE symphony.stale_processes (
    codebase    text NOT NULL,
    date        date NOT NULL,
    kind        text NOT NULL,
    pid         bigint,
    target      text NOT NULL,
    pattern     text NOT NULL,
    age_hours   double precision NOT NULL,
    size_bytes  bigint,
    action      text NOT NULL,
    state       text NOT NULL,
    message     text
);
CREATE INDEX stale_processes_partition ON symphony.stale_processes (codebase, date);
