//! `trove rules check|preview|apply|revert`: tagging rules from a TOML file.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use trove_core::FileId;
use trove_core::ops::find::Query;
use trove_core::ops::rules::{self, RuleReport, Scope};
use trove_core::ops::tagging::records_for;
use trove_rules::RuleSet;

use crate::ctx::{CmdResult, CommandError, Ctx, note, print_bytes, warn};
use crate::output::{Bar, path_json};

/// Tag files by rules: path patterns, regexes and metadata turned into tags.
///
/// Rules live in a TOML file (default $XDG_CONFIG_HOME/trove/rules.toml, else
/// ~/.config/trove/rules.toml; --rules picks another). Every link a rule makes has the
/// source rule:NAME. Applying again changes nothing unless the files or the rules changed;
/// a rule only ever removes its own links, never a tag set by hand or by another source.
/// The format is in docs/rules.md. Example:
///
///   [[rule]]
///   name = "music-folders"
///   when.path_pattern = "~/Music/{artist}/{year:int4} - {album}/{track:int} {title}.{ext}"
///   tags.add = ["artist:{meta.artist ?? artist|lower}", "year:{year}", "album:{album}"]
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// The rules file (default: $XDG_CONFIG_HOME/trove/rules.toml)
    #[arg(long, global = true, value_name = "PATH")]
    pub rules: Option<PathBuf>,
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Read the rules file and report every problem with its line and column
    Check,
    /// Show the links rules would add (+) and remove (-), per file, without writing
    ///
    /// `trove rules preview` previews every rule on every file; `trove rules preview
    /// papers ~/Papers` one rule on one folder; `-q 'type:image'` the files a query selects.
    Preview(ScopeArgs),
    /// Apply rules: link what they give, unlink what they no longer give (their own links only)
    Apply(ScopeArgs),
    /// Remove every link a rule made (source rule:NAME); tags and other sources' links stay
    ///
    /// Works whether or not the rule is still in the rules file.
    Revert {
        /// The rule's name
        #[arg(value_name = "RULE")]
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// Only files this query matches (the value may start with `-`)
    #[arg(short, long, value_name = "QUERY", allow_hyphen_values = true)]
    pub query: Option<String>,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
    /// A rule's name (default: every rule), then files or directories (default: every
    /// file in the index). A first word that names no rule is a path.
    #[arg(value_name = "RULE|PATH")]
    pub words: Vec<PathBuf>,
}

pub fn run(ctx: &Ctx, a: RulesArgs) -> CmdResult {
    match a.command {
        RulesCommand::Check => check(ctx, a.rules.as_deref()),
        RulesCommand::Preview(s) => scoped(ctx, a.rules.as_deref(), s, false),
        RulesCommand::Apply(s) => scoped(ctx, a.rules.as_deref(), s, true),
        RulesCommand::Revert { name } => revert(ctx, &name),
    }
}

/// `$XDG_CONFIG_HOME/trove/rules.toml`, else `~/.config/trove/rules.toml`.
pub fn default_rules_path() -> Result<PathBuf, CommandError> {
    if let Some(d) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty() && Path::new(d).is_absolute()) {
        return Ok(PathBuf::from(d).join("trove/rules.toml"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".config/trove/rules.toml")),
        None => Err(CommandError::new("cannot find the rules file: neither XDG_CONFIG_HOME nor HOME is set")
            .with_hint("pass --rules PATH")),
    }
}

/// Reads and checks the rules file; problems are one error listing them all.
pub fn load(ctx: &Ctx, path: Option<&Path>) -> Result<RuleSet, CommandError> {
    let explicit = path.is_some();
    let path = match path {
        Some(p) => ctx.resolve(p),
        None => default_rules_path()?,
    };
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    match RuleSet::load(&path, home.as_deref()) {
        Ok(set) => {
            for w in &set.warnings {
                warn(w);
            }
            Ok(set)
        }
        Err(trove_rules::LoadError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            let e = CommandError::new(format!("{}: no rules file", path.display()));
            Err(if explicit {
                e
            } else {
                e.with_hint("write rules there (docs/rules.md shows the format) or pass --rules PATH")
            })
        }
        Err(e) => Err(CommandError::new(e.to_string())
            .with_hint("nothing was written; fix the rules file and run `trove rules check`")),
    }
}

fn check(ctx: &Ctx, path: Option<&Path>) -> CmdResult {
    let set = load(ctx, path)?;
    let names: Vec<&str> = set.rules.iter().map(|r| r.name.as_str()).collect();
    note(format!("{} rule(s), no problems: {}", names.len(), names.join(", ")));
    Ok(0)
}

fn revert(ctx: &Ctx, name: &str) -> CmdResult {
    let mut index = ctx.open_read()?;
    let n = rules::revert(&mut index, name)?;
    if n == 0 {
        note(format!("rule {name:?} has no links in this index; nothing removed"));
    } else {
        note(format!("removed {n} link(s) of rule {name:?} (source rule:{name}); tags and other sources' links stay"));
    }
    Ok(0)
}

fn scoped(ctx: &Ctx, path: Option<&Path>, a: ScopeArgs, write: bool) -> CmdResult {
    let set = load(ctx, path)?;
    let mut words = a.words.clone();
    let chosen: Vec<&dyn trove_rules::Rule> = match words.first().and_then(|w| w.to_str()).and_then(|w| set.get(w)) {
        Some(r) => {
            words.remove(0);
            vec![r]
        }
        None => set.as_dyn(),
    };
    let mut index = if write { ctx.open_write()? } else { ctx.open_read()? };
    let mut failed = false;
    let mut ids: Option<Vec<FileId>> = None;
    if !words.is_empty() {
        let paths = ctx.resolve_all(&words);
        let (found, unknown, errors) = records_for(&index, &paths, true)?;
        for p in unknown {
            failed = true;
            crate::ctx::error_line(format!("{}: not in the index", ctx.show(&p)));
        }
        failed |= crate::ctx::report_failures(ctx, &errors);
        ids = Some(found);
    }
    if let Some(q) = &a.query {
        let q = Query::new(&index, q)?;
        for w in q.warnings() {
            warn(w);
        }
        let hit: Vec<FileId> = q.collect(&index, None)?.into_iter().map(|r| r.id).collect();
        ids = Some(match ids {
            Some(mut prev) => {
                let set: std::collections::HashSet<FileId> = hit.into_iter().collect();
                prev.retain(|i| set.contains(i));
                prev
            }
            None => hit,
        });
    }
    let scope = match &ids {
        Some(ids) => Scope::Files(ids),
        None => Scope::All,
    };
    let reports = if write {
        rules::apply(&mut index, &chosen, scope, &Bar::new())?
    } else {
        rules::preview(&index, &chosen, scope)?
    };
    for r in &reports {
        for w in &r.warnings {
            warn(format!("rule {:?}: {w}", r.rule));
        }
        for (name, why) in &r.bad_names {
            warn(format!("rule {:?} made {name:?}, which is not a tag name: {why}", r.rule));
        }
    }
    if a.json {
        let out =
            json!({ "applied": write, "rules": reports.iter().map(|r| report_json(r, write)).collect::<Vec<_>>() });
        print_bytes(format!("{out}\n").as_bytes())?;
    } else if write {
        for r in &reports {
            let mut line = format!(
                "rule {:?}: {} file(s) matched, {} link(s) added, {} removed, {} unchanged",
                r.rule, r.files_matched, r.links_added, r.links_removed, r.links_kept
            );
            if !r.tags_created.is_empty() {
                line.push_str(&format!("; new tag(s): {}", r.tags_created.join(", ")));
            }
            note(line);
        }
    } else {
        print_preview(ctx, &reports)?;
    }
    Ok(if failed { 2 } else { 0 })
}

fn print_preview(ctx: &Ctx, reports: &[RuleReport]) -> std::io::Result<()> {
    let mut out = Vec::new();
    for r in reports {
        let (add, remove) = rules::totals(r);
        writeln!(
            out,
            "rule {:?}: {} file(s) matched, +{add} -{remove} link(s), {} unchanged",
            r.rule, r.files_matched, r.links_kept
        )?;
        for ch in &r.changes {
            out.extend_from_slice(b"  ");
            crate::output::write_path(&mut out, trove_core::paths::display_relative(&ch.file.path, &ctx.cwd), b'\n')?;
            for t in &ch.add {
                writeln!(out, "    + {t}")?;
            }
            for (_, t) in &ch.remove {
                writeln!(out, "    - {t}")?;
            }
            if ch.kept > 0 {
                writeln!(out, "    = {} unchanged", ch.kept)?;
            }
        }
    }
    if !reports.is_empty() {
        writeln!(out, "preview: nothing was written (`trove rules apply` does it)")?;
    }
    print_bytes(&out)
}

fn report_json(r: &RuleReport, applied: bool) -> Value {
    let (add, remove) = rules::totals(r);
    let changes: Vec<Value> = r
        .changes
        .iter()
        .map(|ch| {
            let mut m = serde_json::Map::new();
            m.insert("id".into(), json!(ch.file.id.0));
            path_json(&mut m, &ch.file.path);
            m.insert("add".into(), json!(ch.add));
            m.insert("remove".into(), json!(ch.remove.iter().map(|x| &x.1).collect::<Vec<_>>()));
            m.insert("unchanged".into(), json!(ch.kept));
            Value::Object(m)
        })
        .collect();
    let mut v = json!({
        "rule": r.rule,
        "files_seen": r.files_seen,
        "files_matched": r.files_matched,
        "links_add": add,
        "links_remove": remove,
        "links_unchanged": r.links_kept,
        "changes": changes,
    });
    if applied {
        v["links_added"] = json!(r.links_added);
        v["links_removed"] = json!(r.links_removed);
        v["tags_created"] = json!(r.tags_created);
    }
    v
}
