-- What the executor needs to act on exactly the file that was judged (issue 9):
-- the content hash and change time when the candidate was computed, and the exact name bytes
-- when the name is not valid UTF-8 (path then shows them escaped).
ALTER TABLE symphony.cleanup_candidates ADD COLUMN sha256 text;
ALTER TABLE symphony.cleanup_candidates ADD COLUMN ctime_ns bigint;
ALTER TABLE symphony.cleanup_candidates ADD COLUMN path_hex text;
