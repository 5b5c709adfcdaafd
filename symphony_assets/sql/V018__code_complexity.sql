-- Cyclomatic complexity per Python function, method and class, with the file's 90-day churn and a
-- hotspot score (asset code_complexity). A file that could not be measured is one row with a NULL
-- function and its status and message.
CREATE TABLE symphony.code_complexity (
    codebase      text NOT NULL,
    date          date NOT NULL,
    path          text NOT NULL,
    blob_id       text,
    function      text,
    kind          text,
    line          bigint,
    end_line      bigint,
    complexity    bigint,
    rank          text,
    churn_90d     bigint NOT NULL,
    hotspot_score bigint,
    status        text NOT NULL,
    message       text
);
CREATE INDEX code_complexity_partition ON symphony.code_complexity (codebase, date);
