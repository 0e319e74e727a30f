-- Similar images without a search per question (issue 16): the near pairs of perceptual
-- hashes are kept, so `trove dupes --similar`, `dupe:similar` and `dupe:undecided` read them.
-- Both tables are derived from `perceptual` (frame 0) and rebuilt by `trove check --repair`;
-- they hold hash values, not files: which files have a value is read through `perceptual`
-- and `files` at question time (so moving, losing or finding a file changes nothing here).

-- The multi-index (trove_core::similar): every distinct hash value under 4 keys, one per
-- 16-bit band, `band << 16 | band value`. A hash added looks up the buckets within 2 bits
-- of its own in each band and compares what they hold, instead of every stored hash.
CREATE TABLE phash_bands (
    key   INTEGER NOT NULL,
    phash INTEGER NOT NULL,
    PRIMARY KEY (key, phash)
) WITHOUT ROWID;

-- Every pair of distinct stored values at most 11 bits apart (similar::STORED_DISTANCE),
-- a < b as signed integers; and (v, v, 0) for a value that two or more contents share.
CREATE TABLE phash_pairs (
    a        INTEGER NOT NULL,
    b        INTEGER NOT NULL,
    distance INTEGER NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a <= b)
) WITHOUT ROWID;

-- Which contents have a value (for the files behind a pair).
CREATE INDEX perceptual_phash ON perceptual (phash) WHERE phash IS NOT NULL;
CREATE INDEX phash_pairs_b ON phash_pairs (b);
