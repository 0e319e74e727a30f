//! `trove include`: add files to the index.

use std::path::PathBuf;

use clap::Args;
use trove_core::ops::include::{IncludeOptions, Outcome, include};

use crate::ctx::{CmdResult, Ctx, note, report_failures};
use crate::output::Bar;

/// Index files (directories with -r), hash them, apply tags.
///
/// Re-including an unchanged file costs a stat, not a re-hash. Recursive walks skip
/// symlinks and special files (FIFOs, sockets, devices are never opened). A file that
/// fails is reported and the run goes on; the exit status is 2 if anything failed.
#[derive(Debug, Args)]
pub struct IncludeArgs {
    /// Descend into directories, and record each as a root (see `trove roots`)
    #[arg(short, long)]
    pub recursive: bool,
    /// Tag to apply to every included file (repeatable; created if new)
    #[arg(short, long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Show what would be included without writing anything
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Do not read metadata (type, size, duration, tags, EXIF…) from the files' contents
    #[arg(long)]
    pub no_meta: bool,
    /// Apply the tagging rules (`trove rules`) to the included files; `--rules=PATH` names
    /// another rules file than $XDG_CONFIG_HOME/trove/rules.toml
    #[arg(long, value_name = "PATH", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub rules: Option<PathBuf>,
    /// Print every file as soon as it is stored in the index
    #[arg(short, long)]
    pub verbose: bool,
    /// Files or directories
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

pub fn run(ctx: &Ctx, a: IncludeArgs) -> CmdResult {
    let paths = ctx.resolve_all(&a.paths);
    // A bad rules file is refused before anything is written.
    let rules = match &a.rules {
        Some(p) => Some(super::rules::load(ctx, Some(p.as_path()).filter(|p| !p.as_os_str().is_empty()))?),
        None => None,
    };
    let mut index = if a.dry_run { ctx.open_read().or_else(|_| ctx.open_write())? } else { ctx.open_write()? };
    let extractor = (!a.no_meta && !a.dry_run).then(|| ctx.extractor());
    let opts = IncludeOptions {
        recursive: a.recursive,
        tags: a.tags.clone(),
        dry_run: a.dry_run,
        extractor: extractor.clone(),
        ..Default::default()
    };
    let bar = if a.verbose && !a.dry_run { Bar::verbose(&ctx.cwd) } else { Bar::new() };
    let r = include(&mut index, &paths, &opts, &bar)?;
    for (link, target) in &r.followed {
        note(format!("{} → {}: following the link named on the command line", ctx.show(link), target.display()));
    }
    for (dir, fs) in &r.skipped_pseudo {
        note(format!("{}: skipped, a pseudo filesystem ({fs}) holds no real files", ctx.show(dir)));
    }
    if a.dry_run {
        // Only what would change: a dry run over a big unchanged tree is a summary line.
        for (p, _, o) in &r.files {
            let word = match o {
                Outcome::Added => "add",
                Outcome::Updated => "update",
                Outcome::Unchanged => continue,
            };
            note(format!("{word:>6} {}", ctx.show(p)));
        }
    }
    let would = if a.dry_run { "would be " } else { "" };
    let mut line = format!(
        "{} {would}added, {} {would}updated, {} unchanged",
        r.count(Outcome::Added),
        r.count(Outcome::Updated),
        r.count(Outcome::Unchanged)
    );
    if r.links_added > 0 {
        line.push_str(&format!(", {} tag link(s) {would}added", r.links_added));
    }
    if r.skipped_symlinks + r.skipped_special > 0 {
        line.push_str(&format!(
            "; skipped {} symlink(s) and {} special file(s)",
            r.skipped_symlinks, r.skipped_special
        ));
    }
    if r.skipped_ignored > 0 {
        line.push_str(&format!("; {} ignored (.troveignore, `trove roots ignore`)", r.skipped_ignored));
    }
    if !r.failed.is_empty() {
        line.push_str(&format!("; {} failed", r.failed.len()));
    }
    note(line);
    if let Some(x) = &extractor {
        for n in x.0.notes() {
            note(n);
        }
    }
    if !r.meta_failed.is_empty() {
        note(format!(
            "{} file(s) included without metadata: it could not be read (`trove check` lists them)",
            r.meta_failed.len()
        ));
    }
    if !r.tags_created.is_empty() {
        let verb = if a.dry_run { "would create tag(s)" } else { "new tag(s)" };
        note(format!("{verb}: {}", r.tags_created.join(", ")));
    }
    if a.dry_run {
        note("dry run: nothing was written");
    }
    if let Some(set) = &rules {
        if a.dry_run {
            note("rules checked, not applied (dry run)");
        } else {
            let ids: Vec<trove_core::FileId> = r.files.iter().filter_map(|f| f.1).collect();
            let reports = trove_core::ops::rules::apply(
                &mut index,
                &set.as_dyn(),
                trove_core::ops::rules::Scope::Files(&ids),
                &Bar::new(),
            )?;
            for rep in &reports {
                for w in &rep.warnings {
                    crate::ctx::warn(format!("rule {:?}: {w}", rep.rule));
                }
                if rep.links_added + rep.links_removed > 0 {
                    note(format!(
                        "rule {:?}: {} link(s) added, {} removed",
                        rep.rule, rep.links_added, rep.links_removed
                    ));
                }
            }
        }
    }
    for d in &r.roots_added {
        note(format!("{}: now a root (`trove watch` and `trove reconcile` keep it current)", ctx.show(d)));
    }
    if let Some(first) = r.untracked.first()
        && !a.dry_run
    {
        let dir = first.parent().unwrap_or(first);
        note(format!(
            "{} file(s) outside every root: their renames and deletes are not followed \
             (hint: `trove roots add {}` keeps that directory current)",
            r.untracked.len(),
            ctx.show(dir)
        ));
    }
    Ok(if report_failures(ctx, &r.failed) { 2 } else { 0 })
}
