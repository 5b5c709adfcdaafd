-- Cyclomatic complexity per Python file with 90-day churn and hotspot score (asset code_complexity).
CREATE TABLE symphony.code_complexity (
    codebase            text NOT NULL,
    date                date NOT NULL,
    path                text NOT NULL,
    blob_id             text,
    status              text NOT NULL,
    message             text,
    functions           bigint NOT NULL,
    total_complexity    bigint NOT NULL,
    max_complexity      bigint NOT NULL,
    worst_function      text,
    worst_function_line bigint,
    worst_rank          text,
    complex_functions   bigint NOT NULL,
    churn_90d           bigint NOT NULL,
    hotspot_score       bigint NOT NULL
);
CREATE INDEX code_complexity_partition ON symphony.code_complexity (codebase, date);
