//! `trove pool`: titled, ordered collections of files.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use trove_core::ops::pools as ops;

use crate::ctx::{CmdResult, Ctx, note, warn};
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
    /// Append indexed files to a pool, in the order given (directories add their files)
    Add {
        title: String,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Remove files from a pool (not from the index)
    Rm {
        title: String,
        #[arg(required = true)]
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
            Ok(0)
        }
        PoolCommand::Add { title, paths } => {
            let mut index = ctx.open_read()?;
            let (added, dup, unknown) = ops::add(&mut index, &title, &ctx.resolve_all(&paths))?;
            for p in &unknown {
                warn(format!("{}: not in the index", ctx.show(p)));
            }
            note(format!(
                "{added} file(s) added to {title}{}",
                if dup > 0 { format!(", {dup} already there") } else { String::new() }
            ));
            Ok(if unknown.is_empty() { 0 } else { 2 })
        }
        PoolCommand::Rm { title, paths } => {
            let mut index = ctx.open_read()?;
            let (n, unknown) = ops::remove(&mut index, &title, &ctx.resolve_all(&paths))?;
            for p in &unknown {
                warn(format!("{}: not in the index", ctx.show(p)));
            }
            note(format!("{n} file(s) removed from {title}"));
            Ok(0)
        }
        PoolCommand::Show { title } => {
            let index = ctx.open_read()?;
            let (_, files) = ops::show(&index, &title)?;
            let mut out = std::io::stdout().lock();
            for f in &files {
                write_path(&mut out, trove_core::paths::display_relative(&f.path, &ctx.cwd), b'\n')?;
            }
            Ok(0)
        }
        PoolCommand::List => {
            let index = ctx.open_read()?;
            let mut out = std::io::stdout().lock();
            for (_, title, n) in ops::list(&index)? {
                writeln!(out, "{n:>8}  {title}")?;
            }
            Ok(0)
        }
        PoolCommand::Delete { title } => {
            let mut index = ctx.open_read()?;
            ops::delete(&mut index, &title)?;
            Ok(0)
        }
    }
}
