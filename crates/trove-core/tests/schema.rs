//! An index written by a newer trove is refused with a clear message and left untouched.

use trove_core::SCHEMA_VERSION;
use trove_core::{Error, Index, OpenMode, StoreError};

#[test]
fn newer_schema_is_refused_and_left_byte_identical() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("future.db");
    drop(Index::open(&p, OpenMode::Create).unwrap());
    {
        let c = rusqlite::Connection::open(&p).unwrap();
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 7).unwrap();
        // back to rollback journal so the main file holds everything
        c.pragma_update(None, "journal_mode", "DELETE").unwrap();
    }
    let before = std::fs::read(&p).unwrap();
    for mode in [OpenMode::Existing, OpenMode::Create] {
        match Index::open(&p, mode) {
            Err(e @ Error::Store(StoreError::NewerSchema { .. })) => {
                let msg = e.to_string();
                assert!(msg.contains("newer trove") && msg.contains("left untouched"), "{msg}");
            }
            other => panic!("expected NewerSchema, got {other:?}"),
        }
    }
    assert_eq!(std::fs::read(&p).unwrap(), before);
    let mut names: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["future.db"], "no -wal or -shm left behind");
}

/// An index as the trove before posting lists wrote it (schema 7, built from that version's
/// own migration files), upgraded in place: links, tags and files untouched, the posting
/// lists built from the links (the namespaces' sets of version 12 included), and every query
/// answering the same through them as through plain SQL.
#[test]
fn version_7_index_upgrades_in_place_with_posting_lists_built_from_the_links() {
    use trove_core::ops::check::verify_postings;
    use trove_core::ops::find::Query;
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("v7.db");
    {
        let c = rusqlite::Connection::open(&p).unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        for sql in [
            include_str!("../src/store/migrations/0001_initial.sql"),
            include_str!("../src/store/migrations/0002_decimal_values.sql"),
            include_str!("../src/store/migrations/0003_roots_auto_include.sql"),
            include_str!("../src/store/migrations/0004_api_keys.sql"),
            include_str!("../src/store/migrations/0005_sha256_file_ids.sql"),
            include_str!("../src/store/migrations/0006_key_requests.sql"),
            include_str!("../src/store/migrations/0007_file_meta.sql"),
        ] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 7).unwrap();
        c.pragma_update(None, "application_id", 0x7472_6f76_i64 /* "trov": store::APPLICATION_ID */).unwrap();
        // 70 000 files (two chunks of ids), three tags, an implication, missing files, and a
        // link from two sources.
        c.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 70000)
             INSERT INTO files (id, path, ext, size, mtime_ns, device, inode, hash, state, added_at, verified_at)
             SELECT i, CAST('/lib/f' || printf('%06d', i) || '.txt' AS BLOB), 'txt', i % 10, i, 1, i,
                    randomblob(32), CASE WHEN i % 1000 = 0 THEN 1 ELSE 0 END, 0, 0 FROM n;
             INSERT INTO tags (id, uid, created_at) VALUES (1, randomblob(32), 0), (2, randomblob(32), 0), (3, randomblob(32), 0);
             INSERT INTO tag_names (name, folded, tag_id, is_primary, ns, val, num) VALUES
               ('cat', 'cat', 1, 1, NULL, NULL, NULL), ('animal', 'animal', 2, 1, NULL, NULL, NULL),
               ('year:2015', 'year:2015', 3, 1, 'year', '2015', 2015);
             INSERT INTO sources (id, kind, name) VALUES (2, 'import', 'x');
             INSERT INTO implications (child, parent) VALUES (1, 2);
             INSERT INTO file_tags (tag_id, file_id, source_id, added_at) SELECT 1, id, 1, 0 FROM files WHERE id % 3 = 0;
             INSERT INTO file_tags (tag_id, file_id, source_id, added_at) SELECT 1, id, 2, 0 FROM files WHERE id % 6 = 0;
             INSERT INTO file_tags (tag_id, file_id, source_id, added_at) SELECT 3, id, 1, 0 FROM files WHERE id % 5 = 0;",
        )
        .unwrap();
    }
    let index = Index::open(&p, OpenMode::Existing).unwrap();
    assert_eq!(index.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(verify_postings(&index).unwrap(), Vec::<String>::new());
    assert_eq!(index.stats().unwrap().links, 23_333 + 11_666 + 14_000);
    for text in [
        "cat",
        "animal",
        "-cat",
        "year>2010 -cat",
        "tags:0",
        "cat | year:2015",
        "missing cat",
        "animal sort:-path",
        "year:*",
        "-year:* cat",
        "year:* sort:-added",
    ] {
        let q = Query::new(&index, text).unwrap();
        assert!(q.uses_posting_lists(&index).unwrap());
        let plain = Query::new(&index, text).unwrap().plain_sql();
        assert_eq!(q.count(&index).unwrap(), plain.count(&index).unwrap(), "{text}");
        let (a, b) = (q.page(&index, None, 50).unwrap(), plain.page(&index, None, 50).unwrap());
        let ids = |v: &[trove_core::FileRecord]| v.iter().map(|r| r.id.0).collect::<Vec<_>>();
        assert_eq!(ids(&a.files), ids(&b.files), "{text}");
    }
    assert_eq!(Query::new(&index, "cat").unwrap().count(&index).unwrap(), 23_333 - 23);
    // The namespace's set was built too (version 12): `year:*` reads it.
    let q = Query::new(&index, "year:*").unwrap();
    assert!(q.steps().contains("namespace year"), "{}", q.steps());
    assert_eq!(q.count(&index).unwrap(), 14_000 - 70);
}
