-- Import cycles (asset import_cycles): one row per strongly connected component of the import graph.
-- latent = the component exists only through function-level, TYPE_CHECKING or __main__ imports.
CREATE TABLE symphony.import_cycles (
    codebase        text NOT NULL,
    date            date NOT NULL,
    cycle_id        text NOT NULL,
    latent          boolean NOT NULL,
    size            bigint NOT NULL,
    modules         text NOT NULL,
    loop            text NOT NULL,
    loop_length     bigint NOT NULL,
    cut             text NOT NULL,
    cut_size        bigint NOT NULL
);
CREATE INDEX import_cycles_partition ON symphony.import_cycles (codebase, date);
