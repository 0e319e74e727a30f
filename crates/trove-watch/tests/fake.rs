//! Deterministic daemon logic with a fake event source: merged, reordered and lost events
//! against a real tree and a real index. Whatever order the events come in, the index ends
//! up matching the disk, because anything that does not add up is checked and reconciled.

use std::path::{Path, PathBuf};

use trove_core::ops::NoProgress;
use trove_core::ops::find::find;
use trove_core::ops::include::{IncludeOptions, include};
use trove_core::{FileState, Index, OpenMode};
use trove_watch::fake::FakeSource;
use trove_watch::{Daemon, FsEvent, WatchConfig};

struct T {
    _d: tempfile::TempDir,
    root: PathBuf,
    daemon: Daemon,
    source: FakeSource,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn setup(files: &[(&str, &str)]) -> T {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap().join("lib");
    for (rel, tag) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, format!("content of {rel}")).unwrap();
        let _ = tag;
    }
    let db = d.path().join("i.db");
    let mut index = Index::open(&db, OpenMode::Create).unwrap();
    include(
        &mut index,
        std::slice::from_ref(&root),
        &IncludeOptions { recursive: true, ..Default::default() },
        &NoProgress,
    )
    .unwrap();
    for (rel, tag) in files {
        let opts = IncludeOptions { tags: vec![tag.to_string()], ..Default::default() };
        include(&mut index, &[root.join(rel)], &opts, &NoProgress).unwrap();
    }
    let source = FakeSource::default();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = log.clone();
    let daemon = Daemon::new(
        index,
        Box::new(source.clone()),
        WatchConfig::new(db),
        Box::new(move |s: &str| sink.lock().unwrap().push(s.to_string())),
    );
    T { _d: d, root, daemon, source, log }
}

impl T {
    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    fn mv(&self, a: &str, b: &str) {
        std::fs::rename(self.p(a), self.p(b)).unwrap();
    }
    fn ren(&self, a: &str, b: &str, dir: bool) -> FsEvent {
        FsEvent::Renamed { from: self.p(a), to: self.p(b), dir }
    }
    fn at(&self, tag: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = find(self.daemon.index(), tag)
            .unwrap()
            .into_iter()
            .map(|r| r.path.strip_prefix(&self.root).unwrap().to_path_buf())
            .collect();
        v.sort();
        v
    }
}

fn paths(v: &[&str]) -> Vec<PathBuf> {
    v.iter().map(PathBuf::from).collect()
}

#[test]
fn a_chain_of_renames_in_one_batch() {
    let mut t = setup(&[("a", "ta")]);
    t.mv("a", "b");
    t.mv("b", "c");
    let batch = vec![t.ren("a", "b", false), t.ren("b", "c", false)];
    t.daemon.handle(batch).unwrap();
    assert_eq!(t.at("ta"), paths(&["c"]));
}

#[test]
fn reordered_renames_are_settled_by_the_disk() {
    let mut t = setup(&[("a", "ta"), ("x/f", "tf")]);
    t.mv("a", "b");
    t.mv("b", "c");
    // delivered in the wrong order
    let batch = vec![t.ren("b", "c", false), t.ren("a", "b", false)];
    t.daemon.handle(batch).unwrap();
    assert_eq!(t.at("ta"), paths(&["c"]));
    // a directory rename delivered after an event inside its new name
    t.mv("x", "y");
    std::fs::write(t.p("y/f"), b"edited after the move").unwrap();
    let batch = vec![FsEvent::Written { path: t.p("y/f") }, t.ren("x", "y", true)];
    t.daemon.handle(batch).unwrap();
    assert_eq!(t.at("tf"), paths(&["y/f"]));
    let r = find(t.daemon.index(), "tf").unwrap();
    assert_eq!(r[0].hash, trove_core::hash::hash_bytes(b"edited after the move"));
}

#[test]
fn merged_create_write_delete_records() {
    let mut t = setup(&[("keep", "tk")]);
    // fanotify merged CREATE|CLOSE_WRITE|DELETE for a temp file: gone by the time we look
    let batch = vec![
        FsEvent::Created { path: t.p(".tmp"), dir: false },
        FsEvent::Written { path: t.p(".tmp") },
        FsEvent::Removed { path: t.p(".tmp"), dir: false },
        FsEvent::Written { path: t.p("keep") },
    ];
    t.daemon.handle(batch).unwrap();
    assert_eq!(t.at("tk"), paths(&["keep"]));
    assert_eq!(t.daemon.index().stats().unwrap().files, 1);
}

#[test]
fn swap_through_a_temp_name() {
    let mut t = setup(&[("a", "ta"), ("b", "tb")]);
    t.mv("a", "t");
    t.mv("b", "a");
    t.mv("t", "b");
    let batch = vec![t.ren("a", "t", false), t.ren("b", "a", false), t.ren("t", "b", false)];
    t.daemon.handle(batch).unwrap();
    assert_eq!(t.at("ta"), paths(&["b"]));
    assert_eq!(t.at("tb"), paths(&["a"]));
}

#[test]
fn swap_with_events_in_separate_batches_and_one_lost() {
    let mut t = setup(&[("a", "ta"), ("b", "tb")]);
    t.mv("a", "t");
    t.mv("b", "a");
    t.mv("t", "b");
    t.daemon.handle(vec![t.ren("a", "t", false)]).unwrap();
    // The second rename's event is lost; the third arrives. Moving a's record onto `b`
    // marks b's record missing (it looked overwritten)...
    t.daemon.handle(vec![t.ren("t", "b", false)]).unwrap();
    // ...until a rescan finds b's file, by inode, at `a`.
    t.daemon.handle(vec![FsEvent::Rescan { scope: None }]).unwrap();
    assert_eq!(t.at("ta"), paths(&["b"]));
    assert_eq!(t.at("tb"), paths(&["a"]));
}

#[test]
fn lost_events_are_recovered_by_a_rescan() {
    let mut t = setup(&[("d/one", "t1"), ("d/two", "t2")]);
    std::fs::create_dir(t.p("e")).unwrap();
    t.mv("d/one", "e/one");
    std::fs::remove_file(t.p("d/two")).unwrap();
    // an overflow: nothing but "rescan"
    t.daemon.handle(vec![FsEvent::Rescan { scope: None }]).unwrap();
    assert_eq!(t.at("t1"), paths(&["e/one"]));
    assert_eq!(t.at("t2 missing"), paths(&["d/two"]));
    let r = find(t.daemon.index(), "t2 missing").unwrap();
    assert_eq!(r[0].state, FileState::Missing);
}

#[test]
fn events_outside_roots_are_ignored() {
    let mut t = setup(&[("a", "ta")]);
    let outside = Path::new("/definitely/not/a/root");
    let batch = vec![
        FsEvent::Renamed { from: outside.join("x"), to: outside.join("y"), dir: false },
        FsEvent::Removed { path: outside.join("z"), dir: true },
        FsEvent::Written { path: outside.join("w") },
    ];
    t.daemon.handle(batch).unwrap();
    assert_eq!(t.at("ta"), paths(&["a"]));
    assert_eq!(*t.source.resyncs.lock().unwrap(), 0, "no rescan for events outside the roots");
}

#[test]
fn rename_onto_an_indexed_path_and_atomic_save() {
    let mut t = setup(&[("x", "tx"), ("y", "ty"), ("doc", "td")]);
    t.mv("x", "y");
    let id = find(t.daemon.index(), "td").unwrap()[0].id;
    std::fs::write(t.p(".doc.tmp"), b"new version").unwrap();
    t.mv(".doc.tmp", "doc");
    let batch = vec![
        t.ren("x", "y", false),
        FsEvent::Created { path: t.p(".doc.tmp"), dir: false },
        FsEvent::Written { path: t.p(".doc.tmp") },
        t.ren(".doc.tmp", "doc", false),
    ];
    t.daemon.handle(batch).unwrap();
    assert_eq!(t.at("tx"), paths(&["y"]));
    assert_eq!(t.at("ty missing"), paths(&["y"]));
    let d = find(t.daemon.index(), "td").unwrap();
    assert_eq!((d[0].id, d[0].hash), (id, trove_core::hash::hash_bytes(b"new version")));
}

impl T {
    fn write(&self, rel: &str, content: &[u8]) {
        std::fs::write(self.p(rel), content).unwrap();
    }
    fn created(&self, rel: &str) -> Vec<FsEvent> {
        vec![FsEvent::Created { path: self.p(rel), dir: false }, FsEvent::Written { path: self.p(rel) }]
    }
    fn removed(&self, rel: &str) -> FsEvent {
        FsEvent::Removed { path: self.p(rel), dir: false }
    }
    fn one(&self, tag: &str) -> trove_core::FileRecord {
        let mut r = find(self.daemon.index(), tag).unwrap();
        assert_eq!(r.len(), 1, "{tag}: {r:?}");
        r.remove(0)
    }
    fn logged(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

#[test]
fn vims_default_save_keeps_the_record_on_the_file_in_one_batch_or_split() {
    // rename f -> f~, write a new f, unlink f~ (Debian's vim, backupcopy=auto).
    for split in [false, true] {
        let mut t = setup(&[("f.txt", "tf")]);
        let id = t.one("tf").id;
        t.mv("f.txt", "f.txt~");
        t.write("f.txt", b"saved by vim");
        std::fs::remove_file(t.p("f.txt~")).unwrap();
        let mut batch = vec![t.ren("f.txt", "f.txt~", false)];
        if split {
            t.daemon.handle(std::mem::take(&mut batch)).unwrap();
        }
        batch.extend(t.created("f.txt"));
        batch.push(t.removed("f.txt~"));
        t.daemon.handle(batch).unwrap();
        let r = t.one("tf");
        assert_eq!((r.id, r.state, r.path), (id, FileState::Present, t.p("f.txt")), "split: {split}");
        assert_eq!(r.hash, trove_core::hash::hash_bytes(b"saved by vim"));
        assert_eq!(t.at("missing"), paths(&[]), "split: {split}");
    }
}

#[test]
fn exiftool_backup_by_rename_keeps_the_tag_on_the_edited_file() {
    // exiftool writes img.jpg_exiftool_tmp, renames img.jpg -> img.jpg_original, then the
    // temp onto img.jpg.
    let mut t = setup(&[("img.jpg", "ti")]);
    t.write("img.jpg_exiftool_tmp", b"edited image");
    t.mv("img.jpg", "img.jpg_original");
    t.mv("img.jpg_exiftool_tmp", "img.jpg");
    let mut batch = t.created("img.jpg_exiftool_tmp");
    batch.push(t.ren("img.jpg", "img.jpg_original", false));
    batch.push(t.ren("img.jpg_exiftool_tmp", "img.jpg", false));
    t.daemon.handle(batch).unwrap();
    let r = t.one("ti");
    assert_eq!(r.path, t.p("img.jpg"));
    assert_eq!(r.hash, trove_core::hash::hash_bytes(b"edited image"));
    // The backup is a new file like any other: auto-include indexes it, untagged.
    let backup = trove_core::ops::files::live_at(t.daemon.index(), &t.p("img.jpg_original")).unwrap();
    assert!(backup.is_none_or(|b| trove_core::ops::files::is_bare(t.daemon.index(), b.id).unwrap()));
    assert!(t.logged().iter().any(|l| l.contains("img.jpg: kept on its path")), "{:?}", t.logged());
}

#[test]
fn a_backup_rename_in_an_earlier_batch_still_keeps_the_record() {
    let mut t = setup(&[("notes.txt", "tn")]);
    t.mv("notes.txt", "notes.txt.bak");
    t.daemon.handle(vec![t.ren("notes.txt", "notes.txt.bak", false)]).unwrap();
    assert_eq!(t.at("tn"), paths(&["notes.txt.bak"]));
    t.write("notes.txt", b"new notes");
    t.daemon.handle(t.created("notes.txt")).unwrap();
    assert_eq!(t.at("tn"), paths(&["notes.txt"]));
}

#[test]
fn a_plain_rename_in_an_earlier_batch_is_not_undone_by_a_new_file() {
    let mut t = setup(&[("a.txt", "ta")]);
    t.mv("a.txt", "b.txt");
    t.daemon.handle(vec![t.ren("a.txt", "b.txt", false)]).unwrap();
    t.write("a.txt", b"unrelated");
    t.daemon.handle(t.created("a.txt")).unwrap();
    assert_eq!(t.at("ta"), paths(&["b.txt"]));
}

#[test]
fn delete_then_write_keeps_the_record_as_changed_even_across_batches() {
    for split in [false, true] {
        let mut t = setup(&[("doc", "td")]);
        let id = t.one("td").id;
        std::fs::remove_file(t.p("doc")).unwrap();
        let mut batch = vec![t.removed("doc")];
        if split {
            t.daemon.handle(std::mem::take(&mut batch)).unwrap();
            assert_eq!(t.at("td missing"), paths(&["doc"]));
        }
        t.write("doc", b"different content");
        batch.extend(t.created("doc"));
        t.daemon.handle(batch).unwrap();
        let r = t.one("td");
        assert_eq!((r.id, r.state), (id, FileState::Present), "split: {split}");
        assert_eq!(r.hash, trove_core::hash::hash_bytes(b"different content"));
    }
}

#[test]
fn copy_then_delete_is_resolved_by_content_at_the_end_of_the_batch() {
    // cp A/f B/.tmp; mv B/.tmp B/f; rm A/f
    let mut t = setup(&[("A/f", "tf"), ("B/keep", "tk")]);
    std::fs::copy(t.p("A/f"), t.p("B/.tmp")).unwrap();
    t.mv("B/.tmp", "B/f");
    std::fs::remove_file(t.p("A/f")).unwrap();
    let mut batch = t.created("B/.tmp");
    batch.push(t.ren("B/.tmp", "B/f", false));
    batch.push(t.removed("A/f"));
    t.daemon.apply_batch(batch).unwrap();
    // No reconcile needed (apply_batch alone does not run one).
    assert_eq!(t.at("tf"), paths(&["B/f"]));
    assert!(t.logged().iter().any(|l| l.contains("moved to") && l.contains("by content")), "{:?}", t.logged());
}

#[test]
fn a_deleted_record_is_logged_once_with_its_reason() {
    let mut t = setup(&[("gone", "tg"), ("d/x", "tx")]);
    std::fs::remove_file(t.p("gone")).unwrap();
    std::fs::remove_dir_all(t.p("d")).unwrap();
    let batch = vec![t.removed("gone"), FsEvent::Removed { path: t.p("d"), dir: true }];
    t.daemon.handle(batch).unwrap();
    let log = t.logged();
    assert_eq!(log.iter().filter(|l| l.ends_with("gone: missing, deleted")).count(), 1, "{log:?}");
    assert_eq!(log.iter().filter(|l| l.ends_with("d/x: missing, deleted with its directory")).count(), 1, "{log:?}");
}

#[test]
fn a_new_file_under_a_root_is_indexed_untagged() {
    let mut t = setup(&[("a", "ta")]);
    std::fs::write(t.p("new"), b"fresh").unwrap();
    t.daemon.handle(vec![FsEvent::Created { path: t.p("new"), dir: false }]).unwrap();
    assert_eq!(t.at("tags:0"), paths(&["new"]));
    assert_eq!(t.at("ta"), paths(&["a"]));
}

#[test]
fn a_copy_auto_included_before_its_source_is_deleted_takes_the_source_record() {
    // A move across filesystems whose delete arrives after the copy was indexed on its own:
    // the tags must follow the file, and no second record may stay behind.
    let mut t = setup(&[("a/f", "tf")]);
    std::fs::create_dir_all(t.p("b")).unwrap();
    std::fs::copy(t.p("a/f"), t.p("b/f")).unwrap();
    let batch = vec![FsEvent::Created { path: t.p("b/f"), dir: false }, FsEvent::Written { path: t.p("b/f") }];
    t.daemon.handle(batch).unwrap();
    assert_eq!(t.at("tags:0"), paths(&["b/f"]), "indexed on its own first");
    std::fs::remove_file(t.p("a/f")).unwrap();
    t.daemon.handle(vec![FsEvent::Removed { path: t.p("a/f"), dir: false }]).unwrap();
    assert_eq!(t.at("tf"), paths(&["b/f"]));
    assert_eq!(t.daemon.index().stats().unwrap().files, 1, "the bare record was merged away");
}

#[test]
fn events_on_the_index_own_files_are_dropped() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().canonicalize().unwrap();
    let db = root.join("i.db");
    let mut index = Index::open(&db, OpenMode::Create).unwrap();
    std::fs::write(root.join("f"), b"f").unwrap();
    include(
        &mut index,
        std::slice::from_ref(&root),
        &IncludeOptions { recursive: true, ..Default::default() },
        &NoProgress,
    )
    .unwrap();
    trove_core::ops::watch::started(&mut index, 1, "fake", 0).unwrap();
    let mut daemon =
        Daemon::new(index, Box::new(FakeSource::default()), WatchConfig::new(db.clone()), Box::new(|_| {}));
    let wal = root.join("i.db-wal");
    daemon.handle(vec![FsEvent::Written { path: db.clone() }, FsEvent::Written { path: wal }]).unwrap();
    let s = trove_core::ops::watch::status(daemon.index()).unwrap().unwrap();
    assert_eq!(s.events, 0, "no batch was applied for them");
    assert_eq!(daemon.index().stats().unwrap().files, 1);
}

#[test]
fn a_renamed_root_is_followed_from_its_rename_event() {
    let mut t = setup(&[("a/f", "tf")]);
    let lib2 = t.root.with_file_name("lib2");
    std::fs::rename(&t.root, &lib2).unwrap();
    let batch = vec![FsEvent::Renamed { from: t.root.clone(), to: lib2.clone(), dir: true }];
    t.daemon.handle(batch).unwrap();
    let roots: Vec<PathBuf> =
        trove_core::ops::roots::list(t.daemon.index()).unwrap().into_iter().map(|r| r.path).collect();
    assert_eq!(roots, std::slice::from_ref(&lib2));
    let r = find(t.daemon.index(), "tf").unwrap();
    assert_eq!((r.len(), &r[0].path, r[0].state), (1, &lib2.join("a/f"), FileState::Present));
    // Events under the new name count as under the root right away.
    std::fs::rename(lib2.join("a/f"), lib2.join("a/g")).unwrap();
    let batch = vec![FsEvent::Renamed { from: lib2.join("a/f"), to: lib2.join("a/g"), dir: false }];
    t.daemon.handle(batch).unwrap();
    assert_eq!(find(t.daemon.index(), "tf").unwrap()[0].path, lib2.join("a/g"));
}

/// What one file goes through in the random test, with the events a watcher reports for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Keep,
    Mv,
    Rm,
    /// `rm f; write f` (git checkout, tar -x).
    Rewrite,
    /// exiftool: temp file, f -> f_original, temp -> f.
    Exiftool,
    /// vim: f -> f~, write f, rm f~.
    Vim,
    /// Written in place.
    Edit,
    /// cp to another directory under a temp name, rename, rm the source.
    CopyRm,
}

#[test]
fn random_tool_sequences_in_random_batches_leave_every_tag_where_a_user_expects_it() {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let tools = [Tool::Keep, Tool::Mv, Tool::Rm, Tool::Rewrite, Tool::Exiftool, Tool::Vim, Tool::Edit, Tool::CopyRm];
    for round in 0..30 {
        let n = 2 + next(6) as usize;
        let names: Vec<String> = (0..n).map(|i| format!("d/f{i}")).collect();
        let spec: Vec<(&str, &str)> = names.iter().map(|s| (s.as_str(), "t")).collect();
        let mut t = setup(&spec);
        std::fs::create_dir_all(t.p("B")).unwrap();
        let ids: Vec<trove_core::FileId> = names
            .iter()
            .map(|p| trove_core::ops::files::live_at(t.daemon.index(), &t.p(p)).unwrap().unwrap().id)
            .collect();
        let mut events: Vec<FsEvent> = Vec::new();
        let mut expect: Vec<Option<String>> = Vec::new();
        let mut used: Vec<Tool> = Vec::new();
        for (i, f) in names.iter().enumerate() {
            let tool = tools[next(tools.len() as u64) as usize];
            used.push(tool);
            let new = format!("new content {i} in round {round}");
            match tool {
                Tool::Keep => expect.push(Some(f.clone())),
                Tool::Mv => {
                    let to = format!("d/moved{i}");
                    t.mv(f, &to);
                    events.push(t.ren(f, &to, false));
                    expect.push(Some(to));
                }
                Tool::Rm => {
                    std::fs::remove_file(t.p(f)).unwrap();
                    events.push(t.removed(f));
                    expect.push(None);
                }
                Tool::Rewrite => {
                    std::fs::remove_file(t.p(f)).unwrap();
                    t.write(f, new.as_bytes());
                    events.push(t.removed(f));
                    events.extend(t.created(f));
                    expect.push(Some(f.clone()));
                }
                Tool::Exiftool => {
                    let tmp = format!("{f}_exiftool_tmp");
                    t.write(&tmp, new.as_bytes());
                    t.mv(f, &format!("{f}_original"));
                    t.mv(&tmp, f);
                    events.extend(t.created(&tmp));
                    events.push(t.ren(f, &format!("{f}_original"), false));
                    events.push(t.ren(&tmp, f, false));
                    expect.push(Some(f.clone()));
                }
                Tool::Vim => {
                    t.mv(f, &format!("{f}~"));
                    t.write(f, new.as_bytes());
                    std::fs::remove_file(t.p(&format!("{f}~"))).unwrap();
                    events.push(t.ren(f, &format!("{f}~"), false));
                    events.extend(t.created(f));
                    events.push(t.removed(&format!("{f}~")));
                    expect.push(Some(f.clone()));
                }
                Tool::Edit => {
                    t.write(f, new.as_bytes());
                    events.push(FsEvent::Written { path: t.p(f) });
                    expect.push(Some(f.clone()));
                }
                Tool::CopyRm => {
                    let (tmp, to) = (format!("B/.f{i}.tmp"), format!("B/f{i}"));
                    std::fs::copy(t.p(f), t.p(&tmp)).unwrap();
                    t.mv(&tmp, &to);
                    std::fs::remove_file(t.p(f)).unwrap();
                    events.extend(t.created(&tmp));
                    events.push(t.ren(&tmp, &to, false));
                    events.push(t.removed(f));
                    expect.push(Some(to));
                }
            }
        }
        // The same events, cut into batches at random points (a tool's events may straddle
        // two reads of the queue).
        let mut cuts: Vec<usize> = (0..next(4)).map(|_| next(events.len() as u64 + 1) as usize).collect();
        cuts.sort_unstable();
        let mut start = 0;
        for c in cuts.into_iter().chain([events.len()]) {
            if c > start {
                t.daemon.handle(events[start..c].to_vec()).unwrap();
                start = c;
            }
        }
        for (i, want) in expect.iter().enumerate() {
            let r = trove_core::ops::files::get(t.daemon.index(), ids[i]).unwrap().unwrap();
            let got =
                (r.state == FileState::Present).then(|| r.path.strip_prefix(&t.root).unwrap().display().to_string());
            assert_eq!(&got, want, "round {round}, file {i} ({:?}); tools {used:?}", used[i]);
        }
        // No live record on a path that is not on disk.
        let mut bad = Vec::new();
        trove_core::ops::files::for_each(t.daemon.index(), |r| {
            if r.state == FileState::Present && !r.path.is_file() {
                bad.push(r.path);
            }
            Ok(())
        })
        .unwrap();
        assert!(bad.is_empty(), "round {round}: live records without a file: {bad:?}");
    }
}
