//! Record versus disk: what a record becomes when the disk disagrees with it.
//!
//! Every operation that compares the index with the disk — `include`, the watcher's batches
//! (`track`), `reconcile`, `check` and `mv` — decides through the functions here, so a rule
//! is written once and each one has a unit test that uses no filesystem. They are pure: they
//! take plain values (a record, a stat, an observation, a list of candidates) and return a
//! verdict; reading the disk and writing the index stay with the callers. Why the rules are
//! what they are is in [`crate::ops::identity`].
//!
//! | rule | function | used by |
//! |---|---|---|
//! | a stat decides: unchanged costs nothing, changed content is re-hashed | [`compare`] | include, track, reconcile, check |
//! | a missing record is revived only when the content is equal | [`revives`] | include, track, reconcile, check |
//! | a live record at a path another record moves onto was overwritten: missing, tags kept | [`overwritten`] | track, reconcile, mv |
//! | path continuity: a file at a record's own path is that record | [`at_own_path`] | reconcile |
//! | …unless it is provably another record's file, moved there (a swap) | [`another_records_file`] | reconcile, track |
//! | moved by inode: one unclaimed path, size and fingerprint agreeing, no shared inode | [`by_inode`] | reconcile |
//! | moved by content: exactly one candidate for exactly one record; else listed, never guessed | [`by_content`], [`unique`] | reconcile, track |
//!
//! One helper belongs to the scan rather than to a rule: [`walk_error`] turns a walk's error
//! into the error a report lists, the same for every walk.

use std::path::Path;

use crate::Error;
use crate::model::{FileId, FileRecord, FileState, Observation, Stat};

/// How a record's stored stat compares with the stat of the file at its path now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatMatch {
    /// Same size, mtime, device and inode: the record's file, unchanged. Nothing is read.
    Same,
    /// The same file (device and inode) with another size or mtime: changed in place, to be
    /// re-hashed (tags kept).
    Changed,
    /// Another inode at the path: replaced (an atomic save, a copy), or renumbered by a
    /// remount. A plain re-hash for `include`, `check` and a watcher's batch; for reconcile
    /// the start of the search ([`at_own_path`], [`by_inode`], [`by_content`]).
    OtherInode,
}

impl StatMatch {
    /// Whether the file has to be read (hashed) to know what it holds.
    pub fn needs_hash(self) -> bool {
        self != StatMatch::Same
    }
}

/// Rule: a stat decides whether a file changed. `recorded` is the record's stat, `now` the
/// file's at the same path.
pub fn compare(recorded: &Stat, now: &Stat) -> StatMatch {
    if recorded == now {
        StatMatch::Same
    } else if (recorded.device, recorded.inode) == (now.device, now.inode) {
        StatMatch::Changed
    } else {
        StatMatch::OtherInode
    }
}

/// Rule: a record already missing comes back automatically (include, reconcile, the
/// watcher) only when the file now observed at its path has its content. A new file at an
/// old path much later is usually another file (camera names repeat); `check` lists that
/// case and `check --repair` keeps the record there.
pub fn revives(missing: &FileRecord, now: &Observation) -> bool {
    missing.hash == now.hash
}

/// Rule: a path one or more records move onto (a rename over a file, `mv --force`, a
/// directory moved over another) may hold a live record that is not among those moving:
/// that file was overwritten, so its record becomes missing, tags kept. Returns the record
/// to mark missing.
pub fn overwritten(occupant: Option<&FileRecord>, moving: impl Fn(FileId) -> bool) -> Option<FileId> {
    occupant.filter(|o| o.state != FileState::Missing && !moving(o.id)).map(|o| o.id)
}

/// What a record becomes when its own path holds a file that is not provably another
/// record's (path continuity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnPath {
    /// The same file, renumbered by a remount of a filesystem that numbers inodes per mount
    /// (same size and mtime): only the new stat is stored, nothing is read.
    Restat,
    /// The record's file, changed or replaced (an editor's save, `git checkout`, `tar -x`):
    /// re-hashed, tags kept.
    Rehash,
    /// A missing record: it comes back only if the content is equal ([`revives`]); if not,
    /// the file is someone else's and the record is looked for elsewhere.
    ReviveIfEqual,
}

/// Rule (path continuity): a file at a record's own path is that record. `inode_stable`
/// says whether inode numbers on the file's device identify a file
/// ([`crate::ops::identity::InodeTrust::stable`]).
pub fn at_own_path(rec: &FileRecord, now: &Stat, inode_stable: bool) -> OwnPath {
    match rec.state {
        FileState::Missing => OwnPath::ReviveIfEqual,
        _ if !inode_stable && (now.size, now.mtime_ns) == (rec.stat.size, rec.stat.mtime_ns) => OwnPath::Restat,
        _ => OwnPath::Rehash,
    }
}

/// Rule (path continuity's one exception, a swap or a rename over an indexed file): the file
/// found at record `me`'s path is provably `other`'s file, moved there, when `other` had the
/// file's inode and the content agrees (`content_agrees`: the same BLAKE3, or the size and
/// sampled fingerprint of [`inode_match_holds`]). Then `me` is looked for elsewhere.
pub fn another_records_file(me: FileId, other: &FileRecord, found: &Stat, content_agrees: bool) -> bool {
    other.id != me && (other.stat.device, other.stat.inode) == (found.device, found.inode) && content_agrees
}

/// Rule (an inode proves little): the test for one path holding the record's old inode. The
/// file there is the record's only if the size and the sampled fingerprint (`found_fp`, the
/// first and last bytes) agree; a freed inode handed to a new file of the same size fails.
pub fn inode_match_holds(rec: &FileRecord, found: &Stat, found_fp: Option<i64>) -> bool {
    found.size == rec.stat.size && found_fp == Some(rec.fingerprint)
}

/// The verdict of [`by_inode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InodeMatch<P> {
    /// The record moved to this path.
    Moved(P),
    /// Hard links of one file, several records of them gone: which went where cannot be
    /// known. The record becomes missing and the paths are listed.
    Ambiguous(Vec<P>),
    /// The inode settles nothing: look by content.
    Unsettled,
}

/// Rule (moved by inode): a record whose old path is gone (or holds another record's file)
/// moved to the one unclaimed path holding its old inode, when [`inode_match_holds`] there
/// and no other vanished record shares the inode. `sharing` counts the vanished records with
/// the inode (this one included), `unclaimed` lists the unclaimed paths holding it. Only for
/// filesystems whose inodes are stable; the caller checks that.
pub fn by_inode<P: Clone>(sharing: usize, unclaimed: &[P], holds: impl Fn(&P) -> bool) -> InodeMatch<P> {
    if sharing == 1 {
        match unclaimed {
            [p] if holds(p) => InodeMatch::Moved(p.clone()),
            _ => InodeMatch::Unsettled,
        }
    } else if unclaimed.is_empty() {
        InodeMatch::Unsettled
    } else {
        InodeMatch::Ambiguous(unclaimed.to_vec())
    }
}

/// The verdict of [`by_content`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentMatch<P> {
    /// The record moved to this path.
    Moved(P),
    /// No file has the content: a present record becomes missing, a missing one stays so.
    Gone,
    /// Several files have it, or several vanished records share it: listed, never guessed.
    /// A present record becomes missing.
    Ambiguous(Vec<P>),
}

/// Rule (content last): `found` are the unclaimed files whose BLAKE3 equals the record's,
/// `records_with_hash` the vanished records with that hash (this one included). Exactly one
/// candidate for exactly one record is certain; anything else is ambiguous.
pub fn by_content<P>(found: Vec<P>, records_with_hash: usize) -> ContentMatch<P> {
    match found.len() {
        0 => ContentMatch::Gone,
        1 if records_with_hash == 1 => ContentMatch::Moved(found.into_iter().next().expect("one")),
        _ => ContentMatch::Ambiguous(found),
    }
}

/// Rule (never guess): of the candidates a rule found for one file or one record, only a
/// single one is certain.
pub fn unique<T>(candidates: &[T]) -> Option<&T> {
    match candidates {
        [one] => Some(one),
        _ => None,
    }
}

/// The error a walk's failure is listed as: the path it happened at (or the walk's `top`),
/// with the I/O reason; a symlink loop, which has none, says so.
pub(crate) fn walk_error(e: walkdir::Error, top: &Path) -> Error {
    let path = e.path().map_or_else(|| top.to_path_buf(), Path::to_path_buf);
    let io = e.into_io_error().unwrap_or_else(|| std::io::Error::other("filesystem loop"));
    Error::io(path, io)
}

/// Whether a walk's error is a directory that vanished while it was walked: ordinary churn
/// for a scan of a live tree (reconcile), not a failure.
pub(crate) fn vanished_mid_walk(e: &walkdir::Error) -> bool {
    e.io_error().is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
}

#[cfg(test)]
mod tests {
    //! One test per rule, on plain values: no file is read or written.

    use super::*;
    use crate::hash::hash_bytes;

    const STAT: Stat = Stat { size: 5, mtime_ns: 1_000, device: 1, inode: 7 };

    fn record(state: FileState, content: &[u8]) -> FileRecord {
        FileRecord {
            id: FileId(1),
            path: "/l/f.txt".into(),
            stat: STAT,
            hash: hash_bytes(content),
            fingerprint: 42,
            state,
            added_at: 0,
            verified_at: 0,
        }
    }

    fn seen(content: &[u8]) -> Observation {
        Observation { stat: Stat { inode: 8, ..STAT }, hash: hash_bytes(content), fingerprint: 0, sha256: None }
    }

    #[test]
    fn an_unchanged_stat_reads_nothing() {
        assert_eq!(compare(&STAT, &STAT), StatMatch::Same);
        assert!(!StatMatch::Same.needs_hash());
    }

    #[test]
    fn changed_content_in_place_is_rehashed() {
        for now in [Stat { size: 6, ..STAT }, Stat { mtime_ns: 2_000, ..STAT }] {
            assert_eq!(compare(&STAT, &now), StatMatch::Changed, "{now:?}");
            assert!(StatMatch::Changed.needs_hash());
        }
    }

    #[test]
    fn another_inode_at_the_path_is_read_even_with_the_same_size_and_mtime() {
        assert_eq!(compare(&STAT, &Stat { inode: 8, ..STAT }), StatMatch::OtherInode);
        assert_eq!(compare(&STAT, &Stat { device: 2, ..STAT }), StatMatch::OtherInode);
        assert!(StatMatch::OtherInode.needs_hash());
    }

    #[test]
    fn a_missing_record_is_revived_only_with_equal_content() {
        let r = record(FileState::Missing, b"hello");
        assert!(revives(&r, &seen(b"hello")));
        assert!(!revives(&r, &seen(b"other")), "a new file at an old path is another file");
    }

    #[test]
    fn a_live_record_at_a_target_that_gets_overwritten_becomes_missing() {
        let mut occupant = record(FileState::Present, b"x");
        occupant.id = FileId(9);
        assert_eq!(overwritten(Some(&occupant), |id| id == FileId(1)), Some(FileId(9)));
        // Not when it is one of the records moving (a swap, a directory moved as a whole)...
        assert_eq!(overwritten(Some(&occupant), |id| id == FileId(9)), None);
        // ...nor when nothing, or only a missing record, sits there.
        assert_eq!(overwritten(None, |_| false), None);
        occupant.state = FileState::Missing;
        assert_eq!(overwritten(Some(&occupant), |_| false), None);
    }

    #[test]
    fn path_continuity_keeps_a_present_record_on_its_path_rehashed() {
        let r = record(FileState::Present, b"hello");
        assert_eq!(at_own_path(&r, &Stat { inode: 99, size: 9, ..STAT }, true), OwnPath::Rehash);
        // On a filesystem with stable inodes the same size and mtime under another inode is
        // still read: it may be other bytes.
        assert_eq!(at_own_path(&r, &Stat { inode: 99, ..STAT }, true), OwnPath::Rehash);
    }

    #[test]
    fn a_remount_that_renumbers_an_unchanged_file_only_restats_it() {
        let r = record(FileState::Present, b"hello");
        assert_eq!(at_own_path(&r, &Stat { inode: 99, ..STAT }, false), OwnPath::Restat);
        assert_eq!(at_own_path(&r, &Stat { inode: 99, size: 6, ..STAT }, false), OwnPath::Rehash);
    }

    #[test]
    fn a_missing_record_at_its_occupied_path_waits_for_equal_content() {
        let r = record(FileState::Missing, b"hello");
        assert_eq!(at_own_path(&r, &STAT, true), OwnPath::ReviveIfEqual);
        assert_eq!(at_own_path(&r, &STAT, false), OwnPath::ReviveIfEqual);
    }

    #[test]
    fn a_file_at_a_records_path_is_another_records_only_with_its_inode_and_content() {
        let mut other = record(FileState::Present, b"other");
        other.id = FileId(2);
        // `other`'s file (inode 7, content agreeing) now sits at record 1's path: a swap.
        assert!(another_records_file(FileId(1), &other, &STAT, true));
        assert!(!another_records_file(FileId(1), &other, &STAT, false), "a reused inode");
        assert!(!another_records_file(FileId(1), &other, &Stat { inode: 8, ..STAT }, true), "another inode");
        assert!(!another_records_file(FileId(2), &other, &STAT, true), "its own file is not another's");
    }

    #[test]
    fn an_inode_match_needs_size_and_fingerprint() {
        let r = record(FileState::Present, b"hello");
        assert!(inode_match_holds(&r, &STAT, Some(42)));
        assert!(!inode_match_holds(&r, &STAT, Some(43)), "a reused inode with other bytes");
        assert!(!inode_match_holds(&r, &Stat { size: 6, ..STAT }, Some(42)));
        assert!(!inode_match_holds(&r, &STAT, None), "unreadable: no proof");
    }

    #[test]
    fn moved_by_inode_to_the_one_unclaimed_path_holding_it() {
        assert_eq!(by_inode(1, &["/l/g"], |_| true), InodeMatch::Moved("/l/g"));
        assert_eq!(by_inode(1, &["/l/g"], |_| false), InodeMatch::Unsettled, "fingerprint disagrees");
        assert_eq!(by_inode(1, &[] as &[&str], |_| true), InodeMatch::Unsettled);
        // One record, two links left: the inode cannot say which path is its own.
        assert_eq!(by_inode(1, &["/l/g", "/l/h"], |_| true), InodeMatch::Unsettled);
    }

    #[test]
    fn gone_hard_links_sharing_an_inode_are_ambiguous_never_guessed() {
        assert_eq!(by_inode(2, &["/l/g", "/l/h"], |_| true), InodeMatch::Ambiguous(vec!["/l/g", "/l/h"]));
        assert_eq!(by_inode(2, &["/l/g"], |_| true), InodeMatch::Ambiguous(vec!["/l/g"]));
        assert_eq!(by_inode(2, &[] as &[&str], |_| true), InodeMatch::Unsettled);
    }

    #[test]
    fn moved_by_content_when_one_file_and_one_record_have_it() {
        assert_eq!(by_content(vec!["/l/g"], 1), ContentMatch::Moved("/l/g"));
    }

    #[test]
    fn a_record_whose_content_is_nowhere_is_gone() {
        assert_eq!(by_content(Vec::<&str>::new(), 1), ContentMatch::Gone);
    }

    #[test]
    fn ambiguous_content_is_listed_never_guessed() {
        // Two copies of the file...
        assert_eq!(by_content(vec!["/l/g", "/l/h"], 1), ContentMatch::Ambiguous(vec!["/l/g", "/l/h"]));
        // ...or two vanished records of one content and one file.
        assert_eq!(by_content(vec!["/l/g"], 2), ContentMatch::Ambiguous(vec!["/l/g"]));
        assert_eq!(unique(&[1]), Some(&1));
        assert_eq!(unique(&[1, 2]), None);
        assert_eq!(unique::<i32>(&[]), None);
    }

    #[test]
    fn a_walk_error_names_the_path_it_happened_at() {
        // The one error a walk makes without a filesystem: its root does not exist.
        let top = Path::new("/nonexistent-trove-walk-root");
        let e = walkdir::WalkDir::new(top).into_iter().next().unwrap().unwrap_err();
        assert!(vanished_mid_walk(&e));
        match walk_error(e, Path::new("/elsewhere")) {
            Error::Io { path, source } => {
                assert_eq!(path, top);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
    }
}
