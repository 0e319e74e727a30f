-- 0015: a trigram index on paths, so `path:` globs without a literal prefix (`*/inbox/*7*`)
-- read candidates from an index instead of every path (issue 9). For each 3-byte sequence
-- of any file's path (bytes, not characters: non-UTF-8 paths too), the set of files whose
-- path contains it, as Roaring bitmaps chunked like the posting lists (chunk = id >> 16;
-- tri = b0 << 16 | b1 << 8 | b2). Every record's path is in it, missing ones too.
--
-- The sets change in the same transaction as the paths: the triggers note each file whose
-- path changed with the path the sets still hold (the first one noted in the transaction),
-- and store::trigrams::flush settles them before the commit. During a bulk load (0008's
-- marker) they note nothing and the load's end rebuilds the sets. Built right after this
-- migration (store::trigrams::rebuild). The trigger text is short on purpose.
CREATE TABLE trigrams (
    tri   INTEGER NOT NULL,
    chunk INTEGER NOT NULL,
    bits  BLOB    NOT NULL,
    PRIMARY KEY (tri, chunk)
) WITHOUT ROWID;

CREATE TABLE trigrams_dirty (file_id INTEGER PRIMARY KEY, path BLOB);

CREATE TRIGGER trigrams_insert AFTER INSERT ON files WHEN NOT EXISTS
(SELECT 1 FROM postings_dirty WHERE tag_id = -9 AND file_id = 0)
BEGIN INSERT OR IGNORE INTO trigrams_dirty VALUES (NEW.id, NULL); END;

CREATE TRIGGER trigrams_delete AFTER DELETE ON files WHEN NOT EXISTS
(SELECT 1 FROM postings_dirty WHERE tag_id = -9 AND file_id = 0)
BEGIN INSERT OR IGNORE INTO trigrams_dirty VALUES (OLD.id, OLD.path); END;

CREATE TRIGGER trigrams_update AFTER UPDATE OF id, path ON files WHEN NOT EXISTS
(SELECT 1 FROM postings_dirty WHERE tag_id = -9 AND file_id = 0)
BEGIN INSERT OR IGNORE INTO trigrams_dirty VALUES (OLD.id, OLD.path), (NEW.id, NULL); END;
