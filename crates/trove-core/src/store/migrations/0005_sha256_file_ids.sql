-- 0005: a SHA-256 per record's content, next to the BLAKE3 hash (the Hydrus Client API names
-- files by SHA-256; `trove check --full` fills it for records indexed before this version,
-- NULL until then), and record ids that are never reused: API clients cache by id, so an id
-- whose record was removed must not come back for another file. `file_ids.high` remembers the
-- highest id ever removed; a new record takes the next id above it and above every live id.
ALTER TABLE files ADD COLUMN sha256 BLOB CHECK (sha256 IS NULL OR length(sha256) = 32);
CREATE INDEX files_sha256 ON files (substr(sha256, 1, 8)) WHERE sha256 IS NOT NULL;

CREATE TABLE file_ids (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    high INTEGER NOT NULL
);
INSERT INTO file_ids (id, high) VALUES (1, coalesce((SELECT max(id) FROM files), 0));
CREATE TRIGGER files_never_reuse_ids AFTER DELETE ON files
BEGIN
    UPDATE file_ids SET high = max(high, OLD.id) WHERE id = 1;
END;
