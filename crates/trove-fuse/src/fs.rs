//! The filesystem: directory nodes, cached listings, and the FUSE callbacks.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, KernelConfig, OpenFlags,
    ReplyAttr, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, Request,
};
use trove_core::model::{FileId, FileRecord, FileState, PoolId, Source, TagId};
use trove_core::ops::{self, views};
use trove_core::{Index, Result};

use crate::MountOptions;

/// File inodes are `FILE_BASE + file id`: one inode per file wherever it is listed, and
/// `getattr`/`readlink` are one primary-key read. Directory inodes count up from `FIRST_DIR`.
const FILE_BASE: u64 = 1 << 48;
const FIRST_DIR: u64 = 16;
/// The rm guard's inode: the lowest in any `@files` directory (see [`GUARD`]).
const GUARD_INO: u64 = 2;
/// Listed first in every `@files` directory of a writable mount. `rm -r` and `find -delete`
/// remove entries in directory order (or inode order, which also puts it first), so an unlink
/// of it reveals a recursive delete: that process's further unlinks are refused, and a
/// recursive delete cannot untag a whole directory.
pub const GUARD: &str = ".trove-rm-guard";

/// How long the kernel may keep an entry and its attributes without asking again: a name
/// resolved outside any cached listing (`tags/<any tag>`, `by-id/<id>`, a file's `~<id>`
/// form).
const TTL: Duration = Duration::from_secs(1);
/// The same for an entry of a cached listing. The kernel is told to forget those when the
/// listing goes (the index changed, or it was evicted), so they can stay long: a repeated
/// `find -L` or `ls -l` over 100 000 links then sends no request at all.
const LISTED_TTL: Duration = Duration::from_secs(3600);
/// Co-occurring tags are listed down to this depth; deeper levels list only `@files` (every
/// name still resolves), so a crawler does not walk every combination of tags.
const MAX_LISTED_DEPTH: usize = 4;

/// What a directory shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Node {
    Root,
    Tags,
    /// `tags/a/b` (or `ns/x/v/b` with `via_ns`): the AND of the tags on the path.
    TagSet {
        tags: Vec<TagId>,
        via_ns: bool,
    },
    /// `…/@files` under a tag set.
    Files {
        tags: Vec<TagId>,
        via_ns: bool,
    },
    Namespaces,
    Namespace(String),
    Queries,
    Query(String),
    Pools,
    Pool(PoolId, String),
    ById,
}

impl Node {
    /// The root and the folders right under it are known for the mount's whole life; every
    /// other directory node lives while the kernel holds its inode (see [`State::forget`]).
    fn pinned(&self) -> bool {
        matches!(self, Node::Root | Node::Tags | Node::Namespaces | Node::Queries | Node::Pools | Node::ById)
    }
}

/// What a name in a directory is.
#[derive(Debug, Clone)]
enum What {
    Dir(Node),
    /// A file, shown as a symlink to its path; `mtime_ns` is the file's.
    File {
        id: FileId,
        target: Box<[u8]>,
        mtime_ns: i64,
    },
    /// The rm guard of a writable mount's `@files` (see [`GUARD`]).
    Guard,
}

#[derive(Debug, Clone)]
struct Entry {
    name: Box<[u8]>,
    what: What,
}

impl Entry {
    fn file_id(&self) -> Option<FileId> {
        match &self.what {
            What::File { id, .. } => Some(*id),
            _ => None,
        }
    }
}

/// A directory's contents. Names and file ids are found by binary search over two index
/// arrays (4 bytes an entry, where hash maps would hold a copy of every name): a 100 000-file
/// folder costs its names and targets and little more.
#[derive(Debug, Default)]
struct Listing {
    entries: Vec<Entry>,
    by_name: Vec<u32>,
    by_id: Vec<u32>,
}

impl Listing {
    fn new(entries: Vec<Entry>) -> Listing {
        let mut by_name: Vec<u32> = (0..entries.len() as u32).collect();
        by_name.sort_unstable_by(|a, b| entries[*a as usize].name.cmp(&entries[*b as usize].name));
        let mut by_id: Vec<u32> =
            (0..entries.len() as u32).filter(|i| entries[*i as usize].file_id().is_some()).collect();
        by_id.sort_unstable_by_key(|i| entries[*i as usize].file_id());
        Listing { entries, by_name, by_id }
    }

    /// An entry by name; a file also by its `stem~<id>.ext` form.
    fn find(&self, name: &[u8]) -> Option<&Entry> {
        if let Ok(i) = self.by_name.binary_search_by(|i| self.entries[*i as usize].name[..].cmp(name)) {
            return Some(&self.entries[self.by_name[i] as usize]);
        }
        let id = views::id_in_name(name)?;
        let e = self.by_file(id)?;
        let What::File { target, .. } = &e.what else { return None };
        // Only the file's own basename with its id: `a~7.flac` for a file named a.flac.
        let base = Path::new(OsStr::from_bytes(target)).file_name()?.as_bytes();
        (views::tagged_name(base, id) == name).then_some(e)
    }

    /// A file's entry by its id.
    fn by_file(&self, id: FileId) -> Option<&Entry> {
        let i = self.by_id.binary_search_by_key(&Some(id), |i| self.entries[*i as usize].file_id()).ok()?;
        Some(&self.entries[self.by_id[i] as usize])
    }
}

fn file_id(ino: u64) -> Option<FileId> {
    (ino > FILE_BASE).then(|| FileId((ino - FILE_BASE) as i64))
}

/// A directory node and how many times the kernel was handed its inode (by `lookup`,
/// `mkdir` or a `readdirplus` entry) minus what it `forget`s: at 0 the kernel holds no
/// reference and the node can go.
#[derive(Debug)]
struct Slot {
    node: Node,
    lookups: u64,
    /// The folder and name the kernel last got it by, to ask the kernel to let go of it.
    at: Option<(u64, Box<[u8]>)>,
}

#[derive(Debug)]
struct Cached {
    listing: Arc<Listing>,
    /// When it was last used (a tick of [`State::tick`]), its key in [`State::lru`].
    used: u64,
}

/// SQLite's page cache for the mount's connection, and how much of the index file it reads
/// through a memory map: a first listing of 100 000 files reads that many rows by id, and a
/// copy of each page into the cache (`pread`) took two thirds of it (532 → 172 ms at L). The
/// mapped pages are the kernel's page cache (shared, reclaimable), counted in the process's
/// `RssFile`, not its own memory.
const READ_CACHE_MIB: u32 = 16;
const READ_MMAP_MIB: u32 = 4096;

/// How many directory nodes the kernel may hold before the mount asks it to drop the oldest
/// half (about 300 bytes each).
pub const MAX_NODES: usize = 100_000;

/// How many entries the cached listings may hold together before the least recently used
/// go (the one in use is always kept, however big): about 200 bytes an entry.
pub const MAX_CACHED_ENTRIES: usize = 300_000;

/// A directory whose cached contents the kernel must forget.
pub struct Stale {
    pub dir: u64,
    pub names: Vec<OsString>,
    /// Inodes whose attributes and link target to forget.
    pub files: Vec<u64>,
    /// Whether the folder's own pages (its listing) go too.
    pub pages: bool,
}

/// Everything behind the lock: the index connection, directory nodes, cached listings.
pub struct State {
    index: Index,
    version: i64,
    nodes: HashMap<u64, Slot>,
    inos: HashMap<Node, u64>,
    next_ino: u64,
    /// How many nodes there were after the last sweep of unreferenced ones.
    swept_at: usize,
    listings: HashMap<u64, Cached>,
    lru: BTreeMap<u64, u64>,
    tick: u64,
    cached_entries: usize,
    max_cached_entries: usize,
    /// Open directories: the listing each was opened on.
    handles: HashMap<u64, Arc<Listing>>,
    next_fh: u64,
    /// Listings that went stale (the index changed: `true`) or were evicted (`false`), for
    /// the kernel to forget their pages and entries (sent outside the lock by the mount loop).
    stale: Vec<(u64, Arc<Listing>, bool)>,
    top_tags: u64,
    top_cooccurring: u64,
    uid: u32,
    gid: u32,
    started: SystemTime,
    /// Processes caught deleting recursively (they unlinked the guard): pid → when.
    recursive: HashMap<u32, std::time::Instant>,
    max_nodes: usize,
    /// No prune before the nodes reach this many again.
    next_prune: usize,
    /// Directory entries (folder, name) the kernel is asked to drop (see [`State::prune`]).
    prune: Vec<(u64, Box<[u8]>)>,
    /// Every tag's number of files, for `tags/` and co-occurring tags; dropped with the
    /// listings when the index changes.
    sizes: Option<Arc<views::TagSizes>>,
}

impl State {
    pub fn new(mut index: Index, opts: &MountOptions) -> Result<State> {
        use std::os::unix::fs::MetadataExt;
        index.set_checkpoint_after_write(true);
        index.set_read_memory(READ_CACHE_MIB, READ_MMAP_MIB)?;
        let me = std::fs::metadata("/proc/self").ok();
        let version = views::data_version(&index)?;
        let mut s = State {
            index,
            version,
            nodes: HashMap::new(),
            inos: HashMap::new(),
            next_ino: FIRST_DIR,
            swept_at: 0,
            listings: HashMap::new(),
            lru: BTreeMap::new(),
            tick: 0,
            cached_entries: 0,
            max_cached_entries: opts.max_cached_entries,
            handles: HashMap::new(),
            next_fh: 1,
            stale: Vec::new(),
            top_tags: opts.top_tags,
            top_cooccurring: opts.top_cooccurring,
            uid: me.as_ref().map_or(0, MetadataExt::uid),
            gid: me.as_ref().map_or(0, MetadataExt::gid),
            started: SystemTime::now(),
            recursive: HashMap::new(),
            max_nodes: opts.max_nodes,
            next_prune: 0,
            prune: Vec::new(),
            sizes: None,
        };
        s.nodes.insert(1, Slot { node: Node::Root, lookups: 1, at: None });
        s.inos.insert(Node::Root, 1);
        Ok(s)
    }

    /// Drops every cached listing when another process committed since the last look.
    pub fn refresh(&mut self) -> Result<()> {
        // The index file replaced under the mount (a restore): serve the new one.
        if self.index.is_replaced() {
            self.index.reopen()?;
            self.index.set_read_memory(READ_CACHE_MIB, READ_MMAP_MIB)?;
            self.version = views::data_version(&self.index)?;
            self.forget_listings();
            return Ok(());
        }
        let v = views::data_version(&self.index)?;
        if v != self.version {
            self.version = v;
            self.forget_listings();
        }
        Ok(())
    }

    /// After this mount's own writes (which do not move `data_version` for its connection).
    fn forget_listings(&mut self) {
        self.sizes = None;
        for (ino, c) in self.listings.drain() {
            self.stale.push((ino, c.listing, true));
        }
        self.lru.clear();
        self.cached_entries = 0;
    }

    /// What the kernel should forget: directories, the names they listed, and, when the
    /// index changed, the listed files' inodes (a moved file's cached link target).
    pub fn take_stale(&mut self) -> Vec<Stale> {
        let pruned = std::mem::take(&mut self.prune).into_iter().map(|(dir, name)| Stale {
            dir,
            names: vec![OsString::from_vec(name.into_vec())],
            files: Vec::new(),
            pages: false,
        });
        std::mem::take(&mut self.stale)
            .into_iter()
            .map(|(dir, l, changed)| Stale {
                dir,
                names: l.entries.iter().map(|e| OsString::from_vec(e.name.to_vec())).collect(),
                files: if changed {
                    l.entries.iter().filter_map(|e| e.file_id()).map(|id| FILE_BASE + id.0 as u64).collect()
                } else {
                    Vec::new()
                },
                pages: true,
            })
            .chain(pruned)
            .collect()
    }

    /// The inode of a directory node, numbering it when it has none (yet, or any more).
    fn ino_of(&mut self, node: &Node) -> u64 {
        if let Some(&i) = self.inos.get(node) {
            return i;
        }
        // Nodes numbered for a plain `readdir` (which hands the kernel no reference) are
        // dropped in sweeps, each when the count has doubled since the last; before the new
        // node is added, which has no reference yet either and is about to be handed out.
        if self.nodes.len() > 2 * self.swept_at + 1024 {
            self.sweep();
        }
        let i = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(i, Slot { node: node.clone(), lookups: 0, at: None });
        self.inos.insert(node.clone(), i);
        i
    }

    /// Over [`MAX_NODES`] directories held by the kernel: asks it to let go of the oldest
    /// half (`inval_entry` on the name it has them by; it then `forget`s those not in use),
    /// so a walk over many folders keeps the mount's memory bounded, not only the kernel's
    /// cache pressure.
    fn prune(&mut self) {
        let mut held: Vec<u64> =
            self.nodes.iter().filter(|(_, s)| s.lookups > 0 && !s.node.pinned()).map(|(i, _)| *i).collect();
        held.sort_unstable();
        for ino in &held[..held.len() / 2] {
            if let Some((parent, name)) = self.nodes.get(ino).and_then(|s| s.at.clone()) {
                self.prune.push((parent, name));
            }
        }
        // The kernel's forgets arrive a little later: the next prune waits for a quarter more.
        self.next_prune = self.nodes.len() + self.max_nodes / 4;
    }

    /// Drops the nodes the kernel holds no reference to.
    fn sweep(&mut self) {
        let gone: Vec<u64> =
            self.nodes.iter().filter(|(_, s)| s.lookups == 0 && !s.node.pinned()).map(|(i, _)| *i).collect();
        for i in gone {
            self.drop_node(i);
        }
        self.swept_at = self.nodes.len();
    }

    fn drop_node(&mut self, ino: u64) {
        if let Some(slot) = self.nodes.remove(&ino) {
            self.inos.remove(&slot.node);
        }
        if let Some(c) = self.listings.remove(&ino) {
            self.lru.remove(&c.used);
            self.cached_entries -= c.listing.entries.len();
        }
    }

    /// The kernel dropped `n` references to inode `ino` (`FORGET`). A directory node whose
    /// count reaches 0 goes, with its cached listing; a file's inode is its id and needs
    /// nothing.
    pub fn forget(&mut self, ino: u64, n: u64) {
        let Some(slot) = self.nodes.get_mut(&ino) else { return };
        slot.lookups = slot.lookups.saturating_sub(n);
        if slot.lookups == 0 && !slot.node.pinned() {
            self.drop_node(ino);
        }
    }

    /// How many directory nodes and cached listing entries the mount holds.
    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        (self.nodes.len(), self.cached_entries)
    }

    fn file_entry(name: Vec<u8>, r: &FileRecord) -> Entry {
        Entry {
            name: name.into(),
            what: What::File { id: r.id, target: r.path_bytes().into(), mtime_ns: r.stat.mtime_ns },
        }
    }

    fn dir_entry(name: impl Into<Vec<u8>>, node: Node) -> Entry {
        Entry { name: name.into().into(), what: What::Dir(node) }
    }

    /// The files a query finds, named by the collision rule (`ops::views::entry_names`):
    /// only their ids, paths and mtimes are read, in no particular order without `limit:`.
    fn files_listing(&self, q: &ops::find::Query, out: &mut Vec<Entry>) -> Result<()> {
        let mut files: Vec<(FileId, Box<[u8]>, i64)> = Vec::new();
        views::for_each_listed(&self.index, q, |id, path, mtime| files.push((id, path.into(), mtime)))?;
        let names = {
            let keys: Vec<(FileId, &[u8])> = files.iter().map(|(id, p, _)| (*id, views::basename_of(p))).collect();
            views::entry_names(&keys)
        };
        out.reserve(files.len());
        out.extend(files.into_iter().zip(names).map(|((id, target, mtime_ns), name)| Entry {
            name: name.into(),
            what: What::File { id, target, mtime_ns },
        }));
        Ok(())
    }

    /// Every tag's number of files, read once until the index changes.
    fn sizes(&mut self) -> Result<Arc<views::TagSizes>> {
        if let Some(s) = &self.sizes {
            return Ok(s.clone());
        }
        let s = Arc::new(views::TagSizes::read(&self.index)?);
        self.sizes = Some(s.clone());
        Ok(s)
    }

    fn tag_names(&self, tags: &[TagId]) -> Result<Vec<String>> {
        tags.iter().map(|t| ops::tags::names(&self.index, *t).map(|n| n[0].name.clone())).collect()
    }

    fn compute(&mut self, node: &Node, writable: bool) -> Result<Listing> {
        let mut l = Vec::new();
        match node {
            Node::Root => {
                for (n, child) in [
                    ("tags", Node::Tags),
                    ("ns", Node::Namespaces),
                    ("query", Node::Queries),
                    ("pools", Node::Pools),
                    ("by-id", Node::ById),
                ] {
                    l.push(Self::dir_entry(n, child));
                }
            }
            Node::Tags => {
                let sizes = self.sizes()?;
                for t in sizes.top(&self.index, self.top_tags)? {
                    l.push(Self::dir_entry(views::escape(&t.name), Node::TagSet { tags: vec![t.id], via_ns: false }));
                }
            }
            Node::TagSet { tags, via_ns } => {
                l.push(Self::dir_entry("@files", Node::Files { tags: tags.clone(), via_ns: *via_ns }));
                if tags.len() < MAX_LISTED_DEPTH {
                    let q = views::all_of(&self.index, tags)?;
                    let sizes = self.sizes()?;
                    for t in sizes.cooccurring(&self.index, &q, tags, self.top_cooccurring)? {
                        let mut path = tags.clone();
                        path.push(t.id);
                        l.push(Self::dir_entry(views::escape(&t.name), Node::TagSet { tags: path, via_ns: *via_ns }));
                    }
                }
            }
            Node::Files { tags, .. } => {
                if writable {
                    l.push(Entry { name: GUARD.as_bytes().into(), what: What::Guard });
                }
                let q = views::all_of(&self.index, tags)?;
                self.files_listing(&q, &mut l)?;
            }
            Node::Namespaces => {
                for n in views::namespaces(&self.index, self.top_tags)? {
                    l.push(Self::dir_entry(views::escape(&n.namespace), Node::Namespace(n.namespace)));
                }
            }
            Node::Namespace(ns) => {
                for t in views::ns_values(&self.index, ns, self.top_tags)? {
                    l.push(Self::dir_entry(views::escape(&t.name), Node::TagSet { tags: vec![t.id], via_ns: true }));
                }
            }
            Node::Queries | Node::ById => {}
            Node::Query(text) => {
                let q = ops::find::Query::new(&self.index, text)?;
                self.files_listing(&q, &mut l)?;
            }
            Node::Pools => {
                for p in ops::pools::list(&self.index)? {
                    l.push(Self::dir_entry(views::escape(&p.title), Node::Pool(p.id, p.title)));
                }
            }
            Node::Pool(_, title) => {
                let files = ops::pools::show(&self.index, title)?.files;
                let files: Vec<FileRecord> = files.into_iter().filter(|r| r.state != FileState::Missing).collect();
                let width = files.len().to_string().len().max(4);
                for (i, r) in files.iter().enumerate() {
                    let mut name = format!("{:0width$} ", i + 1).into_bytes();
                    name.extend_from_slice(views::basename(r));
                    l.push(Self::file_entry(name, r));
                }
            }
        }
        Ok(Listing::new(l))
    }

    /// The listing of a directory: cached until the index changes, or until it is the least
    /// recently used when the cache is over [`MountOptions::max_cached_entries`].
    fn listing(&mut self, ino: u64, writable: bool) -> Result<Option<(Arc<Listing>, bool)>> {
        self.tick += 1;
        let tick = self.tick;
        if let Some(c) = self.listings.get_mut(&ino) {
            self.lru.remove(&c.used);
            c.used = tick;
            self.lru.insert(tick, ino);
            return Ok(Some((c.listing.clone(), true)));
        }
        let Some(node) = self.nodes.get(&ino).map(|s| s.node.clone()) else { return Ok(None) };
        let l = Arc::new(self.compute(&node, writable)?);
        self.cached_entries += l.entries.len();
        self.listings.insert(ino, Cached { listing: l.clone(), used: tick });
        self.lru.insert(tick, ino);
        // Over the bound: the least recently used go, and the kernel forgets what they
        // listed (its entries would otherwise outlive our means to invalidate them).
        while self.cached_entries > self.max_cached_entries && self.listings.len() > 1 {
            let Some((_, old)) = self.lru.pop_first() else { break };
            if let Some(c) = self.listings.remove(&old) {
                self.cached_entries -= c.listing.entries.len();
                self.stale.push((old, c.listing, false));
            }
        }
        Ok(Some((l, false)))
    }

    /// The child called `name` in directory `parent`, and whether it is a name of the
    /// directory's cached listing (which the kernel is told to forget when the listing goes).
    fn lookup(&mut self, parent: u64, name: &[u8], writable: bool) -> Result<Option<(Entry, bool)>> {
        let Some(node) = self.nodes.get(&parent).map(|s| s.node.clone()) else { return Ok(None) };
        if matches!(node, Node::Root | Node::Pools | Node::Files { .. } | Node::Query(_) | Node::Pool(..)) {
            return Ok(self.listing(parent, writable)?.and_then(|(l, _)| {
                l.find(name).map(|e| {
                    let listed = *e.name == *name;
                    (e.clone(), listed)
                })
            }));
        }
        let text = || views::unescape(name);
        Ok(match node {
            Node::Root | Node::Pools | Node::Files { .. } | Node::Query(_) | Node::Pool(..) => None,
            Node::Tags => match text() {
                Some(t) => views::tag(&self.index, &t)?
                    .map(|(id, _)| Self::dir_entry(name, Node::TagSet { tags: vec![id], via_ns: false })),
                None => None,
            },
            Node::TagSet { tags, via_ns } => {
                if name == b"@files" {
                    return Ok(Some((Self::dir_entry(name, Node::Files { tags, via_ns }), false)));
                }
                match text() {
                    Some(t) => match views::tag(&self.index, &t)? {
                        Some((id, _)) if !tags.contains(&id) => {
                            let mut path = tags;
                            path.push(id);
                            Some(Self::dir_entry(name, Node::TagSet { tags: path, via_ns }))
                        }
                        _ => None,
                    },
                    None => None,
                }
            }
            Node::Namespaces => match text() {
                Some(ns) if !views::ns_values(&self.index, &ns, 1)?.is_empty() => {
                    Some(Self::dir_entry(name, Node::Namespace(trove_core::model::fold(&ns))))
                }
                _ => None,
            },
            Node::Namespace(ns) => match text() {
                Some(v) => views::tag(&self.index, &format!("{ns}:{v}"))?
                    .map(|(id, _)| Self::dir_entry(name, Node::TagSet { tags: vec![id], via_ns: true })),
                None => None,
            },
            Node::Queries => match text() {
                // Nothing is stored: the text is parsed (a syntax error or an unknown tag is
                // ENOENT) and evaluated when listed.
                Some(q) if ops::find::Query::new(&self.index, &q).is_ok_and(|q| q.warnings().is_empty()) => {
                    Some(Self::dir_entry(name, Node::Query(q)))
                }
                _ => None,
            },
            Node::ById => {
                let id = std::str::from_utf8(name).ok().and_then(|s| s.parse::<i64>().ok()).filter(|i| *i > 0);
                match id {
                    Some(id) => ops::files::get(&self.index, FileId(id))?
                        .filter(|r| r.state != FileState::Missing)
                        .map(|r| Self::file_entry(name.to_vec(), &r)),
                    None => None,
                }
            }
        }
        .map(|e| (e, false)))
    }

    /// An entry's inode and attributes. `referenced`: the reply hands the kernel a reference
    /// to the entry in that folder (`lookup`, `mkdir`, a `readdirplus` entry), which
    /// `forget` will give back.
    fn entry_attr(&mut self, e: &Entry, writable: bool, referenced: Option<u64>) -> FileAttr {
        match &e.what {
            What::Dir(node) => {
                let ino = self.ino_of(node);
                if let Some(parent) = referenced
                    && let Some(slot) = self.nodes.get_mut(&ino)
                {
                    slot.lookups += 1;
                    if slot.at.as_ref().is_none_or(|(p, n)| *p != parent || **n != *e.name) {
                        slot.at = Some((parent, e.name.clone()));
                    }
                    if self.nodes.len() > self.max_nodes.max(self.next_prune) {
                        self.prune();
                    }
                }
                self.attr(ino, FileType::Directory, None, writable)
            }
            What::File { id, target, mtime_ns } => {
                self.attr(FILE_BASE + id.0 as u64, FileType::Symlink, Some((target, *mtime_ns)), writable)
            }
            What::Guard => self.attr(GUARD_INO, FileType::RegularFile, None, writable),
        }
    }

    fn attr(&self, ino: u64, kind: FileType, file: Option<(&[u8], i64)>, writable: bool) -> FileAttr {
        let (size, mtime, perm) = match (kind, file) {
            (FileType::Symlink, Some((target, mtime))) => {
                let t = UNIX_EPOCH + Duration::from_nanos(mtime.max(0) as u64);
                (target.len() as u64, t, 0o777)
            }
            (FileType::RegularFile, _) => (0, self.started, 0o444),
            _ => (0, self.started, if writable { 0o755 } else { 0o555 }),
        };
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: 0,
            atime: mtime,
            mtime,
            ctime: mtime,
            crtime: mtime,
            kind,
            perm,
            nlink: if kind == FileType::Directory { 2 } else { 1 },
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    /// A file's symlink target and mtime: from the most recently used cached listings (a
    /// `find -L` or `ls -l` reads the links of the folder it just listed; no SQL statement,
    /// no lock on the index file), else from the index.
    fn file(&self, id: FileId) -> Result<Option<(Box<[u8]>, i64)>> {
        for ino in self.lru.values().rev().take(4) {
            if let Some(e) = self.listings.get(ino).and_then(|c| c.listing.by_file(id))
                && let What::File { target, mtime_ns, .. } = &e.what
            {
                return Ok(Some((target.clone(), *mtime_ns)));
            }
        }
        Ok(ops::files::get(&self.index, id)?
            .filter(|r| r.state != FileState::Missing)
            .map(|r| (r.path_bytes().into(), r.stat.mtime_ns)))
    }

    fn getattr(&self, ino: u64, writable: bool) -> Result<Option<FileAttr>> {
        if ino == GUARD_INO {
            return Ok(writable.then(|| self.attr(ino, FileType::RegularFile, None, writable)));
        }
        if let Some(id) = file_id(ino) {
            return Ok(self
                .file(id)?
                .map(|(target, mtime)| self.attr(ino, FileType::Symlink, Some((&target, mtime)), writable)));
        }
        Ok(self.nodes.contains_key(&ino).then(|| self.attr(ino, FileType::Directory, None, writable)))
    }
}

/// The FUSE side: each callback takes the lock, answers from the state, replies.
pub struct TroveFs {
    state: Arc<Mutex<State>>,
    writable: bool,
    /// Where it is mounted (canonical), so a link target inside the mount is refused.
    mountpoint: std::path::PathBuf,
}

impl TroveFs {
    pub(crate) fn new(state: Arc<Mutex<State>>, writable: bool, mountpoint: std::path::PathBuf) -> Self {
        TroveFs { state, writable, mountpoint }
    }

    /// The state, refreshed against the index's data_version.
    fn state(&self) -> Option<MutexGuard<'_, State>> {
        let mut s = self.state.lock().ok()?;
        let _ = s.refresh();
        Some(s)
    }

    /// Replies with an entry the kernel now holds a reference to.
    fn reply_entry(&self, s: &mut State, parent: u64, e: &Entry, ttl: &Duration, reply: ReplyEntry) {
        let attr = s.entry_attr(e, self.writable, Some(parent));
        reply.entry(ttl, &attr, Generation(0));
    }
}

fn io_errno(e: &trove_core::Error) -> Errno {
    if e.is_busy() { Errno::from_i32(libc::EBUSY) } else { Errno::EIO }
}

/// Every write a read-only mount (or a write the writable mount does not allow) refuses.
fn refused(writable: bool) -> Errno {
    if writable { Errno::EPERM } else { Errno::EROFS }
}

impl Filesystem for TroveFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // `ls --color` and `find -L` read every link: let the kernel keep them. READDIRPLUS
        // (always, not the kernel's adaptive choice, which stops after the first page when
        // the reader looks nothing up meanwhile, as `find` does): a listing hands the kernel
        // every entry with its attributes, so `find -L`, `ls -l` and file managers do not
        // send a `lookup` per name.
        let _ = config.add_capabilities(fuser::InitFlags::FUSE_CACHE_SYMLINKS);
        let _ = config.add_capabilities(fuser::InitFlags::FUSE_DO_READDIRPLUS);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let Some(mut s) = self.state() else { return reply.error(Errno::EIO) };
        match s.lookup(parent.0, name.as_bytes(), self.writable) {
            Ok(Some((e, listed))) => {
                self.reply_entry(&mut s, parent.0, &e, if listed { &LISTED_TTL } else { &TTL }, reply);
            }
            Ok(None) => reply.error(Errno::ENOENT),
            Err(e) => reply.error(io_errno(&e)),
        }
    }

    // (`batch_forget`'s default calls this for each inode.)
    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.forget(ino.0, nlookup);
        }
    }

    // getattr and readlink read the index directly: no refresh (data_version) needed.
    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let Ok(s) = self.state.lock() else { return reply.error(Errno::EIO) };
        match s.getattr(ino.0, self.writable) {
            Ok(Some(a)) => reply.attr(&TTL, &a),
            Ok(None) => reply.error(Errno::ENOENT),
            Err(e) => reply.error(io_errno(&e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let Ok(s) = self.state.lock() else { return reply.error(Errno::EIO) };
        let Some(id) = file_id(ino.0) else { return reply.error(Errno::EINVAL) };
        match s.file(id) {
            Ok(Some((target, _))) => reply.data(&target),
            Ok(None) => reply.error(Errno::ENOENT),
            Err(e) => reply.error(io_errno(&e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if ino.0 != GUARD_INO {
            return reply.error(Errno::EISDIR);
        }
        if flags.0 & libc::O_ACCMODE != libc::O_RDONLY {
            return reply.error(refused(self.writable));
        }
        reply.opened(FileHandle(0), FopenFlags::empty());
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        reply.data(b"");
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let Some(mut s) = self.state() else { return reply.error(Errno::EIO) };
        match s.listing(ino.0, self.writable) {
            Ok(Some((l, cached))) => {
                let fh = s.next_fh;
                s.next_fh += 1;
                s.handles.insert(fh, l);
                // The kernel may keep the directory's pages; when the listing was recomputed
                // it drops what it had (no KEEP_CACHE), so a change shows on the next `ls`.
                let mut flags = FopenFlags::FOPEN_CACHE_DIR;
                if cached {
                    flags |= FopenFlags::FOPEN_KEEP_CACHE;
                }
                reply.opened(FileHandle(fh), flags);
            }
            Ok(None) => reply.error(Errno::ENOENT),
            // A query that no longer parses, a pool deleted meanwhile.
            Err(
                trove_core::Error::Query(_) | trove_core::Error::QueryMeaning(_) | trove_core::Error::UnknownPool(_),
            ) => {
                reply.error(Errno::ENOENT);
            }
            Err(e) => reply.error(io_errno(&e)),
        }
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        // Only when the kernel does not do READDIRPLUS: inode numbers, no references.
        let Ok(mut s) = self.state.lock() else { return reply.error(Errno::EIO) };
        let Some(l) = s.handles.get(&fh.0).cloned() else { return reply.error(Errno::EBADF) };
        let mut i = offset as usize;
        while i < l.entries.len() + 2 {
            let full = match i {
                0 => reply.add(ino, 1, FileType::Directory, "."),
                1 => reply.add(INodeNo(1), 2, FileType::Directory, ".."),
                _ => {
                    let e = &l.entries[i - 2];
                    let attr = s.entry_attr(e, self.writable, None);
                    reply.add(attr.ino, i as u64 + 1, attr.kind, OsStr::from_bytes(&e.name))
                }
            };
            if full {
                break;
            }
            i += 1;
        }
        drop(s);
        reply.ok();
    }

    fn readdirplus(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectoryPlus) {
        let Ok(mut s) = self.state.lock() else { return reply.error(Errno::EIO) };
        let Some(l) = s.handles.get(&fh.0).cloned() else { return reply.error(Errno::EBADF) };
        // Entries of the cached listing stay long in the kernel (they are invalidated with
        // it); those of a listing that went stale while the directory was open, briefly.
        let ttl = if s.listings.get(&ino.0).is_some_and(|c| Arc::ptr_eq(&c.listing, &l)) { LISTED_TTL } else { TTL };
        let dir = s.attr(ino.0, FileType::Directory, None, self.writable);
        let mut i = offset as usize;
        while i < l.entries.len() + 2 {
            let full = match i {
                // `.` and `..` take no reference.
                0 => reply.add(ino, 1, ".", &TTL, &dir, Generation(0)),
                1 => reply.add(INodeNo(1), 2, "..", &TTL, &dir, Generation(0)),
                _ => {
                    let e = &l.entries[i - 2];
                    let attr = s.entry_attr(e, self.writable, None);
                    let full =
                        reply.add(attr.ino, i as u64 + 1, OsStr::from_bytes(&e.name), &ttl, &attr, Generation(0));
                    if !full && matches!(e.what, What::Dir(_)) {
                        // Sent: the kernel holds a reference from now on.
                        let _ = s.entry_attr(e, self.writable, Some(ino.0));
                    }
                    full
                }
            };
            if full {
                break;
            }
            i += 1;
        }
        drop(s);
        reply.ok();
    }

    fn releasedir(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, _flags: OpenFlags, reply: ReplyEmpty) {
        if let Ok(mut s) = self.state.lock() {
            s.handles.remove(&fh.0);
        }
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: fuser::ReplyStatfs) {
        reply.statfs(0, 0, 0, 0, 0, 4096, 255, 0);
    }

    // ---- writes ----------------------------------------------------------------------
    // A read-only mount is mounted `ro` (the kernel refuses writes itself) and answers
    // EROFS here too; a writable mount allows the tagging gestures below and nothing else.

    fn mkdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, _mode: u32, _umask: u32, reply: ReplyEntry) {
        if !self.writable {
            return reply.error(Errno::EROFS);
        }
        let Some(mut s) = self.state() else { return reply.error(Errno::EIO) };
        let (tags, via_ns) = match s.nodes.get(&parent.0).map(|s| &s.node) {
            Some(Node::Tags) => (Vec::new(), false),
            Some(Node::TagSet { tags, via_ns }) => (tags.clone(), *via_ns),
            _ => return reply.error(Errno::EPERM),
        };
        let Some(text) = views::unescape(name.as_bytes()) else { return reply.error(Errno::EINVAL) };
        let id = match views::tag(&s.index, &text) {
            Ok(Some((id, _))) => id,
            Ok(None) => match ops::tags::create(&mut s.index, &text) {
                Ok(id) => id,
                Err(trove_core::Error::BadTagName { .. }) => return reply.error(Errno::EINVAL),
                Err(e) => return reply.error(io_errno(&e)),
            },
            Err(e) => return reply.error(io_errno(&e)),
        };
        if tags.contains(&id) {
            return reply.error(Errno::EEXIST);
        }
        s.forget_listings();
        let mut path = tags;
        path.push(id);
        let e = State::dir_entry(name.as_bytes(), Node::TagSet { tags: path, via_ns });
        self.reply_entry(&mut s, parent.0, &e, &TTL, reply);
    }

    fn symlink(&self, _req: &Request, parent: INodeNo, _link_name: &OsStr, target: &Path, reply: ReplyEntry) {
        if !self.writable {
            return reply.error(Errno::EROFS);
        }
        // The link's target names the file to tag: an absolute path outside this mount.
        // It is resolved before the lock is taken (resolving may pass through this mount,
        // whose other thread then answers), and refused when it leads back into the mount.
        if !target.is_absolute() {
            return reply.error(Errno::EINVAL);
        }
        let resolved = trove_core::paths::resolve(Path::new("/"), target);
        if resolved.starts_with(&self.mountpoint) {
            return reply.error(Errno::EINVAL);
        }
        let Some(mut s) = self.state() else { return reply.error(Errno::EIO) };
        let tags = match s.nodes.get(&parent.0).map(|s| &s.node) {
            Some(Node::TagSet { tags, .. } | Node::Files { tags, .. }) => tags.clone(),
            _ => return reply.error(Errno::EPERM),
        };
        let names = match s.tag_names(&tags) {
            Ok(n) => n,
            Err(e) => return reply.error(io_errno(&e)),
        };
        let r = ops::tagging::tag_paths(
            &mut s.index,
            std::slice::from_ref(&resolved),
            &names,
            false,
            &Source::Mount,
            &ops::NoProgress,
        );
        match r {
            Ok(rep) if rep.failed.is_empty() && rep.files > 0 => {}
            Ok(_) => return reply.error(Errno::ENOENT),
            Err(e) => return reply.error(io_errno(&e)),
        }
        s.forget_listings();
        match ops::files::live_at(&s.index, &resolved) {
            Ok(Some(r)) => {
                let e = State::file_entry(views::basename(&r).to_vec(), &r);
                self.reply_entry(&mut s, parent.0, &e, &TTL, reply);
            }
            Ok(None) => reply.error(Errno::ENOENT),
            Err(e) => reply.error(io_errno(&e)),
        }
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        if !self.writable {
            return reply.error(Errno::EROFS);
        }
        let Some(mut s) = self.state() else { return reply.error(Errno::EIO) };
        let pid = req.pid();
        let now = std::time::Instant::now();
        s.recursive.retain(|_, t| now.duration_since(*t) < Duration::from_secs(60));
        if name.as_bytes() == GUARD.as_bytes() {
            s.recursive.insert(pid, now);
            return reply.error(Errno::EPERM);
        }
        if s.recursive.contains_key(&pid) {
            return reply.error(Errno::EPERM);
        }
        let Some(Node::Files { tags, .. }) = s.nodes.get(&parent.0).map(|s| s.node.clone()) else {
            return reply.error(Errno::EPERM);
        };
        let entry = match s.listing(parent.0, true) {
            Ok(Some((l, _))) => l.find(name.as_bytes()).cloned(),
            Ok(None) => None,
            Err(e) => return reply.error(io_errno(&e)),
        };
        let (Some(entry), Some(last)) = (entry, tags.last()) else { return reply.error(Errno::ENOENT) };
        let Some(id) = entry.file_id() else { return reply.error(Errno::EPERM) };
        let names = match s.tag_names(&[*last]) {
            Ok(n) => n,
            Err(e) => return reply.error(io_errno(&e)),
        };
        // Only the directory's last tag comes off, only this file, from every source.
        match ops::tagging::untag_ids(&mut s.index, &[id], &names, None) {
            // Carried only through an implication: there is no link here to remove.
            Ok(r) if r.links_removed == 0 => reply.error(Errno::EPERM),
            Ok(_) => {
                s.forget_listings();
                reply.ok();
            }
            Err(e) => reply.error(io_errno(&e)),
        }
    }

    fn rmdir(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        // Never: a recursive delete of a tag directory would untag everything below it.
        reply.error(refused(self.writable));
    }

    fn rename(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _newparent: INodeNo,
        _newname: &OsStr,
        _flags: fuser::RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply.error(refused(self.writable));
    }

    fn link(&self, _req: &Request, _ino: INodeNo, _newparent: INodeNo, _newname: &OsStr, reply: ReplyEntry) {
        reply.error(refused(self.writable));
    }

    fn mknod(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        reply.error(refused(self.writable));
    }

    fn create(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: fuser::ReplyCreate,
    ) {
        reply.error(refused(self.writable));
    }

    fn setattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        _size: Option<u64>,
        _atime: Option<fuser::TimeOrNow>,
        _mtime: Option<fuser::TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        reply.error(refused(self.writable));
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _data: &[u8],
        _write_flags: fuser::WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: fuser::ReplyWrite,
    ) {
        reply.error(refused(self.writable));
    }

    fn setxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply.error(refused(self.writable));
    }

    fn removexattr(&self, _req: &Request, _ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(refused(self.writable));
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _length: u64,
        _mode: i32,
        reply: ReplyEmpty,
    ) {
        reply.error(refused(self.writable));
    }
}

#[cfg(test)]
mod tests {
    //! The node and listing bookkeeping on a real index, without the kernel: what `forget`
    //! frees, what stays pinned, and the bound on cached listings.

    use std::path::PathBuf;

    use trove_core::OpenMode;

    use super::*;

    /// An index of `n` files tagged `all`, and `t0`…`t3` on every fourth.
    fn state(dir: &Path, n: usize, max_cached_entries: usize) -> State {
        let mut index = Index::open(&dir.join("index.db"), OpenMode::Create).unwrap();
        let mut files: Vec<Vec<PathBuf>> = vec![Vec::new(); 4];
        for i in 0..n {
            let p = dir.join(format!("f{i}.txt"));
            std::fs::write(&p, format!("file {i}")).unwrap();
            files[i % 4].push(p);
        }
        for (k, paths) in files.iter().enumerate() {
            let tags = [format!("t{k}"), "all".to_string()];
            ops::tagging::tag_paths(&mut index, paths, &tags, false, &Source::Manual, &ops::NoProgress).unwrap();
        }
        let mut opts = MountOptions::new(dir.join("index.db"), dir.to_path_buf());
        opts.max_cached_entries = max_cached_entries;
        State::new(index, &opts).unwrap()
    }

    /// Looks `path` up from the root as the kernel does, taking a reference on each directory.
    fn walk(s: &mut State, path: &str) -> u64 {
        let mut ino = 1;
        for part in path.split('/') {
            let (e, _) = s.lookup(ino, part.as_bytes(), false).unwrap().unwrap_or_else(|| panic!("{part}"));
            ino = s.entry_attr(&e, false, Some(ino)).ino.0;
        }
        ino
    }

    #[test]
    fn forget_frees_a_directory_node_and_its_listing() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = state(tmp.path(), 8, MAX_CACHED_ENTRIES);
        let files = walk(&mut s, "tags/t1/@files");
        let (l, _) = s.listing(files, false).unwrap().unwrap();
        assert_eq!(l.entries.len(), 2);
        let before = s.held();
        // Looked up twice (two references), forgotten once: still there.
        let again = walk(&mut s, "tags/t1/@files");
        assert_eq!(again, files);
        s.forget(files, 1);
        assert!(s.getattr(files, false).unwrap().is_some());
        // The last reference: the node and its cached listing go.
        s.forget(files, 1);
        assert!(s.getattr(files, false).unwrap().is_none(), "a forgotten inode is unknown");
        assert_eq!(s.held(), (before.0 - 1, before.1 - 2));
        // The same path looked up again is a new inode, listed afresh.
        let fresh = walk(&mut s, "tags/t1/@files");
        assert_ne!(fresh, files);
        assert_eq!(s.listing(fresh, false).unwrap().unwrap().0.entries.len(), 2);
    }

    /// Regression: the sweep ran right after a node was numbered, before the reference the
    /// caller was about to take, so the kernel got an inode the mount no longer knew (and
    /// `find -L` a "No such file or directory" under it).
    #[test]
    fn a_sweep_never_drops_the_node_being_handed_out() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = state(tmp.path(), 4, MAX_CACHED_ENTRIES);
        let queries = walk(&mut s, "query");
        for i in 0..5_000 {
            let e = State::dir_entry("q", Node::Query(format!("t{} limit:{}", i % 4, i + 1)));
            let ino = s.entry_attr(&e, false, Some(queries)).ino.0;
            assert!(s.getattr(ino, false).unwrap().is_some(), "inode {ino} handed out unknown (query {i})");
        }
    }

    #[test]
    fn the_root_and_its_folders_are_never_freed() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = state(tmp.path(), 4, MAX_CACHED_ENTRIES);
        let tags = walk(&mut s, "tags");
        s.forget(tags, 1_000);
        s.forget(1, 1_000);
        assert!(s.getattr(tags, false).unwrap().is_some());
        assert!(s.getattr(1, false).unwrap().is_some());
        assert_eq!(walk(&mut s, "tags"), tags);
    }

    #[test]
    fn nodes_numbered_without_a_reference_are_swept() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = state(tmp.path(), 4, MAX_CACHED_ENTRIES);
        // A plain readdir numbers directories without handing the kernel a reference:
        // 10 000 such nodes must not stay.
        for i in 0..10_000 {
            let e = State::dir_entry("q", Node::Query(format!("t{i}")));
            let _ = s.entry_attr(&e, false, None);
        }
        assert!(s.held().0 < 3_000, "{} nodes held", s.held().0);
        // One with a reference survives every sweep.
        let kept = walk(&mut s, "tags/t2");
        for i in 0..10_000 {
            let e = State::dir_entry("q", Node::Query(format!("u{i}")));
            let _ = s.entry_attr(&e, false, None);
        }
        assert!(s.getattr(kept, false).unwrap().is_some());
    }

    #[test]
    fn over_the_node_bound_the_kernel_is_asked_to_drop_the_oldest_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = state(tmp.path(), 4, MAX_CACHED_ENTRIES);
        s.max_nodes = 40;
        let queries = walk(&mut s, "query");
        let _ = s.take_stale();
        // 100 query folders looked up (the kernel holds each).
        let inos: Vec<u64> = (0..100).map(|i| walk(&mut s, &format!("query/t{} limit:{}", i % 4, i + 1))).collect();
        let asked: Vec<Stale> = s.take_stale();
        assert!(!asked.is_empty());
        // The oldest are named by the folder and the name the kernel has them by, not pages.
        assert!(asked.iter().all(|st| st.dir == queries && !st.pages && st.names.len() == 1));
        assert_eq!(asked[0].names[0], "t0 limit:1");
        // The kernel forgets them: the nodes go, and stay near the bound.
        for st in &asked {
            let name = st.names[0].to_str().unwrap();
            let i: usize = name.rsplit("limit:").next().unwrap().parse().unwrap();
            s.forget(inos[i - 1], 1);
        }
        assert!(s.held().0 <= 40 + 20, "{} nodes held", s.held().0);
        assert!(s.getattr(inos[99], false).unwrap().is_some(), "the newest stay");
    }

    #[test]
    fn cached_listings_stay_under_the_bound_and_the_evicted_are_invalidated() {
        let tmp = tempfile::tempdir().unwrap();
        // 40 files: each t<k>/@files lists 10, `all` lists 40; at most 25 entries cached.
        let mut s = state(tmp.path(), 40, 25);
        let dirs: Vec<u64> = (0..4).map(|k| walk(&mut s, &format!("tags/t{k}/@files"))).collect();
        let _ = s.take_stale();
        for d in &dirs {
            let _ = s.listing(*d, false).unwrap().unwrap();
            assert!(s.held().1 <= 25, "{} entries cached", s.held().1);
        }
        // The least recently used went (the root's listing, then t0 and t1), and the kernel is
        // told to forget their names (not their files' inodes: nothing changed).
        let stale = s.take_stale();
        assert_eq!(stale.iter().map(|st| st.dir).collect::<Vec<_>>(), [1, dirs[0], dirs[1]]);
        assert!(stale[1..].iter().all(|st| st.names.len() == 10 && st.files.is_empty()));
        // A listing bigger than the bound is kept alone.
        let all = walk(&mut s, "tags/all/@files");
        let (l, cached) = s.listing(all, false).unwrap().unwrap();
        assert_eq!((l.entries.len(), cached), (40, false));
        assert_eq!(s.held().1, 40);
        assert!(s.listing(all, false).unwrap().unwrap().1, "served from the cache");
    }

    #[test]
    fn link_targets_come_from_the_listing_and_match_the_index() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = state(tmp.path(), 8, MAX_CACHED_ENTRIES);
        let files = walk(&mut s, "tags/all/@files");
        let (l, _) = s.listing(files, false).unwrap().unwrap();
        for e in &l.entries {
            let id = e.file_id().unwrap();
            let r = ops::files::get(&s.index, id).unwrap().unwrap();
            assert_eq!(&*s.file(id).unwrap().unwrap().0, r.path_bytes());
            let a = s.getattr(FILE_BASE + id.0 as u64, false).unwrap().unwrap();
            assert_eq!((a.kind, a.size), (FileType::Symlink, r.path_bytes().len() as u64));
        }
        // Not in any cached listing: read from the index.
        s.forget_listings();
        let id = l.entries[0].file_id().unwrap();
        assert_eq!(&*s.file(id).unwrap().unwrap().0, ops::files::get(&s.index, id).unwrap().unwrap().path_bytes());
        assert!(s.file(FileId(999_999)).unwrap().is_none());
    }
}
