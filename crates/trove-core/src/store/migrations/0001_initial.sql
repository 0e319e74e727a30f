-- 0001: the first schema. Files are records with a stable id (tags hang off the id, never
-- off a path or off the bytes); tags are identities with any number of names; links carry
-- their source so a rule or an import can be reverted without touching manual tags.

CREATE TABLE files (
    id          INTEGER PRIMARY KEY,
    -- absolute path as raw bytes: Linux paths need not be UTF-8
    path        BLOB    NOT NULL,
    -- lower-cased extension of the last component, for `ext:` queries
    ext         TEXT,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    device      INTEGER NOT NULL,
    inode       INTEGER NOT NULL,
    -- BLAKE3 of the content, 32 bytes
    hash        BLOB    NOT NULL,
    -- 8 bytes of BLAKE3 over the size and three 4 KiB samples (start, middle, end): a cheap
    -- pre-filter when looking for a moved file among same-sized candidates
    fingerprint INTEGER NOT NULL DEFAULT 0,
    -- 0 present, 1 missing (gone from disk; tags kept), 2 offline (its root's filesystem
    -- is not mounted: not looked at, not touched)
    state       INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2)),
    added_at    INTEGER NOT NULL,
    verified_at INTEGER NOT NULL
);
-- A live path belongs to exactly one record. Missing records keep their last path and may
-- share it with the record that now lives there (a file saved over an indexed one).
CREATE UNIQUE INDEX files_path_live ON files (path) WHERE state <> 1;
CREATE INDEX files_path_missing ON files (path) WHERE state = 1;
-- The first 8 bytes of the hash are selective enough for `hash:` queries and duplicate
-- lookups, at a quarter of the size of indexing all 32.
CREATE INDEX files_hash ON files (substr(hash, 1, 8));
-- Missing records by size: a file appearing on another filesystem is matched against them.
CREATE INDEX files_missing_size ON files (size) WHERE state = 1;

CREATE TABLE tags (
    id         INTEGER PRIMARY KEY,
    -- 32 random bytes from the OS, shareable between libraries
    uid        BLOB    NOT NULL UNIQUE CHECK (length(uid) = 32),
    created_at INTEGER NOT NULL
);

CREATE TABLE tag_names (
    -- NFC-normalised, trimmed, case kept for display
    name       TEXT    NOT NULL,
    -- the matching key: `name` lower-cased. Unique across all tags and languages.
    folded     TEXT    NOT NULL PRIMARY KEY,
    tag_id     INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    lang       TEXT,
    is_primary INTEGER NOT NULL CHECK (is_primary IN (0, 1)),
    -- `ns:value` split of `folded` (NULL when there is no colon), for comparisons
    ns         TEXT,
    val        TEXT,
    -- `val` as a number when it parses as one
    num        REAL
) WITHOUT ROWID;
CREATE UNIQUE INDEX tag_names_primary ON tag_names (tag_id) WHERE is_primary = 1;
CREATE INDEX tag_names_tag ON tag_names (tag_id);
CREATE INDEX tag_names_ns ON tag_names (ns, num) WHERE ns IS NOT NULL;

CREATE TABLE sources (
    id   INTEGER PRIMARY KEY,
    -- manual, rule, import, api
    kind TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    UNIQUE (kind, name)
);
INSERT INTO sources (id, kind, name) VALUES (1, 'manual', '');

CREATE TABLE file_tags (
    tag_id    INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    file_id   INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    source_id INTEGER NOT NULL REFERENCES sources (id),
    added_at  INTEGER NOT NULL,
    PRIMARY KEY (tag_id, file_id, source_id)
) WITHOUT ROWID;
CREATE INDEX file_tags_file ON file_tags (file_id, tag_id);

CREATE TABLE implications (
    child  INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    parent INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (child, parent),
    CHECK (child <> parent)
) WITHOUT ROWID;
CREATE INDEX implications_parent ON implications (parent, child);

CREATE TABLE pools (
    id         INTEGER PRIMARY KEY,
    title      TEXT    NOT NULL,
    folded     TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE pool_files (
    pool_id  INTEGER NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    file_id  INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    PRIMARY KEY (pool_id, position)
) WITHOUT ROWID;
CREATE UNIQUE INDEX pool_files_file ON pool_files (file_id, pool_id);

-- Directories trove keeps current (watch, reconcile). `device` is the filesystem the root
-- was on when added: a root whose directory is absent or on another device is unmounted,
-- and its files become offline rather than missing.
CREATE TABLE roots (
    id       INTEGER PRIMARY KEY,
    path     BLOB    NOT NULL UNIQUE,
    device   INTEGER NOT NULL,
    added_at INTEGER NOT NULL
);

-- One row per running (or last run) `trove watch`, for `trove watch --status`.
CREATE TABLE watch_status (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    pid           INTEGER NOT NULL,
    backend       TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    heartbeat_at  INTEGER NOT NULL,
    events        INTEGER NOT NULL DEFAULT 0,
    last_event    TEXT,
    last_event_at INTEGER,
    -- milliseconds from reading the last batch to committing it
    lag_ms        INTEGER NOT NULL DEFAULT 0,
    stopped       INTEGER NOT NULL DEFAULT 0
);
