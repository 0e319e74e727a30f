//! Who is asking: the UI's session (cookie + CSRF header) or an API key (Bearer header or
//! `?key=`), and whether the `Host` header is one we answer to.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use trove_core::Source;
use trove_core::ops::keys::{self, Scope};

use crate::App;
use crate::api::ApiError;

pub(crate) const SESSION_COOKIE: &str = "trove_session";
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// Whether `host` (the `Host` header) names this server without a DNS name an attacker
/// could point at us: loopback names, IP literals, or names given with `--host`.
pub(crate) fn host_allowed(app: &App, host: &str) -> bool {
    let host = host.trim().to_ascii_lowercase();
    // Split off the port; an IPv6 literal is bracketed.
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, tail)) => (ip.to_string(), tail.strip_prefix(':').map(str::to_string)),
            None => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((n, p)) => (n.to_string(), Some(p.to_string())),
            None => (host.clone(), None),
        }
    };
    if let Some(p) = &port
        && !p.parse::<u16>().is_ok_and(|p| app.ports.contains(&p))
    {
        return false;
    }
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok() || app.hosts.contains(&name)
}

/// Refuses requests whose `Host` is not ours (DNS rebinding).
pub(crate) async fn check_host(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if !host_allowed(&app, host) {
        return (StatusCode::MISDIRECTED_REQUEST, "this server does not answer to that Host name\n").into_response();
    }
    next.run(req).await
}

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        v.split(';').find_map(|kv| {
            let (k, val) = kv.trim().split_once('=')?;
            (k == name).then(|| val.to_string())
        })
    })
}

/// The CSRF token of the request's session, if it carries a live one.
pub(crate) fn session(app: &App, headers: &HeaderMap) -> Option<String> {
    let id = cookie(headers, SESSION_COOKIE)?;
    let sessions = app.sessions.lock().ok()?;
    sessions.iter().find(|(k, _)| keys::constant_time_eq(k.as_bytes(), id.as_bytes())).map(|(_, csrf)| csrf.clone())
}

/// Who is calling: the method, the headers and a `?key=` from the URL, taken from every
/// API request so each handler asks only `caller.allow(&app, scope)`.
pub(crate) struct Caller {
    method: Method,
    headers: HeaderMap,
    key: Option<String>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query: Option<std::collections::HashMap<String, String>> =
            axum::extract::Query::try_from_uri(&parts.uri).ok().map(|q| q.0);
        Ok(Caller {
            method: parts.method.clone(),
            headers: parts.headers.clone(),
            key: query.and_then(|mut q| q.remove("key")),
        })
    }
}

impl Caller {
    /// The request's headers (a `Range`, say).
    pub(crate) fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Authorises the request for `need`; returns the source its writes are recorded as.
    pub(crate) async fn allow(&self, app: &Arc<App>, need: Scope) -> Result<Source, ApiError> {
        authorize(app, &self.method, &self.headers, self.key.as_deref(), need).await
    }
}

/// Authorises a request that needs `need`; returns the source its writes are recorded as.
pub(crate) async fn authorize(
    app: &Arc<App>,
    method: &Method,
    headers: &HeaderMap,
    query_key: Option<&str>,
    need: Scope,
) -> Result<Source, ApiError> {
    if let Some(csrf) = session(app, headers) {
        if method != Method::GET && method != Method::HEAD {
            let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !keys::constant_time_eq(sent.as_bytes(), csrf.as_bytes()) {
                return Err(ApiError::new(StatusCode::FORBIDDEN, "missing or wrong CSRF token"));
            }
        }
        return Ok(Source::Api("web".into()));
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::to_string);
    let Some(key) = bearer.or_else(|| query_key.map(str::to_string)) else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "an API key is needed (Authorization: Bearer KEY)"));
    };
    let info = app.with_index(move |index| keys::verify(index, &key)).await?;
    let Some(info) = info else {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "unknown API key"));
    };
    if !info.scope.allows(need) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("the key {} has the scope {}; this needs {}", info.name, info.scope.as_str(), need.as_str()),
        ));
    }
    Ok(Source::Api(info.name))
}
