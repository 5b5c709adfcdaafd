-- Work markers found in comments (asset todo_list); fingerprint follows a marker across edits and renames.
CREATE TABLE symphony.todo_list (
    codebase    text NOT NULL,
    date        date NOT NULL,
    path        text NOT NULL,
    line        bigint NOT NULL,
    tag         text NOT NULL,
    text        text NOT NULL,
    scope       text NOT NULL,
    fingerprint text NOT NULL,
    via         text NOT NULL,
    blob_id     text
);
CREATE INDEX todo_list_partition ON symphony.todo_list (codebase, date);
CREATE INDEX todo_list_fingerprint ON symphony.todo_list (codebase, fingerprint);
