-- 0010: the operation log (issue 14). Every write transaction that changes what trove owns
-- (links, tag names, tags, implications, pools and their members, file records and their
-- paths, sources) is one row of `ops`, and each row it changed is one row of `op_changes`,
-- written by the triggers below in the same transaction as the change itself. Enough is kept
-- to put every changed row back as it was: `trove undo`, `trove history`, `find --at`.
--
-- `Index::write` inserts the `ops` row first and puts its id in `op_recording`; the triggers
-- copy that id (an empty `op_recording`, as in a migration or a dry run, records nothing);
-- the write removes the `ops` row again when nothing was recorded, and empties
-- `op_recording` before it commits.
CREATE TABLE ops (
    id      INTEGER PRIMARY KEY,
    -- unix seconds
    at      INTEGER NOT NULL,
    -- who: `cli` (the command line is the summary), `watch`, `api:<key>`, …
    actor   TEXT    NOT NULL,
    summary TEXT    NOT NULL,
    -- the first op of the same command (a command that commits in batches, like an
    -- include of many files, is several ops and one group); equal to `id` for the first
    grp     INTEGER NOT NULL,
    -- the group this op undid, when it is an undo
    undoes  INTEGER
);
CREATE INDEX ops_grp ON ops (grp);
CREATE INDEX ops_at ON ops (at);

-- Tag and pool ids are never reused, as file ids have not been since 0005: the log names
-- rows by id, so an id must never come back for another tag or pool. `high` is the highest
-- id ever removed; a new tag or pool takes the next id above it and above every live id.
CREATE TABLE row_ids (
    tbl  TEXT    PRIMARY KEY,
    high INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO row_ids (tbl, high) VALUES
    ('tags', coalesce((SELECT max(id) FROM tags), 0)),
    ('pools', coalesce((SELECT max(id) FROM pools), 0));
CREATE TRIGGER tags_never_reuse_ids AFTER DELETE ON tags
BEGIN
    UPDATE row_ids SET high = max(high, OLD.id) WHERE tbl = 'tags';
END;
CREATE TRIGGER pools_never_reuse_ids AFTER DELETE ON pools
BEGIN
    UPDATE row_ids SET high = max(high, OLD.id) WHERE tbl = 'pools';
END;

CREATE TABLE op_recording (
    op INTEGER NOT NULL
);

-- Where history starts: `started_at` the upgrade (or creation), `pruned_upto` the last op
-- removed by `trove log --prune` (0 when none).
CREATE TABLE op_history (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    started_at  INTEGER NOT NULL,
    pruned_upto INTEGER NOT NULL DEFAULT 0
);
INSERT INTO op_history (id, started_at) VALUES (1, CAST(strftime('%s', 'now') AS INTEGER));

-- kind: 1/2 link added/removed (tag, file, x = source id, y = added_at); 3/4 tag name
-- added/removed (tag, v = folded, x = is_primary, w = json of name, lang, ns, val, num);
-- 5/6 tag added/removed (tag, v = uid, y = created_at); 7/8 implication added/removed
-- (tag = child, x = parent); 9/10 pool added/removed (x = pool id, v = title, w = folded,
-- y = created_at); 11/12 pool member added/removed (x = pool id, y = position, file);
-- 13/14 file record added/removed (file, v = path, w = json of the other columns);
-- 15 file moved or gone missing/back (file, v = old path, w = new path, x = old state,
-- y = new state); 17 source added (x = source id, v = kind, w = name).
-- An UPDATE of a link, name or pool member is a removal followed by an addition.
CREATE TABLE op_changes (
    id   INTEGER PRIMARY KEY,
    op   INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    tag  INTEGER,
    file INTEGER,
    x    INTEGER,
    y    INTEGER,
    v,
    w
);
CREATE INDEX op_changes_op ON op_changes (op);
CREATE INDEX op_changes_file ON op_changes (file, op) WHERE file IS NOT NULL;
CREATE INDEX op_changes_tag ON op_changes (tag, op) WHERE tag IS NOT NULL;

CREATE TRIGGER history_link_insert AFTER INSERT ON file_tags
BEGIN
    INSERT INTO op_changes (op, kind, tag, file, x, y)
    SELECT op, 1, NEW.tag_id, NEW.file_id, NEW.source_id, NEW.added_at FROM op_recording;
END;
CREATE TRIGGER history_link_delete AFTER DELETE ON file_tags
BEGIN
    INSERT INTO op_changes (op, kind, tag, file, x, y)
    SELECT op, 2, OLD.tag_id, OLD.file_id, OLD.source_id, OLD.added_at FROM op_recording;
END;
CREATE TRIGGER history_link_update AFTER UPDATE ON file_tags
WHEN OLD.tag_id IS NOT NEW.tag_id OR OLD.file_id IS NOT NEW.file_id OR OLD.source_id IS NOT NEW.source_id
  OR OLD.added_at IS NOT NEW.added_at
BEGIN
    INSERT INTO op_changes (op, kind, tag, file, x, y)
    SELECT op, 2, OLD.tag_id, OLD.file_id, OLD.source_id, OLD.added_at FROM op_recording;
    INSERT INTO op_changes (op, kind, tag, file, x, y)
    SELECT op, 1, NEW.tag_id, NEW.file_id, NEW.source_id, NEW.added_at FROM op_recording;
END;

CREATE TRIGGER history_name_insert AFTER INSERT ON tag_names
BEGIN
    INSERT INTO op_changes (op, kind, tag, x, v, w)
    SELECT op, 3, NEW.tag_id, NEW.is_primary, NEW.folded,
           json_object('name', NEW.name, 'lang', NEW.lang, 'ns', NEW.ns, 'val', NEW.val, 'num', NEW.num)
    FROM op_recording;
END;
CREATE TRIGGER history_name_delete AFTER DELETE ON tag_names
BEGIN
    INSERT INTO op_changes (op, kind, tag, x, v, w)
    SELECT op, 4, OLD.tag_id, OLD.is_primary, OLD.folded,
           json_object('name', OLD.name, 'lang', OLD.lang, 'ns', OLD.ns, 'val', OLD.val, 'num', OLD.num)
    FROM op_recording;
END;
CREATE TRIGGER history_name_update AFTER UPDATE ON tag_names
WHEN OLD.name IS NOT NEW.name OR OLD.folded IS NOT NEW.folded OR OLD.tag_id IS NOT NEW.tag_id
  OR OLD.lang IS NOT NEW.lang OR OLD.is_primary IS NOT NEW.is_primary OR OLD.ns IS NOT NEW.ns
  OR OLD.val IS NOT NEW.val OR OLD.num IS NOT NEW.num
BEGIN
    INSERT INTO op_changes (op, kind, tag, x, v, w)
    SELECT op, 4, OLD.tag_id, OLD.is_primary, OLD.folded,
           json_object('name', OLD.name, 'lang', OLD.lang, 'ns', OLD.ns, 'val', OLD.val, 'num', OLD.num)
    FROM op_recording;
    INSERT INTO op_changes (op, kind, tag, x, v, w)
    SELECT op, 3, NEW.tag_id, NEW.is_primary, NEW.folded,
           json_object('name', NEW.name, 'lang', NEW.lang, 'ns', NEW.ns, 'val', NEW.val, 'num', NEW.num)
    FROM op_recording;
END;

CREATE TRIGGER history_tag_insert AFTER INSERT ON tags
BEGIN
    INSERT INTO op_changes (op, kind, tag, y, v) SELECT op, 5, NEW.id, NEW.created_at, NEW.uid FROM op_recording;
END;
CREATE TRIGGER history_tag_delete AFTER DELETE ON tags
BEGIN
    INSERT INTO op_changes (op, kind, tag, y, v) SELECT op, 6, OLD.id, OLD.created_at, OLD.uid FROM op_recording;
END;

CREATE TRIGGER history_implication_insert AFTER INSERT ON implications
BEGIN
    INSERT INTO op_changes (op, kind, tag, x) SELECT op, 7, NEW.child, NEW.parent FROM op_recording;
END;
CREATE TRIGGER history_implication_delete AFTER DELETE ON implications
BEGIN
    INSERT INTO op_changes (op, kind, tag, x) SELECT op, 8, OLD.child, OLD.parent FROM op_recording;
END;

CREATE TRIGGER history_pool_insert AFTER INSERT ON pools
BEGIN
    INSERT INTO op_changes (op, kind, x, y, v, w)
    SELECT op, 9, NEW.id, NEW.created_at, NEW.title, NEW.folded FROM op_recording;
END;
CREATE TRIGGER history_pool_delete AFTER DELETE ON pools
BEGIN
    INSERT INTO op_changes (op, kind, x, y, v, w)
    SELECT op, 10, OLD.id, OLD.created_at, OLD.title, OLD.folded FROM op_recording;
END;
CREATE TRIGGER history_pool_update AFTER UPDATE ON pools
WHEN OLD.id IS NOT NEW.id OR OLD.title IS NOT NEW.title OR OLD.folded IS NOT NEW.folded
BEGIN
    INSERT INTO op_changes (op, kind, x, y, v, w)
    SELECT op, 10, OLD.id, OLD.created_at, OLD.title, OLD.folded FROM op_recording;
    INSERT INTO op_changes (op, kind, x, y, v, w)
    SELECT op, 9, NEW.id, NEW.created_at, NEW.title, NEW.folded FROM op_recording;
END;

CREATE TRIGGER history_member_insert AFTER INSERT ON pool_files
BEGIN
    INSERT INTO op_changes (op, kind, x, y, file) SELECT op, 11, NEW.pool_id, NEW.position, NEW.file_id FROM op_recording;
END;
CREATE TRIGGER history_member_delete AFTER DELETE ON pool_files
BEGIN
    INSERT INTO op_changes (op, kind, x, y, file) SELECT op, 12, OLD.pool_id, OLD.position, OLD.file_id FROM op_recording;
END;
CREATE TRIGGER history_member_update AFTER UPDATE ON pool_files
WHEN OLD.pool_id IS NOT NEW.pool_id OR OLD.position IS NOT NEW.position OR OLD.file_id IS NOT NEW.file_id
BEGIN
    INSERT INTO op_changes (op, kind, x, y, file) SELECT op, 12, OLD.pool_id, OLD.position, OLD.file_id FROM op_recording;
    INSERT INTO op_changes (op, kind, x, y, file) SELECT op, 11, NEW.pool_id, NEW.position, NEW.file_id FROM op_recording;
END;

CREATE TRIGGER history_file_insert AFTER INSERT ON files
BEGIN
    INSERT INTO op_changes (op, kind, file, v, w)
    SELECT op, 13, NEW.id, NEW.path,
           json_object('size', NEW.size, 'mtime_ns', NEW.mtime_ns, 'device', NEW.device, 'inode', NEW.inode,
                       'hash', hex(NEW.hash), 'fingerprint', NEW.fingerprint, 'state', NEW.state,
                       'added_at', NEW.added_at, 'verified_at', NEW.verified_at, 'sha256', hex(NEW.sha256))
    FROM op_recording;
END;
CREATE TRIGGER history_file_delete AFTER DELETE ON files
BEGIN
    INSERT INTO op_changes (op, kind, file, v, w)
    SELECT op, 14, OLD.id, OLD.path,
           json_object('size', OLD.size, 'mtime_ns', OLD.mtime_ns, 'device', OLD.device, 'inode', OLD.inode,
                       'hash', hex(OLD.hash), 'fingerprint', OLD.fingerprint, 'state', OLD.state,
                       'added_at', OLD.added_at, 'verified_at', OLD.verified_at, 'sha256', hex(OLD.sha256))
    FROM op_recording;
END;
-- A path changes, or the record goes missing or comes back (a root going offline and back
-- is not history: it says nothing about the file).
CREATE TRIGGER history_file_move AFTER UPDATE OF path, state ON files
WHEN OLD.path IS NOT NEW.path OR (OLD.state = 1) <> (NEW.state = 1)
BEGIN
    INSERT INTO op_changes (op, kind, file, v, w, x, y)
    SELECT op, 15, NEW.id, OLD.path, NEW.path, OLD.state, NEW.state FROM op_recording;
END;

CREATE TRIGGER history_source_insert AFTER INSERT ON sources
BEGIN
    INSERT INTO op_changes (op, kind, x, v, w) SELECT op, 17, NEW.id, NEW.kind, NEW.name FROM op_recording;
END;
