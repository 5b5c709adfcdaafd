-- Agent registry (asset agent_registry): startup-configuration declarations against agent files and
-- the ports the code binds.
CREATE TABLE symphony.agent_registry (
    codebase        text NOT NULL,
    date            date NOT NULL,
    agent           text NOT NULL,
    kind            text NOT NULL,
    config_path     text,
    config_line     bigint,
    script_path     text,
    declared_port   bigint,
    code_ports      text NOT NULL,
    host            text,
    dependencies    text NOT NULL,
    detail          text NOT NULL,
    finding_key     text NOT NULL,
    first_seen      date NOT NULL,
    is_new          boolean NOT NULL
);
CREATE INDEX agent_registry_partition ON symphony.agent_registry (codebase, date);
