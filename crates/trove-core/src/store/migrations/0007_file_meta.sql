-- Metadata extracted from file contents (issue 12): typed measurements in columns with
-- indexes (queried as `width>1920`, `type:video`, `taken>2020-01-01`), text fields (audio
-- tags, EXIF camera and lens, PDF info, PNG text chunks) as key/value rows. Not tags: they
-- go stale with the content, so a row remembers the size and mtime it was read from.

CREATE TABLE file_meta (
    file_id      INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    size         INTEGER NOT NULL,
    mtime_ns     INTEGER NOT NULL,
    extracted_at INTEGER NOT NULL,
    mime         TEXT,
    kind         TEXT,
    width        INTEGER,
    height       INTEGER,
    duration_ms  INTEGER,
    fps          REAL,
    has_audio    INTEGER,
    taken        INTEGER,
    error        TEXT
);
CREATE INDEX file_meta_width ON file_meta(width) WHERE width IS NOT NULL;
CREATE INDEX file_meta_height ON file_meta(height) WHERE height IS NOT NULL;
CREATE INDEX file_meta_duration ON file_meta(duration_ms) WHERE duration_ms IS NOT NULL;
CREATE INDEX file_meta_taken ON file_meta(taken) WHERE taken IS NOT NULL;
CREATE INDEX file_meta_kind ON file_meta(kind, mime);
CREATE INDEX file_meta_error ON file_meta(file_id) WHERE error IS NOT NULL;

CREATE TABLE meta_fields (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    folded  TEXT NOT NULL
);
CREATE INDEX meta_fields_key ON meta_fields(key, folded);
CREATE INDEX meta_fields_file ON meta_fields(file_id);
