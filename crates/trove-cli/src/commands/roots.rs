//! `trove roots`: the directories trove keeps current, and what it ignores under them.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use trove_core::ops::roots::{add_ignore, add_root, move_root, remove_ignore, remove_root, set_auto_include};

use crate::ctx::{CmdResult, Ctx, note, warn};

/// Directories trove keeps current (`trove watch`, `trove reconcile`).
///
/// A root is a watched folder: renames, moves and deletes under it are followed, and new
/// files are indexed (untagged) unless its auto-include is off. `trove include -r DIR` adds
/// DIR. A root is stored by its real path (a symlink is resolved). Removing a root forgets
/// nothing: its files stay indexed, they are just no longer tracked.
///
/// Ignore patterns (gitignore syntax) keep files out of walks and auto-include: a
/// `.troveignore` file in a root or any directory under it, and the global list kept in the
/// index (`trove roots ignore`).
#[derive(Debug, Args)]
pub struct RootsArgs {
    #[command(subcommand)]
    pub command: RootsCommand,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, Subcommand)]
pub enum RootsCommand {
    /// List roots: whether each is there, mounted, and auto-including new files
    List,
    /// Add directories as roots
    Add {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Stop tracking directories (their files stay indexed)
    Rm {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// A root renamed on disk: move the root and every record's path to its new name (one
    /// transaction: all of them or none)
    Mv {
        /// The root's old path
        old: PathBuf,
        /// The directory it is now
        new: PathBuf,
    },
    /// Change a root's settings
    Set {
        /// Index new files under the root on their own (watcher and reconcile)
        #[arg(long, value_enum, value_name = "on|off")]
        auto_include: OnOff,
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Show the global ignore list, or add patterns to it (gitignore syntax)
    Ignore {
        /// Remove these patterns instead of adding them
        #[arg(long)]
        rm: bool,
        /// Patterns such as `*.tmp`, `node_modules/`, `/cache`
        patterns: Vec<String>,
    },
}

pub fn run(ctx: &Ctx, a: RootsArgs) -> CmdResult {
    match a.command {
        RootsCommand::List => {
            let index = ctx.open_read()?;
            let mut out = std::io::stdout().lock();
            for r in trove_core::ops::roots::list(&index)? {
                let mut notes = Vec::new();
                let mounted = trove_core::ops::roots::is_mounted(&index, &r)?;
                if !r.path.is_dir() && mounted {
                    notes.push("gone: deleted or renamed; `trove roots mv OLD NEW` if it moved, `trove roots rm` if it is no more".to_string());
                } else if !mounted {
                    notes.push("not mounted: its files are offline".to_string());
                }
                if !r.auto_include {
                    notes.push("auto-include off".to_string());
                }
                out.write_all(r.path.as_os_str().as_encoded_bytes())?;
                if notes.is_empty() {
                    writeln!(out)?;
                } else {
                    writeln!(out, "\t({})", notes.join("; "))?;
                }
            }
            Ok(0)
        }
        RootsCommand::Add { dirs } => {
            let mut index = ctx.open_write()?;
            for d in ctx.resolve_all(&dirs) {
                let added = add_root(&mut index, &d)?;
                let name = if added.path == d {
                    ctx.show(&d).to_string()
                } else {
                    format!("{} → {}", ctx.show(&d), added.path.display())
                };
                if added.new {
                    note(format!("{name}: now a root"));
                } else {
                    note(format!("{name}: already a root"));
                }
            }
            Ok(0)
        }
        RootsCommand::Rm { dirs } => {
            let mut index = ctx.open_read()?;
            let mut code = 0;
            for d in ctx.resolve_all(&dirs) {
                if !remove_root(&mut index, &d)? {
                    warn(format!("{}: not a root", ctx.show(&d)));
                    code = 2;
                }
            }
            Ok(code)
        }
        RootsCommand::Mv { old, new } => {
            let mut index = ctx.open_read()?;
            let m = move_root(&mut index, &ctx.resolve(&old), &ctx.resolve(&new))?;
            note(format!("{} -> {}: root moved, {} record(s) followed", ctx.show(&m.from), ctx.show(&m.to), m.records));
            Ok(0)
        }
        RootsCommand::Set { auto_include, dirs } => {
            let mut index = ctx.open_read()?;
            let on = matches!(auto_include, OnOff::On);
            let mut code = 0;
            for d in ctx.resolve_all(&dirs) {
                if set_auto_include(&mut index, &d, on)? {
                    note(format!("{}: auto-include {}", ctx.show(&d), if on { "on" } else { "off" }));
                } else {
                    warn(format!("{}: not a root (`trove roots list` shows them)", ctx.show(&d)));
                    code = 2;
                }
            }
            Ok(code)
        }
        RootsCommand::Ignore { rm, patterns } => {
            if patterns.is_empty() {
                let index = ctx.open_read()?;
                let mut out = std::io::stdout().lock();
                for p in trove_core::ops::roots::ignore_patterns(&index)? {
                    writeln!(out, "{p}")?;
                }
                return Ok(0);
            }
            let mut index = ctx.open_write()?;
            let mut code = 0;
            for p in &patterns {
                if rm {
                    if remove_ignore(&mut index, p)? {
                        note(format!("{p}: no longer ignored"));
                    } else {
                        warn(format!("{p}: not in the ignore list"));
                        code = 2;
                    }
                } else if add_ignore(&mut index, p)? {
                    note(format!("{p}: ignored under every root"));
                } else {
                    note(format!("{p}: already ignored"));
                }
            }
            Ok(code)
        }
    }
}
