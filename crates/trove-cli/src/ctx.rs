//! What every command needs: where the index is, the working directory, output streams,
//! and the error type that carries an exit code and a hint.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use trove_core::{Index, OpenMode};

/// A command's failure: a message, an optional hint, an exit code.
#[derive(Debug)]
pub struct CommandError {
    pub message: String,
    pub hint: Option<String>,
    pub code: u8,
}

impl CommandError {
    pub fn new(message: impl Into<String>) -> Self {
        CommandError { message: message.into(), hint: None, code: 2 }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Exit quietly with this code (the message, if any, is already printed).
    pub fn silent(code: u8) -> Self {
        CommandError { message: String::new(), hint: None, code }
    }
}

impl From<trove_core::StoreError> for CommandError {
    fn from(e: trove_core::StoreError) -> Self {
        trove_core::Error::from(e).into()
    }
}

impl From<trove_core::Error> for CommandError {
    fn from(e: trove_core::Error) -> Self {
        let hint = match &e {
            trove_core::Error::Store(trove_core::StoreError::NoIndex { .. }) => {
                Some("`trove include PATH` creates it; --index or TROVE_INDEX picks another file")
            }
            trove_core::Error::UnknownTag(_) => Some("`trove tags list` shows the tags there are"),
            trove_core::Error::UnknownPool(_) => Some("`trove pool list` shows the pools there are"),
            trove_core::Error::Store(trove_core::StoreError::NewerSchema { .. }) => {
                Some("upgrade trove to use this index")
            }
            trove_core::Error::TooManyKeyRequests { .. } => Some("`trove keys pending` lists them"),
            trove_core::Error::Store(trove_core::StoreError::IndexDeleted { .. }) => {
                Some("start `trove watch` again to watch a new index")
            }
            trove_core::Error::Store(trove_core::StoreError::IndexReplaced { .. }) => {
                Some("run the command again; to put a backup back while trove runs, use `trove restore BACKUP`")
            }
            trove_core::Error::Store(trove_core::StoreError::IndexReplacedInUse { .. }) => Some(
                "`trove status` names a watcher on this index; stop the process holding the old file, then run the command again; `trove restore BACKUP` puts a backup back safely while trove runs",
            ),
            trove_core::Error::TagInUse { .. } => Some("--force deletes it and those links"),
            trove_core::Error::MergeMakesCycle { .. } => Some("`trove tags unimply CHILD PARENT` removes one"),
            trove_core::Error::UnknownOp(_) | trove_core::Error::NothingToUndo => {
                Some("`trove log` lists the operations")
            }
            _ => None,
        };
        CommandError { message: e.to_string(), hint: hint.map(String::from), code: 2 }
    }
}

impl From<io::Error> for CommandError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            // The reader went away (`trove find x | head`): not an error.
            return CommandError::silent(0);
        }
        CommandError::new(format!("cannot write the output: {}", io_message(&e)))
    }
}

/// An I/O error in our message style: lowercase, without the `(os error N)` suffix.
pub fn io_message(e: &io::Error) -> String {
    trove_core::model::io_reason(e)
}

/// Writes to stdout and flushes, so that EPIPE and ENOSPC come back as errors (a quiet
/// exit and a clear message) instead of the panic `println!` would give.
pub fn print_bytes(b: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(b)?;
    out.flush()
}

pub type CmdResult = Result<u8, CommandError>;

/// `--help`, `--version` and usage errors from clap, printed through the same path as
/// every other output (clap's own `exit` ignores a full disk and exits 0).
pub fn clap_error(e: clap::Error) -> CmdResult {
    use clap::error::ErrorKind;
    let color = match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => io::stdout().is_terminal(),
        _ => io::stderr().is_terminal(),
    };
    let text = if color { e.render().ansi().to_string() } else { e.render().to_string() };
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            print_bytes(text.as_bytes())?;
            Ok(0)
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = io::stderr().lock().write_all(text.as_bytes());
            Ok(2)
        }
        _ => {
            let _ = io::stderr().lock().write_all(text.as_bytes());
            Err(CommandError::silent(2))
        }
    }
}

/// Prints the error (if any) and turns the outcome into the process exit code.
pub fn exit_code(r: CmdResult) -> ExitCode {
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if !e.message.is_empty() {
                let mut err = io::stderr().lock();
                let _ = writeln!(err, "trove: {}", e.message);
                if let Some(h) = &e.hint {
                    let _ = writeln!(err, "hint: {h}");
                }
            }
            ExitCode::from(e.code)
        }
    }
}

pub struct Ctx {
    pub index_path: PathBuf,
    pub cwd: PathBuf,
    /// The command line, quoted for a shell: the summary of the operations it records.
    pub command_line: String,
}

/// The words of the command line as a shell would need them quoted.
pub fn quoted_command_line(args: impl Iterator<Item = std::ffi::OsString>) -> String {
    let word = |a: std::ffi::OsString| {
        let s = a.to_string_lossy().into_owned();
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b)) {
            s
        } else {
            format!("'{}'", s.replace('\'', "'\\''"))
        }
    };
    let mut v: Vec<String> = args.map(word).collect();
    if let Some(first) = v.first_mut() {
        // The program as invoked, without its directory.
        *first = first.rsplit('/').next().unwrap_or("trove").to_string();
    }
    v.join(" ")
}

/// `$XDG_DATA_HOME/trove/index.db`, else `~/.local/share/trove/index.db`.
pub fn default_index_path() -> Result<PathBuf, CommandError> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty() && Path::new(d).is_absolute()) {
        return Ok(PathBuf::from(d).join("trove/index.db"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".local/share/trove/index.db")),
        None => Err(CommandError::new("cannot find a place for the index: neither XDG_DATA_HOME nor HOME is set")
            .with_hint("pass --index PATH or set TROVE_INDEX")),
    }
}

impl Ctx {
    pub fn new(index: Option<PathBuf>) -> Result<Ctx, CommandError> {
        let cwd = std::env::current_dir().map_err(|e| CommandError::new(format!("current directory: {e}")))?;
        // TROVE_INDEX is read here rather than by clap: an empty value means "unset" (as
        // with the XDG variables), and clap would show it as a required --index in usage.
        let index = index.or_else(|| std::env::var_os("TROVE_INDEX").filter(|v| !v.is_empty()).map(PathBuf::from));
        let index_path = match index {
            Some(p) if p.is_absolute() => p,
            Some(p) => cwd.join(p),
            None => default_index_path()?,
        };
        Ok(Ctx { index_path, cwd, command_line: quoted_command_line(std::env::args_os()) })
    }

    /// Opens the index for reading; a missing index is an error that says so.
    pub fn open_read(&self) -> Result<Index, CommandError> {
        let mut index = Index::open(&self.index_path, OpenMode::Existing)?;
        // A read command that writes after all (`check --repair`, `find --at`) is labelled too.
        index.set_operation("cli", &self.command_line);
        Ok(index)
    }

    /// Opens the index for writing, creating it when absent.
    pub fn open_write(&self) -> Result<Index, CommandError> {
        let mut index = Index::open(&self.index_path, OpenMode::Create)?;
        // Everything this command writes is one operation in the log.
        index.set_operation("cli", &self.command_line);
        Ok(index)
    }

    /// Absolute form of a path typed on the command line.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        trove_core::paths::resolve(&self.cwd, p)
    }

    pub fn resolve_all(&self, ps: &[PathBuf]) -> Vec<PathBuf> {
        ps.iter().map(|p| self.resolve(p)).collect()
    }

    /// A path for messages: relative to the working directory when under it.
    pub fn show<'a>(&self, p: &'a Path) -> std::path::Display<'a> {
        trove_core::paths::display_relative(p, &self.cwd).display()
    }
}

pub fn stderr_is_tty() -> bool {
    io::stderr().is_terminal()
}

/// Prints a warning line to stderr.
pub fn warn(msg: impl std::fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "trove: warning: {msg}");
}

/// Prints an error line to stderr (the command goes on and exits 2 at the end).
pub fn error_line(msg: impl std::fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "trove: {msg}");
}

/// Prints a note line to stderr (what happened, for humans).
pub fn note(msg: impl std::fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "{msg}");
}

/// Prints each failure and returns whether there were any.
pub fn report_failures(ctx: &Ctx, failed: &[trove_core::Error]) -> bool {
    for e in failed {
        let msg = match e {
            trove_core::Error::Io { path, source } => format!("{}: {source}", ctx.show(path)),
            trove_core::Error::IsDirectory(p) => format!("{}: is a directory (use -r)", ctx.show(p)),
            trove_core::Error::NotRegular { path, kind } => format!("{}: not a regular file ({kind})", ctx.show(path)),
            e => e.to_string(),
        };
        let _ = writeln!(io::stderr().lock(), "trove: {msg}");
    }
    !failed.is_empty()
}

impl Ctx {
    /// The metadata extractors, with ffprobe found on `$PATH` when installed.
    pub fn extractor(&self) -> trove_core::meta::ExtractorRef {
        let path = std::env::var_os("PATH");
        trove_core::meta::ExtractorRef(std::sync::Arc::new(trove_meta::Extractors::new(
            trove_meta::Limits::default(),
            path.as_deref(),
        )))
    }
}
