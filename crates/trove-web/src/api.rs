//! The JSON API under `/api/v1/`. Reads go through trove-core's query engine, writes
//! through its operations. Errors are JSON: `{"error": "...", "position": N}` (the byte of
//! a query error).

use std::collections::HashMap;
use std::io::SeekFrom;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use trove_core::ops::keys::Scope;
use trove_core::{FileId, FileRecord, FileState};

use crate::App;
use crate::auth::Caller;

/// Request bodies are small JSON objects; anything bigger is refused.
const BODY_LIMIT: usize = 64 * 1024;
/// The most files one search page returns.
const MAX_PAGE: u64 = 500;

/// An error answer: status and a JSON body.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    position: Option<usize>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), position: None }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, what)
    }

    pub(crate) fn bad(what: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, what)
    }
}

impl From<trove_core::Error> for ApiError {
    fn from(e: trove_core::Error) -> Self {
        use trove_core::Error as E;
        let status = match &e {
            E::Query(_)
            | E::QueryMeaning(_)
            | E::BadTagName { .. }
            | E::ImplicationCycle { .. }
            | E::SelfImplication(_)
            | E::MergeMakesCycle { .. }
            | E::BadPoolTitle(_)
            | E::AliasIsPrimary(_)
            | E::AlreadySameTag { .. }
            | E::NotEnoughFiles { .. }
            // An id in a request's body that names no file.
            | E::NoSuchId(_) => StatusCode::BAD_REQUEST,
            E::UnknownTag(_) | E::UnknownPool(_) | E::NotIndexed(_) | E::NoSuchFile(_) => StatusCode::NOT_FOUND,
            E::NameTaken { .. } | E::TagInUse { .. } | E::PoolExists(_) | E::UndoConflict { .. } => {
                StatusCode::CONFLICT
            }
            E::UnknownOp(_) | E::NothingToUndo => StatusCode::NOT_FOUND,
            e if e.is_busy() => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let position = if let E::Query(p) = &e { Some(p.position) } else { None };
        let message = match &e {
            E::Query(p) => format!("bad query at byte {}: {}", p.position, p.message),
            e => e.to_string(),
        };
        ApiError { status, message, position }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if let Some(p) = self.position {
            body["position"] = json!(p);
        }
        let mut r = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        r
    }
}

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/api/v1/search", get(search))
        .route("/api/v1/files/{id}", get(file_meta))
        .route("/api/v1/files/{id}/content", get(file_content))
        .route("/api/v1/files/{id}/thumbnail", get(file_thumbnail))
        .route("/api/v1/files/{id}/tags", post(file_tags))
        .route("/api/v1/files/{id}/history", get(file_history))
        .route("/api/v1/tags", get(tag_list))
        .route("/api/v1/tags/{action}", post(tag_action))
        .route("/api/v1/pools", get(pool_list).post(pool_create))
        .route("/api/v1/pools/{title}", get(pool_show))
        .route("/api/v1/pools/{title}/files", post(pool_files))
        .route("/api/v1/undo", post(undo))
        .merge(crate::dupes::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(refuse_big_bodies))
        .with_state(app)
}

/// Answers 413 from the declared length, before reading a byte of the body (the body limit
/// alone answers only once it has read past the limit, while the client is still sending).
async fn refuse_big_bodies(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("request body over {BODY_LIMIT} bytes"))
            .into_response();
    }
    next.run(req).await
}

type Params = Query<HashMap<String, String>>;

/// A file's tags for the UI and the API: name, whether implied, and every link's source.
pub(crate) fn tags_json(tags: &[trove_core::ops::files::FileTag]) -> Value {
    json!(
        tags.iter()
            .map(|t| json!({
                "name": t.name,
                "implied": t.implied,
                "sources": t.sources.iter().map(ToString::to_string).collect::<Vec<_>>(),
            }))
            .collect::<Vec<_>>()
    )
}

pub(crate) fn record_json(r: &FileRecord) -> Value {
    let bytes = r.path.as_os_str().as_bytes();
    let mut v = json!({
        "id": r.id.0,
        "path": String::from_utf8_lossy(bytes),
        "name": r.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        "size": r.stat.size,
        "mtime_ns": r.stat.mtime_ns,
        "hash": r.hash.to_hex(),
        "state": r.state.as_str(),
    });
    if std::str::from_utf8(bytes).is_err() {
        v["path_hex"] = json!(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
    }
    v
}

pub(crate) fn parse_id(s: &str) -> Result<FileId, ApiError> {
    // Ids are positive integers; anything else (`../`, `1;2`, `0x1`) names no file.
    match s.parse::<i64>() {
        Ok(n) if n > 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(FileId(n)),
        _ => Err(ApiError::not_found(format!("{s:?}: no such file id"))),
    }
}

async fn search(State(app): State<Arc<App>>, caller: Caller, Query(p): Params) -> Result<Response, ApiError> {
    caller.allow(&app, Scope::Read).await?;
    let q = p.get("q").cloned().unwrap_or_default();
    let limit = match p.get("limit") {
        None => 100,
        Some(l) => l.parse::<u64>().map_err(|_| ApiError::bad(format!("limit={l:?}: not a number")))?,
    }
    .clamp(1, MAX_PAGE);
    let cursor = p.get("cursor").filter(|c| !c.is_empty()).cloned();
    let want_count = p.get("count").is_some_and(|c| c == "1" || c == "true");
    let _slot = app.search_slots.acquire().await.map_err(|e| ApiError::internal(e.to_string()))?;
    let (page, warnings, count) = app
        .with_index(move |index| {
            let query = trove_core::ops::find::Query::new(index, &q)?;
            let page = query.page(index, cursor.as_deref(), limit)?;
            let count = if want_count { Some(query.count(index)?) } else { None };
            Ok((page, query.warnings().to_vec(), count))
        })
        .await?;
    let mut body = json!({
        "files": page.files.iter().map(record_json).collect::<Vec<_>>(),
        "next_cursor": page.next,
        "warnings": warnings,
    });
    if let Some(n) = count {
        body["count"] = json!(n);
    }
    Ok(axum::Json(body).into_response())
}

async fn file_meta(State(app): State<Arc<App>>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    caller.allow(&app, Scope::Read).await?;
    let id = parse_id(&id)?;
    let (rec, tags, pools) = app
        .with_index(move |index| {
            let rec = trove_core::ops::files::get(index, id)?;
            let (tags, pools) = match &rec {
                Some(_) => (trove_core::ops::files::tags_of(index, id)?, trove_core::ops::pools::of_file(index, id)?),
                None => (Vec::new(), Vec::new()),
            };
            Ok((rec, tags, pools))
        })
        .await?;
    let rec = rec.ok_or_else(|| ApiError::not_found(format!("{}: no such file id", id.0)))?;
    let mut v = record_json(&rec);
    v["exists"] = json!(std::fs::symlink_metadata(&rec.path).is_ok_and(|m| m.is_file()));
    v["tags"] = tags_json(&tags);
    v["pools"] =
        json!(pools.iter().map(|m| json!({"id": m.pool.0, "title": m.title, "position": m.place})).collect::<Vec<_>>());
    v["mime"] = json!(mime_for(&rec.path));
    Ok(axum::Json(v).into_response())
}

/// The file's history from the operation log, oldest first: what each operation changed
/// on it (tags added and removed, moves, gone and back) and its tags after.
async fn file_history(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.allow(&app, Scope::Read).await?;
    let id = parse_id(&id)?;
    let h = app
        .with_index(move |index| match trove_core::ops::files::get(index, id)? {
            Some(rec) => trove_core::ops::history::history(index, &rec.path).map(Some),
            None => Ok(None),
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{}: no such file id", id.0)))?;
    let lossy = |p: &std::path::Path| String::from_utf8_lossy(p.as_os_str().as_bytes()).into_owned();
    let events: Vec<Value> = h
        .events
        .iter()
        .map(|e| {
            json!({
                "op": e.op, "at": e.at, "actor": e.actor, "summary": e.summary,
                "added": e.added, "removed": e.removed,
                "record": e.record.map(|c| if c { "created" } else { "forgotten" }),
                "moved": e.moved.as_ref().map(|(a, b)| json!([lossy(a), lossy(b)])),
                "missing": e.missing, "tags": e.tags,
            })
        })
        .collect();
    Ok(axum::Json(json!({ "events": events })).into_response())
}

/// A content type from the extension; only used as a hint to the browser.
pub(crate) fn mime_for(p: &std::path::Path) -> &'static str {
    let ext = p.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        "svg" => "image/svg+xml",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mkv" => "video/x-matroska",
        "mov" => "video/quicktime",
        "mp3" => "audio/mpeg",
        "flac" => "audio/flac",
        "ogg" | "oga" => "audio/ogg",
        "opus" => "audio/opus",
        "wav" => "audio/wav",
        "m4a" => "audio/mp4",
        "pdf" => "application/pdf",
        "txt" | "md" | "rs" | "py" | "toml" | "json" | "csv" | "log" | "sh" | "c" | "h" | "yaml" | "yml" => {
            "text/plain; charset=utf-8"
        }
        _ => "application/octet-stream",
    }
}

/// Looks up a present record for serving its bytes.
pub(crate) async fn servable(app: &Arc<App>, id: FileId) -> Result<FileRecord, ApiError> {
    let rec = app.with_index(move |index| trove_core::ops::files::get(index, id)).await?;
    let rec = rec.ok_or_else(|| ApiError::not_found(format!("{}: no such file id", id.0)))?;
    if rec.state != FileState::Present {
        return Err(ApiError::not_found(format!("{}: the file is {} (its record is kept)", id.0, rec.state.as_str())));
    }
    Ok(rec)
}

/// A byte range from a `Range` header: `Ok(None)` = the whole file.
fn parse_range(h: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let spec = h.trim().strip_prefix("bytes=").ok_or(())?;
    if spec.contains(',') {
        // Multipart ranges are not supported; the whole file is a valid answer.
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", "") => return Err(()),
        ("", n) => {
            let n: u64 = n.parse().map_err(|_| ())?;
            if n == 0 || size == 0 {
                return Err(());
            }
            (size.saturating_sub(n), size - 1)
        }
        (s, "") => (s.parse().map_err(|_| ())?, size.saturating_sub(1)),
        (s, e) => {
            let (s, e): (u64, u64) = (s.parse().map_err(|_| ())?, e.parse().map_err(|_| ())?);
            (s, e.min(size.saturating_sub(1)))
        }
    };
    if start >= size || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

async fn file_content(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.allow(&app, Scope::Read).await?;
    let rec = servable(&app, parse_id(&id)?).await?;
    let range = caller.headers().get(header::RANGE).and_then(|v| v.to_str().ok());
    content_response(&rec, range).await
}

/// A present record's bytes, whole or the one range asked for (206; 416 for a range
/// outside the file).
pub(crate) async fn content_response(rec: &FileRecord, range: Option<&str>) -> Result<Response, ApiError> {
    let gone = |e: std::io::Error| {
        ApiError::not_found(format!(
            "{}: cannot be read now ({})",
            rec.path.display(),
            trove_core::model::io_reason(&e)
        ))
    };
    // O_NOFOLLOW | O_NONBLOCK: never follow a symlink put where the file was, never block
    // on a FIFO.
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc_flags()).open(&rec.path).map_err(gone)?;
    let meta = file.metadata().map_err(gone)?;
    if !meta.is_file() {
        return Err(ApiError::not_found(format!("{}: no longer a regular file", rec.path.display())));
    }
    let size = meta.len();
    let mut file = tokio::fs::File::from_std(file);
    let range = match range {
        None => None,
        Some(h) => match parse_range(h, size) {
            Ok(r) => r,
            Err(()) => {
                let mut r = (StatusCode::RANGE_NOT_SATISFIABLE, "").into_response();
                r.headers_mut().insert(header::CONTENT_RANGE, hv(&format!("bytes */{size}")));
                return Ok(r);
            }
        },
    };
    let (status, start, len) = match range {
        Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e - s + 1),
        None => (StatusCode::OK, 0, size),
    };
    file.seek(SeekFrom::Start(start)).await.map_err(gone)?;
    let stream = tokio_util::io::ReaderStream::new(file.take(len));
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime_for(&rec.path)));
    h.insert(header::CONTENT_LENGTH, hv(&len.to_string()));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // A served file never runs as a page of this origin.
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(header::CONTENT_RANGE, hv(&format!("bytes {start}-{}/{size}", start + len - 1)));
    }
    Ok(r)
}

fn libc_flags() -> i32 {
    // O_NOFOLLOW and O_NONBLOCK on Linux (asm-generic values).
    0o400000 | 0o4000
}

use std::os::unix::fs::OpenOptionsExt;

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

async fn file_thumbnail(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.allow(&app, Scope::Read).await?;
    let id = parse_id(&id)?;
    let rec = app.with_index(move |index| trove_core::ops::files::get(index, id)).await?;
    let rec = rec.ok_or_else(|| ApiError::not_found(format!("{}: no such file id", id.0)))?;
    thumbnail_response(&app, rec).await
}

/// A record's thumbnail (JPEG) from the cache or made now, or its type icon (SVG).
pub(crate) async fn thumbnail_response(app: &Arc<App>, rec: FileRecord) -> Result<Response, ApiError> {
    // The cache is read without blocking the server's threads.
    let (bytes, ctype) = match tokio::fs::read(app.thumbs.cache_path(&rec)).await.ok() {
        Some(b) => (b, "image/jpeg"),
        None => {
            let _slot = app.thumb_slots.acquire().await.map_err(|e| ApiError::internal(e.to_string()))?;
            let app2 = app.clone();
            let rec2 = rec.clone();
            let out = tokio::task::spawn_blocking(move || app2.thumbs.make(&rec2))
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?;
            match out {
                crate::ThumbOutcome::Made(b) | crate::ThumbOutcome::Cached(b) => (b, "image/jpeg"),
                crate::ThumbOutcome::Icon { svg, reason } => {
                    if let Some(r) = reason {
                        (app.log)(&format!("thumbnail of file {}: {r}; showing its type icon", rec.id.0));
                    }
                    (svg.into_bytes(), "image/svg+xml")
                }
            }
        }
    };
    let mut r = Response::new(Body::from(bytes));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400"));
    Ok(r)
}

/// Parses a JSON body into `T`, refusing unknown fields with a clear message.
pub(crate) fn body<T: serde::de::DeserializeOwned>(b: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(b).map_err(|e| ApiError::bad(format!("request body: {e}")))
}

/// `{"add": [...], "remove": [...]}`: tag names on a file, file ids in a pool.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddRemove<T> {
    #[serde(default = "Vec::new")]
    add: Vec<T>,
    #[serde(default = "Vec::new")]
    remove: Vec<T>,
}

async fn file_tags(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let source = caller.allow(&app, Scope::Tag).await?;
    let id = parse_id(&id)?;
    let edit: AddRemove<String> = body(&raw)?;
    let done = app
        .with_index(move |index| {
            let what = format!("tags of file {}: +{} -{}", id.0, edit.add.join(" +"), edit.remove.join(" -"));
            index.set_operation(&source.to_string(), &what);
            if trove_core::ops::files::get(index, id)?.is_none() {
                return Err(trove_core::Error::NoSuchId(id));
            }
            let trove_core::ops::tagging::IdsTagged { links_added: added, tags_created: created } =
                if edit.add.is_empty() {
                    Default::default()
                } else {
                    trove_core::ops::tagging::tag_ids(index, &[id], &edit.add, &source)?
                };
            let removed = if edit.remove.is_empty() {
                0
            } else {
                trove_core::ops::tagging::untag_ids(index, &[id], &edit.remove, None)?.links_removed
            };
            Ok((added, removed, created, index.current_operation()))
        })
        .await?;
    let (added, removed, created, op) = done;
    Ok(axum::Json(json!({"added": added, "removed": removed, "created": created, "op": op})).into_response())
}

/// `{"op": N}`: the operation to revert (`op` from a tag edit's answer, or `trove log`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UndoBody {
    op: i64,
}

/// Reverts an operation as a new one (as `trove undo N`): a key that may tag files may undo
/// its own operations; undoing anyone else's needs the `all` scope. 409 with the rows when
/// later operations changed the same rows.
async fn undo(State(app): State<Arc<App>>, caller: Caller, raw: Bytes) -> Result<Response, ApiError> {
    let source = caller.allow(&app, Scope::Tag).await?;
    let b: UndoBody = body(&raw)?;
    let me = source.to_string();
    let actor = app.with_index(move |index| trove_core::ops::history::actor_of(index, b.op)).await?;
    match actor {
        None => return Err(trove_core::Error::UnknownOp(b.op).into()),
        Some(a) if a == me => {}
        Some(_) => {
            caller.allow(&app, Scope::All).await?;
        }
    }
    let r = app
        .with_index(move |index| {
            index.set_operation(&me, &format!("undo {}", b.op));
            trove_core::ops::history::undo(index, Some(b.op), false)
        })
        .await?;
    Ok(axum::Json(json!({"undone": r.undone, "op": r.op, "restored": r.restored})).into_response())
}

async fn tag_list(State(app): State<Arc<App>>, caller: Caller, Query(p): Params) -> Result<Response, ApiError> {
    caller.allow(&app, Scope::Read).await?;
    let prefix = p.get("q").cloned().unwrap_or_default();
    let limit = p.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(20).clamp(1, 10_000);
    let by_count = p.get("sort").is_some_and(|s| s == "count");
    let tags = app
        .with_index(move |index| {
            // Names or aliases starting with the prefix (`*` in it is a wildcard, as in
            // `trove tags list`), the most used first.
            let pattern = (!prefix.is_empty()).then(|| format!("{prefix}*"));
            let mut v = trove_core::ops::tags::list(index, pattern.as_deref(), by_count || !prefix.is_empty())?;
            v.truncate(limit);
            // The aliases that start with the prefix, so a client can show why a tag came up.
            let want = trove_core::model::fold(&prefix);
            let mut out = Vec::with_capacity(v.len());
            for t in v {
                let aliases: Vec<String> = if prefix.is_empty() {
                    Vec::new()
                } else {
                    trove_core::ops::tags::names(index, t.id)?
                        .into_iter()
                        .filter(|n| !n.primary && trove_core::model::fold(&n.name).starts_with(&want))
                        .map(|n| n.name)
                        .collect()
                };
                out.push((t, aliases));
            }
            Ok(out)
        })
        .await?;
    let out: Vec<Value> = tags
        .iter()
        .map(|(t, aliases)| {
            json!({"id": t.id.0, "name": t.name, "files": t.files, "with_implied": t.with_implied,
                   "namespace": t.name.split_once(':').map(|(ns, _)| ns), "aliases": aliases})
        })
        .collect();
    Ok(axum::Json(json!({ "tags": out })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagActionBody {
    tag: String,
    /// The other name: the new name (rename, alias), the tag merged into (merge), the
    /// parent (imply, unimply).
    to: String,
}

async fn tag_action(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(action): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let source = caller.allow(&app, Scope::All).await?;
    let b: TagActionBody = body(&raw)?;
    if !matches!(action.as_str(), "rename" | "alias" | "merge" | "imply" | "unimply") {
        return Err(ApiError::bad(format!("{action:?}: not a tag action (rename, alias, merge, imply, unimply)")));
    }
    use trove_core::ops::tags as t;
    let done = app
        .with_index(move |index| {
            index.set_operation(&source.to_string(), &format!("tags {action} {} {}", b.tag, b.to));
            Ok(match action.as_str() {
                "rename" => t::rename(index, &b.tag, &b.to).map(|()| true)?,
                "alias" => t::alias(index, &b.tag, &b.to, None).map(|()| true)?,
                "merge" => t::merge(index, &b.tag, &b.to).map(|()| true)?,
                "imply" => t::imply(index, &b.tag, &b.to)?.new,
                "unimply" => t::unimply(index, &b.tag, &b.to)?,
                _ => unreachable!("checked above"),
            })
        })
        .await?;
    Ok(axum::Json(json!({ "changed": done })).into_response())
}

async fn pool_list(State(app): State<Arc<App>>, caller: Caller) -> Result<Response, ApiError> {
    caller.allow(&app, Scope::Read).await?;
    let pools = app.with_index(|index| trove_core::ops::pools::list(index)).await?;
    let v: Vec<Value> = pools.iter().map(|p| json!({"id": p.id.0, "title": p.title, "files": p.files})).collect();
    Ok(axum::Json(json!({ "pools": v })).into_response())
}

async fn pool_show(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(title): Path<String>,
) -> Result<Response, ApiError> {
    caller.allow(&app, Scope::Read).await?;
    let pool = app.with_index(move |index| trove_core::ops::pools::show(index, &title)).await?;
    Ok(axum::Json(json!({"title": pool.title, "files": pool.files.iter().map(record_json).collect::<Vec<_>>()}))
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=50-500", 100), Ok(Some((50, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=9-3", 100), Err(()));
        assert_eq!(parse_range("bytes=x-3", 100), Err(()));
        assert_eq!(parse_range("items=0-3", 100), Err(()));
        assert_eq!(parse_range("bytes=0-0,5-6", 100), Ok(None));
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolCreate {
    title: String,
}

async fn pool_create(State(app): State<Arc<App>>, caller: Caller, raw: Bytes) -> Result<Response, ApiError> {
    let source = caller.allow(&app, Scope::Tag).await?;
    let b: PoolCreate = body(&raw)?;
    let id = app
        .with_index(move |index| {
            index.set_operation(&source.to_string(), &format!("pool create {}", b.title));
            trove_core::ops::pools::create(index, &b.title)
        })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(json!({ "id": id.0 }))).into_response())
}

async fn pool_files(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(title): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let source = caller.allow(&app, Scope::Tag).await?;
    let b: AddRemove<i64> = body(&raw)?;
    let ids = |v: &[i64]| v.iter().map(|&i| FileId(i)).collect::<Vec<_>>();
    let (add, remove) = (ids(&b.add), ids(&b.remove));
    let edit = app
        .with_index(move |index| {
            index.set_operation(&source.to_string(), &format!("pool edit {title}"));
            trove_core::ops::pools::edit_ids(index, &title, &add, &remove)
        })
        .await?;
    Ok(axum::Json(json!({"added": edit.appended, "removed": edit.removed})).into_response())
}
