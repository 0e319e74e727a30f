//! Duplicates in the UI and the JSON API: the groups to review (exact copies and similar
//! images, undecided first), one group's members side by side, and the decisions and tag
//! merges of `trove dupes mark` / `merge-tags` through the same core operations.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use trove_core::FileId;
use trove_core::ops::dupes::{self, Decision, GroupKey, ReviewGroup};
use trove_core::ops::keys::Scope;

use crate::App;
use crate::api::{ApiError, body, mime_for, record_json};
use crate::auth::Caller;

/// The most groups one page of the list returns.
const MAX_PAGE: usize = 200;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/dupes", get(list))
        .route("/api/v1/dupes/{group}", get(show))
        .route("/api/v1/dupes/{group}/mark", post(mark))
        .route("/api/v1/dupes/{group}/merge-tags", post(merge_tags))
}

/// `distance=N` (0 to 24, default [`trove_core::similar::DEFAULT_DISTANCE`]).
fn distance(p: &HashMap<String, String>) -> Result<u32, ApiError> {
    match p.get("distance") {
        None => Ok(trove_core::similar::DEFAULT_DISTANCE),
        Some(d) => match d.parse::<u32>() {
            Ok(n) if n <= 24 => Ok(n),
            _ => Err(ApiError::bad(format!("distance={d:?}: not a number of bits from 0 to 24"))),
        },
    }
}

fn group_key(s: &str) -> Result<GroupKey, ApiError> {
    s.parse::<GroupKey>().map_err(ApiError::not_found)
}

fn kind(g: &ReviewGroup) -> &'static str {
    match g.key {
        GroupKey::Exact(_) => "exact",
        GroupKey::Similar(_) => "similar",
    }
}

/// What a group's list entry and page share.
fn summary_json(g: &ReviewGroup) -> Value {
    json!({
        "id": g.key.to_string(),
        "kind": kind(g),
        "files": g.members.len(),
        "size": g.members.iter().map(|m| m.record.stat.size).max().unwrap_or(0),
        "wasted": g.wasted,
        "pairs": g.pairs,
        "undecided": g.undecided,
        "decision": g.decision().map(Decision::as_str),
    })
}

/// `GET /api/v1/dupes?offset=N&limit=N&distance=N`: the groups to review, undecided first,
/// with counts over all of them.
async fn list(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    caller.allow(&app, Scope::Read).await?;
    let d = distance(&p)?;
    let number = |k: &str, default: usize| match p.get(k) {
        None => Ok(default),
        Some(v) => v.parse::<usize>().map_err(|_| ApiError::bad(format!("{k}={v:?}: not a number"))),
    };
    let offset = number("offset", 0)?;
    let limit = number("limit", 50)?.clamp(1, MAX_PAGE);
    let groups = app.with_index(move |index| dupes::review(index, d)).await?;
    let count = |f: &dyn Fn(&ReviewGroup) -> bool| groups.iter().filter(|g| f(g)).count();
    let page: Vec<Value> = groups
        .iter()
        .skip(offset)
        .take(limit)
        .map(|g| {
            let mut v = summary_json(g);
            // A few members for the list's thumbnails.
            v["members"] = json!(
                g.members
                    .iter()
                    .take(4)
                    .map(|m| json!({"id": m.record.id.0,
                                    "name": m.record.path.file_name().map(|n| n.to_string_lossy().into_owned())}))
                    .collect::<Vec<_>>()
            );
            v
        })
        .collect();
    let next = (offset + limit < groups.len()).then_some(offset + limit);
    Ok(axum::Json(json!({
        "groups": page,
        "total": groups.len(),
        "exact": count(&|g| matches!(g.key, GroupKey::Exact(_))),
        "similar": count(&|g| matches!(g.key, GroupKey::Similar(_))),
        "undecided": count(&|g| g.undecided > 0),
        "distance": d,
        "next_offset": next,
    }))
    .into_response())
}

/// `GET /api/v1/dupes/GROUP`: the members with what the comparison shows (dimensions,
/// size, dates, path, tags, which one the keep rule keeps) and the decisions between them.
async fn show(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(group): Path<String>,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    caller.allow(&app, Scope::Read).await?;
    let key = group_key(&group)?;
    let d = distance(&p)?;
    let (g, tags) = app
        .with_index(move |index| {
            let Some(g) = dupes::review_group(index, key, d)? else { return Ok(None) };
            let mut tags = Vec::new();
            for m in &g.members {
                tags.push(trove_core::ops::files::tags_of(index, m.record.id)?);
            }
            Ok(Some((g, tags)))
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{group}: no such group of duplicates now")))?;
    let files: Vec<Value> = g
        .members
        .iter()
        .zip(&tags)
        .enumerate()
        .map(|(i, (m, tags))| {
            let mut v = record_json(&m.record);
            v["keep"] = json!(i == g.keep);
            v["width"] = json!(m.width);
            v["height"] = json!(m.height);
            v["mime"] = json!(mime_for(&m.record.path));
            v["exists"] = json!(std::fs::symlink_metadata(&m.record.path).is_ok_and(|x| x.is_file()));
            if let Some(ds) = &g.distances {
                v["distance"] = json!(ds[i]);
            }
            v["tags"] = crate::api::tags_json(tags);
            v
        })
        .collect();
    let mut v = summary_json(&g);
    v["keep"] = json!(g.keep);
    v["distance"] = json!(d);
    v["members"] = json!(files);
    v["decisions"] = json!(
        g.decided.iter().map(|(a, b, x)| json!({"a": a.0, "b": b.0, "decision": x.as_str()})).collect::<Vec<_>>()
    );
    Ok(axum::Json(v).into_response())
}

/// `{"decision": "same" | "alternate" | "not-duplicate" | "undecided", "files": [ids]}`;
/// without `files`, every member of the group.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkBody {
    decision: String,
    #[serde(default)]
    files: Option<Vec<i64>>,
    #[serde(default)]
    distance: Option<u32>,
}

/// `{"files": [ids]}`, optional; without it, every member of the group.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MergeBody {
    #[serde(default)]
    files: Option<Vec<i64>>,
    #[serde(default)]
    distance: Option<u32>,
}

/// The members `files` names (all of the group's without it). The UI names the members it
/// showed: groups of similar images are connected components, so a file indexed since can
/// join a group to another, and a click must act only on what was seen. An id that is no
/// longer a member is refused with 409, naming it.
fn chosen(g: &ReviewGroup, files: Option<&[i64]>) -> Result<Vec<FileId>, ApiError> {
    let members: Vec<FileId> = g.members.iter().map(|m| m.record.id).collect();
    match files {
        None => Ok(members),
        Some(f) => f
            .iter()
            .map(|&i| {
                if members.contains(&FileId(i)) {
                    Ok(FileId(i))
                } else {
                    Err(ApiError::new(
                        axum::http::StatusCode::CONFLICT,
                        format!("file {i} is not in this group now (the groups changed since it was shown); reload it"),
                    ))
                }
            })
            .collect(),
    }
}

fn body_or_empty<T: serde::de::DeserializeOwned + Default>(raw: &Bytes) -> Result<T, ApiError> {
    if raw.iter().all(u8::is_ascii_whitespace) { Ok(T::default()) } else { body(raw) }
}

fn body_distance(d: Option<u32>) -> Result<u32, ApiError> {
    match d {
        None => Ok(trove_core::similar::DEFAULT_DISTANCE),
        Some(n) if n <= 24 => Ok(n),
        Some(n) => Err(ApiError::bad(format!("distance {n}: not a number of bits from 0 to 24"))),
    }
}

/// `POST /api/v1/dupes/GROUP/mark`: stores the decision for every pair of the group's
/// members (or of the ones named), as `trove dupes mark` does.
async fn mark(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(group): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let source = caller.allow(&app, Scope::Tag).await?;
    let key = group_key(&group)?;
    let b: MarkBody = body(&raw)?;
    let decision = match b.decision.as_str() {
        "undecided" => None,
        w => Some(w.parse::<Decision>().map_err(|_| {
            ApiError::bad(format!("{w:?}: not a decision (same, alternate, not-duplicate, or undecided)"))
        })?),
    };
    let d = body_distance(b.distance)?;
    let label = decision.map_or("undecided", Decision::as_str);
    let done = app
        .with_index(move |index| {
            let Some(g) = dupes::review_group(index, key, d)? else { return Ok(None) };
            let ids = match chosen(&g, b.files.as_deref()) {
                Ok(ids) => ids,
                Err(e) => return Ok(Some(Err(e))),
            };
            index.set_operation(&source.to_string(), &format!("dupes mark {key} {label}"));
            let n = dupes::mark(index, &ids, decision)?;
            Ok(Some(Ok((ids.len(), n, index.current_operation()))))
        })
        .await?;
    let (files, pairs, op) =
        done.ok_or_else(|| ApiError::not_found(format!("{group}: no such group of duplicates now")))??;
    Ok(axum::Json(json!({"files": files, "changed": pairs, "decision": label, "op": op})).into_response())
}

/// `POST /api/v1/dupes/GROUP/merge-tags`: gives every member (or the ones named) the tags
/// of all, as `trove dupes merge-tags` does.
async fn merge_tags(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(group): Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let source = caller.allow(&app, Scope::Tag).await?;
    let key = group_key(&group)?;
    let b: MergeBody = body_or_empty(&raw)?;
    let d = body_distance(b.distance)?;
    let done = app
        .with_index(move |index| {
            let Some(g) = dupes::review_group(index, key, d)? else { return Ok(None) };
            let ids = match chosen(&g, b.files.as_deref()) {
                Ok(ids) => ids,
                Err(e) => return Ok(Some(Err(e))),
            };
            index.set_operation(&source.to_string(), &format!("dupes merge-tags {key}"));
            let n = dupes::merge_tags(index, &ids)?;
            Ok(Some(Ok((ids.len(), n, index.current_operation()))))
        })
        .await?;
    let (files, added, op) =
        done.ok_or_else(|| ApiError::not_found(format!("{group}: no such group of duplicates now")))??;
    Ok(axum::Json(json!({"files": files, "added": added, "op": op})).into_response())
}
