//! `trove keys`: API keys for `trove serve`.

use std::io::Write;

use clap::{Args, Subcommand};
use trove_core::ops::keys::{self, Scope};

use crate::ctx::{CmdResult, CommandError, Ctx, note};

/// API keys for scripts and apps that use `trove serve`'s HTTP API.
///
/// A key is shown once, when it is made; only its hash is stored. Send it as
/// `Authorization: Bearer KEY` (or `?key=KEY` on media URLs).
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key and print it (the only line on stdout)
    Add {
        /// A name for the key: its writes are recorded as the source api:NAME
        name: String,
        /// Search and read files only
        #[arg(long, group = "scope")]
        read: bool,
        /// Read, and add or remove tags on files (the default)
        #[arg(long, group = "scope")]
        tag: bool,
        /// Everything: also rename, alias, merge and imply tags
        #[arg(long, group = "scope")]
        all: bool,
    },
    /// List keys (names and scopes; the keys themselves are not stored)
    List,
    /// List the keys clients asked for (Hydrus's `request_new_permissions`), not approved yet
    Pending,
    /// Approve a key a client asked for: it works from now on with the scope shown by
    /// `trove keys pending` (e.g. `trove keys approve hydrus-web`)
    Approve {
        /// The name shown by `trove keys pending`
        name: String,
    },
    /// Remove a key
    Rm {
        /// The key's name
        name: String,
    },
}

pub fn run(ctx: &Ctx, a: KeysArgs) -> CmdResult {
    match a.command {
        KeysCommand::Add { name, read, tag: _, all } => {
            let scope = if read {
                Scope::Read
            } else if all {
                Scope::All
            } else {
                Scope::Tag
            };
            let mut index = ctx.open_write()?;
            let key = keys::add(&mut index, &name, scope)?;
            crate::ctx::print_bytes(format!("{key}\n").as_bytes())?;
            note(format!("key {name} made with the scope {}; it is shown only now", scope.as_str()));
            Ok(0)
        }
        KeysCommand::List => {
            let index = ctx.open_read()?;
            let mut out = std::io::stdout().lock();
            for k in keys::list(&index)? {
                let waiting = if k.pending { "  (waits for `trove keys approve`)" } else { "" };
                writeln!(out, "{:<5}  {}{waiting}", k.scope.as_str(), k.name)?;
            }
            out.flush()?;
            Ok(0)
        }
        KeysCommand::Pending => {
            let index = ctx.open_read()?;
            let mut out = std::io::stdout().lock();
            let waiting: Vec<_> = keys::list(&index)?.into_iter().filter(|k| k.pending).collect();
            for k in &waiting {
                writeln!(out, "{:<5}  {}", k.scope.as_str(), k.name)?;
            }
            out.flush()?;
            if waiting.is_empty() {
                note("no key requests wait for approval");
            } else {
                note("`trove keys approve NAME` lets one work; `trove keys rm NAME` refuses it");
            }
            Ok(0)
        }
        KeysCommand::Approve { name } => {
            let mut index = ctx.open_write()?;
            if keys::approve(&mut index, &name)? {
                note(format!("key {name} approved"));
                Ok(0)
            } else {
                Err(CommandError::new(format!("{name}: no key by this name waits for approval"))
                    .with_hint("`trove keys pending` lists the requests"))
            }
        }
        KeysCommand::Rm { name } => {
            let mut index = ctx.open_read()?;
            if keys::remove(&mut index, &name)? {
                note(format!("key {name} removed"));
                Ok(0)
            } else {
                Err(CommandError::new(format!("{name}: no such key")).with_hint("`trove keys list` shows the keys"))
            }
        }
    }
}
