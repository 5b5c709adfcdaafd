-- The built-in issue tracker (the default tracker) and the tracker_issues asset table.

-- One row per issue. UNIQUE (label, fingerprint) makes creating idempotent under concurrent
-- reconciles: INSERT ... ON CONFLICT DO NOTHING RETURNING. Issues made by hand may have no fingerprint.
CREATE TABLE symphony.tracker_issues_store (
    number       bigserial PRIMARY KEY,
    label        text NOT NULL,
    fingerprint  text,
    title        text NOT NULL CHECK (btrim(title) <> ''),
    body         text NOT NULL DEFAULT '',
    state        text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    labels       text[] NOT NULL DEFAULT '{}',
    created_at   timestamp with time zone NOT NULL DEFAULT now(),
    updated_at   timestamp with time zone NOT NULL DEFAULT now(),
    closed_at    timestamp with time zone,
    CONSTRAINT tracker_issues_store_label_fingerprint UNIQUE (label, fingerprint)
);
CREATE INDEX tracker_issues_store_labels ON symphony.tracker_issues_store USING gin (labels);

-- The tracker_issues asset: one row per finding or managed issue, with the action taken or planned.
CREATE TABLE symphony.tracker_issues (
    codebase      text NOT NULL,
    date          date NOT NULL,
    fingerprint   text NOT NULL,
    source        text,
    action        text NOT NULL,
    issue_number  bigint,
    title         text NOT NULL,
    file          text,
    line          bigint,
    reason        text NOT NULL,
    present       boolean NOT NULL,
    tracker       text NOT NULL,
    dry_run       boolean NOT NULL,
    applied       boolean NOT NULL,
    error         text
);
CREATE INDEX tracker_issues_partition ON symphony.tracker_issues (codebase, date);
