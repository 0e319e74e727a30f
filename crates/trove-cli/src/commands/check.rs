//! `trove check`: is the index sound and does it match the disk?

use std::io::Write;

use clap::Args;
use serde_json::json;
use trove_core::ops::check::{CheckOptions, Problem, check};

use crate::ctx::{CmdResult, Ctx, note};
use crate::output::{Bar, path_json};

/// Check the index: SQLite integrity, missing files, changed files.
///
/// Files whose size or mtime changed are re-hashed; --full re-hashes every file (and stores
/// the SHA-256 of files indexed before trove kept one, for the Hydrus API) and compares the
/// query engine's posting lists with the links (--repair rebuilds them). With
/// --repair each certain fix is applied on its own: a gone file is marked missing (tags
/// kept, findable with `missing`), a changed file gets its new hash (tags kept), a missing
/// file whose path holds an unindexed file again is kept on that file (tags kept). Nothing
/// is ever deleted; what cannot be decided is listed. Exit status 1 while problems remain.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Re-hash every file, not just those whose size or mtime changed
    #[arg(long)]
    pub full: bool,
    /// Apply the certain fixes
    #[arg(long)]
    pub repair: bool,
    /// One JSON object per finding
    #[arg(long)]
    pub json: bool,
}

fn describe(p: &Problem) -> (&'static str, String) {
    match p {
        Problem::Missing => ("missing", "gone from disk".into()),
        Problem::Changed { old, new, hash_changed } => (
            "changed",
            format!(
                "changed on disk (size {} → {}{})",
                old.size,
                new.size,
                if *hash_changed { ", content differs" } else { ", same content" }
            ),
        ),
        Problem::Corrupt { .. } => ("corrupt", "content changed with the same size and mtime".into()),
        Problem::Reappeared => ("reappeared", "missing file is back with the same content".into()),
        Problem::Replaced => (
            "replaced",
            "missing, and an unindexed file with other content sits at its path (repair keeps the record and its tags on it)"
                .into(),
        ),
        Problem::Undecided(s) => ("undecided", s.clone()),
        Problem::Unreadable(s) => ("unreadable", s.clone()),
    }
}

pub fn run(ctx: &Ctx, a: CheckArgs) -> CmdResult {
    let mut index = ctx.open_read()?;
    if a.repair && index.is_read_only() {
        return Err(trove_core::StoreError::ReadOnlyIndex { path: ctx.index_path.clone() }.into());
    }
    let r = check(&mut index, CheckOptions { full: a.full, repair: a.repair }, &Bar::new())?;
    let mut out = std::io::stdout().lock();
    if let Some(problems) = &r.integrity {
        for p in problems {
            if a.json {
                writeln!(out, "{}", json!({"kind": "integrity", "detail": p}))?;
            } else {
                writeln!(out, "index: {p}")?;
            }
        }
    }
    for p in &r.postings {
        if a.json {
            writeln!(out, "{}", json!({"kind": "postings", "detail": p, "repaired": r.postings_rebuilt}))?;
        } else {
            writeln!(out, "index: {p}{}", if r.postings_rebuilt { " — rebuilt from the links" } else { "" })?;
        }
    }
    if r.postings_checked && r.postings.is_empty() && !a.json {
        note("posting lists: consistent with the links");
    }
    for p in &r.similar {
        if a.json {
            writeln!(out, "{}", json!({"kind": "similar", "detail": p, "repaired": r.similar_rebuilt}))?;
        } else {
            writeln!(
                out,
                "index: {p}{}",
                if r.similar_rebuilt { " — rebuilt from the perceptual hashes" } else { "" }
            )?;
        }
    }
    if r.postings_checked && r.similar.is_empty() && !a.json {
        note("similar-image pairs: consistent with the perceptual hashes");
    }
    for f in &r.findings {
        let (kind, text) = describe(&f.problem);
        if a.json {
            let mut m = serde_json::Map::new();
            m.insert("kind".into(), json!(kind));
            path_json(&mut m, &f.record.path);
            m.insert("id".into(), json!(f.record.id.0));
            m.insert("detail".into(), json!(text));
            m.insert("repaired".into(), json!(f.repaired));
            writeln!(out, "{}", serde_json::Value::Object(m))?;
        } else {
            let status = if f.repaired { " — repaired" } else { "" };
            writeln!(out, "{}: {text}{status}", ctx.show(&f.record.path))?;
        }
    }
    for (t, removed) in &r.leftovers {
        let text = "temporary copy left by a killed `trove mv` (the original was kept)";
        if a.json {
            let mut m = serde_json::Map::new();
            m.insert("kind".into(), json!("leftover"));
            path_json(&mut m, t);
            m.insert("detail".into(), json!(text));
            m.insert("repaired".into(), json!(removed));
            writeln!(out, "{}", serde_json::Value::Object(m))?;
        } else {
            writeln!(out, "{}: {text}{}", ctx.show(t), if *removed { " — removed" } else { "" })?;
        }
    }
    // Files whose metadata could not be read: listed, not counted as index problems (the
    // record is sound; the content is unusual or hostile).
    let meta_failed = trove_core::ops::meta::failures(&index)?;
    for trove_core::ops::meta::MetaFailure { file: rec, error: e } in &meta_failed {
        if a.json {
            let mut m = serde_json::Map::new();
            m.insert("kind".into(), json!("metadata"));
            path_json(&mut m, &rec.path);
            m.insert("id".into(), json!(rec.id.0));
            m.insert("detail".into(), json!(e));
            m.insert("repaired".into(), json!(false));
            writeln!(out, "{}", serde_json::Value::Object(m))?;
        } else {
            writeln!(out, "{}: metadata not read: {e}", ctx.show(&rec.path))?;
        }
    }
    if !meta_failed.is_empty() && !a.json {
        note(format!(
            "{} file(s) whose metadata could not be read (not an index problem; the files are indexed)",
            meta_failed.len()
        ));
    }
    if r.untracked > 0 && !a.json {
        note(format!(
            "{} file(s) indexed outside every root: nothing keeps them current (`trove roots add DIR` tracks a directory)",
            r.untracked
        ));
    }
    if r.sha256_filled > 0 && !a.json {
        note(format!(
            "stored the SHA-256 of {} file(s) indexed before trove kept one (the Hydrus API names files by it)",
            r.sha256_filled
        ));
    }
    let left = r.outstanding();
    let repaired = r.findings.iter().filter(|f| f.repaired).count();
    if !a.json {
        note(format!(
            "checked {} file(s): {} problem(s){}{}",
            r.checked,
            r.findings.len()
                + usize::from(r.integrity.is_some())
                + r.leftovers.len()
                + r.postings.len()
                + r.similar.len(),
            if a.repair {
                format!(
                    ", {} repaired",
                    repaired
                        + r.leftovers.iter().filter(|l| l.1).count()
                        + if r.postings_rebuilt { r.postings.len() } else { 0 }
                        + if r.similar_rebuilt { r.similar.len() } else { 0 }
                )
            } else {
                String::new()
            },
            if left > 0 && !a.repair {
                "; `trove check --repair` fixes what is certain".to_string()
            } else {
                String::new()
            }
        ));
    }
    Ok(if left > 0 { 1 } else { 0 })
}
