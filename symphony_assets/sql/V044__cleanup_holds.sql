-- Files a person restored from quarantine stay out of cleanup until a person releases them
-- (`symphony cleanup release CODEBASE PATH`): otherwise the next execute run would quarantine them again.
CREATE TABLE IF NOT EXISTS symphony.cleanup_holds (
    id          bigserial PRIMARY KEY,
    codebase    text NOT NULL,
    path        text NOT NULL,
    run_id      text NOT NULL,
    reason      text NOT NULL,
    held_at     timestamp with time zone NOT NULL DEFAULT now(),
    released_at timestamp with time zone
);
CREATE UNIQUE INDEX IF NOT EXISTS cleanup_holds_active ON symphony.cleanup_holds (codebase, path)
    WHERE released_at IS NULL;
