-- Port sites of a codebase (asset port_map): one row per bind/connect/listen/config/mention of a port.
CREATE TABLE symphony.port_map (
    codebase        text NOT NULL,
    date            date NOT NULL,
    machine         text NOT NULL,
    path            text NOT NULL,
    component       text NOT NULL,
    line            bigint NOT NULL,
    role            text NOT NULL,
    host            text,
    port            bigint,
    resolved        boolean NOT NULL,
    raw             text NOT NULL,
    socket_type     text,
    via             text NOT NULL,
    context         text NOT NULL,
    blob_id         text
);
CREATE INDEX port_map_partition ON symphony.port_map (codebase, date);
CREATE INDEX port_map_machine_port ON symphony.port_map (machine, date, port);
