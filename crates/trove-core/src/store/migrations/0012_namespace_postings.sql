-- 0012: a posting list per namespace. `genre:*` matched ~9 000 tags at L, and the union of
-- their bitmaps (tens of thousands of chunks) took 0.1-0.2 s; the set of files linked to any
-- tag with a name in the namespace is now kept beside the tags' sets, so such a wildcard is
-- one read of at most 2^16 ids per chunk. Namespaces get a number here; a namespace's set is
-- stored in `postings` under the key -1000 - id (0, -1 and -9 stay reserved as in 0008).
--
-- The sets change in the same transaction as the links and names they mirror: a link written
-- or removed is already noted in postings_dirty under its tag (0008's triggers), and
-- store::postings::flush settles it for every namespace of the tag's names too. A name that
-- leaves or joins a namespace while its tag has links (a delete, a merge, a rename into
-- another namespace) notes the whole namespace (file_id -1), which flush rebuilds from the
-- links. The sets themselves are built right after this migration (postings::rebuild).
-- (The triggers are short on purpose: their text is in the schema of every index.)
CREATE TABLE postings_ns (
    id INTEGER PRIMARY KEY,
    ns TEXT    NOT NULL UNIQUE
);
INSERT INTO postings_ns (ns) SELECT DISTINCT ns FROM tag_names WHERE ns IS NOT NULL ORDER BY ns;

CREATE TRIGGER postings_ns_name_insert AFTER INSERT ON tag_names WHEN NEW.ns IS NOT NULL
BEGIN INSERT OR IGNORE INTO postings_ns (ns) VALUES (NEW.ns);
INSERT OR IGNORE INTO postings_dirty SELECT -1000 - id, -1 FROM postings_ns
WHERE ns = NEW.ns AND EXISTS (SELECT 1 FROM file_tags WHERE tag_id = NEW.tag_id); END;

CREATE TRIGGER postings_ns_name_delete AFTER DELETE ON tag_names WHEN OLD.ns IS NOT NULL
BEGIN INSERT OR IGNORE INTO postings_dirty SELECT -1000 - id, -1 FROM postings_ns WHERE ns = OLD.ns; END;

CREATE TRIGGER postings_ns_name_update AFTER UPDATE OF ns, tag_id ON tag_names
WHEN OLD.ns IS NOT NEW.ns OR OLD.tag_id <> NEW.tag_id
BEGIN INSERT OR IGNORE INTO postings_ns (ns) SELECT NEW.ns WHERE NEW.ns IS NOT NULL;
INSERT OR IGNORE INTO postings_dirty SELECT -1000 - id, -1 FROM postings_ns WHERE ns IN (OLD.ns, NEW.ns); END;
