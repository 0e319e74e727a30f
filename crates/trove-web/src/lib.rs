//! trove-web: `trove serve` — the JSON API under `/api/v1/`, the browser UI, thumbnails.
//!
//! Policy (product principle 11, "safe by default on the network"):
//! - The server listens on loopback unless `--listen` names another address explicitly, and
//!   then only when at least one API key exists.
//! - Every request's `Host` must be a loopback name, an IP literal or a configured name, so a
//!   web page cannot reach the server through DNS rebinding.
//! - The browser UI needs the one-time token printed at start; it trades it for an HttpOnly,
//!   SameSite=Strict session cookie, and every state-changing request from the UI carries
//!   the session's CSRF token in a header.
//! - Scripts send `Authorization: Bearer KEY` (media URLs may carry `?key=`). Keys are stored
//!   hashed and compared in constant time; no key → 401, a key without the scope → 403.
//! - Only files in the index are served, by record id; the server never writes a user's file.
//!   Every write goes through trove-core's `ops`, with the source `api:<key name>` (or
//!   `api:web` for the UI's session).
//!
//! SQLite work runs on tokio's blocking pool, through a small pool of connections; a new
//! connection sees what the CLI and the watcher committed, so the server needs no restart.

#![forbid(unsafe_code)]

mod api;
mod auth;
mod dupes;
mod hydrus;
mod szuru;
mod thumbs;
mod ui;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use thumbs::{ThumbOutcome, Thumbnailer};
use trove_core::{Index, OpenMode};

/// The default port of `trove serve` (loopback).
pub const DEFAULT_PORT: u16 = 4849;

/// What `trove serve` was asked to do.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The index file.
    pub index: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Whether `--listen` was given (listening beyond loopback needs it).
    pub listen_explicit: bool,
    /// Extra host names the `Host` header may carry (besides loopback and IP literals).
    pub hosts: Vec<String>,
    /// Thumbnail cache directory (`$XDG_CACHE_HOME/trove/thumbs`).
    pub thumbs_dir: PathBuf,
    /// How long a request waits for another process's write before it is answered 503.
    pub busy_timeout: std::time::Duration,
    /// The port of the Hydrus Client API listener (same address as `listen`), if wanted.
    pub hydrus_port: Option<u16>,
    /// The port of the read-only szurubooru API listener (same address), if wanted.
    pub szuru_port: Option<u16>,
    /// Answer browsers' CORS preflights on the compatibility listeners (Hydrus Web runs on
    /// another origin).
    pub cors: bool,
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("{addr}: refusing to listen beyond loopback without an explicit --listen and at least one API key")]
    NotLoopback { addr: SocketAddr },
    #[error("{addr}: cannot listen: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Core(#[from] trove_core::Error),
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// What the caller learns once the server listens.
#[derive(Debug, Clone)]
pub struct Started {
    /// The address actually bound (a port of 0 picks a free one).
    pub addr: SocketAddr,
    /// The browser URL with the one-time token.
    pub ui_url: String,
    /// The Hydrus Client API's address, when it listens.
    pub hydrus: Option<SocketAddr>,
    /// The szurubooru API's address, when it listens.
    pub szuru: Option<SocketAddr>,
}

/// A log line sink (the CLI prints to stderr). Keys never reach it.
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

pub(crate) struct App {
    index_path: PathBuf,
    /// Open connections, reused across requests.
    pool: Mutex<Vec<Index>>,
    /// Held shared while a connection is in use (see `App::enter`).
    gate: std::sync::RwLock<()>,
    /// The index file the pooled connections have open.
    opened: Mutex<Option<(u64, u64)>>,
    /// The UI's one-time token, until it is used.
    token: Mutex<Option<String>>,
    /// Session id → CSRF token.
    sessions: Mutex<HashMap<String, String>>,
    hosts: Vec<String>,
    /// The ports of this server's listeners (the `Host` header must name one).
    ports: Vec<u16>,
    thumbs: Thumbnailer,
    busy_timeout: std::time::Duration,
    /// Bounds concurrent thumbnail generation so a grid of new files cannot starve searches.
    thumb_slots: tokio::sync::Semaphore,
    /// Bounds concurrent searches to the cores: forty searches sharing two cores would each
    /// take forty times as long, while queued ones start as soon as a core is free.
    search_slots: tokio::sync::Semaphore,
    /// Hydrus session keys (in memory, as in Hydrus: lost on restart).
    hydrus_sessions: Mutex<HashMap<String, hydrus::Session>>,
    cors: bool,
    /// Keys the szurubooru view's content URLs (new at every start).
    szuru_secret: String,
    log: Log,
}

impl App {
    /// Runs `f` with a connection on the blocking pool.
    pub(crate) async fn with_index<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Index) -> trove_core::Result<T> + Send + 'static,
    ) -> Result<T, api::ApiError> {
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let _gate = app.enter();
            let mut index = app.take()?;
            // Each request is its own operation in the log; write handlers name it.
            index.set_operation("api", "");
            let out = f(&mut index);
            index.settle_wal();
            app.put_back(index);
            out
        })
        .await
        .map_err(|e| api::ApiError::internal(format!("worker: {e}")))?
        .map_err(api::ApiError::from)
    }

    /// Runs `f` with a pooled connection on the current thread (start-up only).
    pub(crate) fn with_index_sync<T>(&self, f: impl FnOnce(&Index) -> trove_core::Result<T>) -> trove_core::Result<T> {
        let _gate = self.enter();
        let index = self.take()?;
        let out = f(&index);
        self.put_back(index);
        out
    }

    /// The gate, held shared while a connection is in use. When the index file was
    /// replaced (a restore renamed over it), every connection to the old file is closed
    /// before any is opened to the new one: SQLite's locks on `INDEX-shm` belong to the
    /// process, and closing an old handle after a new one opened would drop the new one's
    /// locks too. So the gate is taken exclusively (waiting for the handles in use to come
    /// back), the pool emptied, and only then entered again.
    fn enter(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        loop {
            let shared = self.gate.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = file_identity(&self.index_path);
            if self.opened.lock().is_ok_and(|o| *o == now) {
                return shared;
            }
            drop(shared);
            let _only = self.gate.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Ok(mut p) = self.pool.lock() {
                p.clear();
            }
            if let Ok(mut o) = self.opened.lock() {
                *o = now;
            }
        }
    }

    /// A pooled connection, or a new one (the gate held shared).
    fn take(&self) -> trove_core::Result<Index> {
        if let Some(i) = self.pool.lock().map(|mut p| p.pop()).unwrap_or(None) {
            return Ok(i);
        }
        let mut i = Index::open(&self.index_path, OpenMode::Existing)?;
        i.set_busy_timeout(self.busy_timeout)?;
        i.set_checkpoint_after_write(true);
        Ok(i)
    }

    fn put_back(&self, index: Index) {
        if let Ok(mut p) = self.pool.lock()
            && p.len() < 8
        {
            p.push(index);
        }
    }
}

/// (device, inode) of the file a path names.
fn file_identity(p: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// A random 32-byte secret as 64 hex digits.
pub(crate) fn secret() -> String {
    let mut b = [0u8; 32];
    // The OS random source does not fail on Linux once booted; an all-zero fallback would
    // be a guessable token, so a failure ends the process instead.
    getrandom::fill(&mut b).expect("the OS random source failed");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Starts the server and blocks until SIGINT or SIGTERM. `on_start` is called once it
/// listens (the CLI prints the UI URL there).
pub fn serve(cfg: ServeConfig, log: Log, on_start: impl FnOnce(&Started)) -> Result<(), WebError> {
    let mut index = Index::open(&cfg.index, OpenMode::Create)?;
    index.set_checkpoint_after_write(true);
    index.set_busy_timeout(cfg.busy_timeout)?;
    if !cfg.listen.ip().is_loopback() {
        let keys = trove_core::ops::keys::list(&index)?;
        if !cfg.listen_explicit || keys.is_empty() {
            return Err(WebError::NotLoopback { addr: cfg.listen });
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|e| WebError::Bind { addr: cfg.listen, source: e })?;
        let addr = listener.local_addr()?;
        let bind_extra = |port: Option<u16>| async move {
            match port {
                Some(port) => {
                    let at = SocketAddr::new(cfg.listen.ip(), port);
                    tokio::net::TcpListener::bind(at).await.map(Some).map_err(|e| WebError::Bind { addr: at, source: e })
                }
                None => Ok(None),
            }
        };
        let hydrus_listener = bind_extra(cfg.hydrus_port).await?;
        let szuru_listener = bind_extra(cfg.szuru_port).await?;
        let hydrus_addr = hydrus_listener.as_ref().map(tokio::net::TcpListener::local_addr).transpose()?;
        let szuru_addr = szuru_listener.as_ref().map(tokio::net::TcpListener::local_addr).transpose()?;
        let mut ports = vec![addr.port()];
        ports.extend(hydrus_addr.map(|a| a.port()));
        ports.extend(szuru_addr.map(|a| a.port()));
        let token = secret();
        let app = Arc::new(App {
            index_path: cfg.index.clone(),
            pool: Mutex::new(vec![index]),
            gate: std::sync::RwLock::new(()),
            opened: Mutex::new(file_identity(&cfg.index)),
            token: Mutex::new(Some(token.clone())),
            sessions: Mutex::new(HashMap::new()),
            hosts: cfg.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            ports,
            thumbs: Thumbnailer::new(cfg.thumbs_dir.clone()),
            busy_timeout: cfg.busy_timeout,
            thumb_slots: tokio::sync::Semaphore::new(2),
            search_slots: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            ),
            hydrus_sessions: Mutex::new(HashMap::new()),
            cors: cfg.cors,
            szuru_secret: secret(),
            log: log.clone(),
        });
        let host = if addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { addr.ip().to_string() };
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        on_start(&Started {
            addr,
            ui_url: format!("http://{host}:{}/?token={token}", addr.port()),
            hydrus: hydrus_addr,
            szuru: szuru_addr,
        });
        log(&format!("listening on {addr}"));
        // A copy renamed over the index (a restore by `mv`): let go of the old file within a
        // second even when no request comes, so other commands do not wait on this server
        // (`Index::open` waits while the `-shm` still describes the old file).
        let watch_app = app.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let app = watch_app.clone();
                let _ = tokio::task::spawn_blocking(move || drop(app.enter())).await;
            }
        });
        let hydrus_task = hydrus_listener.map(|l| {
            if let Ok(n) = app.with_index_sync(trove_core::ops::files::count_without_sha256)
                && n > 0
            {
                log(&format!(
                    "{n} file(s) have no SHA-256 yet, so Hydrus clients see them without a hash; `trove check --full` fills it"
                ));
            }
            let router = hydrus::router(app.clone())
                .layer(axum::middleware::from_fn_with_state(app.clone(), auth::check_host));
            tokio::spawn(async move { axum::serve(l, router).with_graceful_shutdown(shutdown()).await })
        });
        let szuru_task = szuru_listener.map(|l| {
            let router =
                szuru::router(app.clone()).layer(axum::middleware::from_fn_with_state(app.clone(), auth::check_host));
            tokio::spawn(async move { axum::serve(l, router).with_graceful_shutdown(shutdown()).await })
        });
        let router = api::router(app.clone()).merge(ui::router(app.clone()));
        let router = router.layer(axum::middleware::from_fn_with_state(app.clone(), auth::check_host));
        axum::serve(listener, router).with_graceful_shutdown(shutdown()).await?;
        for t in [hydrus_task, szuru_task].into_iter().flatten() {
            t.await.map_err(|e| std::io::Error::other(e.to_string()))??;
        }
        log("stopped");
        Ok(())
    })
}

async fn shutdown() {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
