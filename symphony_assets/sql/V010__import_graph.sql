-- Import edges between a codebase's own modules (asset import_graph): one row per import statement
-- and imported module. Files that do not parse still contribute, through the tree-sitter fallback (via).
CREATE TABLE symphony.import_graph (
    codebase        text NOT NULL,
    date            date NOT NULL,
    importer        text NOT NULL,
    imported        text NOT NULL,
    importer_path   text NOT NULL,
    imported_path   text NOT NULL,
    line            bigint NOT NULL,
    kind            text NOT NULL,
    via             text NOT NULL,
    importer_blob_id text,
    importer_parse_error text
);
CREATE INDEX import_graph_partition ON symphony.import_graph (codebase, date);
CREATE INDEX import_graph_imported ON symphony.import_graph (codebase, date, imported);
