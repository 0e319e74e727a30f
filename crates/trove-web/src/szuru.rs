//! A read-only subset of the szurubooru API, on its own listener (`trove serve --szuru-port
//! PORT`), at szurubooru's paths: `/api/...` at the host root (clients such as
//! `szurubooru-client` drop any path of their base URL), content and thumbnails under
//! `/api/data/...`. Written from szurubooru's public API documentation; no szurubooru code.
//!
//! A post is a trove record (`id` = record id); its tags are its direct and implied tags;
//! a tag's category is its namespace (`default` without one); pools are trove pools.
//! Authentication: `Authorization: Token base64(user:KEY)` (or `Basic`) with a trove key;
//! content URLs carry an unguessable token instead (browsers and tools fetch them without
//! headers, as from szurubooru). Every write answers 403 with szurubooru's error shape.
//! Queries are translated to trove's query language, never evaluated here.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use trove_core::ops::keys::{self, Scope};
use trove_core::query::{CmpOp, Expr, Modifier, NamePart, NamePattern, Predicate, SortKey};
use trove_core::{FileId, FileRecord, FileState, Index};

use crate::App;
use crate::api::{ApiError, content_response, mime_for, thumbnail_response};

/// Most results one page holds (szurubooru's own cap).
const MAX_LIMIT: usize = 100;

/// An error answer in szurubooru's shape.
#[derive(Debug)]
pub(crate) struct SErr {
    status: StatusCode,
    name: &'static str,
    message: String,
}

impl SErr {
    fn new(status: StatusCode, name: &'static str, message: impl Into<String>) -> Self {
        SErr { status, name, message: message.into() }
    }
}

impl From<ApiError> for SErr {
    fn from(e: ApiError) -> Self {
        let name = match e.status.as_u16() {
            400 => "ValidationError",
            403 => "AuthError",
            404 => "NotFoundError",
            503 => "ServiceUnavailableError",
            _ => "InternalError",
        };
        SErr { status: e.status, name, message: e.message }
    }
}

impl From<trove_core::Error> for SErr {
    fn from(e: trove_core::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for SErr {
    fn into_response(self) -> Response {
        let title = self.name.trim_end_matches("Error").to_string();
        let mut r = axum::Json(json!({"name": self.name, "title": title, "description": self.message})).into_response();
        *r.status_mut() = self.status;
        r
    }
}

type SResult = Result<Response, SErr>;

/// The router of the szurubooru listener.
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/api/info", get(info))
        .route("/api/posts", get(posts))
        .route("/api/posts/", get(posts))
        .route("/api/post/{id}", get(post))
        .route("/api/post/{id}/", get(post))
        .route("/api/post/{id}/around", get(around))
        .route("/api/post/{id}/around/", get(around))
        .route("/api/featured-post", get(featured))
        .route("/api/tags", get(tags))
        .route("/api/tags/", get(tags))
        .route("/api/tag/{name}", get(tag))
        .route("/api/tag-siblings/{name}", get(siblings))
        .route("/api/tag-categories", get(tag_categories))
        .route("/api/tag-categories/", get(tag_categories))
        .route("/api/pool-categories", get(pool_categories))
        .route("/api/pool-categories/", get(pool_categories))
        .route("/api/pools", get(pools))
        .route("/api/pools/", get(pools))
        .route("/api/pool/{id}", get(pool))
        .route("/api/data/posts/{file}", get(data_post))
        .route("/api/data/generated-thumbnails/{file}", get(data_thumb))
        .fallback(fallback)
        .layer(axum::middleware::from_fn(read_only))
        .with_state(app)
}

/// Every write is refused: trove's szurubooru view is read-only.
async fn read_only(req: Request, next: axum::middleware::Next) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD && req.method() != Method::OPTIONS {
        return SErr::new(
            StatusCode::FORBIDDEN,
            "AuthError",
            "this szurubooru view of a trove library is read-only (tag with trove or its own API)",
        )
        .into_response();
    }
    next.run(req).await
}

async fn fallback(req: Request) -> Response {
    SErr::new(
        StatusCode::NOT_FOUND,
        "NotFoundError",
        format!("{}: trove does not offer this szurubooru endpoint (docs/compat.md)", req.uri().path()),
    )
    .into_response()
}

fn b64decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.trim().bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// `Token base64(user:KEY)` or `Basic base64(user:KEY)` with a trove key (any scope).
async fn authorize(app: &Arc<App>, headers: &HeaderMap) -> Result<(), SErr> {
    let Some(h) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Err(SErr::new(
            StatusCode::FORBIDDEN,
            "AuthError",
            "a trove key is needed: Authorization: Token base64(user:KEY) (`trove keys add NAME --read`)",
        ));
    };
    let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h, ""));
    if !scheme.eq_ignore_ascii_case("token") && !scheme.eq_ignore_ascii_case("basic") {
        return Err(SErr::new(StatusCode::BAD_REQUEST, "ValidationError", "Invalid authentication type"));
    }
    let decoded = b64decode(rest).and_then(|b| String::from_utf8(b).ok()).ok_or_else(|| {
        SErr::new(StatusCode::BAD_REQUEST, "ValidationError", "Basic/Token authentication is not base64(user:secret)")
    })?;
    let key = decoded.split_once(':').map_or(decoded.as_str(), |(_, k)| k).to_string();
    let info = app.with_index(move |index| keys::verify(index, &key)).await?;
    match info {
        Some(k) if k.scope.allows(Scope::Read) => Ok(()),
        _ => Err(SErr::new(StatusCode::FORBIDDEN, "AuthError", "unknown trove key")),
    }
}

/// The token in a content URL: 16 hex digits of BLAKE3 over the server's secret and the
/// record id (new at every start, like a szurubooru instance's secret).
fn url_token(app: &App, id: FileId) -> String {
    let mut b = app.szuru_secret.as_bytes().to_vec();
    b.extend_from_slice(&id.0.to_le_bytes());
    trove_core::hash::hash_bytes(&b).to_hex()[..16].to_string()
}

fn ext_of(rec: &FileRecord) -> String {
    rec.path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .filter(|e| e.len() <= 8)
        .unwrap_or_else(|| "bin".into())
}

fn iso(secs: i64) -> String {
    trove_core::time::Utc::from_secs(secs).to_iso()
}

fn category_of(name: &str) -> String {
    match name.split_once(':') {
        Some((ns, v)) if !ns.is_empty() && !v.is_empty() => ns.to_string(),
        _ => "default".into(),
    }
}

/// What one request knows about tags and pools, loaded once per request.
struct Ctx {
    /// Tag usages (with implied), by folded primary name.
    usages: HashMap<String, u64>,
    /// Pools by file: (pool id, title, post count).
    pools_of: HashMap<FileId, Vec<(i64, String, u64)>>,
}

fn load_ctx(index: &Index) -> trove_core::Result<Ctx> {
    let usages = trove_core::ops::tags::list(index, None, false)?
        .into_iter()
        .map(|t| (trove_core::model::fold(&t.name), t.with_implied))
        .collect();
    let mut pools_of: HashMap<FileId, Vec<(i64, String, u64)>> = HashMap::new();
    for p in trove_core::ops::pools::list(index)? {
        for rec in trove_core::ops::pools::show(index, &p.title)?.files {
            pools_of.entry(rec.id).or_default().push((p.id.0, p.title.clone(), p.files));
        }
    }
    Ok(Ctx { usages, pools_of })
}

fn micro_tag(ctx: &Ctx, name: &str) -> Value {
    let folded = trove_core::model::fold(name);
    json!({"names": [name], "category": category_of(&folded), "usages": ctx.usages.get(&folded).copied().unwrap_or(0)})
}

fn micro_pool(id: i64, title: &str, n: u64) -> Value {
    json!({"id": id, "names": [title], "category": "default", "description": "", "postCount": n})
}

fn post_type(mime: &str) -> &'static str {
    if mime == "image/gif" {
        "animation"
    } else if mime.starts_with("video/") || mime.starts_with("audio/") {
        // szurubooru has no audio type; an HTML <video> plays audio.
        "video"
    } else {
        "image"
    }
}

struct PostData {
    rec: FileRecord,
    tags: Vec<String>,
    sha: Option<[u8; 32]>,
    meta: Option<trove_core::meta::Meta>,
}

fn load_post(index: &Index, rec: FileRecord) -> trove_core::Result<PostData> {
    let mut tags: Vec<String> = trove_core::ops::files::tags_of(index, rec.id)?.into_iter().map(|t| t.name).collect();
    tags.sort_by_key(|t| (category_of(&trove_core::model::fold(t)) != "default", trove_core::model::fold(t)));
    tags.dedup();
    let sha = trove_core::ops::files::sha256_of(index, rec.id)?;
    let meta = trove_core::ops::meta::get(index, rec.id)?.map(|s| s.meta);
    Ok(PostData { rec, tags, sha, meta })
}

fn post_json(app: &App, ctx: &Ctx, p: &PostData) -> Value {
    let rec = &p.rec;
    let tok = url_token(app, rec.id);
    let mime = p.meta.as_ref().and_then(|m| m.mime.clone()).unwrap_or_else(|| {
        let m = mime_for(&rec.path);
        m.split(';').next().unwrap_or(m).to_string()
    });
    let ptype = post_type(&mime);
    let pools: Vec<Value> = ctx
        .pools_of
        .get(&rec.id)
        .map(|v| v.iter().map(|(i, t, n)| micro_pool(*i, t, *n)).collect())
        .unwrap_or_default();
    let time = iso(rec.added_at);
    json!({
        "id": rec.id.0,
        "version": 1,
        "creationTime": time,
        "lastEditTime": time,
        "safety": "safe",
        "source": null,
        "type": ptype,
        "mimeType": mime,
        "checksum": p.sha.map(|h| h.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        "checksumMD5": null,
        "fileSize": rec.stat.size,
        "canvasWidth": p.meta.as_ref().and_then(|m| m.width),
        "canvasHeight": p.meta.as_ref().and_then(|m| m.height),
        "contentUrl": format!("api/data/posts/{}_{tok}.{}", rec.id.0, ext_of(rec)),
        "thumbnailUrl": format!("api/data/generated-thumbnails/{}_{tok}.jpg", rec.id.0),
        "flags": if ptype == "video" || ptype == "animation" { json!(["loop"]) } else { json!([]) },
        "tags": p.tags.iter().map(|t| micro_tag(ctx, t)).collect::<Vec<_>>(),
        "relations": [],
        "user": null,
        "score": 0,
        "ownScore": 0,
        "ownFavorite": false,
        "tagCount": p.tags.len(),
        "favoriteCount": 0,
        "commentCount": 0,
        "noteCount": 0,
        "relationCount": 0,
        "featureCount": 0,
        "lastFeatureTime": null,
        "favoritedBy": [],
        "hasCustomThumbnail": false,
        "notes": [],
        "comments": [],
        "pools": pools,
    })
}

/// Keeps the fields asked for with `?fields=a,b` (and `version` where clients need it).
fn select(v: Value, fields: Option<&String>, keep_version: bool) -> Value {
    let Some(f) = fields.filter(|f| !f.is_empty()) else { return v };
    let want: BTreeSet<&str> = f.split(',').map(str::trim).collect();
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter().filter(|(k, _)| want.contains(k.as_str()) || (keep_version && k == "version")).collect(),
        ),
        v => v,
    }
}

type Params = Query<HashMap<String, String>>;

fn paging(p: &HashMap<String, String>) -> Result<(usize, usize), SErr> {
    let num = |k: &str, d: usize| -> Result<usize, SErr> {
        match p.get(k) {
            None => Ok(d),
            Some(s) => s
                .parse()
                .map_err(|_| SErr::new(StatusCode::BAD_REQUEST, "ValidationError", format!("{k}={s:?}: not a number"))),
        }
    };
    Ok((num("offset", 0)?, num("limit", MAX_LIMIT)?.clamp(1, MAX_LIMIT)))
}

// ---------------------------------------------------------------------------------------
// Query translation: szurubooru's syntax to trove's query language.

fn search_error(msg: impl Into<String>) -> SErr {
    SErr::new(StatusCode::BAD_REQUEST, "SearchError", msg)
}

/// Splits a token at its first unescaped `:` and removes the escapes.
fn split_token(tok: &str) -> (Option<String>, String) {
    let mut key = None;
    let mut cur = String::new();
    let mut chars = tok.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ':' if key.is_none() => key = Some(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    (key, cur)
}

fn name_pattern(s: &str) -> NamePattern {
    let mut parts = Vec::new();
    for (i, lit) in s.split('*').enumerate() {
        if i > 0 {
            parts.push(NamePart::Star);
        }
        if !lit.is_empty() {
            parts.push(NamePart::Literal(lit.to_string()));
        }
    }
    NamePattern { parts }
}

/// The sort the query asked for: a trove sort key, or record ids (szurubooru's default,
/// newest first).
enum Sort {
    Trove(SortKey, bool),
    Id(bool),
}

fn translate_posts(q: &str, index: &Index) -> Result<(Expr, Sort), SErr> {
    let mut terms = Vec::new();
    let mut sort = Sort::Id(true);
    for raw in q.to_lowercase().split_whitespace() {
        let (neg, tok) = match raw.strip_prefix('-') {
            Some(t) => (true, t),
            None => (false, raw),
        };
        let (key, value) = split_token(tok);
        let values: Vec<&str> = value.split(',').filter(|v| !v.is_empty()).collect();
        let term = match key.as_deref() {
            None | Some("tag") => Some(Expr::Or(values.iter().map(|v| Expr::Tag(name_pattern(v))).collect())),
            Some("pool") => {
                let pools = trove_core::ops::pools::list(index)?;
                let mut alts = Vec::new();
                for v in &values {
                    let id: i64 = v.parse().map_err(|_| search_error(format!("pool:{v}: not a pool id")))?;
                    if let Some(p) = pools.iter().find(|p| p.id.0 == id) {
                        alts.push(Expr::Pred(Predicate::Pool(p.title.clone())));
                    }
                }
                Some(if alts.is_empty() { Expr::Not(Box::new(Expr::And(Vec::new()))) } else { Expr::Or(alts) })
            }
            Some("tag-count") => {
                let n: u64 = value.parse().map_err(|_| search_error(format!("tag-count:{value}: not a number")))?;
                Some(Expr::Pred(Predicate::TagCount(CmpOp::Eq, n)))
            }
            Some("type") => {
                let mut exts: Vec<Expr> = Vec::new();
                for v in &values {
                    let list: &[&str] = match *v {
                        "image" => &["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "svg"],
                        "animation" | "animated" | "anim" => &["gif", "apng"],
                        "video" => {
                            &["mp4", "m4v", "webm", "mkv", "mov", "avi", "mp3", "flac", "ogg", "opus", "wav", "m4a"]
                        }
                        "flash" | "swf" => &["swf"],
                        other => return Err(search_error(format!("type:{other}: not a post type"))),
                    };
                    exts.extend(list.iter().map(|e| Expr::Pred(Predicate::Ext((*e).to_string()))));
                }
                Some(Expr::Or(exts))
            }
            Some("safety" | "rating") => {
                if values.contains(&"safe") {
                    None
                } else {
                    Some(Expr::Not(Box::new(Expr::And(Vec::new()))))
                }
            }
            Some("special") => match value.as_str() {
                "tumbleweed" => None,
                other => return Err(search_error(format!("special:{other}: needs a logged-in szurubooru user"))),
            },
            Some("sort") => {
                let (what, dir) = value.split_once(',').unwrap_or((value.as_str(), ""));
                let desc = match dir {
                    "asc" => false,
                    "desc" | "" => true,
                    d => return Err(search_error(format!("sort:{value}: {d:?} is not asc or desc"))),
                } ^ neg;
                sort = match what {
                    "id" | "date" | "time" | "creation-date" | "creation-time" => Sort::Id(desc),
                    "random" => Sort::Trove(SortKey::Random, false),
                    "file-size" => Sort::Trove(SortKey::Size, desc),
                    "last-edit-date" | "last-edit-time" | "edit-date" | "edit-time" => {
                        Sort::Trove(SortKey::Mtime, desc)
                    }
                    other => return Err(search_error(format!("sort:{other}: not a sort trove has"))),
                };
                continue;
            }
            Some(other) => return Err(search_error(format!("Unknown named token: {other:?}"))),
        };
        if let Some(t) = term {
            terms.push(if neg { Expr::Not(Box::new(t)) } else { t });
        }
    }
    if let Sort::Trove(key, reverse) = sort {
        terms.push(Expr::Modifier(Modifier::Sort { key, reverse }));
    }
    Ok((Expr::And(terms), sort))
}

/// The record ids a post query matches, in the order asked for.
fn matching(index: &Index, q: &str) -> trove_core::Result<Result<Vec<FileId>, SErr>> {
    let (expr, sort) = match translate_posts(q, index) {
        Ok(x) => x,
        Err(e) => return Ok(Err(e)),
    };
    let query = trove_core::ops::find::Query::new(index, &expr.to_string())?;
    let mut ids: Vec<FileId> = query.collect(index, None)?.into_iter().map(|r| r.id).collect();
    if let Sort::Id(desc) = sort {
        ids.sort_unstable();
        if desc {
            ids.reverse();
        }
    }
    Ok(Ok(ids))
}

// ---------------------------------------------------------------------------------------
// Handlers.

async fn info(State(app): State<Arc<App>>, headers: HeaderMap) -> SResult {
    authorize(&app, &headers).await?;
    let n = app.with_index(|index| trove_core::ops::find::Query::new(index, "")?.count(index)).await?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let mut privileges = Map::new();
    for p in [
        "posts:list",
        "posts:view",
        "tags:list",
        "tags:view",
        "pools:list",
        "pools:view",
        "tagCategories:list",
        "poolCategories:list",
    ] {
        privileges.insert(p.into(), json!("anonymous"));
    }
    for p in [
        "posts:create:anonymous",
        "posts:edit:tags",
        "tags:create",
        "tags:edit:names",
        "pools:create",
        "uploads:create",
    ] {
        privileges.insert(p.into(), json!("nobody"));
    }
    Ok(axum::Json(json!({
        "postCount": n,
        "diskUsage": 0,
        "serverTime": iso(now),
        "config": {
            "name": "trove", "userNameRegex": "^[a-zA-Z0-9_-]{1,32}$", "passwordRegex": "^.{5,}$",
            "tagNameRegex": "^\\S+$", "tagCategoryNameRegex": "^[^\\s%+#/]+$", "defaultUserRank": "anonymous",
            "enableSafety": false, "contactEmail": null, "canSendMails": false, "privileges": privileges,
        },
        "featuredPost": null, "featuringUser": null, "featuringTime": null,
    }))
    .into_response())
}

async fn posts(State(app): State<Arc<App>>, headers: HeaderMap, Query(p): Params) -> SResult {
    authorize(&app, &headers).await?;
    let (offset, limit) = paging(&p)?;
    let q = p.get("query").cloned().unwrap_or_default();
    let fields = p.get("fields").cloned();
    let app2 = app.clone();
    let q2 = q.clone();
    let (total, rows, ctx) = app
        .with_index(move |index| {
            let ids = match matching(index, &q2)? {
                Ok(ids) => ids,
                Err(e) => return Ok(Err(e)),
            };
            let ctx = load_ctx(index)?;
            let mut rows = Vec::new();
            for id in ids.iter().skip(offset).take(limit) {
                if let Some(rec) = trove_core::ops::files::get(index, *id)? {
                    rows.push(load_post(index, rec)?);
                }
            }
            Ok(Ok((ids.len(), rows, ctx)))
        })
        .await??;
    let results: Vec<Value> = rows.iter().map(|r| select(post_json(&app2, &ctx, r), fields.as_ref(), false)).collect();
    Ok(axum::Json(json!({"query": q, "offset": offset, "limit": limit, "total": total, "results": results}))
        .into_response())
}

fn parse_post_id(s: &str) -> Result<FileId, SErr> {
    match s.parse::<i64>() {
        Ok(n) if n > 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(FileId(n)),
        _ => Err(SErr::new(StatusCode::NOT_FOUND, "PostNotFoundError", format!("Post {s:?} not found."))),
    }
}

async fn post(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>, Query(p): Params) -> SResult {
    authorize(&app, &headers).await?;
    let id = parse_post_id(&id)?;
    let (row, ctx) = app
        .with_index(move |index| {
            let Some(rec) = trove_core::ops::files::get(index, id)? else { return Ok(None) };
            Ok(Some((load_post(index, rec)?, load_ctx(index)?)))
        })
        .await?
        .ok_or_else(|| SErr::new(StatusCode::NOT_FOUND, "PostNotFoundError", format!("Post {} not found.", id.0)))?;
    Ok(axum::Json(select(post_json(&app, &ctx, &row), p.get("fields"), false)).into_response())
}

async fn around(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>, Query(p): Params) -> SResult {
    authorize(&app, &headers).await?;
    let id = parse_post_id(&id)?;
    let q = p.get("query").cloned().unwrap_or_default();
    let (prev, next, ctx) = app
        .with_index(move |index| {
            let mut ids = match matching(index, &q)? {
                Ok(ids) => ids,
                Err(e) => return Ok(Err(e)),
            };
            ids.sort_unstable();
            // szurubooru: `prev` is the nearest higher id, `next` the nearest lower.
            let prev = ids.iter().find(|i| **i > id).copied();
            let next = ids.iter().rev().find(|i| **i < id).copied();
            let load = |i: Option<FileId>| -> trove_core::Result<Option<PostData>> {
                match i {
                    Some(i) => trove_core::ops::files::get(index, i)?.map(|r| load_post(index, r)).transpose(),
                    None => Ok(None),
                }
            };
            Ok(Ok((load(prev)?, load(next)?, load_ctx(index)?)))
        })
        .await??;
    let f = p.get("fields");
    let one = |x: &Option<PostData>| x.as_ref().map(|r| select(post_json(&app, &ctx, r), f, false));
    Ok(axum::Json(json!({"prev": one(&prev), "next": one(&next)})).into_response())
}

async fn featured(State(app): State<Arc<App>>, headers: HeaderMap) -> SResult {
    authorize(&app, &headers).await?;
    Ok(axum::Json(Value::Null).into_response())
}

fn tag_json(d: &trove_core::ops::tags::TagDetails) -> Value {
    let time = iso(0);
    let mut names = vec![d.tag.name.clone()];
    names.extend(d.tag.aliases.iter().filter(|n| !n.primary).map(|n| n.name.clone()));
    names.dedup();
    json!({
        "names": names,
        "category": category_of(&trove_core::model::fold(&d.tag.name)),
        "version": 1,
        "description": null,
        "creationTime": time,
        "lastEditTime": time,
        "usages": d.with_implied,
        "suggestions": [],
        "implications": d.parents.iter().map(|n| json!({"names": [n], "category": category_of(&trove_core::model::fold(n)), "usages": 0})).collect::<Vec<_>>(),
    })
}

async fn tags(State(app): State<Arc<App>>, headers: HeaderMap, Query(p): Params) -> SResult {
    authorize(&app, &headers).await?;
    let (offset, limit) = paging(&p)?;
    let q = p.get("query").cloned().unwrap_or_default();
    let mut pattern: Option<String> = None;
    let mut category: Option<String> = None;
    let mut by_count = true;
    for tok in q.to_lowercase().split_whitespace() {
        let (key, value) = split_token(tok);
        match key.as_deref() {
            None | Some("name") => pattern = Some(value),
            Some("category") => category = Some(value),
            Some("sort") => {
                by_count = match value.split(',').next().unwrap_or("") {
                    "usages" | "usage-count" | "post-count" => true,
                    "name" => false,
                    other => return Err(search_error(format!("sort:{other}: not a tag sort trove has"))),
                }
            }
            Some(other) => return Err(search_error(format!("Unknown named token: {other:?}"))),
        }
    }
    let q2 = q.clone();
    let (total, found) = app
        .with_index(move |index| {
            let mut all = trove_core::ops::tags::list(index, pattern.as_deref(), by_count)?;
            if let Some(c) = &category {
                all.retain(|t| &category_of(&trove_core::model::fold(&t.name)) == c);
            }
            let total = all.len();
            let mut out = Vec::new();
            for t in all.into_iter().skip(offset).take(limit) {
                out.push(tag_json(&trove_core::ops::tags::show(index, &t.name)?));
            }
            Ok((total, out))
        })
        .await?;
    let fields = p.get("fields");
    let results: Vec<Value> = found.into_iter().map(|t| select(t, fields, true)).collect();
    Ok(axum::Json(json!({"query": q2, "offset": offset, "limit": limit, "total": total, "results": results}))
        .into_response())
}

async fn tag(State(app): State<Arc<App>>, headers: HeaderMap, Path(name): Path<String>, Query(p): Params) -> SResult {
    authorize(&app, &headers).await?;
    let n2 = name.clone();
    let d = app
        .with_index(move |index| {
            trove_core::ops::tags::show(index, &n2).map(Some).or_else(|e| match e {
                trove_core::Error::UnknownTag(_) => Ok(None),
                e => Err(e),
            })
        })
        .await?
        .ok_or_else(|| SErr::new(StatusCode::NOT_FOUND, "TagNotFoundError", format!("Tag {name:?} not found.")))?;
    Ok(axum::Json(select(tag_json(&d), p.get("fields"), true)).into_response())
}

async fn siblings(State(app): State<Arc<App>>, headers: HeaderMap) -> SResult {
    authorize(&app, &headers).await?;
    Ok(axum::Json(json!({"results": []})).into_response())
}

const PALETTE: &[&str] = &["#e55", "#59f", "#5b5", "#d8d", "#fa4", "#4cc", "#999", "#b85"];

async fn tag_categories(State(app): State<Arc<App>>, headers: HeaderMap) -> SResult {
    authorize(&app, &headers).await?;
    let counts = app
        .with_index(|index| {
            let mut m: BTreeMap<String, u64> = BTreeMap::new();
            m.insert("default".into(), 0);
            for t in trove_core::ops::tags::list(index, None, false)? {
                *m.entry(category_of(&trove_core::model::fold(&t.name))).or_default() += 1;
            }
            Ok(m)
        })
        .await?;
    let mut names: Vec<&String> = counts.keys().collect();
    names.sort_by_key(|n| (n.as_str() != "default", n.to_string()));
    let results: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            json!({"name": n, "version": 1, "color": if n.as_str() == "default" { "default" } else { PALETTE[i % PALETTE.len()] },
                   "usages": counts[*n], "default": n.as_str() == "default", "order": i})
        })
        .collect();
    Ok(axum::Json(json!({ "results": results })).into_response())
}

async fn pool_categories(State(app): State<Arc<App>>, headers: HeaderMap) -> SResult {
    authorize(&app, &headers).await?;
    let n = app.with_index(|index| Ok(trove_core::ops::pools::list(index)?.len())).await?;
    Ok(axum::Json(
        json!({"results": [{"name": "default", "version": 1, "color": "default", "usages": n, "default": true}]}),
    )
    .into_response())
}

fn pool_json(app: &App, id: i64, title: &str, files: &[FileRecord]) -> Value {
    let time = iso(0);
    json!({
        "id": id, "names": [title], "category": "default", "version": 1, "description": null,
        "creationTime": time, "lastEditTime": time, "postCount": files.len(),
        "posts": files.iter().map(|r| json!({"id": r.id.0,
            "thumbnailUrl": format!("api/data/generated-thumbnails/{}_{}.jpg", r.id.0, url_token(app, r.id))})).collect::<Vec<_>>(),
    })
}

async fn pools(State(app): State<Arc<App>>, headers: HeaderMap, Query(p): Params) -> SResult {
    authorize(&app, &headers).await?;
    let (offset, limit) = paging(&p)?;
    let all = app
        .with_index(move |index| {
            let list = trove_core::ops::pools::list(index)?;
            let total = list.len();
            let mut out = Vec::new();
            for p in list.into_iter().skip(offset).take(limit) {
                let pool = trove_core::ops::pools::show(index, &p.title)?;
                out.push((p.id.0, pool.title, pool.files));
            }
            Ok((total, out))
        })
        .await?;
    let fields = p.get("fields");
    let results: Vec<Value> = all.1.iter().map(|(i, t, f)| select(pool_json(&app, *i, t, f), fields, false)).collect();
    Ok(axum::Json(json!({"query": p.get("query").cloned().unwrap_or_default(), "offset": offset, "limit": limit,
                         "total": all.0, "results": results}))
    .into_response())
}

async fn pool(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>, Query(p): Params) -> SResult {
    authorize(&app, &headers).await?;
    let not_found = || SErr::new(StatusCode::NOT_FOUND, "PoolNotFoundError", format!("Pool {id:?} not found."));
    let n: i64 = id.parse().map_err(|_| not_found())?;
    let found = app
        .with_index(move |index| {
            let Some(p) = trove_core::ops::pools::list(index)?.into_iter().find(|p| p.id.0 == n) else {
                return Ok(None);
            };
            Ok(Some(trove_core::ops::pools::show(index, &p.title)?))
        })
        .await?
        .ok_or_else(not_found)?;
    Ok(axum::Json(select(pool_json(&app, n, &found.title, &found.files), p.get("fields"), false)).into_response())
}

/// The record a content URL names, when its token is right (else 404, as a wrong name).
async fn data_record(app: &Arc<App>, file: &str) -> Result<FileRecord, SErr> {
    let gone = || SErr::new(StatusCode::NOT_FOUND, "NotFoundError", format!("{file}: no such content"));
    let stem = file.split('.').next().unwrap_or("");
    let (id, tok) = stem.split_once('_').ok_or_else(gone)?;
    let id = parse_post_id(id).map_err(|_| gone())?;
    if !keys::constant_time_eq(url_token(app, id).as_bytes(), tok.as_bytes()) {
        return Err(gone());
    }
    let rec = app.with_index(move |index| trove_core::ops::files::get(index, id)).await?.ok_or_else(gone)?;
    Ok(rec)
}

async fn data_post(State(app): State<Arc<App>>, headers: HeaderMap, Path(file): Path<String>) -> SResult {
    let rec = data_record(&app, &file).await?;
    if rec.state != FileState::Present {
        return Err(SErr::new(
            StatusCode::NOT_FOUND,
            "NotFoundError",
            format!("{file}: the file is {}", rec.state.as_str()),
        ));
    }
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    Ok(content_response(&rec, range).await?)
}

async fn data_thumb(State(app): State<Arc<App>>, Path(file): Path<String>) -> SResult {
    let rec = data_record(&app, &file).await?;
    Ok(thumbnail_response(&app, rec).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_at_the_first_unescaped_colon() {
        assert_eq!(split_token("re\\:zero"), (None, "re:zero".to_string()));
        assert_eq!(split_token("tag:animal\\:cat"), (Some("tag".into()), "animal:cat".to_string()));
        assert_eq!(split_token("sort:id,asc"), (Some("sort".into()), "id,asc".to_string()));
    }

    #[test]
    fn times_are_iso_utc() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_714_557_600), "2024-05-01T10:00:00Z");
    }

    #[test]
    fn base64_of_user_and_key() {
        assert_eq!(b64decode("dXNlcjprZXk=").unwrap(), b"user:key");
    }
}
