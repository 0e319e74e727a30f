-- Duplicates (issue 16): the user's decisions about pairs of files, and perceptual hashes
-- of image contents for finding near-duplicates. trove never deletes a file; these tables
-- only remember what the user decided and what an image looks like.

-- A decision about two files (a < b): 1 same (duplicates), 2 alternate (related, both
-- kept), 3 not-duplicate (a false positive of the similarity search). Keyed by file id
-- like tags: moving or editing a file keeps its decisions; forgetting a file forgets them.
CREATE TABLE dupe_decisions (
    a          INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    b          INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    decision   INTEGER NOT NULL CHECK (decision IN (1, 2, 3)),
    decided_at INTEGER NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
) WITHOUT ROWID;
CREATE INDEX dupe_decisions_b ON dupe_decisions (b, a);

-- Perceptual hashes per content (BLAKE3 hash, like files.hash), not per file: copies share
-- one row, and a file edited to other content simply no longer points at it. `frame` 0 is
-- an image (a video's keyframes would be 1, 2, …). `phash` is the 64-bit hash as a signed
-- integer; NULL with `error` when the content could not be decoded (so a scan does not try
-- it again).
CREATE TABLE perceptual (
    content     BLOB NOT NULL,
    frame       INTEGER NOT NULL DEFAULT 0,
    phash       INTEGER,
    error       TEXT,
    computed_at INTEGER NOT NULL,
    PRIMARY KEY (content, frame)
) WITHOUT ROWID;
