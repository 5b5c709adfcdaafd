-- Per-file analysis results keyed by content: a day whose files did not change costs almost nothing.
CREATE TABLE symphony.analysis_cache (
    analyser    text NOT NULL,
    version     text NOT NULL,
    blob_id     text NOT NULL,
    result      jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (analyser, version, blob_id)
);
