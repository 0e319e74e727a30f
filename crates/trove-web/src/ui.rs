//! The browser UI: one page and two assets, embedded in the binary. `/?token=T` trades the
//! one-time token printed at start for a session cookie (HttpOnly, SameSite=Strict) and
//! redirects to `/`; the page carries the session's CSRF token in a meta tag.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use trove_core::ops::keys::constant_time_eq;

use crate::App;
use crate::auth::{SESSION_COOKIE, session};

const PAGE: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/style.css");

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/assets/app.js", get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }))
        .route("/assets/style.css", get(|| async { asset(STYLE, "text/css; charset=utf-8") }))
        .with_state(app)
}

fn asset(body: &'static str, ctype: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

fn security_headers(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; media-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

async fn page(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(t) = q.get("token") {
        let ok = {
            let mut tok = app.token.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match tok.as_deref() {
                Some(expected) if constant_time_eq(expected.as_bytes(), t.as_bytes()) => {
                    *tok = None;
                    true
                }
                _ => false,
            }
        };
        if !ok {
            return (
                StatusCode::FORBIDDEN,
                Html("<!doctype html><title>trove</title><p>This link was already used or is wrong. Restart <code>trove serve</code> for a new one.</p>"),
            )
                .into_response();
        }
        let id = crate::secret();
        let csrf = crate::secret();
        if let Ok(mut s) = app.sessions.lock() {
            s.insert(id.clone(), csrf);
        }
        (app.log)("a browser session started");
        let mut r = (StatusCode::SEE_OTHER, "").into_response();
        r.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/"));
        let c = format!("{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/");
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().insert(header::SET_COOKIE, v);
        }
        return r;
    }
    let Some(csrf) = session(&app, &headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            Html("<!doctype html><title>trove</title><p>Open the link that <code>trove serve</code> printed (it carries a one-time token).</p>"),
        )
            .into_response();
    };
    let mut r = Html(PAGE.replace("{{CSRF}}", &csrf)).into_response();
    security_headers(&mut r);
    r
}
