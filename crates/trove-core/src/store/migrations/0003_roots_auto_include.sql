-- Roots behave like watched folders (issue 7): files that appear under a root are indexed
-- (untagged) by the watcher and by reconcile unless the root's `auto_include` is off.
-- `ignore_patterns` is the global ignore list (gitignore syntax), applied under every root
-- on top of the `.troveignore` files found in the tree.
ALTER TABLE roots ADD COLUMN auto_include INTEGER NOT NULL DEFAULT 1;

CREATE TABLE ignore_patterns (
    pattern  TEXT    PRIMARY KEY,
    added_at INTEGER NOT NULL
);
