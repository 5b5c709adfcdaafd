-- Core objects shared by every asset. The schema and schema_migrations are created by the runner.
CREATE TABLE IF NOT EXISTS symphony.codebases (
    name        text PRIMARY KEY,
    path        text NOT NULL,
    machine     text NOT NULL,
    branch      text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
