-- Potential duplicates a client stated (issue 16): pairs of files a Hydrus client sent
-- with relationship 0 ("potential") that trove's own search may not find (a video pair of
-- hydrusvideodeduplicator, say). They are candidate pairs like trove's own: undecided until
-- a decision is stored (`dupe_decisions`), listed by the Hydrus potential-pair endpoints and
-- `dupe:undecided`, removed by `remove_potentials`. Keyed by file id like decisions.
CREATE TABLE dupe_potentials (
    a        INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    b        INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
) WITHOUT ROWID;
CREATE INDEX dupe_potentials_b ON dupe_potentials (b, a);
