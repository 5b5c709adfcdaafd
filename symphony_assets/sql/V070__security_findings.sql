-- Security findings (asset security_findings): bandit, secrets-like literals, tolerant-parser sites in
-- files that do not parse, and one row per file bandit could not read.
CREATE TABLE symphony.security_findings (
    codebase        text NOT NULL,
    date            date NOT NULL,
    fingerprint     text NOT NULL,
    kind            text NOT NULL,
    rule_id         text NOT NULL,
    rule_name       text NOT NULL,
    severity        text NOT NULL,
    confidence      text NOT NULL,
    path            text NOT NULL,
    line            bigint NOT NULL,
    end_line        bigint NOT NULL,
    message         text NOT NULL,
    snippet         text,
    snippet_hash    text NOT NULL,
    via             text NOT NULL,
    parse_error     text,
    blob_id         text,
    first_seen      date NOT NULL,
    is_new          boolean NOT NULL
);
CREATE INDEX security_findings_partition ON symphony.security_findings (codebase, date);
CREATE INDEX security_findings_fingerprint ON symphony.security_findings (codebase, fingerprint);
