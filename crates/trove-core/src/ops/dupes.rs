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
    pub record: FileRecord,
    /// Pixel width and height from the file's metadata, when it was read from the file as it
    /// is now.
    pub width: Option<u32>,
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
    pub groups: u64,
    pub files: u64,
    pub wasted: u64,
}

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
