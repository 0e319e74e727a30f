//! Hydrus's duplicate endpoints (`/manage_file_relationships/…`, permission 8 "edit file
//! relationships") over trove's duplicates (docs/dupes.md): what hydrusvideodeduplicator
//! and other duplicate tools call.
//!
//! Hydrus names a file by its SHA-256, so a Hydrus "file" is a content: copies of one
//! content are one Hydrus file, and a Hydrus pair is two contents. A pair is *potential*
//! when trove has a candidate pair of live records between the two contents (similar
//! perceptual hashes within the distance asked) about which nothing is decided. Hydrus's
//! relationships map onto trove's decisions: 1 false positive → `not-duplicate`, 2 same
//! quality / 4 A better / 7 B better → `same`, 3 alternates → `alternate`, 0 potential
//! duplicates → the decision is forgotten (the pair is undecided again). trove never deletes
//! a file: `delete_a`/`delete_b` are refused. `do_default_content_merge` with a duplicate
//! relationship unions the two contents' tags onto every copy (`trove dupes merge-tags`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value, json};
use trove_core::ops::dupes::{self, Decision};
use trove_core::similar::{DEFAULT_DISTANCE, MAX_DISTANCE};
use trove_core::{FileId, Index};

use super::{
    App, HErr, HReq, HResult, Need, SearchArgs, answer, authorize, check_file_domain, empty, hex, parse_hash,
    run_search,
};

/// A content by its SHA-256.
type Sha = [u8; 32];

/// Content pairs (A < B) → the closest distance and the decisions of their record pairs.
type ContentPairs = BTreeMap<(Sha, Sha), (u32, Vec<Option<Decision>>)>;

/// The pairs of contents between which trove has candidate record pairs at `distance`:
/// (A, B) with A < B → (closest distance, decisions of the record pairs).
fn content_pairs(index: &Index, distance: u32) -> trove_core::Result<ContentPairs> {
    let mut sha: HashMap<FileId, Option<Sha>> = HashMap::new();
    let mut out = ContentPairs::new();
    for p in dupes::candidate_pairs(index, distance)? {
        if p.exact {
            continue;
        }
        let mut get = |id: FileId| -> trove_core::Result<Option<Sha>> {
            if let Some(s) = sha.get(&id) {
                return Ok(*s);
            }
            let s = trove_core::ops::files::sha256_of(index, id)?;
            sha.insert(id, s);
            Ok(s)
        };
        // A record whose SHA-256 is not known yet (indexed before trove kept one) has no
        // Hydrus name: `trove check --full` fills it in.
        let (Some(a), Some(b)) = (get(p.a)?, get(p.b)?) else { continue };
        if a == b {
            continue;
        }
        let e = out.entry((a.min(b), a.max(b))).or_insert((p.distance, Vec::new()));
        e.0 = e.0.min(p.distance);
        e.1.push(p.decision);
    }
    Ok(out)
}

/// The potential-duplicates search of `get_potentials_count` and `get_potential_pairs`.
struct PotentialsArgs {
    distance: u32,
    /// 0: one file matches search 1; 1: both match search 1; 2: one matches 1, the other 2.
    search_type: i64,
    /// 0 must be pixel duplicates (distance 0), 1 can be, 2 must not be.
    pixel: i64,
    tags_1: Option<SearchArgs>,
    tags_2: Option<SearchArgs>,
    /// The file domain is the trash: nothing.
    nothing: bool,
}

fn potentials_args(r: &HReq) -> Result<PotentialsArgs, HErr> {
    let nothing = check_file_domain(r)?;
    let distance = match r.int("max_hamming_distance")? {
        None => DEFAULT_DISTANCE,
        Some(d) if (0..=i64::from(MAX_DISTANCE)).contains(&d) => d as u32,
        Some(d) => {
            return Err(HErr::bad(format!(
                "max_hamming_distance {d}: trove compares 64-bit hashes within 0 to {MAX_DISTANCE} bits"
            )));
        }
    };
    let search_type = r.int("potentials_search_type")?.unwrap_or(0);
    if !(0..=2).contains(&search_type) {
        return Err(HErr::bad(format!("potentials_search_type {search_type}: expected 0, 1 or 2")));
    }
    let pixel = r.int("pixel_duplicates")?.unwrap_or(1);
    if !(0..=2).contains(&pixel) {
        return Err(HErr::bad(format!("pixel_duplicates {pixel}: expected 0 (must), 1 (can) or 2 (must not)")));
    }
    let tags = |n: &str| -> Result<Option<SearchArgs>, HErr> {
        for k in [format!("tag_service_key_{n}")] {
            if let Some(s) = r.string(&k)? {
                let s = s.to_ascii_lowercase();
                if s != super::MY_TAGS && s != super::ALL_TAGS {
                    return Err(HErr::bad(format!("{k}: {s} is not a tag service (see /get_services)")));
                }
            }
        }
        match r.json(&format!("tags_{n}"))? {
            None => Ok(None),
            Some(Value::Array(v)) if v.is_empty() => Ok(None),
            Some(Value::Array(v)) => Ok(Some(SearchArgs { tags: v, nothing: false, sort: 2, asc: true, hashes: true })),
            Some(other) => Err(HErr::bad(format!("tags_{n}: expected a list of tags, got {other}"))),
        }
    };
    let tags_1 = tags("1")?;
    let tags_2 = tags("2")?;
    if search_type == 2 && tags_2.is_none() {
        return Err(HErr::bad(
            "tags_2: missing (potentials_search_type 2 pairs a file of search 1 with one of search 2)",
        ));
    }
    Ok(PotentialsArgs { distance, search_type, pixel, tags_1, tags_2, nothing })
}

/// The undecided content pairs the arguments select, closest first.
fn potentials(index: &Index, a: &PotentialsArgs) -> trove_core::Result<Result<Vec<(Sha, Sha)>, HErr>> {
    if a.nothing {
        return Ok(Ok(Vec::new()));
    }
    let matching = |s: &Option<SearchArgs>| -> trove_core::Result<Result<Option<HashSet<Sha>>, HErr>> {
        let Some(s) = s else { return Ok(Ok(None)) };
        Ok(run_search(index, s)?.map(|found| Some(found.into_iter().filter_map(|(_, h)| h).collect())))
    };
    let s1 = match matching(&a.tags_1)? {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let s2 = match matching(&a.tags_2)? {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let in1 = |h: &Sha| s1.as_ref().is_none_or(|s| s.contains(h));
    let in2 = |h: &Sha| s2.as_ref().is_none_or(|s| s.contains(h));
    let mut out: Vec<(u32, Sha, Sha)> = content_pairs(index, a.distance)?
        .into_iter()
        .filter(|(_, (_, decisions))| decisions.iter().any(Option::is_none))
        .filter(|(_, (d, _))| match a.pixel {
            0 => *d == 0,
            2 => *d > 0,
            _ => true,
        })
        .filter(|((x, y), _)| match a.search_type {
            0 => in1(x) || in1(y),
            1 => in1(x) && in1(y),
            _ => (in1(x) && in2(y)) || (in1(y) && in2(x)),
        })
        .map(|((x, y), (d, _))| (d, x, y))
        .collect();
    out.sort_unstable();
    Ok(Ok(out.into_iter().map(|(_, x, y)| (x, y)).collect()))
}

pub(super) async fn get_potentials_count(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Relationships).await?;
    let a = potentials_args(&r)?;
    let found = app.with_index(move |index| potentials(index, &a)).await??;
    Ok(answer(json!({ "potential_duplicates_count": found.len() })))
}

pub(super) async fn get_potential_pairs(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Relationships).await?;
    let a = potentials_args(&r)?;
    let max = match r.int("max_num_pairs")? {
        None => 250,
        Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
        Some(n) => return Err(HErr::bad(format!("max_num_pairs {n}: expected a positive number"))),
    };
    let found = app.with_index(move |index| potentials(index, &a)).await??;
    let pairs: Vec<Value> = found.iter().take(max).map(|(x, y)| json!([hex(x), hex(y)])).collect();
    Ok(answer(json!({ "potential_duplicate_pairs": pairs })))
}

pub(super) async fn get_file_relationships(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Relationships).await?;
    check_file_domain(&r)?;
    let ids = r.file_ids()?;
    let hashes = r.hashes()?;
    if ids.is_none() && hashes.is_none() {
        return Err(HErr::bad("file_id, file_ids, hash or hashes: missing"));
    }
    let rels = app
        .with_index(move |index| {
            let mut asked: Vec<Sha> = Vec::new();
            for id in ids.unwrap_or_default() {
                if trove_core::ops::files::get(index, id)?.is_none() {
                    return Ok(Err(HErr::not_found(format!("file id {}: no such file", id.0))));
                }
                match trove_core::ops::files::sha256_of(index, id)? {
                    Some(h) => asked.push(h),
                    None => {
                        return Ok(Err(HErr::not_found(format!(
                            "file id {}: its SHA-256 is not known yet (`trove check --full` fills it in)",
                            id.0
                        ))));
                    }
                }
            }
            for h in hashes.unwrap_or_default() {
                if trove_core::ops::files::by_sha256(index, &h)?.is_empty() {
                    return Ok(Err(HErr::not_found(format!("{}: no file has this hash", hex(&h)))));
                }
                asked.push(h);
            }
            let pairs = content_pairs(index, DEFAULT_DISTANCE)?;
            let mut out = Map::new();
            for h in asked {
                // Per partner content: potential when some record pair is undecided, else
                // what was decided (the strongest: same, then alternate, then not-duplicate).
                let mut kinds: [BTreeSet<String>; 4] = Default::default();
                for ((x, y), (_, decisions)) in &pairs {
                    let other = if *x == h {
                        y
                    } else if *y == h {
                        x
                    } else {
                        continue;
                    };
                    let slot = if decisions.iter().any(Option::is_none) {
                        0
                    } else if decisions.contains(&Some(Decision::Same)) {
                        3
                    } else if decisions.contains(&Some(Decision::Alternate)) {
                        2
                    } else {
                        1
                    };
                    kinds[slot].insert(hex(other));
                }
                // The king of the duplicate group: the keep rule of `--print-redundant` over
                // the file and its `same` partners.
                let mut group: Vec<Sha> = vec![h];
                group.extend(kinds[3].iter().filter_map(|s| parse_hash(s).ok()));
                let king = king_of(index, &group)?.unwrap_or(h);
                let [potential, false_positive, alternate, same] = kinds;
                out.insert(
                    hex(&h),
                    json!({
                        "is_king": king == h,
                        "king": hex(&king),
                        "king_is_on_file_domain": true,
                        "king_is_local": true,
                        "0": potential.into_iter().collect::<Vec<_>>(),
                        "1": false_positive.into_iter().collect::<Vec<_>>(),
                        "3": alternate.into_iter().collect::<Vec<_>>(),
                        "8": same.into_iter().collect::<Vec<_>>(),
                    }),
                );
            }
            Ok(Ok(out))
        })
        .await??;
    Ok(answer(json!({ "file_relationships": rels })))
}

/// The content whose copy the keep rule keeps among the live copies of `group`.
fn king_of(index: &Index, group: &[Sha]) -> trove_core::Result<Option<Sha>> {
    let mut members = Vec::new();
    let mut sha_of = Vec::new();
    for h in group {
        for rec in trove_core::ops::files::by_sha256(index, h)? {
            if rec.state == trove_core::FileState::Missing {
                continue;
            }
            let (width, height) = match trove_core::ops::meta::get(index, rec.id)? {
                Some(m) if trove_core::ops::meta::is_current(&m, &rec.stat) => (m.meta.width, m.meta.height),
                _ => (None, None),
            };
            members.push(dupes::Member { record: rec, width, height });
            sha_of.push(*h);
        }
    }
    Ok((!members.is_empty()).then(|| sha_of[dupes::keeper(&members)]))
}

/// One relationship of a `set_file_relationships` body, checked.
struct Relationship {
    a: Sha,
    b: Sha,
    decision: Option<Decision>,
    merge: bool,
}

fn relationship(i: usize, v: &Value) -> Result<Relationship, HErr> {
    let at = |k: &str| format!("relationships[{i}].{k}");
    let o = v.as_object().ok_or_else(|| HErr::bad(format!("relationships[{i}]: expected an object, got {v}")))?;
    let hash = |k: &str| -> Result<Sha, HErr> {
        match o.get(k) {
            None => Err(HErr::bad(format!("{}: missing", at(k)))),
            Some(Value::String(s)) => parse_hash(s).map_err(|e| HErr::bad(format!("{}: {}", at(k), e.message))),
            Some(other) => Err(HErr::bad(format!("{}: expected a hex string, got {other}", at(k)))),
        }
    };
    let a = hash("hash_a")?;
    let b = hash("hash_b")?;
    if a == b {
        return Err(HErr::bad(format!("relationships[{i}]: hash_a and hash_b are the same file")));
    }
    let decision = match o.get("relationship") {
        None => return Err(HErr::bad(format!("{}: missing", at("relationship")))),
        Some(v) => match v.as_i64() {
            Some(0) => None,
            Some(1) => Some(Decision::NotDuplicate),
            Some(2 | 4 | 7) => Some(Decision::Same),
            Some(3) => Some(Decision::Alternate),
            _ => {
                return Err(HErr::bad(format!(
                    "{}: {v} is not a relationship (0 potential, 1 false positive, 2 same quality, 3 alternates, 4 A better, 7 B better)",
                    at("relationship")
                )));
            }
        },
    };
    let flag = |k: &str| -> Result<bool, HErr> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(HErr::bad(format!("{}: expected true or false, got {other}", at(k)))),
        }
    };
    let merge = flag("do_default_content_merge")?;
    for k in ["delete_a", "delete_b"] {
        if flag(k)? {
            return Err(HErr::bad(format!("{}: trove never deletes a file (nothing was changed)", at(k))));
        }
    }
    Ok(Relationship { a, b, decision, merge })
}

pub(super) async fn set_file_relationships(app: Arc<App>, r: HReq) -> HResult {
    let who = authorize(&app, &r, Need::Relationships).await?;
    let list = match r.json("relationships")? {
        None => return Err(HErr::bad("relationships: missing")),
        Some(Value::Array(v)) => v,
        Some(other) => return Err(HErr::bad(format!("relationships: expected a list, got {other}"))),
    };
    // Every relationship is checked before anything is stored.
    let rels = list.iter().enumerate().map(|(i, v)| relationship(i, v)).collect::<Result<Vec<_>, _>>()?;
    let actor = who.source().to_string();
    app.with_index(move |index| {
        let mut plan: Vec<(Vec<FileId>, Vec<FileId>, &Relationship)> = Vec::new();
        for rel in &rels {
            let live = |h: &Sha| -> trove_core::Result<Vec<FileId>> {
                Ok(trove_core::ops::files::by_sha256(index, h)?
                    .into_iter()
                    .filter(|r| r.state != trove_core::FileState::Missing)
                    .map(|r| r.id)
                    .collect())
            };
            let (a, b) = (live(&rel.a)?, live(&rel.b)?);
            for (ids, h) in [(&a, &rel.a), (&b, &rel.b)] {
                if ids.is_empty() {
                    return Ok(Err(HErr::not_found(format!("{}: no file has this hash", hex(h)))));
                }
            }
            plan.push((a, b, rel));
        }
        index.set_operation(&actor, "hydrus set_file_relationships");
        for (a, b, rel) in plan {
            let pairs: Vec<(FileId, FileId)> = a.iter().flat_map(|&x| b.iter().map(move |&y| (x, y))).collect();
            dupes::mark_pairs(index, &pairs, rel.decision)?;
            if rel.decision.is_none() {
                // Potential: kept even when trove's own search does not pair them.
                dupes::add_potentials(index, &pairs)?;
            }
            if rel.merge && rel.decision == Some(Decision::Same) {
                let all: Vec<FileId> = a.iter().chain(&b).copied().collect();
                dupes::merge_tags(index, &all)?;
            }
        }
        Ok(Ok(()))
    })
    .await??;
    Ok(empty())
}

/// `remove_potentials`: forgets the potential pairs a client stated (relationship 0) that
/// involve the files named. Pairs trove finds itself (copies, similar pictures or videos)
/// stay potential until a relationship is set for them (1, false positive, dismisses one).
pub(super) async fn remove_potentials(app: Arc<App>, r: HReq) -> HResult {
    let who = authorize(&app, &r, Need::Relationships).await?;
    check_file_domain(&r)?;
    let ids = r.file_ids()?;
    let hashes = r.hashes()?;
    if ids.is_none() && hashes.is_none() {
        return Err(HErr::bad("file_id, file_ids, hash or hashes: missing"));
    }
    let actor = who.source().to_string();
    app.with_index(move |index| {
        let mut records = Vec::new();
        for id in ids.unwrap_or_default() {
            if trove_core::ops::files::get(index, id)?.is_none() {
                return Ok(Err(HErr::not_found(format!("file id {}: no such file", id.0))));
            }
            records.push(id);
        }
        for h in hashes.unwrap_or_default() {
            let found = trove_core::ops::files::by_sha256(index, &h)?;
            if found.is_empty() {
                return Ok(Err(HErr::not_found(format!("{}: no file has this hash", hex(&h)))));
            }
            records.extend(found.into_iter().map(|r| r.id));
        }
        index.set_operation(&actor, "hydrus remove_potentials");
        dupes::remove_potentials(index, &records)?;
        Ok(Ok(()))
    })
    .await??;
    Ok(empty())
}

/// `set_kings`: refused, naming why. trove has no stored king: a group's king is the copy
/// its keep rule keeps (docs/dupes.md), computed when asked.
pub(super) async fn set_kings(app: Arc<App>, r: HReq) -> HResult {
    authorize(&app, &r, Need::Relationships).await?;
    Err(HErr::bad(
        "set_kings: trove does not store kings; a group's king is the file its keep rule keeps \
         (largest resolution, then size, then oldest: docs/dupes.md), so it cannot be set (nothing was changed)",
    ))
}
