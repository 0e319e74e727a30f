//! `trove serve`: the web UI and the JSON API.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;

use crate::ctx::{CmdResult, CommandError, Ctx, note};

/// Serve the web UI and the JSON API (`/api/v1/`) until Ctrl-C or SIGTERM.
///
/// Listens on 127.0.0.1:4849 unless --listen says otherwise. On start it prints the UI's
/// URL with a one-time token: open it in a browser (--open does). Scripts use API keys
/// (`trove keys add NAME`) as `Authorization: Bearer KEY`. Listening beyond loopback needs
/// an explicit --listen and at least one key. Only indexed files are served; the server
/// never changes a file on disk. See docs/api.md.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0 picks a free one)
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Another host name the server answers to (besides localhost and IP addresses); repeatable
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
    /// Open the UI in the default browser (xdg-open)
    #[arg(long)]
    pub open: bool,
    /// How long a request waits while another process writes the index, before it is
    /// answered 503 with Retry-After (e.g. 10s, 1m)
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub busy_timeout: String,
    /// Also serve the Hydrus Client API on this port (same address as --listen; Hydrus's
    /// own default is 45869), for Hydrus Web, Hydrui and `hydrus-api` scripts. See
    /// docs/compat.md
    #[arg(long, value_name = "PORT")]
    pub hydrus_port: Option<u16>,
    /// Also serve a read-only szurubooru API on this port (same address as --listen), for
    /// szurubooru clients and tools. See docs/compat.md
    #[arg(long, value_name = "PORT")]
    pub szuru_port: Option<u16>,
    /// Answer CORS preflights on the Hydrus listener, so a browser client served from
    /// another origin (Hydrus Web) can call it
    #[arg(long)]
    pub cors: bool,
}

/// `$XDG_CACHE_HOME/trove/thumbs`, else `~/.cache/trove/thumbs`.
pub fn thumbs_dir() -> Result<std::path::PathBuf, CommandError> {
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| std::path::Path::new(d).is_absolute()) {
        return Ok(std::path::PathBuf::from(d).join("trove/thumbs"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => Ok(std::path::PathBuf::from(h).join(".cache/trove/thumbs")),
        None => Err(CommandError::new("cannot find a place for thumbnails: neither XDG_CACHE_HOME nor HOME is set")),
    }
}

pub fn run(ctx: &Ctx, a: ServeArgs) -> CmdResult {
    let cfg = trove_web::ServeConfig {
        index: ctx.index_path.clone(),
        listen: a.listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], trove_web::DEFAULT_PORT))),
        listen_explicit: a.listen.is_some(),
        hosts: a.hosts,
        thumbs_dir: thumbs_dir()?,
        busy_timeout: trove_core::query::parse_duration(&a.busy_timeout)
            .map(|d| std::time::Duration::from_secs(d.seconds().max(1) as u64))
            .ok_or_else(|| {
                CommandError::new(format!("--busy-timeout {}: not a duration (try 10s, 1m)", a.busy_timeout))
            })?,
        hydrus_port: a.hydrus_port,
        szuru_port: a.szuru_port,
        cors: a.cors,
    };
    let log: trove_web::Log = Arc::new(|s: &str| note(format!("trove serve: {s}")));
    let open = a.open;
    trove_web::serve(cfg, log, |started| {
        // The URL is the one line on stdout, so a script can read it.
        let _ = crate::ctx::print_bytes(format!("{}\n", started.ui_url).as_bytes());
        note(format!("trove serve: open {} in a browser; Ctrl-C stops the server", started.ui_url));
        if let Some(h) = started.hydrus {
            note(format!("trove serve: Hydrus Client API on http://{h}/"));
        }
        if let Some(s) = started.szuru {
            note(format!("trove serve: szurubooru API on http://{s}/"));
        }
        if open {
            let _ = std::process::Command::new("xdg-open")
                .arg(&started.ui_url)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
        }
    })
    .map_err(|e| match e {
        trove_web::WebError::Core(c) => c.into(),
        e @ trove_web::WebError::NotLoopback { .. } => {
            CommandError::new(e.to_string()).with_hint("create a key first: `trove keys add NAME`")
        }
        e => CommandError::new(e.to_string()),
    })?;
    Ok(0)
}
