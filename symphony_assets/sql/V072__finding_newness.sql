-- What is new today on the existing finding assets: first_seen and is_new, appended (null in rows
-- written before this migration).
ALTER TABLE symphony.import_cycles ADD COLUMN first_seen date, ADD COLUMN is_new boolean;
ALTER TABLE symphony.dependency_drift ADD COLUMN first_seen date, ADD COLUMN is_new boolean;
ALTER TABLE symphony.todo_list ADD COLUMN first_seen date, ADD COLUMN is_new boolean;
ALTER TABLE symphony.code_findings ADD COLUMN first_seen date, ADD COLUMN is_new boolean;
