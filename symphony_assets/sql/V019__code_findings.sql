-- One row per code finding: broad_except, gpu_site, backup_file, parse_failure (asset code_findings).
CREATE TABLE symphony.code_findings (
    codebase    text NOT NULL,
    date        date NOT NULL,
    kind        text NOT NULL,
    subkind     text NOT NULL,
    path        text NOT NULL,
    line        bigint,
    detail      text,
    has_reason  boolean,
    via         text NOT NULL,
    blob_id     text
);
CREATE INDEX code_findings_partition ON symphony.code_findings (codebase, date);
CREATE INDEX code_findings_kind ON symphony.code_findings (codebase, kind);
