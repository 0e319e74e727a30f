//! The command-line interface: global options and the list of subcommands.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
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
    /// The index file to use (created on the first command that writes); default: the
    /// TROVE_INDEX environment variable, else $XDG_DATA_HOME/trove/index.db
    #[arg(long, global = true, value_name = "PATH")]
    pub index: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Include(commands::include::IncludeArgs),
    Tag(commands::tag::TagArgs),
    Untag(commands::untag::UntagArgs),
    Log(commands::log::LogArgs),
    Undo(commands::undo::UndoArgs),
    History(commands::history::HistoryArgs),
    Find(commands::find::FindArgs),
    Ls(commands::ls::LsArgs),
    Show(commands::show::ShowArgs),
    Meta(commands::meta::MetaArgs),
    Rules(commands::rules::RulesArgs),
    Dupes(commands::dupes::DupesArgs),
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
    Backup(commands::backup::BackupArgs),
    Restore(commands::restore::RestoreArgs),
    Serve(commands::serve::ServeArgs),
    Mount(commands::mount::MountArgs),
    View(commands::view::ViewArgs),
    Keys(commands::keys::KeysArgs),
    Thumbs(commands::thumbs::ThumbsArgs),
    Export(commands::export::ExportArgs),
    Import(commands::import::ImportArgs),
    InstallAliases(commands::install_aliases::InstallAliasesArgs),
    Completions(commands::completions::CompletionsArgs),
}

/// Subcommands whose positional words are a query.
const QUERY_COMMANDS: &[&str] = &["find"];

/// Rewrites the arguments of a query command so that a word spelled like one of its flags
/// is that flag wherever it stands, as in ripgrep and fd: `trove find genre:techno -c`
/// counts. The query words accept a leading `-` (`-live` means "without live"), so clap
/// alone would read every word after the first as query text. Words after the first `--`
/// are always query text: `trove find -- -c` finds files without the tag `c`.
pub fn hoist_flags(args: Vec<OsString>) -> Vec<OsString> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    // Building adds clap's own -h/--help and -V/--version to the argument lists.
    cmd.build();
    let globals: Vec<&clap::Arg> = cmd.get_arguments().collect();
    // The subcommand is the first word that is neither a global option nor its value.
    let mut i = 1;
    while i < args.len() {
        let a = args[i].as_bytes();
        match flag_kind(a, &globals) {
            Some(takes) => i += if takes && !a.contains(&b'=') && a.starts_with(b"--") { 2 } else { 1 },
            None => break,
        }
    }
    let Some(name) = args.get(i).and_then(|a| a.to_str()) else { return args };
    let Some(sub) = cmd.get_subcommands().find(|s| s.get_name() == name || s.get_all_aliases().any(|x| x == name))
    else {
        return args;
    };
    if !QUERY_COMMANDS.contains(&sub.get_name()) {
        return args;
    }
    // The root's own -V/--version are not flags of a subcommand; only global ones are.
    let known: Vec<&clap::Arg> =
        sub.get_arguments().chain(globals.iter().copied().filter(|a| a.is_global_set())).collect();
    let (head, tail) = args.split_at(i + 1);
    let (mut flags, mut words) = (Vec::new(), Vec::new());
    let mut rest = tail.iter();
    while let Some(a) = rest.next() {
        if a.as_bytes() == b"--" {
            words.extend(rest.by_ref().cloned());
            break;
        }
        match flag_kind(a.as_bytes(), &known) {
            Some(takes) => {
                flags.push(a.clone());
                // `--limit 5` and `-n 5` take the next word; `--limit=5` does not.
                let attached = if a.as_bytes().starts_with(b"--") { a.as_bytes().contains(&b'=') } else { a.len() > 2 };
                if takes && !attached {
                    flags.extend(rest.next().cloned());
                }
            }
            // A `--word` that is no flag is a mistyped flag far more often than a query term
            // (`--x` is "not not x"): clap says so. Such a term goes after `--`.
            None if a.as_bytes().starts_with(b"--") => flags.push(a.clone()),
            None => words.push(a.clone()),
        }
    }
    let mut out = head.to_vec();
    out.extend(flags);
    if !words.is_empty() {
        out.push("--".into());
        out.extend(words);
    }
    out
}

/// Whether `a` is one of `known`'s flags, and if so whether it takes a value. A short
/// cluster (`-ca`) counts when every letter is a known switch, or when its first letter
/// is an option that takes the rest as its value.
fn flag_kind(a: &[u8], known: &[&clap::Arg]) -> Option<bool> {
    let takes = |x: &clap::Arg| x.get_action().takes_values();
    if let Some(long) = a.strip_prefix(b"--") {
        let name = long.split(|&b| b == b'=').next().unwrap_or(long);
        if name.is_empty() {
            return None;
        }
        let hit = known.iter().find(|x| {
            x.get_long().is_some_and(|l| l.as_bytes() == name)
                || x.get_all_aliases().is_some_and(|al| al.iter().any(|l| l.as_bytes() == name))
        })?;
        // clap's own --help and --version have no value.
        return Some(takes(hit));
    }
    let letters = std::str::from_utf8(a.strip_prefix(b"-")?).ok()?;
    let mut chars = letters.chars();
    let first = chars.next()?;
    let short = |c: char| known.iter().find(|x| x.get_short() == Some(c));
    let hit = short(first)?;
    if takes(hit) {
        return Some(true);
    }
    chars.all(|c| short(c).is_some_and(|x| !takes(x))).then_some(false)
}
