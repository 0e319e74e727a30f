//! Parser tests: precedence, grouping, quoting, wildcards, comparisons, predicates,
//! reserved words, error positions, and the parse → print → parse property.

use proptest::prelude::*;

use super::*;

fn tag(s: &str) -> Expr {
    Expr::Tag(NamePattern::literal(s))
}
fn not(e: Expr) -> Expr {
    Expr::Not(Box::new(e))
}
fn p(s: &str) -> Expr {
    parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}
fn err(s: &str) -> ParseError {
    parse(s).expect_err(s)
}

#[test]
fn precedence_not_and_or() {
    assert_eq!(p("a b | c"), Expr::Or(vec![Expr::And(vec![tag("a"), tag("b")]), tag("c")]));
    assert_eq!(p("a | b c"), Expr::Or(vec![tag("a"), Expr::And(vec![tag("b"), tag("c")])]));
    assert_eq!(p("-a b"), Expr::And(vec![not(tag("a")), tag("b")]));
    assert_eq!(p("not a or b and c"), Expr::Or(vec![not(tag("a")), Expr::And(vec![tag("b"), tag("c")])]));
    assert_eq!(p("a AND b OR c"), p("a b | c"));
    assert_eq!(p("a|b|c"), Expr::Or(vec![tag("a"), tag("b"), tag("c")]));
}

#[test]
fn parentheses_group() {
    assert_eq!(p("(a | b) c"), Expr::And(vec![Expr::Or(vec![tag("a"), tag("b")]), tag("c")]));
    assert_eq!(p("-(a b)"), not(Expr::And(vec![tag("a"), tag("b")])));
    assert_eq!(p("((a))"), tag("a"));
    assert_eq!(p("(a)(b)"), Expr::And(vec![tag("a"), tag("b")]));
    assert_eq!(p("--a"), not(not(tag("a"))));
}

#[test]
fn quoting() {
    assert_eq!(p(r#""artist:dj kuroneko""#), tag("artist:dj kuroneko"));
    assert_eq!(p(r#"artist:"dj kuroneko""#), tag("artist:dj kuroneko"));
    assert_eq!(p(r#""a \"b\" \\ c""#), tag(r#"a "b" \ c"#));
    assert_eq!(p(r#""-x""#), tag("-x"));
    assert_eq!(p(r#""and" "or" "not""#), Expr::And(vec![tag("and"), tag("or"), tag("not")]));
    assert_eq!(p(r#""a|b" "(c)""#), Expr::And(vec![tag("a|b"), tag("(c)")]));
    assert_eq!(p("sci-fi"), tag("sci-fi"));
    assert_eq!(p("été"), tag("été"));
}

#[test]
fn wildcards() {
    assert_eq!(
        p("artist:*"),
        Expr::Tag(NamePattern { parts: vec![NamePart::Literal("artist:".into()), NamePart::Star] })
    );
    assert_eq!(
        p("*cat*"),
        Expr::Tag(NamePattern { parts: vec![NamePart::Star, NamePart::Literal("cat".into()), NamePart::Star] })
    );
    // A quoted star is a literal character.
    assert_eq!(p(r#""a*b""#), tag("a*b"));
    assert!(!matches!(p(r#""a*b""#), Expr::Tag(ref n) if n.has_wildcard()));
}

#[test]
fn comparisons() {
    let cmp = |ns: &str, op, v: &str| Expr::Compare { ns: ns.into(), op, value: v.into() };
    assert_eq!(p("year>2015"), cmp("year", CmpOp::Gt, "2015"));
    assert_eq!(p("year<=2019"), cmp("year", CmpOp::Le, "2019"));
    assert_eq!(p("rating>=4"), cmp("rating", CmpOp::Ge, "4"));
    assert_eq!(p("date<2020-06-01"), cmp("date", CmpOp::Lt, "2020-06-01"));
    assert_eq!(p(r#""my ns">"x y""#), cmp("my ns", CmpOp::Gt, "x y"));
    assert_eq!(p(r#""size">5"#), cmp("size", CmpOp::Gt, "5"));
    assert_eq!(p(r#""a>b""#), tag("a>b"));
}

#[test]
fn predicates() {
    use Predicate::*;
    let pr = |s: &str| match p(s) {
        Expr::Pred(x) => x,
        other => panic!("{s}: {other:?}"),
    };
    assert_eq!(pr("path:*/music/*"), Path("*/music/*".into()));
    assert_eq!(pr(r#"path:"a b/*""#), Path("a b/*".into()));
    assert_eq!(pr("ext:FLAC"), Ext("flac".into()));
    assert_eq!(pr("ext:.jpg"), Ext("jpg".into()));
    assert_eq!(pr("size>10M"), Size(CmpOp::Gt, 10 << 20));
    assert_eq!(pr("size<1k"), Size(CmpOp::Lt, 1024));
    assert_eq!(pr("size:100"), Size(CmpOp::Eq, 100));
    assert_eq!(pr("size>=1.5G"), Size(CmpOp::Ge, 3 << 29));
    assert_eq!(pr("mtime<30d"), MtimeAge(CmpOp::Lt, Duration { amount: 30, unit: 'd' }));
    match pr("mtime>2024-01-01") {
        MtimeAt(CmpOp::Gt, d) => assert_eq!(d.unix, 1_704_067_200),
        other => panic!("{other:?}"),
    }
    match pr("mtime<2024-02-29T12:30") {
        MtimeAt(CmpOp::Lt, d) => assert_eq!(d.unix, 1_709_209_800),
        other => panic!("{other:?}"),
    }
    assert_eq!(pr("tags:0"), TagCount(CmpOp::Eq, 0));
    assert_eq!(pr("tags>5"), TagCount(CmpOp::Gt, 5));
    assert_eq!(pr("hash:DEADBEEF"), Hash("deadbeef".into()));
    assert_eq!(p("pool:Summer 2019"), Expr::And(vec![Expr::Pred(Pool("Summer".into())), tag("2019")]));
    assert_eq!(pr(r#"pool:"Summer 2019""#), Pool("Summer 2019".into()));
    assert_eq!(pr("missing"), Missing);
    assert_eq!(pr("MISSING"), Missing);
}

#[test]
fn modifiers() {
    assert_eq!(p("sort:-mtime"), Expr::Modifier(Modifier::Sort { key: SortKey::Mtime, reverse: true }));
    assert_eq!(p("sort:random"), Expr::Modifier(Modifier::Sort { key: SortKey::Random, reverse: false }));
    assert_eq!(p("limit:50"), Expr::Modifier(Modifier::Limit(50)));
}

#[test]
fn reserved_words_are_escapable() {
    assert_eq!(p(r#"tag:"sort:x""#), tag("sort:x"));
    assert_eq!(p(r#""sort:x""#), tag("sort:x"));
    assert_eq!(p("tag:missing"), tag("missing"));
    assert_eq!(p("tag:size:large"), tag("size:large"));
    // Words that merely start like a keyword are tags.
    assert_eq!(p("pathology"), tag("pathology"));
    assert_eq!(p("sizes:large"), tag("sizes:large"));
    assert_eq!(p("missing:no"), tag("missing:no"));
}

#[test]
fn error_positions() {
    assert_eq!(err("a (b | c").position, 8);
    assert_eq!(err("a b)").position, 3);
    assert_eq!(err("a | ").position, 4);
    assert_eq!(err("| a").position, 0);
    assert_eq!(err(r#"a "open"#).position, 2);
    assert_eq!(err("a - b").position, 2);
    assert_eq!(err("()").position, 1);
    assert_eq!(err("size>huge").position, 5);
    assert_eq!(err("hash:abc").position, 5);
    assert_eq!(err("sort:colour").position, 5);
    assert_eq!(err("limit:x").position, 6);
    assert_eq!(err("mtime>yesterday").position, 6);
    assert_eq!(err("year>").position, 4);
    assert_eq!(err("a>b>c").position, 3);
    assert_eq!(err("a and").position, 5);
    let e = err("cat (dog");
    assert_eq!(e.render("cat (dog"), "cat (dog\n        ^ expected ')' to close the '(' at byte 4");
}

/// Found by the fuzzer: `ext:.` parsed to an empty extension that printed as `ext:""`,
/// which does not parse.
#[test]
fn regression_ext_dot_alone_is_an_error() {
    assert_eq!(err("ext:.").position, 4);
    assert_eq!(err("ext:...").position, 4);
    let q = "ptd:\"*/mci/*\" ext:. \0ㆺi\0ko>\u{650}\u{650}\" a\u{11}/@\" e&";
    assert!(parse(q).is_err_and(|e| e.position == 18 && e.message.contains("ext:")), "{:?}", parse(q));
}

#[test]
fn empty_query_matches_everything() {
    assert_eq!(p(""), Expr::And(vec![]));
    assert_eq!(p("   "), Expr::And(vec![]));
}

#[test]
fn printing_round_trips_examples() {
    for q in [
        "a b | c",
        "(a | b) c",
        "-(a b) | -c",
        r#""artist:dj kuroneko" year>2015"#,
        "artist:* -cute",
        r#"tag:"sort:x" sort:-mtime limit:5"#,
        "path:*/music/* ext:flac size>10M mtime<30d tags:0 hash:deadbeef00 missing",
        r#"mime:image/* type:video width>1920 height<=1080 ratio:16:9 ratio>1.5 duration>3m has:audio"#,
        r#"meta.artist:"dj kuroneko" meta.camera:*canon* meta.x:"*" taken>2020-01-01 sort:-taken"#,
        r#""and" "-x" "a\"b""#,
    ] {
        let e = p(q);
        assert_eq!(p(&e.to_string()), e, "{q} printed as {e}");
    }
}

#[test]
fn metadata_predicates() {
    let pr = |x: Predicate| Expr::Pred(x);
    assert_eq!(p("mime:image/*"), pr(Predicate::Mime("image/*".into())));
    assert_eq!(p("MIME:Image/PNG"), pr(Predicate::Mime("image/png".into())));
    assert_eq!(p("type:video"), pr(Predicate::Type("video".into())));
    assert_eq!(p("width>1920"), pr(Predicate::Width(CmpOp::Gt, 1920)));
    assert_eq!(p("height<=1080"), pr(Predicate::Height(CmpOp::Le, 1080)));
    assert_eq!(p("ratio:16:9"), pr(Predicate::Ratio(CmpOp::Eq, Ratio { text: "16:9".into(), num: 16, den: 9 })));
    assert_eq!(p("ratio>1"), pr(Predicate::Ratio(CmpOp::Gt, Ratio { text: "1".into(), num: 1, den: 1 })));
    assert_eq!(p("ratio<1.5"), pr(Predicate::Ratio(CmpOp::Lt, Ratio { text: "1.5".into(), num: 15, den: 10 })));
    assert_eq!(p("duration>3m"), pr(Predicate::Length(CmpOp::Gt, 180_000)));
    assert_eq!(p("duration<90"), pr(Predicate::Length(CmpOp::Lt, 90_000)));
    assert_eq!(p("duration>=1.5s"), pr(Predicate::Length(CmpOp::Ge, 1_500)));
    assert_eq!(p("duration:500ms"), pr(Predicate::Length(CmpOp::Eq, 500)));
    assert_eq!(p("has:audio"), pr(Predicate::Has("audio".into())));
    assert_eq!(p("has:png.parameters"), pr(Predicate::Has("png.parameters".into())));
    assert_eq!(
        p(r#"meta.artist:"dj kuroneko""#),
        pr(Predicate::Meta { field: "artist".into(), value: NamePattern::literal("dj kuroneko") })
    );
    assert_eq!(
        p("meta.camera:*canon*"),
        pr(Predicate::Meta {
            field: "camera".into(),
            value: NamePattern { parts: vec![NamePart::Star, NamePart::Literal("canon".into()), NamePart::Star] }
        })
    );
    match p("taken>2020-01-01") {
        Expr::Pred(Predicate::Taken(CmpOp::Gt, d)) => assert_eq!(d.unix, 1_577_836_800),
        other => panic!("{other:?}"),
    }
    for (q, key) in
        [("sort:taken", SortKey::Taken), ("sort:duration", SortKey::Duration), ("sort:width", SortKey::Width)]
    {
        assert_eq!(p(q), Expr::Modifier(Modifier::Sort { key, reverse: false }));
    }
    assert_eq!(p("sort:-taken"), Expr::Modifier(Modifier::Sort { key: SortKey::Taken, reverse: true }));
    // Tags that look like these stay reachable: quoted, or through tag:.
    assert_eq!(p(r#"tag:"type:music""#), tag("type:music"));
    assert_eq!(p(r#""width">5"#), Expr::Compare { ns: "width".into(), op: CmpOp::Gt, value: "5".into() });
    assert_eq!(p("meta.x"), tag("meta.x"));
}

#[test]
fn dupe_predicates_parse_print_and_name_a_wrong_kind() {
    assert_eq!(p("dupe:exact"), Expr::Pred(Predicate::Dupe(DupeKind::Exact)));
    assert_eq!(p("DUPE:Similar"), Expr::Pred(Predicate::Dupe(DupeKind::Similar)));
    assert_eq!(p("-dupe:undecided"), not(Expr::Pred(Predicate::Dupe(DupeKind::Undecided))));
    assert_eq!(p("dupe:undecided").to_string(), "dupe:undecided");
    let e = err("dupe:maybe");
    assert!(e.message.contains("dupe takes exact, similar or undecided"), "{e}");
    assert_eq!(e.position, 5);
    assert!(err("dupe>exact").message.contains("takes ':'"));
    // A tag that looks like one stays reachable.
    assert_eq!(p(r#"tag:"dupe:x""#), tag("dupe:x"));
}

#[test]
fn metadata_predicate_errors_name_the_wrong_thing() {
    let e = err("type:music");
    assert!(e.message.contains("type takes image, video") && e.message.contains(r#"tag:"type:music""#), "{e}");
    assert_eq!(e.position, 5);
    assert!(err("width>wide").message.contains("width takes a whole number"));
    assert!(err("ratio:16:0").message.contains("ratio takes W:H"));
    assert!(err("duration>3x").message.contains("duration takes a length"));
    assert!(err("taken>2021-02-30").message.contains("taken takes a date"));
    assert!(err("has:a*b").message.contains("has: takes audio or a metadata field name"));
    assert_eq!(err("meta.:x").position, 5);
    assert!(err("meta.a*b:x").message.contains("field name"));
    assert!(err("meta.artist:").message.contains("expected a value"));
    assert!(err("type>video").message.contains("takes ':'"));
    assert!(err("sort:bogus").message.contains("taken, duration, width"));
}

#[test]
fn sort_added_parses_both_ways_prints_back_and_names_a_wrong_order() {
    assert_eq!(p("sort:added"), Expr::Modifier(Modifier::Sort { key: SortKey::Added, reverse: false }));
    assert_eq!(p("sort:-added"), Expr::Modifier(Modifier::Sort { key: SortKey::Added, reverse: true }));
    assert_eq!(p("SORT:-Added"), p("sort:-added"));
    for q in ["sort:added", "sort:-added", "cute sort:-added limit:100"] {
        let e = p(q);
        assert_eq!(p(&e.to_string()), e, "{q} printed as {e}");
    }
    assert_eq!(p("sort:-added").to_string(), "sort:-added");
    // A near miss is an error at the order's first byte that lists the orders.
    let e = err("sort:-adde");
    assert_eq!(e.position, 5, "{e}");
    assert!(e.message.contains("added"), "{e}");
    // A tag of that name stays reachable.
    assert_eq!(p(r#"tag:"sort:added""#), tag("sort:added"));
}

// ---- property: parse(print(e)) == e for every tree the parser can produce ----

fn name_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_-]{0,6}",
        "[a-z]{1,4}:[a-z0-9 ]{1,5}",
        prop::sample::select(vec![
            "and", "or", "not", "sort", "size", "missing", "-x", "a b", "a\"b", "a\\b", "(", "|", "a>b", "é", "ns:",
            "*",
        ])
        .prop_map(String::from),
    ]
    .prop_map(|s| crate::model::normalize_name_lossy(&s))
    .prop_filter("non-empty", |s| !s.is_empty())
}

fn pattern() -> impl Strategy<Value = NamePattern> {
    prop_oneof![
        name_text().prop_map(NamePattern::literal),
        (prop::option::of(name_text()), prop::option::of(name_text())).prop_map(|(a, b)| {
            let mut parts = Vec::new();
            if let Some(a) = a {
                parts.push(NamePart::Literal(a));
            }
            parts.push(NamePart::Star);
            if let Some(b) = b {
                parts.push(NamePart::Literal(b));
            }
            NamePattern::normalized(parts)
        }),
    ]
}

/// `YYYY-MM-DD` of a day count since 1970-01-01.
fn date_text(days: i64) -> String {
    let (y, m, d) = crate::time::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn leaf() -> impl Strategy<Value = Expr> {
    let op = prop::sample::select(vec![CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge]);
    prop_oneof![
        4 => pattern().prop_map(Expr::Tag),
        1 => ("[a-z]{1,5}", op.clone(), "[0-9]{1,4}").prop_map(|(ns, op, value)| Expr::Compare { ns, op, value }),
        1 => (op.clone(), 0u64..1_000_000).prop_map(|(op, n)| Expr::Pred(Predicate::Size(op, n))),
        1 => (op.clone(), 0u64..20).prop_map(|(op, n)| Expr::Pred(Predicate::TagCount(op, n))),
        1 => "[a-z*/ ]{1,8}".prop_map(|g| Expr::Pred(Predicate::Path(g))),
        1 => "[0-9a-f]{8,12}".prop_map(|h| Expr::Pred(Predicate::Hash(h))),
        1 => Just(Expr::Pred(Predicate::Missing)),
        1 => (0u64..100).prop_map(|n| Expr::Modifier(Modifier::Limit(n))),
        1 => "[a-z]{1,5}/[a-z*+.-]{1,6}".prop_map(|m| Expr::Pred(Predicate::Mime(m))),
        1 => prop::sample::select(crate::meta::KINDS.to_vec()).prop_map(|k| Expr::Pred(Predicate::Type(k.into()))),
        1 => (op.clone(), 0u64..10_000).prop_map(|(op, n)| Expr::Pred(Predicate::Width(op, n))),
        1 => (op.clone(), 0u64..10_000).prop_map(|(op, n)| Expr::Pred(Predicate::Height(op, n))),
        1 => (op.clone(), 0u64..10_000_000).prop_map(|(op, n)| Expr::Pred(Predicate::Length(op, n))),
        1 => (op.clone(), 1u64..30, 1u64..30).prop_map(|(op, a, b)| {
            Expr::Pred(Predicate::Ratio(op, Ratio { text: format!("{a}:{b}"), num: a, den: b }))
        }),
        1 => "[a-z][a-z0-9._-]{0,8}".prop_map(|f| Expr::Pred(Predicate::Has(f))),
        1 => prop::sample::select(vec![DupeKind::Exact, DupeKind::Similar, DupeKind::Undecided])
            .prop_map(|k| Expr::Pred(Predicate::Dupe(k))),
        1 => ("[a-z][a-z0-9._-]{0,8}", pattern()).prop_map(|(field, value)| Expr::Pred(Predicate::Meta { field, value })),
        1 => (op, 0i64..20_000).prop_map(|(op, d)| {
            let unix = d * 86_400;
            let text = date_text(d);
            Expr::Pred(Predicate::Taken(op, DateSpec { text, unix }))
        }),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

/// The parser flattens `a (b c)` into one And; bring generated trees to that shape.
fn flatten(e: Expr) -> Expr {
    match e {
        Expr::And(v) => {
            let mut out = Vec::new();
            for x in v.into_iter().map(flatten) {
                match x {
                    Expr::And(inner) => out.extend(inner),
                    x => out.push(x),
                }
            }
            Expr::And(out)
        }
        Expr::Or(v) => {
            let mut out = Vec::new();
            for x in v.into_iter().map(flatten) {
                match x {
                    Expr::Or(inner) => out.extend(inner),
                    x => out.push(x),
                }
            }
            Expr::Or(out)
        }
        Expr::Not(x) => Expr::Not(Box::new(flatten(*x))),
        e => e,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_print_parse(e in expr()) {
        let e = flatten(e);
        let text = e.to_string();
        let back = parse(&text).map_err(|err| TestCaseError::fail(format!("{text:?}: {err}")))?;
        prop_assert_eq!(&flatten(back.clone()), &e, "printed as {:?}", text);
        // and printing is stable
        prop_assert_eq!(back.to_string(), text);
    }

    #[test]
    fn parser_never_panics(s in "\\PC{0,40}") {
        let _ = parse(&s);
    }

    #[test]
    fn parser_never_panics_on_query_alphabet(s in "[a-z:*\"\\\\()|<>= -]{0,30}") {
        if let Ok(e) = parse(&s) {
            // whatever parses prints to something that parses to the same tree
            let again = parse(&e.to_string()).expect("printed query parses");
            prop_assert_eq!(flatten(again), flatten(e));
        }
    }
}

// ---- size: deep nesting and huge inputs (issue 7) ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any mix of `(`, `-` and `not` nests up to the limit and is refused past it, at the
    /// byte of the first level too deep, however deep the input goes (no stack overflow).
    #[test]
    fn deep_nesting_parses_or_is_refused_at_the_right_byte(
        levels in prop::collection::vec(0u8..3, 0..12_000),
        close in any::<bool>(),
    ) {
        let mut q = String::new();
        let mut opened = 0;
        let mut too_deep_at = None;
        for (depth, kind) in levels.iter().enumerate() {
            if depth == MAX_DEPTH {
                too_deep_at = Some(q.len());
            }
            match kind {
                0 => { q.push('('); opened += 1; }
                1 => q.push('-'),
                _ => q.push_str("not "),
            }
        }
        q.push('a');
        if close {
            q.push_str(&")".repeat(opened));
        }
        match (parse(&q), too_deep_at) {
            (Err(e), Some(at)) => {
                prop_assert_eq!(e.position, at);
                prop_assert_eq!(e.message, format!("query nests deeper than {MAX_DEPTH} levels"));
            }
            (Ok(e), None) => {
                prop_assert!(close || opened == 0);
                prop_assert_eq!(parse(&e.to_string()).map(flatten), Ok(flatten(e)));
            }
            (Err(e), None) => prop_assert!(!close && opened > 0, "{}", e),
            (Ok(_), Some(_)) => prop_assert!(false, "{} levels accepted", levels.len()),
        }
    }

    /// Long words and long runs of terms: parsed (or refused with a limit) without
    /// panicking, in time linear in the input.
    #[test]
    fn huge_inputs_parse_or_hit_a_stated_limit(
        word_len in 1usize..200_000,
        words in 1usize..2_500,
        star in any::<bool>(),
        joiner in prop::sample::select(vec![" ", " | ", " and ", " -"]),
    ) {
        let long = format!("{}{}", "w".repeat(word_len), if star { "*" } else { "" });
        let q = if words == 1 { long.clone() } else { vec!["t"; words].join(joiner) + joiner + &long };
        match parse(&q) {
            Ok(_) => prop_assert!(words <= MAX_TERMS && (!star || word_len < MAX_PATTERN_BYTES)),
            Err(e) => {
                prop_assert!(e.position <= q.len());
                prop_assert!(
                    e.message.contains(&MAX_TERMS.to_string()) || e.message.contains(&MAX_PATTERN_BYTES.to_string()),
                    "{}", e.message
                );
            }
        }
    }
}

#[test]
fn an_impossible_date_is_an_error_about_the_calendar() {
    let e = parse("mtime>2024-02-31").unwrap_err();
    assert_eq!(e.position, 6);
    assert!(e.message.contains("2024-02-31: no such date"), "{}", e.message);
    assert!(parse("mtime>2024-02-29").is_ok());
    let e = parse("mtime:2023-02-29").unwrap_err();
    assert!(e.message.contains("no such date"), "{}", e.message);
}
