//! The Hydrus Client API subset, on its own listener (`trove serve --hydrus-port PORT`), so
//! clients written for Hydrus (Hydrus Web, Hydrui, scripts on the `hydrus-api` package) work
//! on trove's library. Written from Hydrus's public API documentation; no Hydrus code.
//!
//! Conventions copied because clients depend on them: `version` and `hydrus_version` in
//! every JSON object (errors too), the `Server` and `Hydrus-Server` headers, GET parameters
//! JSON-encoded (`+` is a space), the access key in a header, the query or the JSON body,
//! 401 (no key) / 403 (unknown key, missing permission) / 419 (unknown session key),
//! `{"error", "exception_type", "status_code"}` error objects, empty 200 answers to writes,
//! 406 for CBOR, CORS when `--cors` is given, Hydrus's fixed service keys.
//!
//! Mapping: a Hydrus `file_id` is a trove record id (never reused); a Hydrus `hash` is the
//! record's SHA-256. "my tags" is trove's tags; "all known tags" shows the same tags.
//! Searches are translated to trove's one query language (an [`Expr`] printed and parsed
//! again), never evaluated here. Writes go through trove-core's ops with the source
//! `api:<key name>`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use trove_core::ops::keys::{self, Scope};
use trove_core::query::{CmpOp, Expr, Modifier, NamePart, NamePattern, Predicate, SortKey};
use trove_core::{FileId, FileRecord, FileState, Index, Source};

use crate::App;

mod dupes;
use crate::api::{ApiError, content_response, mime_for, thumbnail_response};
use dupes::{
    get_file_relationships, get_potential_pairs, get_potentials_count, remove_potentials, set_file_relationships,
    set_kings,
};

/// The Client API version and Hydrus version trove answers as (Hydrus Web refuses
/// `hydrus_version` below 500). Bump only when trove implements what that version changed.
pub(crate) const API_VERSION: u64 = 95;
pub(crate) const HYDRUS_VERSION: u64 = 682;
const SERVER: &str = "client api/95 (682)";

const ACCESS_KEY: &str = "Hydrus-Client-API-Access-Key";
const SESSION_KEY: &str = "Hydrus-Client-API-Session-Key";
/// Hydrus's sliding session expiry.
const SESSION_TTL: Duration = Duration::from_secs(86_400);
/// POST bodies are small JSON objects.
const BODY_LIMIT: usize = 1 << 20;
/// Tags answered by one `search_tags`.
const MAX_TAG_ANSWERS: usize = 1000;

pub(crate) const MY_TAGS: &str = "6c6f63616c2074616773";
pub(crate) const ALL_TAGS: &str = "616c6c206b6e6f776e2074616773";
const MY_FILES: &str = "6c6f63616c2066696c6573";
const ALL_MEDIA: &str = "616c6c206c6f63616c206d65646961";
const ALL_LOCAL_FILES: &str = "616c6c206c6f63616c2066696c6573";
const ALL_KNOWN_FILES: &str = "616c6c206b6e6f776e2066696c6573";
const TRASH: &str = "7472617368";

/// (key, name, type, type_pretty, legacy list) of every service trove shows.
const SERVICES: &[(&str, &str, u32, &str, &str)] = &[
    (MY_TAGS, "my tags", 5, "local tag domain", "local_tags"),
    (MY_FILES, "my files", 2, "local file domain", "local_files"),
    (ALL_LOCAL_FILES, "hydrus local file storage", 15, "virtual combined local file domain", "all_local_files"),
    (ALL_MEDIA, "combined local file domains", 21, "virtual combined local media domain", "all_local_media"),
    (ALL_KNOWN_FILES, "all known files", 11, "virtual combined file domain", "all_known_files"),
    (ALL_TAGS, "all known tags", 10, "virtual combined tag domain", "all_known_tags"),
    (TRASH, "trash", 14, "local trash file domain", "trash"),
];
/// The file domains whose files are every indexed file (trove's trash is always empty).
const ALL_FILE_DOMAINS: &[&str] = &[MY_FILES, ALL_MEDIA, ALL_LOCAL_FILES, ALL_KNOWN_FILES];

/// Hydrus's permission numbers and labels.
const PERMISSIONS: &[&str] = &[
    "import and edit urls",
    "import and delete files",
    "edit file tags",
    "search for and fetch files",
    "manage pages",
    "manage cookies and headers",
    "manage database",
    "edit file notes",
    "edit file relationships",
    "edit file ratings",
    "manage popups",
    "edit file times",
    "commit pending",
    "see local paths",
];

/// What a trove key scope allows, in Hydrus permission numbers.
fn permissions_of(scope: Scope) -> Vec<u64> {
    match scope {
        Scope::Read => vec![3, 13],
        Scope::Tag => vec![2, 3, 13],
        Scope::All => (0..PERMISSIONS.len() as u64).collect(),
    }
}

/// The trove scope that grants the Hydrus permissions asked for: search and paths are
/// `read`, tag edits `tag`, anything else (or `permits_everything`) `all`.
fn scope_for(perms: &[u64], everything: bool) -> Scope {
    if everything || perms.iter().any(|p| ![2, 3, 13].contains(p)) {
        Scope::All
    } else if perms.contains(&2) {
        Scope::Tag
    } else {
        Scope::Read
    }
}

/// A session key's holder.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    name: String,
    scope: Scope,
    expires: Instant,
}

/// An error answer in Hydrus's shape.
#[derive(Debug)]
pub(crate) struct HErr {
    status: StatusCode,
    message: String,
}

impl HErr {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        HErr { status, message: message.into() }
    }

    fn bad(message: impl Into<String>) -> Self {
        HErr::new(StatusCode::BAD_REQUEST, message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        HErr::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<ApiError> for HErr {
    fn from(e: ApiError) -> Self {
        HErr { status: e.status, message: e.message }
    }
}

impl From<trove_core::Error> for HErr {
    fn from(e: trove_core::Error) -> Self {
        ApiError::from(e).into()
    }
}

fn exception_type(s: StatusCode) -> &'static str {
    match s.as_u16() {
        400 => "BadRequestException",
        401 => "MissingCredentialsException",
        403 => "InsufficientCredentialsException",
        404 => "NotFoundException",
        406 => "NotAcceptable",
        409 => "ConflictException",
        413 => "BadRequestException",
        416 => "RangeNotSatisfiableException",
        419 => "SessionException",
        503 => "ServerBusyException",
        _ => "ServerException",
    }
}

impl IntoResponse for HErr {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.message,
            "exception_type": exception_type(self.status),
            "status_code": self.status.as_u16(),
        });
        let mut r = answer(body);
        *r.status_mut() = self.status;
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        r
    }
}

/// A JSON answer with `version` and `hydrus_version` added.
fn answer(mut v: Value) -> Response {
    if let Some(o) = v.as_object_mut() {
        o.insert("version".into(), json!(API_VERSION));
        o.insert("hydrus_version".into(), json!(HYDRUS_VERSION));
    }
    axum::Json(v).into_response()
}

/// 200 with an empty body (Hydrus's answer to a write).
fn empty() -> Response {
    let mut r = Response::new(Body::empty());
    r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

type HResult = Result<Response, HErr>;

/// A request's parameters: the query string (form-decoded, `+` = space) and, for a POST,
/// the JSON body's members (`null` = absent).
pub(crate) struct HReq {
    headers: HeaderMap,
    query: HashMap<String, String>,
    body: Map<String, Value>,
}

impl HReq {
    async fn from_request(req: Request) -> Result<HReq, HErr> {
        let (parts, body) = req.into_parts();
        let query: HashMap<String, String> = match parts.uri.query() {
            Some(q) => serde_urlencoded_pairs(q),
            None => HashMap::new(),
        };
        let ctype = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let accept = parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
        if query.contains_key("cbor") || ctype.starts_with("application/cbor") || accept.starts_with("application/cbor")
        {
            return Err(HErr::new(StatusCode::NOT_ACCEPTABLE, "trove does not speak CBOR; send JSON"));
        }
        let mut map = Map::new();
        if parts.method == Method::POST {
            let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
                HErr::new(StatusCode::PAYLOAD_TOO_LARGE, format!("request body over {BODY_LIMIT} bytes"))
            })?;
            if !bytes.is_empty() {
                if !ctype.starts_with("application/json") {
                    return Err(HErr::bad(format!(
                        "Content-Type {ctype:?}: this endpoint takes a JSON body (application/json)"
                    )));
                }
                match serde_json::from_slice::<Value>(&bytes) {
                    Ok(Value::Object(m)) => map = m,
                    Ok(_) => return Err(HErr::bad("the JSON body must be an object")),
                    Err(e) => return Err(HErr::bad(format!("the JSON body does not parse: {e}"))),
                }
                map.retain(|_, v| !v.is_null());
            }
        }
        Ok(HReq { headers: parts.headers, query, body: map })
    }

    /// A plain string parameter.
    fn string(&self, name: &str) -> Result<Option<String>, HErr> {
        if let Some(v) = self.body.get(name) {
            return match v {
                Value::String(s) => Ok(Some(s.clone())),
                other => Err(HErr::bad(format!("{name}: expected a string, got {other}"))),
            };
        }
        Ok(self.query.get(name).cloned())
    }

    /// A JSON-encoded parameter (in the query) or a JSON member (in the body).
    fn json(&self, name: &str) -> Result<Option<Value>, HErr> {
        if let Some(v) = self.body.get(name) {
            return Ok(Some(v.clone()));
        }
        match self.query.get(name) {
            None => Ok(None),
            Some(s) => serde_json::from_str(s)
                .map(Some)
                .map_err(|e| HErr::bad(format!("{name}={s:?}: not JSON ({e}); GET parameters are JSON-encoded"))),
        }
    }

    fn bool(&self, name: &str, default: bool) -> Result<bool, HErr> {
        match self.json(name)? {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(b),
            Some(other) => Err(HErr::bad(format!("{name}: expected true or false, got {other}"))),
        }
    }

    fn int(&self, name: &str) -> Result<Option<i64>, HErr> {
        match self.json(name)? {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(other) => Err(HErr::bad(format!("{name}: expected an integer, got {other}"))),
        }
    }

    fn int_list(&self, name: &str) -> Result<Option<Vec<i64>>, HErr> {
        match self.json(name)? {
            None => Ok(None),
            Some(Value::Array(v)) => v
                .iter()
                .map(|x| x.as_i64().ok_or_else(|| HErr::bad(format!("{name}: {x} is not an integer"))))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(HErr::bad(format!("{name}: expected a list of integers, got {other}"))),
        }
    }

    /// A list of hex strings (`hashes`) or one (`hash`); each must be 32 bytes.
    fn hashes(&self) -> Result<Option<Vec<[u8; 32]>>, HErr> {
        let mut out = Vec::new();
        let mut any = false;
        if let Some(h) = self.string("hash")? {
            any = true;
            out.push(parse_hash(&h)?);
        }
        match self.json("hashes")? {
            None => {}
            Some(Value::Array(v)) => {
                any = true;
                for x in v {
                    let s = x.as_str().ok_or_else(|| HErr::bad(format!("hashes: {x} is not a string")))?;
                    out.push(parse_hash(s)?);
                }
            }
            Some(other) => return Err(HErr::bad(format!("hashes: expected a list of hex strings, got {other}"))),
        }
        Ok(any.then_some(out))
    }

    /// `file_id` and `file_ids` together.
    fn file_ids(&self) -> Result<Option<Vec<FileId>>, HErr> {
        let mut out = Vec::new();
        let mut any = false;
        if let Some(i) = self.int("file_id")? {
            any = true;
            out.push(i);
        }
        if let Some(v) = self.int_list("file_ids")? {
            any = true;
            out.extend(v);
        }
        for &i in &out {
            if !(0..=1i64 << 50).contains(&i) {
                return Err(HErr::bad(format!("file id {i}: out of range")));
            }
        }
        Ok(any.then(|| out.into_iter().map(FileId).collect()))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `a=1&b=x+y` decoded as a form (`+` is a space), as Hydrus decodes its query strings.
fn serde_urlencoded_pairs(q: &str) -> HashMap<String, String> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{q}").parse().unwrap_or_else(|_| axum::http::Uri::from_static("/")),
    )
    .map(|q| q.0.into_iter().collect())
    .unwrap_or_default()
}

fn parse_hash(s: &str) -> Result<[u8; 32], HErr> {
    let t = s.trim();
    let t = t.split_once(':').map_or(t, |(_, h)| h);
    let bytes = unhex(t).ok_or_else(|| HErr::bad(format!("{s:?}: not a hexadecimal hash")))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| HErr::bad(format!("{s:?}: a hash is 32 bytes (64 hex digits), this is {}", bytes.len())))
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Any valid key.
    Any,
    /// Hydrus permission 3.
    Search,
    /// Permission 2.
    EditTags,
    /// Permissions 3 and 13.
    Paths,
    /// Permission 8 (edit file relationships): only a key with trove scope `all` has it.
    Relationships,
}

/// Who is calling.
struct Who {
    name: String,
    scope: Scope,
}

impl Who {
    fn source(&self) -> Source {
        Source::Api(self.name.clone())
    }
}

async fn authorize(app: &Arc<App>, r: &HReq, need: Need) -> Result<Who, HErr> {
    let access = match r.header(ACCESS_KEY) {
        Some(k) => Some(k.to_string()),
        None => r.string(ACCESS_KEY)?,
    };
    let session = match r.header(SESSION_KEY) {
        Some(k) => Some(k.to_string()),
        None => r.string(SESSION_KEY)?,
    };
    let who = if let Some(key) = access {
        let key = key.trim().to_ascii_lowercase();
        if unhex(&key).is_none() {
            return Err(HErr::bad("the access key is not hexadecimal"));
        }
        let info = app.with_index(move |index| keys::lookup(index, &key)).await?;
        match info {
            None => return Err(HErr::new(StatusCode::FORBIDDEN, "unknown access key")),
            Some(k) if k.pending => {
                return Err(HErr::new(
                    StatusCode::FORBIDDEN,
                    format!("the key {} waits for approval: run `trove keys approve {}`", k.name, k.name),
                ));
            }
            Some(k) => Who { name: k.name, scope: k.scope },
        }
    } else if let Some(s) = session {
        let mut sessions = app.hydrus_sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        sessions.retain(|_, v| v.expires > now);
        let found = sessions.iter_mut().find(|(k, _)| keys::constant_time_eq(k.as_bytes(), s.trim().as_bytes()));
        match found {
            Some((_, v)) => {
                v.expires = now + SESSION_TTL;
                Who { name: v.name.clone(), scope: v.scope }
            }
            None => {
                return Err(HErr::new(
                    StatusCode::from_u16(419).unwrap_or(StatusCode::FORBIDDEN),
                    "unknown or expired session key; ask /session_key for a new one",
                ));
            }
        }
    } else {
        return Err(HErr::new(
            StatusCode::UNAUTHORIZED,
            format!("no access key or session key provided (send the {ACCESS_KEY} header)"),
        ));
    };
    let (ok, what) = match need {
        Need::Any => (true, ""),
        Need::Search | Need::Paths => (who.scope.allows(Scope::Read), "search for and fetch files"),
        Need::EditTags => (who.scope.allows(Scope::Tag), "edit file tags"),
        Need::Relationships => (who.scope.allows(Scope::All), "edit file relationships"),
    };
    if !ok {
        return Err(HErr::new(
            StatusCode::FORBIDDEN,
            format!("the key {} (trove scope {}) may not {what}", who.name, who.scope.as_str()),
        ));
    }
    Ok(who)
}

/// The router of the Hydrus listener.
pub(crate) fn router(app: Arc<App>) -> Router {
    use axum::routing::{any, get, post};
    macro_rules! h {
        ($f:ident) => {
            |State(app): State<Arc<App>>, req: Request| async move {
                match HReq::from_request(req).await {
                    Ok(r) => $f(app, r).await.unwrap_or_else(IntoResponse::into_response),
                    Err(e) => e.into_response(),
                }
            }
        };
    }
    Router::new()
        .route("/api_version", get(h!(api_version)))
        .route("/verify_access_key", get(h!(verify_access_key)))
        .route("/session_key", get(h!(session_key)))
        .route("/request_new_permissions", get(h!(request_new_permissions)))
        .route("/get_services", get(h!(get_services)))
        .route("/get_service", get(h!(get_service)))
        .route("/get_files/search_files", get(h!(search_files)))
        .route("/get_files/file_metadata", get(h!(file_metadata)))
        .route("/get_files/file", get(h!(file)))
        .route("/get_files/thumbnail", get(h!(thumbnail)))
        .route("/get_files/file_path", get(h!(file_path)))
        .route("/get_files/thumbnail_path", get(h!(thumbnail_path)))
        .route("/get_files/file_hashes", get(h!(file_hashes)))
        .route("/add_tags/add_tags", post(h!(add_tags)))
        .route("/add_tags/clean_tags", get(h!(clean_tags)))
        .route("/add_tags/search_tags", get(h!(search_tags)))
        .route("/add_tags/get_siblings_and_parents", get(h!(siblings_and_parents)))
        .route("/manage_file_relationships/get_potentials_count", get(h!(get_potentials_count)))
        .route("/manage_file_relationships/get_potential_pairs", get(h!(get_potential_pairs)))
        .route("/manage_file_relationships/get_file_relationships", get(h!(get_file_relationships)))
        .route("/manage_file_relationships/set_file_relationships", post(h!(set_file_relationships)))
        .route("/manage_file_relationships/remove_potentials", post(h!(remove_potentials)))
        .route("/manage_file_relationships/set_kings", post(h!(set_kings)))
        .route("/manage_pages/get_pages", get(h!(get_pages)))
        .route("/manage_popups/get_popups", get(h!(get_popups)))
        .route("/", any(unsupported))
        .fallback(unsupported)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::middleware::from_fn_with_state(app.clone(), conventions))
        .with_state(app)
}

async fn unsupported(req: Request) -> Response {
    HErr::not_found(format!(
        "{}: trove does not offer this Hydrus endpoint (docs/compat.md lists what it does)",
        req.uri().path()
    ))
    .into_response()
}

async fn wrong_method(req: Request) -> Response {
    HErr::new(StatusCode::METHOD_NOT_ALLOWED, format!("{} {}: wrong method", req.method(), req.uri().path()))
        .into_response()
}

/// The `Server` headers, CORS, and OPTIONS answers, around every request.
async fn conventions(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let origin = req.headers().contains_key(header::ORIGIN);
    let mut r = if req.method() == Method::OPTIONS {
        if app.cors {
            let mut r = Response::new(Body::empty());
            let h = r.headers_mut();
            h.insert("access-control-allow-headers", HeaderValue::from_static("*"));
            h.insert("access-control-allow-methods", HeaderValue::from_static("GET, POST, OPTIONS"));
            h.insert("access-control-max-age", HeaderValue::from_static("86400"));
            r
        } else if origin {
            HErr::new(
                StatusCode::UNAUTHORIZED,
                "CORS is off on this server: start `trove serve --cors` to let a browser client on another origin in",
            )
            .into_response()
        } else {
            let mut r = Response::new(Body::empty());
            r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, POST, OPTIONS"));
            r
        }
    } else {
        next.run(req).await
    };
    let h = r.headers_mut();
    h.insert(header::SERVER, HeaderValue::from_static(SERVER));
    h.insert("hydrus-server", HeaderValue::from_static(SERVER));
    h.insert("x-trove-version", HeaderValue::from_static(env!("CARGO_PKG_VERSION")));
    if app.cors && origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    r
}

async fn api_version(_app: Arc<App>, _r: HReq) -> HResult {
    Ok(answer(json!({ "trove_version": env!("CARGO_PKG_VERSION") })))
}

fn describe(name: &str, scope: Scope) -> Value {
    let perms = permissions_of(scope);
    let everything = scope == Scope::All;
    let what = if everything {
        "can do anything".to_string()
    } else {
        perms.iter().map(|&p| PERMISSIONS[p as usize]).collect::<Vec<_>>().join(", ")
    };
    json!({
        "name": name,
        "permits_everything": everything,
        "basic_permissions": perms,
        "human_description": format!("API Permissions ({name}): {what}"),
    })
}

async fn verify_access_key(app: Arc<App>, r: HReq) -> HResult {
    let who = authorize(&app, &r, Need::Any).await?;
    Ok(answer(describe(&who.name, who.scope)))
}

async fn session_key(app: Arc<App>, r: HReq) -> HResult {
    let who = authorize(&app, &r, Need::Any).await?;
    let key = crate::secret();
    let mut sessions = app.hydrus_sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    sessions.insert(key.clone(), Session { name: who.name, scope: who.scope, expires: Instant::now() + SESSION_TTL });
    Ok(answer(json!({ "session_key": key })))
}

async fn request_new_permissions(app: Arc<App>, r: HReq) -> HResult {
    let name = r.string("name")?.filter(|n| !n.trim().is_empty()).ok_or_else(|| HErr::bad("name: missing"))?;
    let everything = r.bool("permits_everything", false)?;
    let perms: Vec<u64> = r
        .int_list("basic_permissions")?
        .unwrap_or_default()
        .into_iter()
        .map(|p| u64::try_from(p).ok().filter(|&p| (p as usize) < PERMISSIONS.len()).ok_or(p))
        .collect::<Result<_, _>>()
        .map_err(|p| HErr::bad(format!("basic_permissions: {p} is not a Hydrus permission (0-13)")))?;
    let scope = scope_for(&perms, everything);
    let keys::Requested { name, key } = app
        .with_index(move |index| match keys::request(index, &name, scope) {
            Ok(x) => Ok(Ok(x)),
            // Hydrus answers 409 when it cannot take a request now.
            Err(e @ trove_core::Error::TooManyKeyRequests { .. }) => {
                Ok(Err(HErr::new(StatusCode::CONFLICT, e.to_string())))
            }
            Err(e) => Err(e),
        })
        .await??;
    (app.log)(&format!(
        "a Hydrus client asks for a key: {name} (scope {}); `trove keys approve {name}` lets it in",
        scope.as_str()
    ));
    Ok(answer(json!({ "access_key": key, "trove_key_name": name })))
}

fn service_json(key: &str, with_key: bool) -> Option<Value> {
    let (k, name, ty, pretty, _) = SERVICES.iter().find(|s| s.0 == key)?;
    let mut v = json!({"name": name, "type": ty, "type_pretty": pretty});
    if with_key {
        v["service_key"] = json!(k);
    }
    Some(v)
}

/// `services` (object by key) and `services_v2` (list), as in every answer that carries them.
fn services_objects(v: &mut Map<String, Value>) {
    let mut obj = Map::new();
    let mut list = Vec::new();
    for s in SERVICES {
        obj.insert(s.0.to_string(), service_json(s.0, false).unwrap_or(Value::Null));
        list.push(service_json(s.0, true).unwrap_or(Value::Null));
    }
    v.insert("services".into(), Value::Object(obj));
    v.insert("services_v2".into(), Value::Array(list));
}

async fn get_services(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Any).await?;
    let mut v = Map::new();
    for list in ["local_tags", "tag_repositories", "local_files", "local_updates", "file_repositories"] {
        v.insert(list.into(), json!([]));
    }
    for s in SERVICES {
        let entry = v.entry(s.4.to_string()).or_insert_with(|| json!([]));
        if let Some(a) = entry.as_array_mut() {
            a.push(service_json(s.0, true).unwrap_or(Value::Null));
        }
    }
    services_objects(&mut v);
    Ok(answer(Value::Object(v)))
}

async fn get_service(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Any).await?;
    let found = if let Some(name) = r.string("service_name")? {
        SERVICES.iter().find(|s| s.1 == name).ok_or_else(|| HErr::not_found(format!("{name:?}: no such service")))?
    } else if let Some(key) = r.string("service_key")? {
        let key = key.to_ascii_lowercase();
        SERVICES.iter().find(|s| s.0 == key).ok_or_else(|| HErr::not_found(format!("{key}: no such service key")))?
    } else {
        return Err(HErr::bad("service_name or service_key: missing"));
    };
    Ok(answer(json!({ "service": service_json(found.0, true) })))
}

// ---------------------------------------------------------------------------------------
// Tags: Hydrus's cleaning rules and display order.

/// A tag as Hydrus stores it: lower case, control characters dropped, runs of white space
/// one space, trimmed, no leading `-`, `namespace:subtag` with each side trimmed; a tag
/// whose text starts with `:` keeps an extra `:` in front. `None` when nothing is left.
pub(crate) fn clean_tag(raw: &str) -> Option<String> {
    let lower: String = raw.chars().take(1024).flat_map(char::to_lowercase).filter(|c| !c.is_control()).collect();
    let collapsed = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    let t = collapsed.trim_start_matches(['-', ' ']).trim();
    if t.is_empty() {
        return None;
    }
    if let Some(rest) = t.strip_prefix(':') {
        let rest = rest.trim();
        return (!rest.is_empty()).then(|| format!("::{rest}"));
    }
    match t.split_once(':') {
        Some((ns, sub)) => {
            let (ns, sub) = (ns.trim(), sub.trim());
            match (ns.is_empty(), sub.is_empty()) {
                (_, true) => None,
                _ if ns == "system" => Some(sub.to_string()),
                (true, false) => Some(format!("::{sub}")),
                (false, false) => Some(format!("{ns}:{sub}")),
            }
        }
        None => Some(t.to_string()),
    }
}

/// Hydrus's "human" order: runs of digits compare as numbers (`9` before `10`).
fn human_key(s: &str) -> Vec<(u8, u128, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut digits = false;
    let flush = |cur: &mut String, digits: bool, out: &mut Vec<(u8, u128, String)>| {
        if !cur.is_empty() {
            if digits {
                out.push((0, cur.parse().unwrap_or(u128::MAX), String::new()));
            } else {
                out.push((1, 0, std::mem::take(cur)));
            }
            cur.clear();
        }
    };
    for c in s.chars() {
        let d = c.is_ascii_digit();
        if d != digits {
            flush(&mut cur, digits, &mut out);
            digits = d;
        }
        cur.push(c);
    }
    flush(&mut cur, digits, &mut out);
    out
}

fn human_sort(v: &mut [String]) {
    v.sort_by(|a, b| human_key(a).cmp(&human_key(b)).then_with(|| a.cmp(b)));
}

fn tag_list(r: &HReq, name: &str) -> Result<Vec<Value>, HErr> {
    match r.json(name)? {
        Some(Value::Array(v)) => Ok(v),
        None => Err(HErr::bad(format!("{name}: missing"))),
        Some(other) => Err(HErr::bad(format!("{name}: expected a list, got {other}"))),
    }
}

async fn clean_tags(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Any).await?;
    let mut out: Vec<String> = tag_list(&r, "tags")?
        .iter()
        .map(|t| t.as_str().map(str::to_string).ok_or_else(|| HErr::bad(format!("tags: {t} is not a string"))))
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .filter_map(|t| clean_tag(t))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    human_sort(&mut out);
    Ok(answer(json!({ "tags": out })))
}

// ---------------------------------------------------------------------------------------
// Search: Hydrus's tag list, translated to trove's query language.

/// One converted search term.
enum Term {
    /// Matches every file (`system:everything`, `system:archive`).
    All,
    /// Matches no file (`system:inbox`: trove has no inbox).
    Nothing,
    Expr(Expr),
}

/// What a search asks for besides the terms.
#[derive(Default)]
struct SearchExtras {
    limit: Option<u64>,
}

fn pattern(tag: &str) -> NamePattern {
    let mut parts = Vec::new();
    for (i, lit) in tag.split('*').enumerate() {
        if i > 0 {
            parts.push(NamePart::Star);
        }
        if !lit.is_empty() {
            parts.push(NamePart::Literal(lit.to_string()));
        }
    }
    NamePattern { parts }
}

fn and(terms: Vec<Term>) -> Term {
    let mut v = Vec::new();
    for t in terms {
        match t {
            Term::Nothing => return Term::Nothing,
            Term::All => {}
            Term::Expr(e) => v.push(e),
        }
    }
    if v.is_empty() { Term::All } else { Term::Expr(Expr::And(v)) }
}

fn or(terms: Vec<Term>) -> Term {
    let mut v = Vec::new();
    for t in terms {
        match t {
            Term::All => return Term::All,
            Term::Nothing => {}
            Term::Expr(e) => v.push(e),
        }
    }
    if v.is_empty() { Term::Nothing } else { Term::Expr(Expr::Or(v)) }
}

fn convert(item: &Value, index: &Index, extras: &mut SearchExtras, depth: usize) -> Result<Term, HErr> {
    match item {
        Value::String(s) => convert_tag(s, index, extras),
        Value::Array(v) if depth == 0 => {
            let terms = v.iter().map(|x| convert(x, index, extras, depth + 1)).collect::<Result<Vec<_>, _>>()?;
            Ok(or(terms))
        }
        Value::Array(_) => Err(HErr::bad("tags: an OR group cannot hold another list")),
        other => Err(HErr::bad(format!("tags: {other} is neither a tag nor a list of tags"))),
    }
}

fn convert_tag(raw: &str, index: &Index, extras: &mut SearchExtras) -> Result<Term, HErr> {
    let t = raw.trim();
    if let Some(rest) = t.strip_prefix("system:") {
        return system_predicate(rest, raw, index, extras);
    }
    let (negated, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t),
    };
    let tag = clean_tag(body).ok_or_else(|| HErr::bad(format!("{raw:?}: could not understand the tag")))?;
    let e = Expr::Tag(pattern(&tag));
    Ok(Term::Expr(if negated { Expr::Not(Box::new(e)) } else { e }))
}

/// A comparison as Hydrus writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    About,
}

fn split_op(s: &str) -> Option<(Op, &str)> {
    let s = s.trim_start();
    const OPS: &[(&str, Op)] = &[
        ("≠", Op::Ne),
        ("!=", Op::Ne),
        ("is not", Op::Ne),
        ("isn't", Op::Ne),
        ("≤", Op::Le),
        ("<=", Op::Le),
        ("≥", Op::Ge),
        (">=", Op::Ge),
        ("≈", Op::About),
        ("~=", Op::About),
        ("is about", Op::About),
        ("about", Op::About),
        ("==", Op::Eq),
        ("=", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
        ("less than", Op::Lt),
        ("fewer than", Op::Lt),
        ("more than", Op::Gt),
        ("greater than", Op::Gt),
        ("is", Op::Eq),
    ];
    OPS.iter().find_map(|(w, op)| s.strip_prefix(w).map(|rest| (*op, rest.trim())))
}

/// `pred(op, n)` for a number comparison; `≈` is ±`slack` of `n`.
fn compare(op: Op, n: u64, slack: f64, pred: impl Fn(CmpOp, u64) -> Predicate) -> Term {
    let p = |o, n| Expr::Pred(pred(o, n));
    Term::Expr(match op {
        Op::Eq => p(CmpOp::Eq, n),
        Op::Ne => Expr::Not(Box::new(p(CmpOp::Eq, n))),
        Op::Lt => p(CmpOp::Lt, n),
        Op::Gt => p(CmpOp::Gt, n),
        Op::Le => p(CmpOp::Le, n),
        Op::Ge => p(CmpOp::Ge, n),
        Op::About => {
            let d = ((n as f64) * slack).round() as u64;
            Expr::And(vec![p(CmpOp::Ge, n.saturating_sub(d)), p(CmpOp::Le, n.saturating_add(d))])
        }
    })
}

fn number(s: &str, raw: &str) -> Result<u64, HErr> {
    s.trim().parse().map_err(|_| HErr::bad(format!("{raw:?}: {s:?} is not a whole number")))
}

/// Extensions per Hydrus filetype word (mime types, names and groups).
fn extensions_of(word: &str) -> Option<&'static [&'static str]> {
    const IMAGE: &[&str] = &["jpg", "jpeg", "png", "gif", "webp", "bmp", "tif", "tiff", "svg", "avif", "heic"];
    const VIDEO: &[&str] = &["mp4", "m4v", "webm", "mkv", "mov", "avi", "wmv", "flv", "mpg", "mpeg"];
    const AUDIO: &[&str] = &["mp3", "flac", "ogg", "oga", "opus", "wav", "m4a", "aac", "wma"];
    Some(match word {
        "image" | "images" => IMAGE,
        "video" | "videos" => VIDEO,
        "audio" => AUDIO,
        "animation" | "animations" => &["gif", "apng"],
        "application" | "applications" => &["pdf", "zip", "rar", "7z", "epub", "cbz", "swf"],
        "image/jpeg" | "image/jpg" | "jpeg" | "jpg" => &["jpg", "jpeg"],
        "image/png" | "png" => &["png"],
        "apng" | "image/apng" => &["apng"],
        "image/gif" | "gif" | "static gif" | "animated gif" => &["gif"],
        "image/webp" | "webp" | "animated webp" => &["webp"],
        "image/bmp" | "bmp" => &["bmp"],
        "image/tiff" | "tiff" => &["tif", "tiff"],
        "image/svg+xml" | "svg" => &["svg"],
        "video/mp4" | "mp4" => &["mp4", "m4v"],
        "video/webm" | "webm" => &["webm"],
        "video/x-matroska" | "mkv" | "matroska" => &["mkv"],
        "video/quicktime" | "mov" | "quicktime" => &["mov"],
        "audio/mpeg" | "audio/mp3" | "mp3" => &["mp3"],
        "audio/flac" | "flac" => &["flac"],
        "audio/ogg" | "ogg" => &["ogg", "oga"],
        "audio/opus" | "opus" => &["opus"],
        "audio/wav" | "audio/x-wav" | "wav" | "wave" => &["wav"],
        "audio/mp4" | "m4a" => &["m4a"],
        "application/pdf" | "pdf" => &["pdf"],
        "text/plain" | "txt" | "text" => &["txt"],
        _ => return None,
    })
}

fn ext_term(exts: &BTreeSet<&str>) -> Term {
    or(exts.iter().map(|e| Term::Expr(Expr::Pred(Predicate::Ext((*e).to_string())))).collect())
}

fn system_predicate(rest: &str, raw: &str, index: &Index, extras: &mut SearchExtras) -> Result<Term, HErr> {
    let p = rest.trim().to_lowercase();
    let p = p.split_whitespace().collect::<Vec<_>>().join(" ");
    let unsupported =
        |why: &str| Err(HErr::bad(format!("{raw:?}: {why} (docs/compat.md lists the system predicates trove maps)")));
    let after = |prefixes: &[&str]| prefixes.iter().find_map(|w| p.strip_prefix(w).map(str::trim));
    match p.as_str() {
        "everything" | "archive" | "archived" => return Ok(Term::All),
        "inbox" => return Ok(Term::Nothing),
        "has tags" => return Ok(Term::Expr(Expr::Pred(Predicate::TagCount(CmpOp::Gt, 0)))),
        "no tags" | "untagged" => return Ok(Term::Expr(Expr::Pred(Predicate::TagCount(CmpOp::Eq, 0)))),
        "has duration" | "no duration" => {
            let mut exts: BTreeSet<&str> = BTreeSet::new();
            for g in ["video", "audio", "animation"] {
                exts.extend(extensions_of(g).unwrap_or_default());
            }
            let t = ext_term(&exts);
            return Ok(match (p.as_str(), t) {
                ("has duration", t) => t,
                (_, Term::Expr(e)) => Term::Expr(Expr::Not(Box::new(e))),
                (_, _) => Term::All,
            });
        }
        _ => {}
    }
    if let Some(r) = after(&["file service"]) {
        // trove's files are all in "my files"; its trash is always empty; nothing is pending.
        let not = r.contains(" not ") || r.starts_with("is not") || r.starts_with("not ");
        let in_trash = r.contains("trash");
        let pending = r.contains("pending") || r.contains("petitioned");
        let holds = if pending { false } else { !in_trash };
        return Ok(if holds != not { Term::All } else { Term::Nothing });
    }
    if let Some(r) = after(&["limit"]) {
        let (op, n) = split_op(r).unwrap_or((Op::Eq, r));
        if op != Op::Eq {
            return unsupported("system:limit takes `= N`");
        }
        let n = number(n, raw)?;
        extras.limit = Some(extras.limit.map_or(n, |l| l.min(n)));
        return Ok(Term::All);
    }
    if let Some(r) = after(&["number of tags", "num tags", "num of tags"]) {
        let (op, n) = split_op(r).ok_or_else(|| HErr::bad(format!("{raw:?}: expected an operator and a number")))?;
        return Ok(compare(op, number(n, raw)?, 0.0, Predicate::TagCount));
    }
    if let Some(r) = after(&["filesize", "file size", "size"]) {
        let (op, n) = split_op(r).ok_or_else(|| HErr::bad(format!("{raw:?}: expected an operator and a size")))?;
        let digits_end = n.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(n.len());
        let (num, unit) = n.split_at(digits_end);
        let num: f64 = num.parse().map_err(|_| HErr::bad(format!("{raw:?}: {num:?} is not a number")))?;
        let mult: f64 = match unit.trim() {
            "b" | "byte" | "bytes" | "" => 1.0,
            "kb" | "kib" | "kilobyte" | "kilobytes" => 1024.0,
            "mb" | "mib" | "megabyte" | "megabytes" => 1024.0 * 1024.0,
            "gb" | "gib" | "gigabyte" | "gigabytes" => 1024.0 * 1024.0 * 1024.0,
            u => return Err(HErr::bad(format!("{raw:?}: {u:?} is not a size unit (B, KB, MB, GB)"))),
        };
        return Ok(compare(op, (num * mult).round() as u64, 0.05, Predicate::Size));
    }
    if let Some(r) = after(&["filetype", "file type", "mime"]) {
        let (op, list) = split_op(r).unwrap_or((Op::Eq, r));
        if !matches!(op, Op::Eq | Op::Ne) {
            return unsupported("system:filetype takes `=` or `is not` and a list of types");
        }
        let mut exts: BTreeSet<&str> = BTreeSet::new();
        for w in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let found =
                extensions_of(w).ok_or_else(|| HErr::bad(format!("{raw:?}: {w:?} is not a file type trove knows")))?;
            exts.extend(found);
        }
        let t = ext_term(&exts);
        return Ok(match (op, t) {
            (Op::Ne, Term::Expr(e)) => Term::Expr(Expr::Not(Box::new(e))),
            (Op::Ne, Term::Nothing) => Term::All,
            (_, t) => t,
        });
    }
    if let Some(r) = after(&["hash"]) {
        let (op, list) = split_op(r).unwrap_or((Op::Eq, r));
        let mut words: Vec<&str> = list.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        if let Some(last) = words.last()
            && last.chars().all(|c| c.is_ascii_alphanumeric())
            && last.len() < 8
        {
            if *last != "sha256" {
                return unsupported(&format!("trove keeps only SHA-256 hashes, not {last}"));
            }
            words.pop();
        }
        let mut blake: BTreeSet<String> = BTreeSet::new();
        for w in words {
            for rec in trove_core::ops::files::by_sha256(index, &parse_hash(w)?)? {
                blake.insert(rec.hash.to_hex());
            }
        }
        let t = or(blake.into_iter().map(|h| Term::Expr(Expr::Pred(Predicate::Hash(h)))).collect());
        return Ok(match (op, t) {
            (Op::Eq, t) => t,
            (Op::Ne, Term::Expr(e)) => Term::Expr(Expr::Not(Box::new(e))),
            (Op::Ne, _) => Term::All,
            _ => return unsupported("system:hash takes `=` or `!=`"),
        });
    }
    for (w, why) in [
        ("width", "trove keeps no image dimensions"),
        ("height", "trove keeps no image dimensions"),
        ("ratio", "trove keeps no image dimensions"),
        ("num pixels", "trove keeps no image dimensions"),
        ("duration", "trove keeps no media durations"),
        ("has audio", "trove does not know which files have audio"),
        ("no audio", "trove does not know which files have audio"),
        ("framerate", "trove keeps no frame rates"),
        ("num frames", "trove keeps no frame counts"),
        ("import time", "not mapped yet"),
        ("time imported", "not mapped yet"),
        ("modified date", "not mapped yet"),
        ("date modified", "not mapped yet"),
    ] {
        if p.starts_with(w) {
            return unsupported(why);
        }
    }
    unsupported("not a system predicate trove understands")
}

/// Record ids in the answer's order, each with its SHA-256 when asked for.
type Found = Vec<(FileId, Option<[u8; 32]>)>;

/// The search's answer: record ids in order (and their SHA-256 when asked).
fn run_search(index: &Index, r: &SearchArgs) -> trove_core::Result<Result<Found, HErr>> {
    let mut extras = SearchExtras::default();
    let terms = match r.tags.iter().map(|t| convert(t, index, &mut extras, 0)).collect::<Result<Vec<_>, _>>() {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let Term::Expr(mut expr) = (match (r.nothing, and(terms)) {
        (true, _) | (_, Term::Nothing) => return Ok(Ok(Vec::new())),
        (_, Term::All) => Term::Expr(Expr::And(Vec::new())),
        (_, t) => t,
    }) else {
        return Ok(Ok(Vec::new()));
    };
    // Sorts trove's query language has go into the query (with the limit after them);
    // the others are import order (record ids, which grow as files are indexed).
    let sort = match r.sort {
        0 => Some(SortKey::Size),
        4 => Some(SortKey::Random),
        14 => Some(SortKey::Mtime),
        _ => None,
    };
    let mut mods = Vec::new();
    if let Some(key) = sort {
        mods.push(Expr::Modifier(Modifier::Sort { key, reverse: !r.asc && key != SortKey::Random }));
        if let Some(l) = extras.limit {
            mods.push(Expr::Modifier(Modifier::Limit(l)));
        }
    }
    if !mods.is_empty() {
        expr = match expr {
            Expr::And(mut v) => {
                v.extend(mods);
                Expr::And(v)
            }
            e => {
                mods.insert(0, e);
                Expr::And(mods)
            }
        };
    }
    let text = expr.to_string();
    let query = trove_core::ops::find::Query::new(index, &text)?;
    let mut ids: Vec<FileId> = query.collect(index, None)?.into_iter().map(|rec| rec.id).collect();
    if sort.is_none() {
        ids.sort_unstable();
        if !r.asc {
            ids.reverse();
        }
        if let Some(l) = extras.limit {
            ids.truncate(usize::try_from(l).unwrap_or(usize::MAX));
        }
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let sha = if r.hashes { trove_core::ops::files::sha256_of(index, id)? } else { None };
        out.push((id, sha));
    }
    Ok(Ok(out))
}

struct SearchArgs {
    tags: Vec<Value>,
    /// The file domain is the trash (always empty in trove).
    nothing: bool,
    sort: i64,
    asc: bool,
    hashes: bool,
}

fn check_file_domain(r: &HReq) -> Result<bool, HErr> {
    let mut keys = Vec::new();
    for name in ["file_service_key", "deleted_file_service_key"] {
        if let Some(k) = r.string(name)? {
            keys.push((name, k));
        }
    }
    for name in ["file_service_keys", "deleted_file_service_keys"] {
        match r.json(name)? {
            None => {}
            Some(Value::Array(v)) => {
                for k in v {
                    keys.push((
                        name,
                        k.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| HErr::bad(format!("{name}: {k} is not a string")))?,
                    ));
                }
            }
            Some(other) => return Err(HErr::bad(format!("{name}: expected a list of service keys, got {other}"))),
        }
    }
    let mut nothing = !keys.is_empty();
    for (name, k) in keys {
        let k = k.to_ascii_lowercase();
        let deleted = name.starts_with("deleted");
        if ALL_FILE_DOMAINS.contains(&k.as_str()) {
            // trove never deletes a record through the API: no file is "deleted from" a domain.
            nothing &= deleted;
        } else if k != TRASH {
            return Err(HErr::bad(format!("{name}: {k} is not a file service (see /get_services)")));
        }
    }
    Ok(nothing)
}

fn check_tag_service(r: &HReq) -> Result<(), HErr> {
    if let Some(k) = r.string("tag_service_key")? {
        let k = k.to_ascii_lowercase();
        if k != MY_TAGS && k != ALL_TAGS {
            return Err(HErr::bad(format!("tag_service_key: {k} is not a tag service (see /get_services)")));
        }
    }
    Ok(())
}

async fn search_files(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Search).await?;
    let tags = match r.json("tags")? {
        None => Vec::new(),
        Some(Value::Array(v)) => v,
        Some(other) => return Err(HErr::bad(format!("tags: expected a list, got {other}"))),
    };
    let nothing = check_file_domain(&r)?;
    check_tag_service(&r)?;
    let sort = r.int("file_sort_type")?.unwrap_or(2);
    if !(0..=27).contains(&sort) {
        return Err(HErr::bad(format!("file_sort_type {sort}: Sorry, did not understand that sort type!")));
    }
    let args = SearchArgs {
        nothing,
        sort,
        asc: r.bool("file_sort_asc", true)?,
        hashes: r.bool("return_hashes", false)?,
        tags,
    };
    let want_ids = r.bool("return_file_ids", true)?;
    let want_hashes = args.hashes;
    if args.tags.is_empty() {
        // Hydrus: an empty search finds nothing (`system:everything` finds everything).
        let mut v = Map::new();
        if want_ids {
            v.insert("file_ids".into(), json!([]));
        }
        if want_hashes {
            v.insert("hashes".into(), json!([]));
        }
        return Ok(answer(Value::Object(v)));
    }
    let _slot =
        app.search_slots.acquire().await.map_err(|e| HErr::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let found = app.with_index(move |index| run_search(index, &args)).await??;
    let mut v = Map::new();
    if want_ids {
        v.insert("file_ids".into(), json!(found.iter().map(|(id, _)| id.0).collect::<Vec<_>>()));
    }
    if want_hashes {
        v.insert("hashes".into(), json!(found.iter().map(|(_, h)| h.map(|h| hex(&h))).collect::<Vec<_>>()));
    }
    Ok(answer(Value::Object(v)))
}

// ---------------------------------------------------------------------------------------
// Files.

/// Hydrus's filetype number and name for a mime type trove guessed from the extension.
fn hydrus_filetype(mime: &str) -> (u32, &'static str) {
    match mime {
        "image/jpeg" => (1, "jpeg"),
        "image/png" => (2, "png"),
        "image/gif" => (68, "static gif"),
        "image/webp" => (33, "webp"),
        "image/svg+xml" => (56, "svg"),
        "video/mp4" => (14, "mp4"),
        "video/webm" => (21, "webm"),
        "video/x-matroska" => (20, "matroska"),
        "video/quicktime" => (26, "quicktime"),
        "audio/mpeg" => (13, "mp3"),
        "audio/ogg" => (15, "ogg"),
        "audio/flac" => (16, "flac"),
        "application/pdf" => (10, "pdf"),
        m if m.starts_with("text/plain") => (30, "plaintext"),
        _ => (101, "unknown filetype"),
    }
}

/// A file's mime type without parameters.
fn plain_mime(rec: &FileRecord) -> &'static str {
    let m = mime_for(&rec.path);
    if m.starts_with("text/plain") { "text/plain" } else { m }
}

struct MetaRow {
    rec: FileRecord,
    sha: Option<[u8; 32]>,
    /// What trove's extractors read from the content (dimensions, duration, sniffed type).
    meta: Option<trove_core::meta::Meta>,
    /// (lower-cased name, implied)
    tags: Vec<(String, bool)>,
}

fn tags_json(tags: &[(String, bool)], service: &str) -> Value {
    let mut storage: Vec<String> = tags.iter().filter(|t| !t.1).map(|t| t.0.clone()).collect();
    let mut display: Vec<String> = tags.iter().map(|t| t.0.clone()).collect();
    human_sort(&mut storage);
    human_sort(&mut display);
    storage.dedup();
    display.dedup();
    let status = |v: Vec<String>| if v.is_empty() { json!({}) } else { json!({ "0": v }) };
    let mut s = service_json(service, false).unwrap_or_else(|| json!({}));
    s["storage_tags"] = status(storage);
    s["display_tags"] = status(display);
    s
}

fn meta_json(m: &MetaRow, identifiers: bool, basic: bool) -> Value {
    let rec = &m.rec;
    let mut v = json!({ "file_id": rec.id.0, "hash": m.sha.map(|h| hex(&h)) });
    if identifiers {
        return v;
    }
    let meta = m.meta.as_ref();
    let sniffed = meta.and_then(|x| x.mime.as_deref()).filter(|x| hydrus_filetype(x).0 != 101);
    let mime = sniffed.unwrap_or_else(|| plain_mime(rec));
    let (enum_, human) = hydrus_filetype(mime);
    let ext = rec.path.extension().map(|e| format!(".{}", e.to_string_lossy().to_lowercase())).unwrap_or_default();
    let more = json!({
        "size": rec.stat.size,
        "mime": mime,
        "filetype_forced": false,
        "filetype_human": human,
        "filetype_enum": enum_,
        "ext": ext,
        "width": meta.and_then(|x| x.width),
        "height": meta.and_then(|x| x.height),
        "duration": meta.and_then(|x| x.duration_ms),
        "has_audio": meta.and_then(|x| x.has_audio).unwrap_or(false),
        "num_frames": null,
        "num_words": null,
    });
    merge(&mut v, more);
    if basic {
        return v;
    }
    let mtime = rec.stat.mtime_ns.div_euclid(1_000_000_000);
    let mut current = Map::new();
    for k in ALL_FILE_DOMAINS {
        let mut s = service_json(k, false).unwrap_or_else(|| json!({}));
        s["time_imported"] = json!(rec.added_at);
        current.insert((*k).to_string(), s);
    }
    let present = rec.state == FileState::Present;
    let more = json!({
        "time_modified": mtime,
        "time_modified_details": { "local": mtime },
        "file_services": { "current": current, "deleted": {} },
        "ipfs_multihashes": {},
        "is_inbox": false,
        "is_local": present,
        "is_trashed": false,
        "is_deleted": false,
        "has_exif": false,
        "has_xmp": false,
        "has_iptc": false,
        "has_human_readable_embedded_metadata": false,
        "has_software_source": false,
        "has_icc_profile": false,
        "has_transparency": false,
        "blurhash": null,
        "pixel_hash": null,
        "known_urls": [],
        "ratings": {},
        "tags": { MY_TAGS: tags_json(&m.tags, MY_TAGS), ALL_TAGS: tags_json(&m.tags, ALL_TAGS) },
        "file_viewing_statistics": [],
        "trove_state": rec.state.as_str(),
    });
    merge(&mut v, more);
    v
}

fn merge(v: &mut Value, more: Value) {
    if let (Some(a), Value::Object(b)) = (v.as_object_mut(), more) {
        a.extend(b);
    }
}

/// One requested file: a record, or a hash trove has never seen.
enum Wanted {
    Row(Box<MetaRow>),
    UnknownHash([u8; 32]),
}

async fn file_metadata(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Search).await?;
    let ids = r.file_ids()?;
    let hashes = r.hashes()?;
    if ids.is_none() && hashes.is_none() {
        return Err(HErr::bad("file_id, file_ids, hash or hashes: missing"));
    }
    let identifiers = r.bool("only_return_identifiers", false)?;
    let basic = r.bool("only_return_basic_information", false)?;
    let services = r.bool("include_services_object", true)?;
    let rows = app
        .with_index(move |index| {
            let row = |rec: FileRecord| -> trove_core::Result<MetaRow> {
                let sha = trove_core::ops::files::sha256_of(index, rec.id)?;
                let meta = if identifiers { None } else { trove_core::ops::meta::get(index, rec.id)?.map(|s| s.meta) };
                let tags = if identifiers || basic {
                    Vec::new()
                } else {
                    trove_core::ops::files::tags_of(index, rec.id)?
                        .into_iter()
                        .map(|t| (trove_core::model::fold(&t.name), t.implied))
                        .collect()
                };
                Ok(MetaRow { rec, sha, meta, tags })
            };
            let mut out = Vec::new();
            for id in ids.unwrap_or_default() {
                match trove_core::ops::files::get(index, id)? {
                    Some(rec) => out.push(Wanted::Row(Box::new(row(rec)?))),
                    None => return Ok(Err(HErr::not_found(format!("file id {}: no such file", id.0)))),
                }
            }
            for h in hashes.unwrap_or_default() {
                match trove_core::ops::files::by_sha256(index, &h)?.into_iter().next() {
                    Some(rec) => out.push(Wanted::Row(Box::new(row(rec)?))),
                    None => out.push(Wanted::UnknownHash(h)),
                }
            }
            Ok(Ok(out))
        })
        .await??;
    let meta: Vec<Value> = rows
        .iter()
        .map(|w| match w {
            Wanted::Row(m) => meta_json(m, identifiers, basic),
            Wanted::UnknownHash(h) => json!({ "file_id": null, "hash": hex(h) }),
        })
        .collect();
    let mut v = Map::new();
    v.insert("metadata".into(), Value::Array(meta));
    if services {
        services_objects(&mut v);
    }
    Ok(answer(Value::Object(v)))
}

/// The one record a `file_id` or `hash` names (a hash: its present record with the
/// lowest id).
async fn one_file(app: &Arc<App>, r: &HReq) -> Result<FileRecord, HErr> {
    let id = r.int("file_id")?;
    let hash = match r.string("hash")? {
        Some(h) => Some(parse_hash(&h)?),
        None => None,
    };
    match (id, hash) {
        (Some(_), Some(_)) => Err(HErr::bad("give file_id or hash, not both")),
        (None, None) => Err(HErr::bad("file_id or hash: missing")),
        (Some(id), None) => {
            let rec = app.with_index(move |index| trove_core::ops::files::get(index, FileId(id))).await?;
            rec.ok_or_else(|| HErr::not_found(format!("file id {id}: no such file")))
        }
        (None, Some(h)) => {
            let recs = app.with_index(move |index| trove_core::ops::files::by_sha256(index, &h)).await?;
            recs.into_iter().next().ok_or_else(|| HErr::not_found(format!("{}: no file has this hash", hex(&h))))
        }
    }
}

fn present(rec: &FileRecord) -> Result<(), HErr> {
    if rec.state == FileState::Present {
        Ok(())
    } else {
        Err(HErr::not_found(format!("file id {}: the file is {} (its record is kept)", rec.id.0, rec.state.as_str())))
    }
}

async fn file(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Search).await?;
    let download = r.bool("download", false)?;
    let rec = one_file(&app, &r).await?;
    present(&rec)?;
    let range = r.header(header::RANGE.as_str()).map(str::to_string);
    let mut resp = content_response(&rec, range.as_deref()).await?;
    let name =
        rec.path.file_name().map(|n| n.to_string_lossy().replace(['"', '\\', '\r', '\n'], "_")).unwrap_or_default();
    let disp = format!("{}; filename=\"{name}\"", if download { "attachment" } else { "inline" });
    if let Ok(v) = HeaderValue::from_str(&disp) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

async fn thumbnail(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Search).await?;
    let rec = one_file(&app, &r).await?;
    Ok(thumbnail_response(&app, rec).await?)
}

async fn file_path(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Paths).await?;
    let rec = one_file(&app, &r).await?;
    present(&rec)?;
    Ok(answer(json!({
        "path": String::from_utf8_lossy(rec.path_bytes()),
        "filetype": plain_mime(&rec),
        "size": rec.stat.size,
    })))
}

async fn thumbnail_path(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Paths).await?;
    let rec = one_file(&app, &r).await?;
    let app2 = app.clone();
    let rec2 = rec.clone();
    let _slot =
        app.thumb_slots.acquire().await.map_err(|e| HErr::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let out = tokio::task::spawn_blocking(move || app2.thumbs.make(&rec2))
        .await
        .map_err(|e| HErr::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    match out {
        crate::ThumbOutcome::Made(_) | crate::ThumbOutcome::Cached(_) => {
            let p = app.thumbs.cache_path(&rec);
            let mut v = json!({ "path": p.to_string_lossy() });
            if r.bool("include_thumbnail_filetype", false)? {
                v["filetype"] = json!("image/jpeg");
            }
            Ok(answer(v))
        }
        crate::ThumbOutcome::Icon { .. } => Err(HErr::not_found(format!(
            "file id {}: trove makes no thumbnail for this type (get_files/thumbnail answers its type icon)",
            rec.id.0
        ))),
    }
}

async fn file_hashes(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Search).await?;
    for name in ["source_hash_type", "desired_hash_type"] {
        if let Some(t) = r.string(name)?
            && t != "sha256"
        {
            return Err(HErr::bad(format!("{name}={t:?}: trove keeps only sha256")));
        }
    }
    let hashes = r.hashes()?.ok_or_else(|| HErr::bad("hash or hashes: missing"))?;
    let known = app
        .with_index(move |index| {
            let mut out = Map::new();
            for h in hashes {
                if !trove_core::ops::files::by_sha256(index, &h)?.is_empty() {
                    out.insert(hex(&h), json!(hex(&h)));
                }
            }
            Ok(out)
        })
        .await?;
    Ok(answer(json!({ "hashes": known })))
}

// ---------------------------------------------------------------------------------------
// Tag edits and tag lookups.

async fn add_tags(app: Arc<App>, r: HReq) -> HResult {
    let who = authorize(&app, &r, Need::EditTags).await?;
    let ids = r.file_ids()?;
    let hashes = r.hashes()?;
    if ids.is_none() && hashes.is_none() {
        return Err(HErr::bad("file_id, file_ids, hash or hashes: missing"));
    }
    let mut add: Vec<String> = Vec::new();
    let mut del: Vec<String> = Vec::new();
    let names = |v: &Value, what: &str| -> Result<Vec<String>, HErr> {
        let list = v.as_array().ok_or_else(|| HErr::bad(format!("{what}: expected a list of tags, got {v}")))?;
        Ok(list.iter().filter_map(Value::as_str).filter_map(clean_tag).collect())
    };
    let check_service = |k: &str| -> Result<(), HErr> {
        match k.to_ascii_lowercase().as_str() {
            MY_TAGS => Ok(()),
            ALL_TAGS => {
                Err(HErr::bad(format!("{k}: \"all known tags\" cannot be edited; use \"my tags\" ({MY_TAGS})")))
            }
            other => Err(HErr::bad(format!("{other}: not a tag service trove has (see /get_services)"))),
        }
    };
    let mut any = false;
    if let Some(v) = r.json("service_keys_to_tags")? {
        any = true;
        let m = v.as_object().ok_or_else(|| HErr::bad("service_keys_to_tags: expected an object"))?;
        for (k, tags) in m {
            check_service(k)?;
            add.extend(names(tags, "service_keys_to_tags")?);
        }
    }
    if let Some(v) = r.json("service_keys_to_actions_to_tags")? {
        any = true;
        let m = v.as_object().ok_or_else(|| HErr::bad("service_keys_to_actions_to_tags: expected an object"))?;
        for (k, actions) in m {
            check_service(k)?;
            let actions = actions
                .as_object()
                .ok_or_else(|| HErr::bad("service_keys_to_actions_to_tags: expected an object of actions"))?;
            for (action, tags) in actions {
                match action.as_str() {
                    "0" => add.extend(names(tags, "action 0")?),
                    "1" => del.extend(names(tags, "action 1")?),
                    a => {
                        return Err(HErr::bad(format!(
                            "action {a}: a local tag service takes only 0 (add) and 1 (delete)"
                        )));
                    }
                }
            }
        }
    }
    if !any {
        return Err(HErr::bad("service_keys_to_tags or service_keys_to_actions_to_tags: missing"));
    }
    let source = who.source();
    app.with_index(move |index| {
        let mut targets: Vec<FileId> = Vec::new();
        for id in ids.unwrap_or_default() {
            if trove_core::ops::files::get(index, id)?.is_none() {
                return Ok(Err(HErr::not_found(format!("file id {}: no such file", id.0))));
            }
            targets.push(id);
        }
        // A hash names every record with that content (several paths, one Hydrus file);
        // a hash trove has never seen is ignored, as Hydrus's edits fail silently.
        for h in hashes.unwrap_or_default() {
            targets.extend(trove_core::ops::files::by_sha256(index, &h)?.into_iter().map(|rec| rec.id));
        }
        targets.sort_unstable();
        targets.dedup();
        if targets.is_empty() {
            return Ok(Ok(()));
        }
        if !add.is_empty() {
            trove_core::ops::tagging::tag_ids(index, &targets, &add, &source)?;
        }
        if !del.is_empty() {
            trove_core::ops::tagging::untag_ids(index, &targets, &del, None)?;
        }
        Ok(Ok(()))
    })
    .await??;
    Ok(empty())
}

async fn search_tags(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Search).await?;
    let search = r.string("search")?.ok_or_else(|| HErr::bad("search: missing"))?;
    check_tag_service(&r)?;
    check_file_domain(&r)?;
    let display = match r.string("tag_display_type")?.as_deref() {
        None | Some("storage") => false,
        Some("display") => true,
        Some(other) => return Err(HErr::bad(format!("tag_display_type={other:?}: storage or display"))),
    };
    let trimmed = search.trim();
    let (inclusive, text) = match trimmed.strip_prefix('-') {
        Some(t) => (false, t),
        None => (true, trimmed),
    };
    let cleaned = clean_tag(text.trim_end_matches('*')).unwrap_or_default();
    let mut v = Map::new();
    v.insert("autocomplete_text".into(), json!({ "search_text": text, "inclusive": inclusive }));
    if cleaned.is_empty() {
        v.insert("tags".into(), json!([]));
        return Ok(answer(Value::Object(v)));
    }
    // Hydrus completes the whole tag or its subtag: `metr` finds `series:metroid`.
    let mut patterns = vec![format!("{cleaned}*")];
    if !cleaned.contains(':') {
        patterns.push(format!("*:{cleaned}*"));
    }
    let tags = app
        .with_index(move |index| {
            let mut all = Vec::new();
            for p in &patterns {
                all.extend(trove_core::ops::tags::list(index, Some(p), true)?);
            }
            all.sort_by_key(|t| t.id);
            all.dedup_by_key(|t| t.id);
            Ok(all)
        })
        .await?;
    let mut out: Vec<(String, u64)> = tags
        .into_iter()
        .map(|t| (trove_core::model::fold(&t.name), if display { t.with_implied } else { t.files }))
        .filter(|t| t.1 > 0)
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| human_key(&a.0).cmp(&human_key(&b.0))));
    out.truncate(MAX_TAG_ANSWERS);
    v.insert("tags".into(), json!(out.iter().map(|(n, c)| json!({"value": n, "count": c})).collect::<Vec<_>>()));
    Ok(answer(Value::Object(v)))
}

async fn siblings_and_parents(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Any).await?;
    let tags: Vec<String> = tag_list(&r, "tags")?.iter().filter_map(Value::as_str).filter_map(clean_tag).collect();
    let found = app
        .with_index(move |index| {
            let mut out = Map::new();
            for t in tags {
                let entry = match trove_core::ops::tags::show(index, &t) {
                    Ok(d) => {
                        let mut siblings: Vec<String> =
                            d.tag.aliases.iter().map(|n| trove_core::model::fold(&n.name)).collect();
                        siblings.push(trove_core::model::fold(&d.tag.name));
                        siblings.sort();
                        siblings.dedup();
                        json!({
                            "ideal_tag": trove_core::model::fold(&d.tag.name),
                            "siblings": siblings,
                            "descendants": d.children.iter().map(|n| trove_core::model::fold(n)).collect::<Vec<_>>(),
                            "ancestors": d.implies.iter().map(|n| trove_core::model::fold(n)).collect::<Vec<_>>(),
                        })
                    }
                    Err(trove_core::Error::UnknownTag(_)) => {
                        json!({"ideal_tag": t, "siblings": [t], "descendants": [], "ancestors": []})
                    }
                    Err(e) => return Err(e),
                };
                out.insert(t, json!({ MY_TAGS: entry.clone(), ALL_TAGS: entry }));
            }
            Ok(out)
        })
        .await?;
    let mut v = Map::new();
    v.insert("tags".into(), Value::Object(found));
    services_objects(&mut v);
    Ok(answer(Value::Object(v)))
}

/// Hydrui asks for the client's pages at start; trove has none: an empty top notebook.
async fn get_pages(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Any).await?;
    Ok(answer(json!({"pages": {
        "name": "top pages notebook", "page_key": "00".repeat(32), "page_state": 0, "page_type": 10,
        "is_media_page": false, "selected": true, "pages": []
    }})))
}

async fn get_popups(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Any).await?;
    Ok(answer(json!({ "job_statuses": [] })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_cleaned_as_hydrus_cleans_them() {
        let raw = [
            " bikini ",
            "blue    eyes",
            " character : space bounty hunter ",
            ":)",
            "   ",
            "",
            "10",
            "11",
            "9",
            "system:wew",
            "-flower",
            "Character:Samus  Aran",
        ];
        let mut v: Vec<String> = raw.iter().filter_map(|t| clean_tag(t)).collect::<BTreeSet<_>>().into_iter().collect();
        human_sort(&mut v);
        assert_eq!(
            v,
            [
                "9",
                "10",
                "11",
                "::)",
                "bikini",
                "blue eyes",
                "character:samus aran",
                "character:space bounty hunter",
                "flower",
                "wew"
            ]
        );
    }

    #[test]
    fn scopes_map_onto_hydrus_permissions() {
        assert_eq!(scope_for(&[3], false), Scope::Read);
        assert_eq!(scope_for(&[3, 13], false), Scope::Read);
        assert_eq!(scope_for(&[2, 3], false), Scope::Tag);
        assert_eq!(scope_for(&[0, 3], false), Scope::All);
        assert_eq!(scope_for(&[], true), Scope::All);
        assert_eq!(permissions_of(Scope::All).len(), 14);
    }

    #[test]
    fn operators_parse_longest_first() {
        assert_eq!(split_op("<= 5").map(|x| x.0), Some(Op::Le));
        assert_eq!(split_op("is not 5").map(|x| x.0), Some(Op::Ne));
        assert_eq!(split_op("~= 5").map(|x| x.0), Some(Op::About));
        assert_eq!(split_op("more than 5"), Some((Op::Gt, "5")));
    }
}
