-- Dagster's own storage lives in a second database next to the data (SYMPHONY_DAGSTER_PG_URL).
CREATE DATABASE dagster OWNER symphony;
