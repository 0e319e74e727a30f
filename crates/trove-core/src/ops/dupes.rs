//! Duplicates where they lie: groups of live records with identical content (same BLAKE3
//! hash), the space the extra copies take, and which copy to keep. Nothing here deletes or
//! changes a file: the user deletes what [`Group::redundant`] lists, if they want to.

use std::cmp::Reverse;
use std::collections::HashSet;

use crate::model::{FileId, FileRecord, FileState, Hash};
use crate::ops::find::Query;
use crate::store::dupes;
use crate::{Index, Result};

/// One file of a group.
#[derive(Debug, Clone)]
pub struct Member {
    /// The file's record.
    pub record: FileRecord,
    /// Pixel width and height from the file's metadata, when it was read from the file as it
    /// is now.
    pub width: Option<u32>,
    /// Pixel height, under the same condition as `width`.
    pub height: Option<u32>,
}

impl Member {
    /// Width × height, 0 when unknown.
    pub fn pixels(&self) -> u64 {
        u64::from(self.width.unwrap_or(0)) * u64::from(self.height.unwrap_or(0))
    }
}

/// Live records with the same content.
#[derive(Debug, Clone)]
pub struct Group {
    /// The content hash every member shares.
    pub hash: Hash,
    /// The size of one copy in bytes.
    pub size: u64,
    /// Members in path byte order; at least two.
    pub members: Vec<Member>,
    /// Distinct files on disk: hard links (same device and inode) are one copy.
    pub copies: u64,
    /// Bytes the extra copies take: `size × (copies − 1)`.
    pub wasted: u64,
    /// Index into `members` of the copy the keep rule keeps ([`keeper`]).
    pub keep: usize,
}

impl Group {
    /// The members the user may delete, keeping [`Group::keep`], in path order.
    pub fn redundant(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().enumerate().filter(move |(i, _)| *i != self.keep).map(|(_, m)| m)
    }
}

/// Which member of a group to keep (the documented rule, docs/dupes.md): a present file
/// before an offline one (an unmounted disk may never come back), then the largest
/// resolution (width × height, when the metadata knows it), then the largest size, then
/// the oldest modification time, then the first path in byte order.
pub fn keeper(members: &[Member]) -> usize {
    members
        .iter()
        .enumerate()
        .min_by_key(|(_, m)| {
            (
                m.record.state != FileState::Present,
                Reverse(m.pixels()),
                Reverse(m.record.stat.size),
                m.record.stat.mtime_ns,
                m.record.path_bytes().to_vec(),
            )
        })
        .map_or(0, |(i, _)| i)
}

/// Totals over a list of groups.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// How many groups.
    pub groups: u64,
    /// Files in all groups, kept copies included.
    pub files: u64,
    /// Bytes the extra copies take, summed over the groups.
    pub wasted: u64,
}

/// Adds up `groups`.
pub fn summary(groups: &[Group]) -> Summary {
    Summary {
        groups: groups.len() as u64,
        files: groups.iter().map(|g| g.members.len() as u64).sum(),
        wasted: groups.iter().map(|g| g.wasted).sum(),
    }
}

/// Groups of identical content among live files (present or offline; missing records are
/// left out) of at least `min_size` bytes. With a query, only the files it selects are
/// grouped (a group needs two of them). Ordered by wasted space (largest first), then size,
/// then the first member's path.
pub fn exact(index: &Index, min_size: u64, within: Option<&Query>) -> Result<Vec<Group>> {
    let allowed: Option<HashSet<FileId>> = match within {
        Some(q) => {
            let mut s = HashSet::new();
            q.for_each(index, None, |r| {
                s.insert(r.id);
                Ok(true)
            })?;
            Some(s)
        }
        None => None,
    };
    let rows = dupes::exact(index.conn(), min_size)?;
    let mut groups = Vec::new();
    let mut current: Vec<Member> = Vec::new();
    let mut flush = |members: &mut Vec<Member>| {
        if members.len() >= 2 {
            groups.push(group(std::mem::take(members)));
        }
        members.clear();
    };
    for row in rows {
        if allowed.as_ref().is_some_and(|s| !s.contains(&row.record.id)) {
            continue;
        }
        if current.first().is_some_and(|m| m.record.hash != row.record.hash) {
            flush(&mut current);
        }
        current.push(Member { record: row.record, width: row.width, height: row.height });
    }
    flush(&mut current);
    groups.sort_by(|a, b| {
        b.wasted
            .cmp(&a.wasted)
            .then(b.size.cmp(&a.size))
            .then_with(|| a.members[0].record.path_bytes().cmp(b.members[0].record.path_bytes()))
    });
    Ok(groups)
}

fn group(members: Vec<Member>) -> Group {
    let size = members[0].record.stat.size;
    let inodes: HashSet<(u64, u64)> = members.iter().map(|m| (m.record.stat.device, m.record.stat.inode)).collect();
    let copies = inodes.len() as u64;
    Group {
        hash: members[0].record.hash,
        size,
        copies,
        wasted: size.saturating_mul(copies.saturating_sub(1)),
        keep: keeper(&members),
        members,
    }
}

/// What the user decided about files that look alike (Hydrus's relationships).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Duplicates: the same picture (or file); one may go.
    Same,
    /// Related but both worth keeping (a variant, an edit, another crop).
    Alternate,
    /// Not duplicates: the similarity search was wrong.
    NotDuplicate,
}

impl Decision {
    /// Every decision that can be stored (undecided is the absence of one).
    pub const ALL: [Decision; 3] = [Decision::Same, Decision::Alternate, Decision::NotDuplicate];

    /// The name used on the command line and in JSON: `same`, `alternate`, `not-duplicate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Same => "same",
            Decision::Alternate => "alternate",
            Decision::NotDuplicate => "not-duplicate",
        }
    }

    fn code(self) -> i64 {
        match self {
            Decision::Same => 1,
            Decision::Alternate => 2,
            Decision::NotDuplicate => 3,
        }
    }

    fn from_code(c: i64) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.code() == c)
    }
}

impl std::str::FromStr for Decision {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Decision::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("{s:?}: not a decision (same, alternate, not-duplicate)"))
    }
}

/// Records `decision` for every pair of `ids` (`None` forgets their decisions), in one
/// transaction; how many pairs changed. Needs two files or more.
pub fn mark(index: &mut Index, ids: &[FileId], decision: Option<Decision>) -> Result<u64> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() < 2 {
        return Err(crate::Error::NotEnoughFiles { needed: 2, given: ids.len() });
    }
    let now = crate::model::now_unix();
    index.write(|tx| {
        let mut n = 0;
        for i in 0..ids.len() {
            for j in i + 1..ids.len() {
                n += u64::from(dupes::decide(tx, ids[i], ids[j], decision.map(Decision::code), now)?);
            }
        }
        Ok(n)
    })
}

/// The decisions stored about `file`: the other file and what was decided.
pub fn decisions_of(index: &Index, file: FileId) -> Result<Vec<(FileId, Decision)>> {
    Ok(dupes::decisions_of(index.conn(), file)?
        .into_iter()
        .filter_map(|(f, c)| Some((f, Decision::from_code(c)?)))
        .collect())
}

/// Every stored decision: (a, b, decision) with a < b.
pub fn decisions(index: &Index) -> Result<Vec<(FileId, FileId, Decision)>> {
    Ok(dupes::decisions(index.conn())?
        .into_iter()
        .filter_map(|(a, b, c)| Some((a, b, Decision::from_code(c)?)))
        .collect())
}

/// Puts every tag any of `ids` carries onto each of them, from the source it came from
/// (a tag the user gave one copy by hand is `manual` on every copy); one transaction; the
/// number of links added. Tags are never removed. Needs two files or more.
pub fn merge_tags(index: &mut Index, ids: &[FileId]) -> Result<u64> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() < 2 {
        return Err(crate::Error::NotEnoughFiles { needed: 2, given: ids.len() });
    }
    let now = crate::model::now_unix();
    index.write(|tx| dupes::union_links(tx, &ids, now))
}

/// Near-duplicate groups: live files whose images look alike (perceptual hashes within
/// `distance` bits, joined transitively), with their copies. Each group is ordered by path;
/// `keep` follows [`keeper`]. Groups ordered by size (largest first), then first path.
#[derive(Debug, Clone)]
pub struct SimilarGroup {
    /// The files that look alike, in path order.
    pub members: Vec<SimilarMember>,
    /// Index into `members` of the copy the keep rule keeps.
    pub keep: usize,
}

/// One file of a [`SimilarGroup`].
#[derive(Debug, Clone)]
pub struct SimilarMember {
    /// The file and its dimensions.
    pub member: Member,
    /// Its 64-bit perceptual hash.
    pub phash: u64,
    /// Bits differing from the kept member's hash.
    pub distance: u32,
}

/// Groups of similar images among live files (with a query, among those it selects; a
/// group needs two of them), from the stored near pairs (at most
/// [`crate::similar::STORED_DISTANCE`]) or, beyond, [`crate::similar::pairs`] over the
/// distinct hashes.
pub fn similar(index: &Index, distance: u32, within: Option<&Query>) -> Result<Vec<SimilarGroup>> {
    let allowed = selected(index, within)?;
    let dupes::Near { mut rows, pairs } = dupes::near(index.conn(), distance)?;
    if let Some(a) = &allowed {
        rows.retain(|r| a.contains(&r.0));
    }
    let mut values: Vec<u64> = rows.iter().map(|r| r.2).collect();
    values.sort_unstable();
    values.dedup();
    let pos: std::collections::HashMap<u64, u32> = values.iter().enumerate().map(|(i, v)| (*v, i as u32)).collect();
    let comps = crate::similar::components(
        values.len(),
        pairs.iter().filter_map(|(a, b, _)| Some((*pos.get(a)?, *pos.get(b)?))),
    );
    let mut comp_of = std::collections::HashMap::new();
    for (ci, c) in comps.iter().enumerate() {
        for &v in c {
            comp_of.insert(values[v as usize], ci);
        }
    }
    // Equal hashes of different content are similar too: their value stands alone here.
    let mut by_value: std::collections::HashMap<u64, Vec<usize>> = std::collections::HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        by_value.entry(r.2).or_default().push(i);
    }
    let mut next = comps.len();
    for (v, members) in &by_value {
        if !comp_of.contains_key(v) && members.iter().any(|&i| rows[i].1 != rows[members[0]].1) {
            comp_of.insert(*v, next);
            next += 1;
        }
    }
    let mut grouped: Vec<Vec<(FileId, u64)>> = vec![Vec::new(); next];
    for r in &rows {
        if let Some(&c) = comp_of.get(&r.2) {
            grouped[c].push((r.0, r.2));
        }
    }
    let mut out = Vec::new();
    for g in grouped {
        // A component of one content (copies only) is an exact group, not a similar one.
        let mut members = Vec::new();
        for (id, phash) in g {
            let Some(record) = crate::store::files::by_id(index.conn(), id)? else { continue };
            let (width, height) = dupes::dimensions_of(index.conn(), id)?;
            members.push(SimilarMember { member: Member { record, width, height }, phash, distance: 0 });
        }
        let contents: HashSet<Hash> = members.iter().map(|m| m.member.record.hash).collect();
        if contents.len() < 2 {
            continue;
        }
        members.sort_by(|a, b| a.member.record.path_bytes().cmp(b.member.record.path_bytes()));
        let plain: Vec<Member> = members.iter().map(|m| m.member.clone()).collect();
        let keep = keeper(&plain);
        let kp = members[keep].phash;
        for m in &mut members {
            m.distance = crate::similar::distance(m.phash, kp);
        }
        out.push(SimilarGroup { members, keep });
    }
    out.extend(similar_videos(index, distance, allowed.as_ref())?);
    out.sort_by(|a, b| {
        b.members
            .len()
            .cmp(&a.members.len())
            .then_with(|| a.members[0].member.record.path_bytes().cmp(b.members[0].member.record.path_bytes()))
    });
    Ok(out)
}

/// Groups of videos whose keyframes are within `distance` (`store::dupes::video_distance`,
/// joined transitively); a member's `phash` is its first keyframe's hash and `distance` its
/// keyframe distance from the kept video.
fn similar_videos(index: &Index, distance: u32, allowed: Option<&HashSet<FileId>>) -> Result<Vec<SimilarGroup>> {
    let v = dupes::video_frames(index.conn())?;
    let pairs = dupes::video_content_pairs(&v, distance);
    let mut out = Vec::new();
    for comp in crate::similar::components(v.len(), pairs.iter().map(|(i, j, _)| (*i as u32, *j as u32))) {
        let mut members = Vec::new();
        let mut frames_of = Vec::new();
        for ci in comp {
            let (_, ids, frames) = &v[ci as usize];
            for &id in ids {
                if allowed.is_some_and(|a| !a.contains(&id)) {
                    continue;
                }
                let Some(record) = crate::store::files::by_id(index.conn(), id)? else { continue };
                let (width, height) = dupes::dimensions_of(index.conn(), id)?;
                let phash = frames.first().map_or(0, |f| f.1);
                members.push(SimilarMember { member: Member { record, width, height }, phash, distance: 0 });
                frames_of.push(frames);
            }
        }
        let contents: HashSet<Hash> = members.iter().map(|m| m.member.record.hash).collect();
        if contents.len() < 2 {
            continue;
        }
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by(|&a, &b| members[a].member.record.path_bytes().cmp(members[b].member.record.path_bytes()));
        let mut members: Vec<SimilarMember> = order.iter().map(|&i| members[i].clone()).collect();
        let frames_of: Vec<&Vec<(u32, u64)>> = order.iter().map(|&i| frames_of[i]).collect();
        let plain: Vec<Member> = members.iter().map(|m| m.member.clone()).collect();
        let keep = keeper(&plain);
        for (i, m) in members.iter_mut().enumerate() {
            m.distance = dupes::video_distance(frames_of[i], frames_of[keep]).unwrap_or(0);
        }
        out.push(SimilarGroup { members, keep });
    }
    Ok(out)
}

fn selected(index: &Index, within: Option<&Query>) -> Result<Option<HashSet<FileId>>> {
    Ok(match within {
        Some(q) => {
            let mut s = HashSet::new();
            q.for_each(index, None, |r| {
                s.insert(r.id);
                Ok(true)
            })?;
            Some(s)
        }
        None => None,
    })
}

/// What `trove dupes --scan` did.
#[derive(Debug, Default, Clone)]
pub struct ScanReport {
    /// Image contents hashed now (one file read per content).
    pub hashed: u64,
    /// Video contents whose keyframes were hashed now (ffmpeg installed).
    pub videos: u64,
    /// Of those two, how many could not be decoded (not a picture the hasher reads, damaged,
    /// or a video ffmpeg could not read).
    pub failed: u64,
    /// Contents the hasher does not handle (not images, or videos without ffmpeg): nothing
    /// stored.
    pub skipped: u64,
}

/// Computes the perceptual hash (of an image) or keyframe hashes (of a video, when the
/// extractor can) of every live, present content that has none yet (one
/// file read per content; with a query, only contents of the files it selects), in batches
/// of 256 per transaction, hashing on the thread pool outside the write lock. Reads files;
/// never changes one.
pub fn scan(
    index: &mut Index,
    within: Option<&Query>,
    extractor: &dyn crate::meta::Extractor,
    progress: &dyn crate::ops::Progress,
) -> Result<ScanReport> {
    use rayon::prelude::*;
    let allowed = selected(index, within)?;
    let mut todo = dupes::without_perceptual(index.conn())?;
    if let Some(a) = &allowed {
        todo.retain(|r| a.contains(&r.id));
    }
    let mut report = ScanReport::default();
    progress.begin(crate::ops::Phase::PERCEPTUAL, Some(todo.len() as u64));
    for chunk in todo.chunks(256) {
        type Hashed = (Option<std::result::Result<u64, String>>, Option<std::result::Result<Vec<(u32, u64)>, String>>);
        let done: Vec<(FileId, Hashed)> = chunk
            .par_iter()
            .map(|r| {
                // A decoder that panics on one file is that file's error, not the scan's end
                // (the batches not yet written would be lost with it).
                let hashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let p = extractor.perceptual(&r.path);
                    let k = if p.is_none() { extractor.keyframes(&r.path) } else { None };
                    (p, k)
                }));
                let (p, k) =
                    hashed.unwrap_or_else(|_| (Some(Err("the image decoder failed on this file".into())), None));
                progress.advance(1);
                (r.id, (p, k))
            })
            .collect();
        let now = crate::model::now_unix();
        index.write(|tx| {
            for (id, h) in &done {
                match h {
                    (Some(p), _) => {
                        dupes::put_perceptual_of_file(tx, *id, p, now)?;
                        report.hashed += 1;
                        report.failed += u64::from(p.is_err());
                    }
                    (None, Some(k)) => {
                        dupes::put_keyframes_of_file(tx, *id, k, now)?;
                        report.videos += 1;
                        report.failed += u64::from(k.is_err());
                    }
                    (None, None) => report.skipped += 1,
                }
            }
            Ok(())
        })?;
    }
    index.write(dupes::prune_perceptual)?;
    progress.finish();
    Ok(report)
}

/// Rebuilds the stored near pairs of perceptual hashes (and their multi-index) from the
/// hashes, in one transaction: what `trove check --repair` does when they disagree.
pub fn rebuild_similar(index: &mut Index) -> Result<()> {
    index.write(dupes::rebuild_near)
}

/// How the stored near pairs differ from the stored perceptual hashes (empty when they
/// agree): what `trove check --full` reports.
pub fn verify_similar(index: &Index) -> Result<Vec<String>> {
    dupes::verify_near(index.conn())
}

/// The perceptual hash stored for a content: `None` when never computed, `Some(Err)` when
/// the content could not be decoded.
pub fn perceptual_of(index: &Index, content: &Hash) -> Result<Option<std::result::Result<u64, String>>> {
    dupes::perceptual_of(index.conn(), content)
}

/// Two files that may be duplicates: copies of one content, or images whose perceptual
/// hashes are close; with what the user decided about them, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CandidatePair {
    /// The file with the smaller id.
    pub a: FileId,
    /// The other file.
    pub b: FileId,
    /// Bits between their perceptual hashes (0 for copies of one content).
    pub distance: u32,
    /// Copies of one content (same BLAKE3).
    pub exact: bool,
    /// The decision stored for the pair.
    pub decision: Option<Decision>,
}

/// The distance given to a pair a client stated ([`add_potentials`]) that trove does not
/// find itself: more than any distance asked, so such pairs sort last.
pub const STATED_DISTANCE: u32 = 64;

/// Stores every pair of `a` × `b` as potential duplicates (what a Hydrus client's
/// relationship 0 says), in one transaction; how many were new. A pair of a file with
/// itself is skipped.
pub fn add_potentials(index: &mut Index, pairs: &[(FileId, FileId)]) -> Result<u64> {
    let now = crate::model::now_unix();
    index.write(|tx| {
        let mut n = 0;
        for &(a, b) in pairs {
            n += u64::from(dupes::add_potential(tx, a, b, now)?);
        }
        Ok(n)
    })
}

/// Forgets the potential pairs a client stated that involve any of `ids` (pairs trove finds
/// itself stay until decided); how many.
pub fn remove_potentials(index: &mut Index, ids: &[FileId]) -> Result<u64> {
    index.write(|tx| dupes::remove_potentials_of(tx, ids))
}

/// Candidate pairs (exact copies, similar images at `distance` read from the stored near
/// pairs, similar videos, and pairs a client stated) with the decision stored for each: what `dupe:undecided` and the Hydrus
/// duplicate endpoints serve. Ordered by (a, b).
pub fn candidate_pairs(index: &Index, distance: u32) -> Result<Vec<CandidatePair>> {
    let decided: std::collections::HashMap<(FileId, FileId), Decision> =
        decisions(index)?.into_iter().map(|(a, b, d)| ((a, b), d)).collect();
    let mut out = Vec::new();
    let exact = dupes::exact_pairs_input(index.conn())?;
    for g in exact.chunk_by(|x, y| x.1 == y.1) {
        for i in 0..g.len() {
            for j in i + 1..g.len() {
                let (a, b) = if g[i].0 < g[j].0 { (g[i].0, g[j].0) } else { (g[j].0, g[i].0) };
                out.push(CandidatePair { a, b, distance: 0, exact: true, decision: decided.get(&(a, b)).copied() });
            }
        }
    }
    for (a, b, d) in dupes::similar_pairs(index.conn(), distance)? {
        out.push(CandidatePair { a, b, distance: d, exact: false, decision: decided.get(&(a, b)).copied() });
    }
    // Stated pairs last, so a pair trove finds itself keeps its own distance.
    for (a, b) in dupes::stated_potentials(index.conn())? {
        out.push(CandidatePair {
            a,
            b,
            distance: STATED_DISTANCE,
            exact: false,
            decision: decided.get(&(a, b)).copied(),
        });
    }
    out.sort_by_key(|p| (p.a, p.b));
    out.dedup_by_key(|p| (p.a, p.b));
    Ok(out)
}

/// Records `decision` for each pair of files given (`None` forgets it), in one
/// transaction; how many pairs changed. A pair of a file with itself is skipped.
pub fn mark_pairs(index: &mut Index, pairs: &[(FileId, FileId)], decision: Option<Decision>) -> Result<u64> {
    let now = crate::model::now_unix();
    index.write(|tx| {
        let mut n = 0;
        for &(a, b) in pairs {
            if a != b {
                n += u64::from(dupes::decide(tx, a, b, decision.map(Decision::code), now)?);
            }
        }
        Ok(n)
    })
}

/// Names a group to review: every live copy of one content, or the group of similar images
/// that holds a file. Written `exact-HEX` (the 64 hex digits of the content hash) and
/// `similar-ID` (a member's file id; groups are listed under their smallest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupKey {
    /// The live copies of this content.
    Exact(Hash),
    /// The similar group this file is in.
    Similar(FileId),
}

impl std::fmt::Display for GroupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupKey::Exact(h) => write!(f, "exact-{}", h.to_hex()),
            GroupKey::Similar(id) => write!(f, "similar-{}", id.0),
        }
    }
}

impl std::str::FromStr for GroupKey {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("{s:?}: not a group (exact-HEX with 64 hex digits, or similar-ID)");
        if let Some(hex) = s.strip_prefix("exact-") {
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            let mut h = [0u8; 32];
            for (i, b) in h.iter_mut().enumerate() {
                *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
            }
            return Ok(GroupKey::Exact(Hash(h)));
        }
        match s.strip_prefix("similar-").map(|n| (n, n.parse::<i64>())) {
            Some((n, Ok(id))) if id > 0 && n.bytes().all(|b| b.is_ascii_digit()) => Ok(GroupKey::Similar(FileId(id))),
            _ => Err(bad()),
        }
    }
}

/// A group of possible duplicates with what the user decided about it: what the web UI's
/// duplicates page lists and compares.
#[derive(Debug, Clone)]
pub struct ReviewGroup {
    /// How to name the group again.
    pub key: GroupKey,
    /// The files, in path order.
    pub members: Vec<Member>,
    /// Index into `members` of the copy the keep rule ([`keeper`]) keeps.
    pub keep: usize,
    /// For a similar group: each member's perceptual distance (bits) from the kept one.
    pub distances: Option<Vec<u32>>,
    /// For exact copies: bytes the extra copies take (0 for a similar group).
    pub wasted: u64,
    /// Pairs of members: n(n−1)/2.
    pub pairs: u64,
    /// Pairs of members without a stored decision.
    pub undecided: u64,
    /// The decisions stored between members: (a, b, decision), a < b.
    pub decided: Vec<(FileId, FileId, Decision)>,
}

impl ReviewGroup {
    /// The decision every pair of the group has, when they all have the same one.
    pub fn decision(&self) -> Option<Decision> {
        let first = self.decided.first()?.2;
        (self.undecided == 0 && self.decided.iter().all(|d| d.2 == first)).then_some(first)
    }
}

/// Every group to review: exact copies (non-empty content; ordered as [`exact`]), then
/// similar images at `distance` (ordered as [`similar`]); groups with an undecided pair
/// first, the order kept otherwise.
pub fn review(index: &Index, distance: u32) -> Result<Vec<ReviewGroup>> {
    let decided = decided_map(index)?;
    let mut out: Vec<ReviewGroup> = exact(index, 1, None)?.into_iter().map(|g| review_exact(g, &decided)).collect();
    out.extend(similar(index, distance, None)?.into_iter().map(|g| review_similar(g, &decided)));
    out.sort_by_key(|g| g.undecided == 0);
    Ok(out)
}

/// The group `key` names, as it is now (`None` when no such group exists: the content has
/// fewer than two live copies, or the file is in no similar group at `distance`).
pub fn review_group(index: &Index, key: GroupKey, distance: u32) -> Result<Option<ReviewGroup>> {
    let decided = decided_map(index)?;
    Ok(match key {
        GroupKey::Exact(h) => {
            exact(index, 1, None)?.into_iter().find(|g| g.hash == h).map(|g| review_exact(g, &decided))
        }
        GroupKey::Similar(id) => similar(index, distance, None)?
            .into_iter()
            .find(|g| g.members.iter().any(|m| m.member.record.id == id))
            .map(|g| review_similar(g, &decided)),
    })
}

fn decided_map(index: &Index) -> Result<std::collections::HashMap<(FileId, FileId), Decision>> {
    Ok(decisions(index)?.into_iter().map(|(a, b, d)| ((a, b), d)).collect())
}

fn review_exact(g: Group, decided: &std::collections::HashMap<(FileId, FileId), Decision>) -> ReviewGroup {
    let mut r = ReviewGroup {
        key: GroupKey::Exact(g.hash),
        members: g.members,
        keep: g.keep,
        distances: None,
        wasted: g.wasted,
        pairs: 0,
        undecided: 0,
        decided: Vec::new(),
    };
    count_decisions(&mut r, decided);
    r
}

fn review_similar(g: SimilarGroup, decided: &std::collections::HashMap<(FileId, FileId), Decision>) -> ReviewGroup {
    let first = g.members.iter().map(|m| m.member.record.id).min().unwrap_or(FileId(0));
    let mut r = ReviewGroup {
        key: GroupKey::Similar(first),
        distances: Some(g.members.iter().map(|m| m.distance).collect()),
        members: g.members.into_iter().map(|m| m.member).collect(),
        keep: g.keep,
        wasted: 0,
        pairs: 0,
        undecided: 0,
        decided: Vec::new(),
    };
    count_decisions(&mut r, decided);
    r
}

fn count_decisions(r: &mut ReviewGroup, decided: &std::collections::HashMap<(FileId, FileId), Decision>) {
    let mut ids: Vec<FileId> = r.members.iter().map(|m| m.record.id).collect();
    ids.sort_unstable();
    for i in 0..ids.len() {
        for j in i + 1..ids.len() {
            r.pairs += 1;
            match decided.get(&(ids[i], ids[j])) {
                Some(d) => r.decided.push((ids[i], ids[j], *d)),
                None => r.undecided += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Stat;

    fn m(path: &str, size: u64, mtime: i64, px: Option<(u32, u32)>, state: FileState) -> Member {
        Member {
            record: FileRecord {
                id: FileId(1),
                path: path.into(),
                stat: Stat { size, mtime_ns: mtime, device: 1, inode: 1 },
                hash: Hash([0; 32]),
                fingerprint: 0,
                state,
                added_at: 0,
                verified_at: 0,
            },
            width: px.map(|p| p.0),
            height: px.map(|p| p.1),
        }
    }

    use FileState::{Offline, Present};

    #[test]
    fn keeper_prefers_the_largest_resolution_over_size_and_age() {
        let v = [
            m("/a", 900, 1, Some((100, 100)), Present),
            m("/b", 100, 5, Some((200, 200)), Present),
            m("/c", 900, 0, None, Present),
        ];
        assert_eq!(keeper(&v), 1);
    }

    #[test]
    fn keeper_then_prefers_the_larger_file_then_the_oldest_then_the_first_path() {
        assert_eq!(keeper(&[m("/a", 10, 1, None, Present), m("/b", 20, 5, None, Present)]), 1);
        assert_eq!(keeper(&[m("/a", 10, 5, None, Present), m("/b", 10, 1, None, Present)]), 1);
        assert_eq!(keeper(&[m("/b", 10, 1, None, Present), m("/a", 10, 1, None, Present)]), 1);
    }

    #[test]
    fn keeper_never_keeps_an_offline_copy_over_a_present_one() {
        let v = [m("/old", 10, 0, Some((999, 999)), Offline), m("/new", 10, 9, None, Present)];
        assert_eq!(keeper(&v), 1);
    }

    #[test]
    fn group_keys_read_back_what_they_write_and_refuse_junk() {
        let h = Hash([0xab; 32]);
        for k in [GroupKey::Exact(h), GroupKey::Similar(FileId(42))] {
            assert_eq!(k.to_string().parse::<GroupKey>(), Ok(k));
        }
        assert_eq!(GroupKey::Similar(FileId(7)).to_string(), "similar-7");
        for bad in ["", "exact-", "exact-abc", "similar-0", "similar--1", "similar-+3", "similar-1/..", "other-1"] {
            assert!(bad.parse::<GroupKey>().is_err(), "{bad}");
        }
        assert!(format!("exact-{}", "g".repeat(64)).parse::<GroupKey>().is_err());
    }

    #[test]
    fn hard_links_are_one_copy_and_waste_nothing() {
        let mut a = m("/a", 100, 0, None, Present);
        let mut b = m("/b", 100, 0, None, Present);
        let mut c = m("/c", 100, 0, None, Present);
        a.record.stat.inode = 7;
        b.record.stat.inode = 7;
        c.record.stat.inode = 8;
        let g = group(vec![a.clone(), b.clone()]);
        assert_eq!((g.copies, g.wasted), (1, 0));
        let g = group(vec![a, b, c]);
        assert_eq!((g.copies, g.wasted), (2, 100));
    }
}
