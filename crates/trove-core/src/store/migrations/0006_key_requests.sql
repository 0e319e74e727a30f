-- 0006: keys requested by a client (the Hydrus Client API's `/request_new_permissions`): the
-- key is made and handed to the client at once, but it opens nothing until the user runs
-- `trove keys approve NAME`. `pending` 1 = waiting; approving sets it to 0.
ALTER TABLE api_keys ADD COLUMN pending INTEGER NOT NULL DEFAULT 0 CHECK (pending IN (0, 1));
