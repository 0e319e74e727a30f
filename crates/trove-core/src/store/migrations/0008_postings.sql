-- 0008: posting lists. Each tag's set of files as Roaring bitmaps of file ids, so a query is
-- set algebra (AND/OR/NOT, implications, wildcards) and only the shown rows are read. Two
-- more sets have reserved keys: 0 the live files (state <> 1), -1 the files with at least
-- one link (so `untagged` is live minus tagged). A set is stored in chunks of 65 536 ids
-- (chunk = id >> 16; the blob is a serialized RoaringBitmap of the full 32-bit ids), so one
-- link written rewrites at most 8 KiB.
--
-- The sets mirror file_tags and files.state exactly, in the same transaction: triggers note
-- every (set, file) pair a write touches in postings_dirty, and trove settles those pairs
-- against the links before the transaction commits (store::postings::flush). A reader that
-- finds postings_dirty not empty (inside a write, or after an interrupted bulk load) evaluates
-- the query with plain SQL instead. The bitmaps themselves are built from the links by trove
-- right after this migration (store::postings::rebuild).
CREATE TABLE postings (
    tag_id INTEGER NOT NULL,
    chunk  INTEGER NOT NULL,
    bits   BLOB    NOT NULL,
    PRIMARY KEY (tag_id, chunk)
) WITHOUT ROWID;

-- (set, file) pairs written since the last settle; (-9, 0) marks a bulk load in progress,
-- whose end rebuilds everything at once (the triggers stop noting pairs while it is there).
CREATE TABLE postings_dirty (
    tag_id  INTEGER NOT NULL,
    file_id INTEGER NOT NULL,
    PRIMARY KEY (tag_id, file_id)
) WITHOUT ROWID;

CREATE TRIGGER postings_link_insert AFTER INSERT ON file_tags
WHEN NOT EXISTS (SELECT 1 FROM postings_dirty WHERE tag_id = -9 AND file_id = 0)
BEGIN
    INSERT OR IGNORE INTO postings_dirty (tag_id, file_id) VALUES (NEW.tag_id, NEW.file_id), (-1, NEW.file_id);
END;

CREATE TRIGGER postings_link_delete AFTER DELETE ON file_tags
WHEN NOT EXISTS (SELECT 1 FROM postings_dirty WHERE tag_id = -9 AND file_id = 0)
BEGIN
    INSERT OR IGNORE INTO postings_dirty (tag_id, file_id) VALUES (OLD.tag_id, OLD.file_id), (-1, OLD.file_id);
END;

CREATE TRIGGER postings_link_update AFTER UPDATE OF tag_id, file_id ON file_tags
WHEN NOT EXISTS (SELECT 1 FROM postings_dirty WHERE tag_id = -9 AND file_id = 0)
BEGIN
    INSERT OR IGNORE INTO postings_dirty (tag_id, file_id)
    VALUES (OLD.tag_id, OLD.file_id), (-1, OLD.file_id), (NEW.tag_id, NEW.file_id), (-1, NEW.file_id);
END;

CREATE TRIGGER postings_file_insert AFTER INSERT ON files
WHEN NOT EXISTS (SELECT 1 FROM postings_dirty WHERE tag_id = -9 AND file_id = 0)
BEGIN
    INSERT OR IGNORE INTO postings_dirty (tag_id, file_id) VALUES (0, NEW.id);
END;

CREATE TRIGGER postings_file_delete AFTER DELETE ON files
WHEN NOT EXISTS (SELECT 1 FROM postings_dirty WHERE tag_id = -9 AND file_id = 0)
BEGIN
    INSERT OR IGNORE INTO postings_dirty (tag_id, file_id) VALUES (0, OLD.id);
END;

CREATE TRIGGER postings_file_state AFTER UPDATE OF id, state ON files
WHEN NOT EXISTS (SELECT 1 FROM postings_dirty WHERE tag_id = -9 AND file_id = 0)
BEGIN
    INSERT OR IGNORE INTO postings_dirty (tag_id, file_id) VALUES (0, OLD.id), (0, NEW.id);
END;
