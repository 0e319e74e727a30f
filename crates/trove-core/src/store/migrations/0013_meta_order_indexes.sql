-- 0013: metadata predicates and the `sort:added` order as index reads (issue 9, issue 12).
--
-- `meta.KEY:VALUE` reads the file ids straight from the index on (key, folded): with the
-- file id in the index, no table row is visited (at L, `meta.artist:*a*` read 118 000 rows).
-- `sort:added` / `sort:-added` (the web grid's newest first) walk an index on added_at in
-- order and stop at the page, instead of sorting every live file.
DROP INDEX meta_fields_key;
CREATE INDEX meta_fields_key ON meta_fields (key, folded, file_id);
CREATE INDEX files_added ON files (added_at);
