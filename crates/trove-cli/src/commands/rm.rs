//! `trove rm`: forget files (the disk is never touched).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;
use trove_core::ops::remove;

use crate::ctx::{CmdResult, CommandError, Ctx, note, report_failures};

/// Above this many records, `rm` asks first (or needs --yes when not on a terminal).
const ASK_ABOVE: usize = 20;

/// Forget files: remove their records and tags from the index.
///
/// Never touches the disk. Directories need -r. Paths need not exist any more.
/// The tags of forgotten files cannot be restored: check with --dry-run first. Forgetting
/// more than 20 files asks for confirmation on a terminal, and needs --yes otherwise.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Forget everything under directories
    #[arg(short, long)]
    pub recursive: bool,
    /// Show how many files and tag links would be forgotten, and change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Do not ask before forgetting many files
    #[arg(short, long)]
    pub yes: bool,
    /// Files or directories (with -r) to forget
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

pub fn run(ctx: &Ctx, a: RmArgs) -> CmdResult {
    let mut index = ctx.open_read()?;
    let plan = remove::plan(&index, &ctx.resolve_all(&a.paths), a.recursive)?;
    for p in &plan.not_indexed {
        crate::ctx::error_line(format!("{}: not in the index", ctx.show(p)));
    }
    let what = format!("{} file(s) and their {} tag link(s)", plan.ids.len(), plan.links);
    let problems = !plan.not_indexed.is_empty();
    if a.dry_run {
        note(format!("would forget {what}; nothing changed"));
        let failed = report_failures(ctx, &plan.failed);
        return Ok(if failed || problems { 2 } else { 0 });
    }
    if plan.ids.len() > ASK_ABOVE && !a.yes {
        let question = format!("forget {what}? their tags cannot be restored [y/N] ");
        if !(std::io::stdin().is_terminal() && crate::ctx::stderr_is_tty()) {
            return Err(CommandError::new(format!("would forget {what}; refusing without confirmation"))
                .with_hint("pass --yes to confirm, or --dry-run to see the count only"));
        }
        if !ask(&question) {
            note("nothing forgotten");
            return Ok(1);
        }
    }
    if plan.ids.is_empty() {
        let failed = report_failures(ctx, &plan.failed);
        if !failed && !problems {
            note("nothing to forget");
        }
        return Ok(if failed || problems { 2 } else { 0 });
    }
    let r = remove::apply(&mut index, plan)?;
    note(format!(
        "{} file(s) forgotten with {} tag link(s); nothing on disk was touched (their tags cannot be restored)",
        r.removed, r.links
    ));
    let failed = report_failures(ctx, &r.failed);
    Ok(if failed || problems { 2 } else { 0 })
}

/// Asks on the terminal; anything but y/yes is a no.
fn ask(question: &str) -> bool {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(question.as_bytes());
    let _ = err.flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_lowercase().as_str(), "y" | "yes")
}
