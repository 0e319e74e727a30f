//! `trove pool`: titled, ordered collections of files.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use trove_core::ops::pools as ops;

use crate::ctx::{CmdResult, Ctx, note};
use crate::output::write_path;

/// Ordered collections of files (albums, chapters, series).
#[derive(Debug, Args)]
pub struct PoolArgs {
    #[command(subcommand)]
    pub command: PoolCommand,
}

#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// Create an empty pool
    Create { title: String },
    /// Append indexed files to a pool, in the order given (directories need -r)
    Add {
        /// The pool's title (case-insensitive)
        title: String,
        /// Add every indexed file under directories, in path order
        #[arg(short, long)]
        recursive: bool,
        /// Indexed files (or directories, with -r)
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Remove files from a pool (not from the index; directories need -r)
    Rm {
        /// The pool's title (case-insensitive)
        title: String,
        /// Remove every file under directories
        #[arg(short, long)]
        recursive: bool,
        /// Indexed files (or directories, with -r)
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Print a pool's files in order
    Show { title: String },
    /// List pools with their sizes
    List,
    /// Delete a pool (its files stay indexed)
    Delete { title: String },
}

pub fn run(ctx: &Ctx, a: PoolArgs) -> CmdResult {
    match a.command {
        PoolCommand::Create { title } => {
            let mut index = ctx.open_write()?;
            ops::create(&mut index, &title)?;
            note(format!("pool {title} created"));
            Ok(0)
        }
        PoolCommand::Add { title, recursive, paths } => {
            let mut index = ctx.open_read()?;
            let r = ops::add(&mut index, &title, &ctx.resolve_all(&paths), recursive)?;
            if r.changed + r.unchanged > 0 {
                note(format!(
                    "{} file(s) added to {title}{}",
                    r.changed,
                    if r.unchanged > 0 { format!(", {} already there", r.unchanged) } else { String::new() }
                ));
            }
            Ok(edit_status(ctx, &r))
        }
        PoolCommand::Rm { title, recursive, paths } => {
            let mut index = ctx.open_read()?;
            let r = ops::remove(&mut index, &title, &ctx.resolve_all(&paths), recursive)?;
            if r.changed + r.unchanged > 0 {
                note(format!(
                    "{} file(s) removed from {title}{}",
                    r.changed,
                    if r.unchanged > 0 { format!(", {} not in it", r.unchanged) } else { String::new() }
                ));
            }
            Ok(edit_status(ctx, &r))
        }
        PoolCommand::Show { title } => {
            let index = ctx.open_read()?;
            let files = ops::show(&index, &title)?.files;
            let mut out = std::io::stdout().lock();
            for f in &files {
                write_path(&mut out, trove_core::paths::display_relative(&f.path, &ctx.cwd), b'\n')?;
            }
            Ok(0)
        }
        PoolCommand::List => {
            let index = ctx.open_read()?;
            let mut out = std::io::stdout().lock();
            for p in ops::list(&index)? {
                writeln!(out, "{:>8}  {}", p.files, p.title)?;
            }
            Ok(0)
        }
        PoolCommand::Delete { title } => {
            let mut index = ctx.open_read()?;
            let n = ops::delete(&mut index, &title)?;
            note(format!("pool {title} deleted; its {n} file(s) stay indexed"));
            Ok(0)
        }
    }
}

/// Warns about paths that were not indexed or were directories without -r; exit 2 if any.
fn edit_status(ctx: &Ctx, r: &ops::PoolEdit) -> u8 {
    for p in &r.not_indexed {
        crate::ctx::error_line(format!("{}: not in the index", ctx.show(p)));
    }
    let failed = crate::ctx::report_failures(ctx, &r.failed);
    if failed || !r.not_indexed.is_empty() { 2 } else { 0 }
}
