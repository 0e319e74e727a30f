//! The command-line interface: global options and the list of subcommands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands;

const ABOUT: &str = "A tag index for files that stay where they are.

trove keeps tags for your files in one SQLite index while the files keep their folders
and names. Query them with a small language: `trove find 'genre:techno -live year>2015'`.";

const AFTER: &str = "\
Exit status: 0 success, 1 nothing found (find) or problems found (check), 2 error.
The index is $XDG_DATA_HOME/trove/index.db (or ~/.local/share/trove/index.db) unless
--index or TROVE_INDEX says otherwise. Query language: see `trove find --help`.";

#[derive(Debug, Parser)]
#[command(name = "trove", version, about = ABOUT, after_help = AFTER, max_term_width = 100)]
pub struct Cli {
    /// The index file to use (created on the first command that writes)
    #[arg(long, global = true, env = "TROVE_INDEX", value_name = "PATH")]
    pub index: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Include(commands::include::IncludeArgs),
    Tag(commands::tag::TagArgs),
    Untag(commands::untag::UntagArgs),
    Find(commands::find::FindArgs),
    Ls(commands::ls::LsArgs),
    Tags(commands::tags::TagsArgs),
    Pool(commands::pool::PoolArgs),
    Rm(commands::rm::RmArgs),
    Mv(commands::mv::MvArgs),
    Check(commands::check::CheckArgs),
    Roots(commands::roots::RootsArgs),
    Reconcile(commands::reconcile::ReconcileArgs),
    Watch(commands::watch::WatchArgs),
    /// Whether a watcher is running on this index (same as `trove watch --status`)
    Status,
    Stats(commands::stats::StatsArgs),
    Completions(commands::completions::CompletionsArgs),
}
