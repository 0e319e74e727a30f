//! `trove tags`: list and manage tags.

use std::io::Write;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use trove_core::ops::tags as ops;

use crate::ctx::{CmdResult, Ctx, note};

/// List and manage tags: names, aliases, merges, implications.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TagsArgs {
    /// Without a subcommand: `tags list`
    #[command(subcommand)]
    pub command: Option<TagsCommand>,
    #[command(flatten)]
    pub list: ListArgs,
}

/// What `tags list` (and `tags` alone) takes.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Sort by name or by direct file count
    #[arg(long, value_enum, default_value = "name")]
    sort: SortBy,
    /// One JSON object per line
    #[arg(long)]
    json: bool,
    /// Only tags with a name matching this pattern (`*` wildcard, case-insensitive)
    pattern: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SortBy {
    Name,
    Count,
}

#[derive(Debug, Subcommand)]
pub enum TagsCommand {
    /// List tags with how many files carry each: directly, and with implied ones
    /// (files tagged with a tag that implies it), which is what `find TAG` counts
    List(ListArgs),
    /// Show a tag: names, universal id, files, implications
    Show {
        tag: String,
        #[arg(long)]
        json: bool,
    },
    /// Create a tag with no files yet
    Create { name: String },
    /// Give a tag a new primary name (links and implications stay)
    Rename { old: String, new: String },
    /// Add another name for a tag, optionally for a language
    Alias {
        /// The tag (any of its names)
        tag: String,
        /// The new name; it finds the tag everywhere the primary name does
        name: String,
        /// Language of this name (e.g. ja, de)
        #[arg(long, value_name = "L")]
        lang: Option<String>,
    },
    /// Remove an alias (not the primary name)
    Unalias { name: String },
    /// Move every link, name and implication of FROM into INTO; FROM disappears
    Merge { from: String, into: String },
    /// Delete a tag; a tag in use needs --force, which also removes its links
    Delete {
        tag: String,
        #[arg(long)]
        force: bool,
    },
    /// Declare CHILD ⇒ PARENT: files with CHILD are found by PARENT too (evaluated at query
    /// time; tags that do not exist yet are created)
    Imply { child: String, parent: String },
    /// Remove the implication CHILD ⇒ PARENT
    Unimply { child: String, parent: String },
}

pub fn run(ctx: &Ctx, a: TagsArgs) -> CmdResult {
    match a.command.unwrap_or(TagsCommand::List(a.list)) {
        TagsCommand::List(ListArgs { sort, json, pattern }) => {
            let index = ctx.open_read()?;
            let v = ops::list(&index, pattern.as_deref(), matches!(sort, SortBy::Count))?;
            let mut out = std::io::stdout().lock();
            for t in &v {
                if json {
                    writeln!(
                        out,
                        "{}",
                        json!({"id": t.id.0, "name": t.name, "files": t.files, "with_implied": t.with_implied})
                    )?;
                } else if t.with_implied != t.files {
                    writeln!(out, "{:>8}  {} ({} with implied)", t.files, t.name, t.with_implied)?;
                } else {
                    writeln!(out, "{:>8}  {}", t.files, t.name)?;
                }
            }
            Ok(if v.is_empty() { 1 } else { 0 })
        }
        TagsCommand::Show { tag, json } => {
            let index = ctx.open_read()?;
            let d = ops::show(&index, &tag)?;
            let mut out = std::io::stdout().lock();
            if json {
                let aliases: Vec<_> = d.tag.aliases.iter().map(|n| json!({"name": n.name, "lang": n.lang})).collect();
                writeln!(
                    out,
                    "{}",
                    json!({"id": d.tag.id.0, "uid": d.tag.uid_hex(), "name": d.tag.name, "aliases": aliases,
                           "files": d.files, "with_implied": d.with_implied, "parents": d.parents, "children": d.children, "implies": d.implies})
                )?;
            } else {
                writeln!(out, "name:     {}", d.tag.name)?;
                writeln!(out, "uid:      {}", d.tag.uid_hex())?;
                for n in &d.tag.aliases {
                    match &n.lang {
                        Some(l) => writeln!(out, "alias:    {} ({l})", n.name)?,
                        None => writeln!(out, "alias:    {}", n.name)?,
                    }
                }
                if d.with_implied != d.files {
                    writeln!(out, "files:    {} ({} with implied)", d.files, d.with_implied)?;
                } else {
                    writeln!(out, "files:    {}", d.files)?;
                }
                if !d.parents.is_empty() {
                    writeln!(out, "implies:  {}", d.parents.join(", "))?;
                }
                if d.implies.len() > d.parents.len() {
                    writeln!(out, "  (all:   {})", d.implies.join(", "))?;
                }
                if !d.children.is_empty() {
                    writeln!(out, "implied by: {}", d.children.join(", "))?;
                }
            }
            Ok(0)
        }
        TagsCommand::Create { name } => {
            let mut index = ctx.open_write()?;
            ops::create(&mut index, &name)?;
            note(format!("created {name}"));
            Ok(0)
        }
        TagsCommand::Rename { old, new } => {
            let mut index = ctx.open_read()?;
            ops::rename(&mut index, &old, &new)?;
            note(format!("renamed {old} to {new}"));
            Ok(0)
        }
        TagsCommand::Alias { tag, name, lang } => {
            let mut index = ctx.open_read()?;
            ops::alias(&mut index, &tag, &name, lang.as_deref())?;
            note(format!("{name} is now another name for {tag}"));
            Ok(0)
        }
        TagsCommand::Unalias { name } => {
            let mut index = ctx.open_read()?;
            ops::unalias(&mut index, &name)?;
            note(format!("{name} is no longer a name of any tag"));
            Ok(0)
        }
        TagsCommand::Merge { from, into } => {
            let mut index = ctx.open_read()?;
            ops::merge(&mut index, &from, &into)?;
            note(format!("merged {from} into {into}"));
            Ok(0)
        }
        TagsCommand::Delete { tag, force } => {
            let mut index = ctx.open_read()?;
            let n = ops::delete(&mut index, &tag, force)?;
            note(format!("deleted {tag} ({n} file link(s) removed)"));
            Ok(0)
        }
        TagsCommand::Imply { child, parent } => {
            let mut index = ctx.open_write()?;
            let ops::Implied { new, created } = ops::imply(&mut index, &child, &parent)?;
            if !created.is_empty() {
                note(format!("new tag(s): {}", created.join(", ")));
            }
            if new {
                note(format!("{child} ⇒ {parent}: files tagged {child} are now found by {parent} too"));
            } else {
                note(format!("{child} ⇒ {parent} already holds"));
            }
            Ok(0)
        }
        TagsCommand::Unimply { child, parent } => {
            let mut index = ctx.open_read()?;
            if ops::unimply(&mut index, &child, &parent)? {
                note(format!("{child} no longer implies {parent}"));
                Ok(0)
            } else {
                note(format!("{child} ⇒ {parent} was not declared; nothing changed"));
                Ok(0)
            }
        }
    }
}
