-- Declared dependencies (asset dependency_declarations): requirements files (with their -r/-c includes)
-- and pyproject.toml (PEP 621, PEP 735, Poetry); unreadable lines are kept as kind = 'error'.
CREATE TABLE symphony.dependency_declarations (
    codebase        text NOT NULL,
    date            date NOT NULL,
    path            text NOT NULL,
    line            bigint NOT NULL,
    package         text NOT NULL,
    specifier       text NOT NULL,
    extras          text NOT NULL,
    marker          text NOT NULL,
    kind            text NOT NULL,
    section         text NOT NULL,
    raw             text NOT NULL,
    error           text,
    blob_id         text
);
CREATE INDEX dependency_declarations_partition ON symphony.dependency_declarations (codebase, date);
CREATE INDEX dependency_declarations_package ON symphony.dependency_declarations (date, package);
