//! `trove find`: run a query, print matching paths.

use std::io::{BufWriter, Write};

use clap::Args;
use trove_core::ops::find::Query;
use trove_core::ops::history::{self, At};

use crate::ctx::{CmdResult, CommandError, Ctx, warn};
use crate::output::{record_json, write_path};

pub const QUERY_HELP: &str = "\
Query language:
  cat dog            both tags (AND is a space, or `and`)
  cat | dog          either (`or` works too); precedence NOT > AND > OR
  -cat, not cat      without the tag; untagged files match `-cat` too
  (a | b) -c         parentheses group
  \"artist:dj kuroneko\", artist:\"dj kuroneko\"   quoting
  artist:*  *cat*    `*` is a wildcard in tag names (bare, not inside quotes)
  animal             also finds files tagged only `animal:cat` once `animal:cat ⇒ animal`
  year>2015  rating>=4  date<2020-06-01   compare the values of a namespace's tags
  path:*/music/*     glob on the absolute path (`*` crosses `/`; no leading `/` = any depth)
  ext:flac  size>10M  size<1k  mtime>2024-01-01  mtime<30d (modified within 30 days)
  tags:0  tags>5     number of tags on the file (tags:0 = untagged)
  hash:1f2e3d4c      content hash prefix, 8+ hex digits (BLAKE3, as b3sum prints)
  pool:TITLE  missing   files in a pool; files gone from disk (hidden otherwise)
  sort:path|mtime|size|random (`sort:-mtime` reverses)  limit:N
  pool:TITLE sort:pool   a pool's files in the pool's own order
Reserved words (path ext size mtime tags hash pool missing sort limit tag) start
predicates; a tag with such a name is written tag:NAME or quoted: tag:\"sort:x\".
Unknown tags are a warning, not an error.";

/// Print the files a query matches, one path per line.
///
/// Paths under the working directory print relative to it, others absolute (--absolute
/// for always absolute). Exit status 1 when nothing matches.
///
/// Flags (-c, --json, --limit N, ...) are flags wherever they stand, after the query too:
/// `trove find genre:techno -c` counts. A query term spelled like a flag goes after `--`
/// (`trove find -- -c` finds files without the tag `c`) or inside one quoted query
/// (`trove find 'x -c'`). Other words that start with `-` are query terms: `-live`.
#[derive(Debug, Args)]
#[command(after_help = QUERY_HELP)]
pub struct FindArgs {
    /// One JSON object per line, with id, path, size, mtime_ns, hash and state
    #[arg(long, conflicts_with_all = ["null", "count"])]
    pub json: bool,
    /// End each path with a NUL byte instead of a newline (for xargs -0)
    #[arg(short = '0', long = "null", conflicts_with = "count")]
    pub null: bool,
    /// Print only the number of matches
    #[arg(short, long)]
    pub count: bool,
    /// Print at most N paths
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Print absolute paths
    #[arg(short, long)]
    pub absolute: bool,
    /// Evaluate against the tags as they were right after operation OP (a number from
    /// `trove log`) or at a moment (2024-01-01, 2024-01-01T12:00 UTC, or 3d/12h ago);
    /// paths print as they were then
    #[arg(long, value_name = "DATE|OP")]
    pub at: Option<String>,
    /// The query; several words are joined with spaces. Empty: every file.
    #[arg(value_name = "QUERY", allow_hyphen_values = true)]
    pub query: Vec<String>,
}

/// Turns a query error into a message with a caret under the offending byte.
pub fn query_error(text: &str, e: trove_core::Error) -> CommandError {
    match e {
        trove_core::Error::Query(pe) => {
            // A long query is shown as a window around the offending byte, not whole.
            const SIDE: usize = 40;
            let pos = pe.position.min(text.len());
            let mut start = pos.saturating_sub(SIDE);
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            let mut end = (pos + SIDE).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            let (pre, post) = (if start > 0 { "…" } else { "" }, if end < text.len() { "…" } else { "" });
            let local = trove_core::query::ParseError { message: pe.message.clone(), position: pos - start };
            let shown = local.render(&text[start..end]);
            // The ellipsis before the window shifts the caret line by one column.
            let (q, caret) = shown.split_once('\n').unwrap_or((&shown, ""));
            let pad = if pre.is_empty() { "" } else { " " };
            let shown = format!("{pre}{q}{post}\n{pad}{caret}");
            CommandError::new(format!("bad query at byte {}:\n{shown}", pe.position))
                .with_hint("`trove find --help` describes the query language")
        }
        e => e.into(),
    }
}

/// `--at`: an operation number, a date or an age.
fn parse_at(s: &str) -> Result<At, CommandError> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map(At::Op).map_err(|_| CommandError::new(format!("{s:?}: not an operation number")));
    }
    crate::commands::log::parse_moment(s, trove_core::model::now_unix()).map(At::Time).ok_or_else(|| {
        CommandError::new(format!("{s:?}: not an operation, a date or an age"))
            .with_hint("--at 42 (from `trove log`), --at 2024-01-01, --at 2024-01-01T12:00 or --at 3d")
    })
}

fn run_at(ctx: &Ctx, a: &FindArgs, text: &str, at: &str) -> CmdResult {
    let at = parse_at(at)?;
    let mut index = ctx.open_read()?;
    let r = history::find_at(&mut index, at, text, if a.count { None } else { a.limit }).map_err(|e| match e {
        trove_core::Error::HistoryStartsLater { at, started } => CommandError::new(format!(
            "{}: before the history starts ({}, when the index was created or upgraded)",
            crate::commands::log::utc(at),
            crate::commands::log::utc(started)
        )),
        e => query_error(text, e),
    })?;
    for w in &r.warnings {
        warn(w);
    }
    let mut out = BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    if a.count {
        let n = a.limit.map_or(r.files.len() as u64, |l| (r.files.len() as u64).min(l));
        writeln!(out, "{n}")?;
        out.flush()?;
        return Ok(if n == 0 { 1 } else { 0 });
    }
    for f in &r.files {
        if a.json {
            serde_json::to_writer(&mut out, &record_json(f)).map_err(std::io::Error::other)?;
            out.write_all(b"\n")?;
        } else {
            let shown = if a.absolute { &f.path } else { trove_core::paths::display_relative(&f.path, &ctx.cwd) };
            write_path(&mut out, shown, if a.null { 0 } else { b'\n' })?;
        }
    }
    out.flush()?;
    Ok(if r.files.is_empty() { 1 } else { 0 })
}

pub fn run(ctx: &Ctx, a: FindArgs) -> CmdResult {
    let text = a.query.join(" ");
    if let Some(at) = &a.at {
        return run_at(ctx, &a, &text, at);
    }
    let index = ctx.open_read()?;
    let q = Query::new(&index, &text).map_err(|e| query_error(&text, e))?;
    for w in q.warnings() {
        warn(w);
    }
    if a.count {
        let n = match a.limit {
            Some(l) => q.count(&index)?.min(l),
            None => q.count(&index)?,
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "{n}")?;
        return Ok(if n == 0 { 1 } else { 0 });
    }
    let mut out = BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut n = 0u64;
    let mut io_err: Option<std::io::Error> = None;
    q.for_each(&index, a.limit, |r| {
        n += 1;
        let res = if a.json {
            serde_json::to_writer(&mut out, &record_json(&r))
                .map_err(std::io::Error::other)
                .and_then(|()| out.write_all(b"\n"))
        } else {
            let shown = if a.absolute { &r.path } else { trove_core::paths::display_relative(&r.path, &ctx.cwd) };
            write_path(&mut out, shown, if a.null { 0 } else { b'\n' })
        };
        match res {
            Ok(()) => Ok(true),
            Err(e) => {
                io_err = Some(e);
                Ok(false)
            }
        }
    })?;
    if let Some(e) = io_err {
        return Err(e.into());
    }
    out.flush()?;
    Ok(if n == 0 { 1 } else { 0 })
}
