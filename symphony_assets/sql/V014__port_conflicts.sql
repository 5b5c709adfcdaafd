-- Ports bound by two or more components on one machine (asset port_conflicts), from the point of view
-- of one codebase: every conflict it takes part in, including those with other codebases on the machine.
CREATE TABLE symphony.port_conflicts (
    codebase        text NOT NULL,
    date            date NOT NULL,
    machine         text NOT NULL,
    port            bigint NOT NULL,
    transport       text NOT NULL,
    conflict_key    text NOT NULL,
    components      text NOT NULL,
    codebases       text NOT NULL,
    component_count bigint NOT NULL,
    sites           text NOT NULL,
    cross_codebase  boolean NOT NULL,
    is_new          boolean NOT NULL
);
CREATE INDEX port_conflicts_partition ON symphony.port_conflicts (codebase, date);
