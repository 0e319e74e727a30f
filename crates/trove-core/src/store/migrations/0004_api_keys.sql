-- 0004: API keys for `trove serve`. Only a BLAKE3 hash of each key is kept (a key is 32
-- random bytes, so a plain hash is enough: there is nothing to brute-force); the key itself
-- is shown once, when it is made. Scope: read (search, files, thumbnails), tag (read, and
-- add/remove tags on files), all (also tag management and pools).
CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    hash       BLOB    NOT NULL UNIQUE,
    scope      TEXT    NOT NULL CHECK (scope IN ('read', 'tag', 'all')),
    created_at INTEGER NOT NULL
);
