//! The filesystem: directory nodes, cached listings, and the FUSE callbacks.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, KernelConfig, OpenFlags,
    ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, Request,
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

const TTL: Duration = Duration::from_secs(1);
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

#[derive(Debug, Clone)]
struct Entry {
    name: Vec<u8>,
    ino: u64,
    kind: FileType,
    /// For a symlink: the target and the file's mtime.
    file: Option<(Vec<u8>, i64)>,
}

#[derive(Debug, Default)]
struct Listing {
    entries: Vec<Entry>,
    by_name: HashMap<Vec<u8>, usize>,
    by_id: HashMap<FileId, usize>,
}

impl Listing {
    fn push(&mut self, e: Entry) {
        if let Some(id) = file_id(e.ino) {
            self.by_id.insert(id, self.entries.len());
        }
        self.by_name.insert(e.name.clone(), self.entries.len());
        self.entries.push(e);
    }

    /// An entry by name; a file also by its `stem~<id>.ext` form.
    fn find(&self, name: &[u8]) -> Option<&Entry> {
        if let Some(&i) = self.by_name.get(name) {
            return Some(&self.entries[i]);
        }
        let id = views::id_in_name(name)?;
        let e = &self.entries[*self.by_id.get(&id)?];
        // Only the file's own basename with its id: `a~7.flac` for a file named a.flac.
        let base = Path::new(OsStr::from_bytes(&e.file.as_ref()?.0)).file_name()?.as_bytes();
        (views::tagged_name(base, id) == name).then_some(e)
    }
}

fn file_id(ino: u64) -> Option<FileId> {
    (ino > FILE_BASE).then(|| FileId((ino - FILE_BASE) as i64))
}

/// Everything behind the lock: the index connection, directory nodes, cached listings.
pub struct State {
    index: Index,
    version: i64,
    nodes: HashMap<u64, Node>,
    inos: HashMap<Node, u64>,
    next_ino: u64,
    listings: HashMap<u64, Arc<Listing>>,
    handles: HashMap<u64, Arc<Listing>>,
    next_fh: u64,
    /// Directories whose cached contents went stale, with the names they held, for the
    /// kernel to forget (sent outside the lock by the mount loop).
    stale: Vec<(u64, Vec<OsString>)>,
    top_tags: u64,
    top_cooccurring: u64,
    uid: u32,
    gid: u32,
    started: SystemTime,
    /// Processes caught deleting recursively (they unlinked the guard): pid → when.
    recursive: HashMap<u32, std::time::Instant>,
}

impl State {
    pub fn new(mut index: Index, opts: &MountOptions) -> Result<State> {
        use std::os::unix::fs::MetadataExt;
        index.set_checkpoint_after_write(true);
        let me = std::fs::metadata("/proc/self").ok();
        let version = views::data_version(&index)?;
        let mut s = State {
            index,
            version,
            nodes: HashMap::new(),
            inos: HashMap::new(),
            next_ino: FIRST_DIR,
            listings: HashMap::new(),
            handles: HashMap::new(),
            next_fh: 1,
            stale: Vec::new(),
            top_tags: opts.top_tags,
            top_cooccurring: opts.top_cooccurring,
            uid: me.as_ref().map_or(0, MetadataExt::uid),
            gid: me.as_ref().map_or(0, MetadataExt::gid),
            started: SystemTime::now(),
            recursive: HashMap::new(),
        };
        s.nodes.insert(1, Node::Root);
        s.inos.insert(Node::Root, 1);
        Ok(s)
    }

    /// Drops every cached listing when another process committed since the last look.
    pub fn refresh(&mut self) -> Result<()> {
        // The index file replaced under the mount (a restore): serve the new one.
        if self.index.is_replaced() {
            self.index.reopen()?;
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
        for (ino, l) in self.listings.drain() {
            let names = l.entries.iter().map(|e| OsString::from_vec(e.name.clone())).collect();
            self.stale.push((ino, names));
        }
    }

    pub fn take_stale(&mut self) -> Vec<(u64, Vec<OsString>)> {
        std::mem::take(&mut self.stale)
    }

    fn ino_of(&mut self, node: Node) -> u64 {
        if let Some(&i) = self.inos.get(&node) {
            return i;
        }
        let i = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(i, node.clone());
        self.inos.insert(node, i);
        i
    }

    fn dir_entry(&mut self, name: impl Into<Vec<u8>>, node: Node) -> Entry {
        Entry { name: name.into(), ino: self.ino_of(node), kind: FileType::Directory, file: None }
    }

    fn file_entry(name: Vec<u8>, r: &FileRecord) -> Entry {
        Entry {
            name,
            ino: FILE_BASE + r.id.0 as u64,
            kind: FileType::Symlink,
            file: Some((r.path_bytes().to_vec(), r.stat.mtime_ns)),
        }
    }

    /// Files named by the collision rule (`ops::views::entry_names`).
    fn files_listing(records: &[FileRecord]) -> Vec<Entry> {
        let keys: Vec<(FileId, &[u8])> = records.iter().map(|r| (r.id, views::basename(r))).collect();
        let names = views::entry_names(&keys);
        records.iter().zip(names).map(|(r, n)| Self::file_entry(n, r)).collect()
    }

    fn tag_names(&self, tags: &[TagId]) -> Result<Vec<String>> {
        tags.iter().map(|t| ops::tags::names(&self.index, *t).map(|n| n[0].name.clone())).collect()
    }

    fn compute(&mut self, node: &Node, writable: bool) -> Result<Listing> {
        let mut l = Listing::default();
        match node {
            Node::Root => {
                for (n, child) in [
                    ("tags", Node::Tags),
                    ("ns", Node::Namespaces),
                    ("query", Node::Queries),
                    ("pools", Node::Pools),
                    ("by-id", Node::ById),
                ] {
                    let e = self.dir_entry(n, child);
                    l.push(e);
                }
            }
            Node::Tags => {
                for t in views::top_tags(&self.index, self.top_tags)? {
                    let e = self.dir_entry(views::escape(&t.name), Node::TagSet { tags: vec![t.id], via_ns: false });
                    l.push(e);
                }
            }
            Node::TagSet { tags, via_ns } => {
                let e = self.dir_entry("@files", Node::Files { tags: tags.clone(), via_ns: *via_ns });
                l.push(e);
                if tags.len() < MAX_LISTED_DEPTH {
                    let q = views::all_of(&self.index, tags)?;
                    for t in views::cooccurring(&self.index, &q, tags, self.top_cooccurring)? {
                        let mut path = tags.clone();
                        path.push(t.id);
                        let e = self.dir_entry(views::escape(&t.name), Node::TagSet { tags: path, via_ns: *via_ns });
                        l.push(e);
                    }
                }
            }
            Node::Files { tags, .. } => {
                if writable {
                    l.push(Entry { name: GUARD.into(), ino: GUARD_INO, kind: FileType::RegularFile, file: None });
                }
                let q = views::all_of(&self.index, tags)?;
                for e in Self::files_listing(&q.collect(&self.index, None)?) {
                    l.push(e);
                }
            }
            Node::Namespaces => {
                for n in views::namespaces(&self.index, self.top_tags)? {
                    let e = self.dir_entry(views::escape(&n.namespace), Node::Namespace(n.namespace));
                    l.push(e);
                }
            }
            Node::Namespace(ns) => {
                for t in views::ns_values(&self.index, ns, self.top_tags)? {
                    let e = self.dir_entry(views::escape(&t.name), Node::TagSet { tags: vec![t.id], via_ns: true });
                    l.push(e);
                }
            }
            Node::Queries | Node::ById => {}
            Node::Query(text) => {
                let q = ops::find::Query::new(&self.index, text)?;
                for e in Self::files_listing(&q.collect(&self.index, None)?) {
                    l.push(e);
                }
            }
            Node::Pools => {
                for p in ops::pools::list(&self.index)? {
                    let e = self.dir_entry(views::escape(&p.title), Node::Pool(p.id, p.title));
                    l.push(e);
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
        Ok(l)
    }

    /// The listing of a directory: cached until the index changes.
    fn listing(&mut self, ino: u64, writable: bool) -> Result<Option<(Arc<Listing>, bool)>> {
        if let Some(l) = self.listings.get(&ino) {
            return Ok(Some((l.clone(), true)));
        }
        let Some(node) = self.nodes.get(&ino).cloned() else { return Ok(None) };
        let l = Arc::new(self.compute(&node, writable)?);
        self.listings.insert(ino, l.clone());
        Ok(Some((l, false)))
    }

    /// The child called `name` in directory `parent`.
    fn lookup(&mut self, parent: u64, name: &[u8], writable: bool) -> Result<Option<Entry>> {
        let Some(node) = self.nodes.get(&parent).cloned() else { return Ok(None) };
        let text = || views::unescape(name);
        Ok(match node {
            Node::Root | Node::Pools => self.listing(parent, writable)?.and_then(|(l, _)| l.find(name).cloned()),
            Node::Tags => match text() {
                Some(t) => views::tag(&self.index, &t)?
                    .map(|(id, _)| self.dir_entry(name, Node::TagSet { tags: vec![id], via_ns: false })),
                None => None,
            },
            Node::TagSet { tags, via_ns } => {
                if name == b"@files" {
                    return Ok(Some(self.dir_entry(name, Node::Files { tags, via_ns })));
                }
                match text() {
                    Some(t) => match views::tag(&self.index, &t)? {
                        Some((id, _)) if !tags.contains(&id) => {
                            let mut path = tags;
                            path.push(id);
                            Some(self.dir_entry(name, Node::TagSet { tags: path, via_ns }))
                        }
                        _ => None,
                    },
                    None => None,
                }
            }
            Node::Namespaces => match text() {
                Some(ns) if !views::ns_values(&self.index, &ns, 1)?.is_empty() => {
                    Some(self.dir_entry(name, Node::Namespace(trove_core::model::fold(&ns))))
                }
                _ => None,
            },
            Node::Namespace(ns) => match text() {
                Some(v) => views::tag(&self.index, &format!("{ns}:{v}"))?
                    .map(|(id, _)| self.dir_entry(name, Node::TagSet { tags: vec![id], via_ns: true })),
                None => None,
            },
            Node::Queries => match text() {
                // Nothing is stored: the text is parsed (a syntax error or an unknown tag is
                // ENOENT) and evaluated when listed.
                Some(q) if ops::find::Query::new(&self.index, &q).is_ok_and(|q| q.warnings().is_empty()) => {
                    Some(self.dir_entry(name, Node::Query(q)))
                }
                _ => None,
            },
            Node::Files { .. } | Node::Query(_) | Node::Pool(..) => {
                self.listing(parent, writable)?.and_then(|(l, _)| l.find(name).cloned())
            }
            Node::ById => {
                let id = std::str::from_utf8(name).ok().and_then(|s| s.parse::<i64>().ok()).filter(|i| *i > 0);
                match id {
                    Some(id) => ops::files::get(&self.index, FileId(id))?
                        .filter(|r| r.state != FileState::Missing)
                        .map(|r| Self::file_entry(name.to_vec(), &r)),
                    None => None,
                }
            }
        })
    }

    fn attr(&self, ino: u64, kind: FileType, file: Option<&(Vec<u8>, i64)>, writable: bool) -> FileAttr {
        let (size, mtime, perm) = match (kind, file) {
            (FileType::Symlink, Some((target, mtime))) => {
                let t = UNIX_EPOCH + Duration::from_nanos((*mtime).max(0) as u64);
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

    fn getattr(&self, ino: u64, writable: bool) -> Result<Option<FileAttr>> {
        if ino == GUARD_INO {
            return Ok(writable.then(|| self.attr(ino, FileType::RegularFile, None, writable)));
        }
        if let Some(id) = file_id(ino) {
            return Ok(ops::files::get(&self.index, id)?.filter(|r| r.state != FileState::Missing).map(|r| {
                self.attr(ino, FileType::Symlink, Some(&(r.path_bytes().to_vec(), r.stat.mtime_ns)), writable)
            }));
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

    fn reply_entry(&self, s: &State, e: &Entry, reply: ReplyEntry) {
        let attr = s.attr(e.ino, e.kind, e.file.as_ref(), self.writable);
        reply.entry(&TTL, &attr, Generation(0));
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
        // `ls --color` reads every link: let the kernel keep them.
        let _ = config.add_capabilities(fuser::InitFlags::FUSE_CACHE_SYMLINKS);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let Some(mut s) = self.state() else { return reply.error(Errno::EIO) };
        match s.lookup(parent.0, name.as_bytes(), self.writable) {
            Ok(Some(e)) => self.reply_entry(&s, &e, reply),
            Ok(None) => reply.error(Errno::ENOENT),
            Err(e) => reply.error(io_errno(&e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let Some(s) = self.state() else { return reply.error(Errno::EIO) };
        match s.getattr(ino.0, self.writable) {
            Ok(Some(a)) => reply.attr(&TTL, &a),
            Ok(None) => reply.error(Errno::ENOENT),
            Err(e) => reply.error(io_errno(&e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let Some(s) = self.state() else { return reply.error(Errno::EIO) };
        let Some(id) = file_id(ino.0) else { return reply.error(Errno::EINVAL) };
        match ops::files::get(&s.index, id) {
            Ok(Some(r)) => reply.data(r.path_bytes()),
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
        let l = match self.state.lock() {
            Ok(s) => s.handles.get(&fh.0).cloned(),
            Err(_) => return reply.error(Errno::EIO),
        };
        let Some(l) = l else { return reply.error(Errno::EBADF) };
        let mut i = offset as usize;
        while i < l.entries.len() + 2 {
            let full = match i {
                0 => reply.add(ino, 1, FileType::Directory, "."),
                1 => reply.add(ino, 2, FileType::Directory, ".."),
                _ => {
                    let e = &l.entries[i - 2];
                    reply.add(INodeNo(e.ino), i as u64 + 1, e.kind, OsStr::from_bytes(&e.name))
                }
            };
            if full {
                break;
            }
            i += 1;
        }
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
        let (tags, via_ns) = match s.nodes.get(&parent.0) {
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
        let e = s.dir_entry(name.as_bytes(), Node::TagSet { tags: path, via_ns });
        self.reply_entry(&s, &e, reply);
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
        let tags = match s.nodes.get(&parent.0) {
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
                self.reply_entry(&s, &e, reply);
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
        let Some(Node::Files { tags, .. }) = s.nodes.get(&parent.0).cloned() else {
            return reply.error(Errno::EPERM);
        };
        let entry = match s.listing(parent.0, true) {
            Ok(Some((l, _))) => l.find(name.as_bytes()).cloned(),
            Ok(None) => None,
            Err(e) => return reply.error(io_errno(&e)),
        };
        let (Some(entry), Some(last)) = (entry, tags.last()) else { return reply.error(Errno::ENOENT) };
        let Some(id) = file_id(entry.ino) else { return reply.error(Errno::EPERM) };
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
