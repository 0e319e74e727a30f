//! An index written by a newer trove is refused with a clear message and left untouched.

use trove_core::SCHEMA_VERSION;
use trove_core::{Error, Index, OpenMode};

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
            Err(e @ Error::NewerSchema { .. }) => {
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
