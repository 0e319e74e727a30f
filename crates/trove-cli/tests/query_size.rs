//! Query size through the real binary (issue 7): deep nesting is a query error with exit 2,
//! never a stack overflow (exit 134), for `find`, `find --count` and `tag --query`; long
//! chains of terms run. The limits themselves are pinned in trove-core's `tests/query.rs`.

use trove_testutil::TestEnv;

fn env() -> TestEnv {
    let e = TestEnv::new(env!("CARGO_BIN_EXE_trove"));
    e.write("lib/a.txt", b"a");
    e.ok(["include", "-t", "x", "lib/a.txt"]);
    e
}

fn assert_query_error(e: &TestEnv, args: &[&str], caret_at: usize) {
    let o = e.run(args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}: {stderr}", &args[0]);
    assert!(stderr.contains("query nests deeper than 100 levels"), "{stderr}");
    assert!(stderr.contains(&format!("at byte {caret_at}")), "{stderr}");
}

#[test]
fn find_with_9000_nested_parentheses_is_a_query_error_not_a_crash() {
    let e = env();
    let q = format!("{}x{}", "(".repeat(9_000), ")".repeat(9_000));
    assert_query_error(&e, &["find", &q], 100);
    assert_query_error(&e, &["find", "--count", &q], 100);
}

#[test]
fn find_with_30000_leading_negations_is_a_query_error_not_a_crash() {
    let e = env();
    let dashes = format!("{}x", "-".repeat(30_000));
    assert_query_error(&e, &["find", "--", &dashes], 100);
    let nots = format!("{}x", "not ".repeat(30_000));
    assert_query_error(&e, &["find", &nots], 400);
}

#[test]
fn tag_query_with_deep_nesting_is_a_query_error_and_tags_nothing() {
    let e = env();
    let q = format!("{}x{}", "(".repeat(9_000), ")".repeat(9_000));
    assert_query_error(&e, &["tag", "-q", &q, "-t", "new"], 100);
    let dashes = format!("{}x", "-".repeat(30_000));
    assert_query_error(&e, &["tag", "-q", &dashes, "-t", "new"], 100);
    assert_eq!(e.find("new"), (vec![], 1));
}

#[test]
fn find_with_a_998_term_and_runs() {
    let e = env();
    let terms: Vec<String> = (0..998).map(|i| format!("-t{i}")).collect();
    let o = e.run(["find", &format!("x {}", terms.join(" "))]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "lib/a.txt\n");
    let nested = format!("{}x{}", "(".repeat(100), ")".repeat(100));
    assert_eq!(e.find(&nested), (vec!["lib/a.txt".to_string()], 0));
}
