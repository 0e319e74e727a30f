//! The operation log through the real binary: a story (include, tag, a rule's links, tags
//! merge, alias, imply, a move seen by a live `trove watch`, untag, pool edits) undone step by
//! step back to the empty index, the whole index compared at each step; `log`, `history`,
//! `find --at`, refusals and `--force`, `--prune`.

use std::path::Path;

use trove_core::{Index, OpenMode};
use trove_testutil::TestEnv;

fn env() -> TestEnv {
    TestEnv::new(env!("CARGO_BIN_EXE_trove"))
}

/// Everything trove owns, as text: links with their sources, tags and all their names,
/// implications, pools with their members in order, file records with their paths and states.
fn snapshot(db: &Path) -> String {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut out = String::new();
    for q in [
        "SELECT tag_id, file_id, s.kind || ':' || s.name, added_at FROM file_tags JOIN sources s ON s.id = source_id ORDER BY 1, 2, 3",
        "SELECT id, hex(uid), created_at FROM tags ORDER BY id",
        "SELECT folded, name, tag_id, lang, is_primary, ns, val, num FROM tag_names ORDER BY folded",
        "SELECT child, parent FROM implications ORDER BY 1, 2",
        "SELECT id, title, folded, created_at FROM pools ORDER BY id",
        "SELECT pool_id, position, file_id FROM pool_files ORDER BY 1, 2",
        "SELECT id, hex(path), state, hex(hash), size FROM files ORDER BY id",
    ] {
        let mut st = c.prepare(q).unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        out.push_str(q);
        out.push('\n');
        while let Some(r) = rows.next().unwrap() {
            let cols: Vec<String> =
                (0..n).map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap())).collect();
            out.push_str(&cols.join("|"));
            out.push('\n');
        }
    }
    out
}

/// The operations in the log, newest first: (id, actor, summary).
fn log(e: &TestEnv) -> Vec<(i64, String, String)> {
    let out = e.ok(["log", "-n", "1000", "--json"]);
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["id"].as_i64().unwrap(), v["actor"].as_str().unwrap().into(), v["summary"].as_str().unwrap().into())
        })
        .collect()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn story_through_the_cli_undone_step_by_step_to_the_empty_index() {
    let e = env();
    e.write("lib/a.jpg", b"a");
    e.write("lib/b.jpg", b"b");
    e.write("lib/c.txt", b"c");
    // The empty index, as a fresh index looks.
    let empty = {
        let p = e.path("empty.db");
        drop(Index::open(&p, OpenMode::Create).unwrap());
        snapshot(&p)
    };
    let mut states = vec![empty];
    let mut steps: Vec<Vec<i64>> = Vec::new();
    let mut seen = 0;
    let mut record = |e: &TestEnv, states: &mut Vec<String>, steps: &mut Vec<Vec<i64>>| {
        let ops: Vec<i64> = log(e).into_iter().map(|o| o.0).filter(|&id| id > seen).collect();
        assert!(!ops.is_empty(), "step {} recorded nothing", steps.len());
        seen = ops[0];
        steps.push(ops);
        states.push(snapshot(&e.index));
    };
    e.ok(["include", "-r", "-t", "photo", "lib"]);
    record(&e, &mut states, &mut steps);
    e.ok(["tag", "-t", "cat", "-t", "kitty", "lib/a.jpg"]);
    record(&e, &mut states, &mut steps);
    e.ok(["tag", "--source", "rule:cats", "-t", "kitty", "lib/b.jpg"]);
    record(&e, &mut states, &mut steps);
    // A real rule run: one operation by rule:jpegs, undone like any other.
    std::fs::write(
        e.path("rules.toml"),
        "[[rule]]\nname = \"jpegs\"\n[rule.when]\next = [\"jpg\"]\n[rule.tags]\nadd = [\"format:jpeg\"]\n",
    )
    .unwrap();
    e.ok(["rules", "--rules", "rules.toml", "apply"]);
    assert_eq!(e.find("format:jpeg").0, ["lib/a.jpg", "lib/b.jpg"]);
    assert!(log(&e).iter().any(|o| o.1 == "rule:jpegs"), "the rule run is an operation by rule:jpegs");
    record(&e, &mut states, &mut steps);
    e.ok(["tags", "merge", "kitty", "cat"]);
    record(&e, &mut states, &mut steps);
    e.ok(["tags", "alias", "cat", "chat", "--lang", "fr"]);
    record(&e, &mut states, &mut steps);
    e.ok(["tags", "imply", "cat", "animal"]);
    record(&e, &mut states, &mut steps);
    // A move made by another program, seen by the watcher.
    std::fs::create_dir_all(e.path("lib/sub")).unwrap();
    let mut w = e.watch("inotify");
    std::fs::rename(e.path("lib/a.jpg"), e.path("lib/sub/a2.jpg")).unwrap();
    w.wait_for("the watcher follows the move", || e.find("chat").0 == ["lib/b.jpg", "lib/sub/a2.jpg"]);
    w.stop();
    let watch_ops: Vec<(i64, String, String)> = log(&e).into_iter().filter(|o| o.1 == "watch").collect();
    assert!(!watch_ops.is_empty(), "the move is an operation by watch");
    // Named by its event, or by the watcher's catch-up reconcile when the rename came while
    // that first reconcile still ran (a loaded machine: seen once in six runs).
    assert!(watch_ops.iter().any(|o| o.2.contains("a2.jpg") || o.2 == "reconcile"), "{watch_ops:?}");
    record(&e, &mut states, &mut steps);
    e.ok(["untag", "-t", "photo", "lib/c.txt"]);
    record(&e, &mut states, &mut steps);
    e.ok(["pool", "create", "Best"]);
    record(&e, &mut states, &mut steps);
    e.ok(["pool", "add", "best", "lib/b.jpg", "lib/sub/a2.jpg", "lib/c.txt"]);
    record(&e, &mut states, &mut steps);
    e.ok(["pool", "rm", "best", "lib/b.jpg"]);
    record(&e, &mut states, &mut steps);

    // log, history, find --at on the finished story.
    let h = String::from_utf8(e.ok(["history", "lib/sub/a2.jpg"])).unwrap();
    assert!(h.contains("moved lib/a.jpg → lib/sub/a2.jpg"), "{h}");
    assert!(h.contains("watch"), "{h}");
    assert!(h.lines().last().unwrap().ends_with("⇒ {cat, format:jpeg, photo}"), "{h}");
    let by_tag = String::from_utf8(e.ok(["log", "-t", "kitty"])).unwrap();
    assert!(by_tag.contains("tags merge kitty cat"), "{by_tag}");
    assert!(!by_tag.contains("pool"), "{by_tag}");
    // As of the tag step: a.jpg at its old path, kitty still its own tag.
    let at = steps[1][0].to_string();
    let o = e.run(["find", "--at", &at, "kitty"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "lib/a.jpg\n", "{}", stderr(&o));
    assert_eq!(e.find("kitty").0, ["lib/b.jpg", "lib/sub/a2.jpg"]);

    // Undo newest first, comparing the whole index with the state before each step.
    for k in (0..steps.len()).rev() {
        for op in &steps[k] {
            let o = e.run(["undo", &op.to_string()]);
            assert!(o.status.success(), "undo {op} (step {k}): {}", stderr(&o));
        }
        assert_eq!(snapshot(&e.index), states[k], "after undoing step {k}");
    }
    let problems = trove_core::ops::history::verify(&Index::open(&e.index, OpenMode::Existing).unwrap(), true).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    // The undos are in the log, each naming what it undid.
    let l = String::from_utf8(e.ok(["log", "-n", "3"])).unwrap();
    assert!(l.lines().next().unwrap().contains(&format!("(undoes {})", steps[0][0])), "{l}");
}

#[test]
fn undo_names_the_later_operations_it_would_clash_with_and_force_puts_back_the_rest() {
    let e = env();
    e.write("a", b"a");
    e.write("b", b"b");
    e.ok(["include", "a", "b"]);
    e.ok(["tag", "-t", "x", "a", "b"]);
    let tagged = log(&e)[0].0;
    e.ok(["untag", "-t", "x", "a"]);
    let untag = log(&e)[0].0;
    let before = snapshot(&e.index);
    let o = e.run(["undo", &tagged.to_string()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains(&format!("op {tagged}: cannot be undone")), "{err}");
    assert!(err.contains(&format!("(by op {untag})")), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(snapshot(&e.index), before, "a refused undo changes nothing");
    let o = e.run(["undo", &tagged.to_string(), "--force"]);
    assert_eq!(o.status.code(), Some(2), "something was left: exit 2");
    assert!(stderr(&o).contains("left as it is"), "{}", stderr(&o));
    assert_eq!(e.find("x").1, 1, "x is gone from b too");
    // `undo` without a number takes the latest: the forced undo, so x comes back on b.
    e.ok(["undo"]);
    assert_eq!(e.find("x").0, ["b"]);
    let o = e.run(["undo", "999"]);
    assert!(stderr(&o).contains("op 999: no such operation"), "{}", stderr(&o));
}

#[test]
fn log_filters_prune_and_bad_arguments() {
    let e = env();
    e.write("d/a", b"a");
    e.ok(["include", "d/a"]);
    e.ok(["tag", "-t", "x", "d/a"]);
    e.ok(["tags", "create", "other"]);
    let l = log(&e);
    assert_eq!(l.len(), 3);
    assert_eq!(l[0].2, "trove tags create other");
    assert_eq!(l[0].1, "cli");
    let by_file = String::from_utf8(e.ok(["log", "d/a"])).unwrap();
    assert_eq!(by_file.lines().count(), 2, "{by_file}");
    let o = e.run(["log", "--prune", "soon"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("\"soon\": not a duration or a date"), "{}", stderr(&o));
    let o = e.run(["find", "--at", "yesterday-ish", "x"]);
    assert!(stderr(&o).contains("not an operation, a date or an age"), "{}", stderr(&o));
    // Nothing is older than a day: nothing pruned. Everything is older than the future.
    e.ok(["log", "--prune", "1d"]);
    assert_eq!(log(&e).len(), 3);
    e.ok(["log", "--prune", "2999-01-01"]);
    assert_eq!(e.run(["log"]).status.code(), Some(1), "an empty log exits 1");
    let o = e.run(["find", "--at", &l[1].0.to_string(), "x"]);
    assert!(stderr(&o).contains("older than the history kept"), "{}", stderr(&o));
}
