//! `trove watch`: the daemon that follows renames, moves and deletes live.

use std::time::Duration;

use clap::{Args, ValueEnum};
use trove_watch::{Backend, Daemon, WatchConfig};

use crate::ctx::{CmdResult, CommandError, Ctx};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BackendArg {
    /// fanotify when running with CAP_SYS_ADMIN, else inotify
    Auto,
    /// whole-filesystem marks: complete rename information (needs root)
    Fanotify,
    /// per-directory watches: no privileges; gaps are closed by reconciles
    Inotify,
}

/// Follow renames, moves and deletes under the roots as they happen (runs in the
/// foreground, logs to stderr; stop with Ctrl-C or SIGTERM).
///
/// At start it reconciles, so changes made while it was not running are caught. With root
/// (CAP_SYS_ADMIN) it uses fanotify filesystem marks and sees every rename with its old and
/// new name. Without, it uses inotify on every directory under the roots; inotify can miss a
/// move into a directory created a moment earlier, so every doubtful event, every queue
/// overflow and a periodic timer trigger a reconcile of the root concerned.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Kernel interface to use
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendArg,
    /// Reconcile every root this often, e.g. 10m, 1h, 30s, 1d; 0 turns it off
    #[arg(long, default_value = "10m", value_name = "DURATION")]
    pub interval: String,
    /// Tell whether a watcher is running on this index, its backend, last event and lag
    #[arg(long)]
    pub status: bool,
    /// Renames that keep a backup of a file being saved, so its record stays on the saved
    /// file: comma-separated suffixes, and prefixes ending in `*`; empty turns this off
    #[arg(long, value_name = "LIST", default_value = trove_core::ops::identity::DEFAULT_BACKUP_NAMES)]
    pub backup_names: String,
    /// Apply the tagging rules (`trove rules`) to each new file the watcher indexes, after
    /// reading its metadata; `--rules=PATH` names another rules file than
    /// $XDG_CONFIG_HOME/trove/rules.toml. A bad rules file stops the watcher before it starts.
    /// Example: `trove watch --rules=~/photos.toml`
    #[arg(long, value_name = "PATH", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub rules: Option<std::path::PathBuf>,
}

/// The same durations the query language takes (`mtime<30d`), plus `0` for "off".
fn parse_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    trove_core::query::parse_duration(s).map(|d| Duration::from_secs(d.seconds().max(0) as u64))
}

pub fn status(ctx: &Ctx) -> CmdResult {
    let index = ctx.open_read()?;
    let now = trove_core::model::now_unix();
    let mut lines: Vec<String> = Vec::new();
    let code = match trove_core::ops::watch::status(&index)? {
        Some(s) if s.is_fresh(now) && trove_watch::daemon::alive(s.pid) => {
            lines.push(format!("running:    yes (pid {}, {})", s.pid, s.backend));
            lines.push(format!("since:      {} s ago", now - s.started_at));
            lines.push(format!("events:     {}", s.events));
            match (&s.last_event, s.last_event_at) {
                (Some(e), Some(t)) => lines.push(format!("last event: {e} ({} s ago)", now - t)),
                _ => lines.push("last event: none yet".into()),
            }
            lines.push(format!("lag:        {} ms (last batch, read to committed)", s.lag_ms));
            lines.push(format!("heartbeat:  {} s ago", now - s.heartbeat_at));
            0
        }
        Some(s) => {
            lines.push(format!("running:    no (last run: pid {}, {}, {} event(s))", s.pid, s.backend, s.events));
            1
        }
        None => {
            lines.push("running:    no (never ran on this index)".into());
            1
        }
    };
    let untracked = trove_core::ops::roots::untracked(&index)?;
    if untracked > 0 {
        lines.push(format!(
            "untracked:  {untracked} file(s) indexed outside every root: their renames and deletes are not \
             followed (`trove roots add DIR` tracks a directory)"
        ));
    }
    let mut text = lines.join("\n");
    text.push('\n');
    crate::ctx::print_bytes(text.as_bytes())?;
    Ok(code)
}

pub fn run(ctx: &Ctx, a: WatchArgs) -> CmdResult {
    if a.status {
        return status(ctx);
    }
    let interval = parse_duration(&a.interval)
        .ok_or_else(|| CommandError::new(format!("{}: not a duration (try 10m, 1h, 30s, 1d or 0)", a.interval)))?;
    // A bad rules file is refused before the daemon starts (or the index is made).
    let rules = match &a.rules {
        Some(p) => Some(super::rules::load(ctx, Some(p.as_path()).filter(|p| !p.as_os_str().is_empty()))?),
        None => None,
    };
    // Make sure the index exists (and is migrated) before the daemon opens it.
    drop(ctx.open_write()?);
    let mut cfg = WatchConfig::new(ctx.index_path.clone());
    cfg.backend = match a.backend {
        BackendArg::Auto => Backend::Auto,
        BackendArg::Fanotify => Backend::Fanotify,
        BackendArg::Inotify => Backend::Inotify,
    };
    cfg.periodic = (!interval.is_zero()).then_some(interval);
    cfg.backups = trove_core::ops::identity::BackupNames::parse(&a.backup_names)
        .map_err(|e| CommandError::new(format!("--backup-names: {e}")))?;
    let log = Box::new(|s: &str| crate::ctx::note(format!("trove watch: {s}")));
    let (mut daemon, _lock) = Daemon::start(cfg, log).map_err(|e| match e {
        trove_watch::daemon::StartError::Index(e) => CommandError::from(e),
        e => CommandError::new(e.to_string()),
    })?;
    if let Some(set) = rules {
        let names: Vec<String> = set.rules.iter().map(|r| r.name.clone()).collect();
        crate::ctx::note(format!("trove watch: applying {} rule(s) to new files: {}", names.len(), names.join(", ")));
        daemon.set_on_new(trove_watch::OnNew {
            extractor: Some(ctx.extractor()),
            rules: set.rules.into_iter().map(|r| Box::new(r) as Box<dyn trove_core::ops::rules::Rule>).collect(),
        });
    }
    let stop = trove_watch::stop_on_signals();
    daemon.run(stop)?;
    Ok(0)
}
