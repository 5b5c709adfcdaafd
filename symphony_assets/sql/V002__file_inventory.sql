CREATE TABLE symphony.file_inventory (
    codebase        text NOT NULL,
    date            date NOT NULL,
    path            text NOT NULL,
    path_is_utf8    boolean NOT NULL,
    file_type       text NOT NULL,
    purpose         text NOT NULL,
    size_bytes      bigint,
    modified        timestamp with time zone,
    tracked         boolean NOT NULL,
    ignored         boolean NOT NULL,
    git_status      text NOT NULL,
    blob_id         text,
    last_author     text,
    commit_count    bigint,
    "references"    bigint,
    module_references bigint,
    expires         date,
    read_status     text NOT NULL,
    link_target     text,
    notes           text
);
CREATE INDEX file_inventory_partition ON symphony.file_inventory (codebase, date);
