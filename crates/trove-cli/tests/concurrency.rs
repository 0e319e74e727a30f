//! Concurrent writers on one index wait for each other instead of failing, and no link is
//! lost.

use trove_testutil::TestEnv;

#[test]
fn concurrent_tag_commands_never_fail_or_lose_links() {
    let e = TestEnv::new(env!("CARGO_BIN_EXE_trove"));
    for i in 0..20 {
        e.write(format!("lib/{i}.txt"), format!("{i}").as_bytes());
    }
    e.ok(["include", "-r", "lib"]);
    let e = &e;
    std::thread::scope(|s| {
        for w in 0..4 {
            s.spawn(move || {
                for round in 0..10 {
                    let tag = format!("w{w}-r{round}");
                    let o = e.run(["tag", "-r", "-t", &tag, "lib"]);
                    assert!(o.status.success(), "writer {w}: {}", String::from_utf8_lossy(&o.stderr));
                    if round % 3 == 0 {
                        let o = e.run(["untag", "-t", &tag, "lib/0.txt"]);
                        assert!(o.status.success(), "untag {w}: {}", String::from_utf8_lossy(&o.stderr));
                    }
                }
            });
        }
        s.spawn(move || {
            for _ in 0..20 {
                let o = e.run(["find", "--count", ""]);
                assert!(o.status.success(), "reader: {}", String::from_utf8_lossy(&o.stderr));
                assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "20");
            }
        });
    });
    // 4 writers × 10 tags × 20 files, minus 4 × 4 untagged from lib/0.txt
    let stats = String::from_utf8(e.ok(["stats", "--json"])).unwrap();
    assert!(stats.contains("\"links\":784"), "{stats}");
}
