//! `trove mount`: the index as a FUSE filesystem of folders and symlinks.
//!
//! ```text
//! MOUNT/tags/                  the most used tags (any tag resolves by name)
//! MOUNT/tags/a/b/              tags co-occurring with a AND b, and @files
//! MOUNT/tags/a/b/@files/       symlinks to the files tagged a AND b
//! MOUNT/ns/artist/             the values of a namespace; ns/artist/x/ = tags/artist:x/
//! MOUNT/query/<query text>/    symlinks to the files a query finds (evaluated on lookup)
//! MOUNT/pools/<title>/         a pool's files in order: "0001 name.ext"
//! MOUNT/by-id/<id>             one file by its record id
//! ```
//!
//! Every read goes through `trove_core::ops` (`ops::views`, `ops::find`, `ops::files`,
//! `ops::pools`); a listing is a few set-level queries, cached until SQLite's `data_version`
//! says another process committed, at which point the kernel's caches for what was listed are
//! invalidated. Read-only by default (mounted `ro`, every write is `EROFS`); `--writable`
//! allows only tagging gestures that cannot lose data (see [`MountOptions::writable`]).

#![forbid(unsafe_code)]

mod fs;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use trove_core::{Index, OpenMode};

pub use fs::TroveFs;

/// What to mount and how.
#[derive(Debug, Clone)]
pub struct MountOptions {
    pub index: PathBuf,
    pub mountpoint: PathBuf,
    /// Allow tagging gestures: `mkdir tags/x` creates tag x, `ln -s /real/file tags/x/`
    /// tags a file, `rm tags/x/@files/link` untags that one file. Nothing else: no rmdir,
    /// no rename, no file creation, and never a change to a user's file.
    pub writable: bool,
    /// How many tags `tags/` lists (the most used); any other tag still resolves by name.
    pub top_tags: u64,
    /// How many co-occurring tags a tag directory lists.
    pub top_cooccurring: u64,
    /// How many entries the cached listings hold together at most (the least recently used
    /// listing goes first; the one in use stays however big it is).
    pub max_cached_entries: usize,
    /// How many directories the kernel may hold before the mount asks it to drop the oldest
    /// half (it otherwise keeps them until memory runs short).
    pub max_nodes: usize,
}

impl MountOptions {
    pub fn new(index: PathBuf, mountpoint: PathBuf) -> Self {
        MountOptions {
            index,
            mountpoint,
            writable: false,
            top_tags: 1000,
            top_cooccurring: 200,
            max_cached_entries: fs::MAX_CACHED_ENTRIES,
            max_nodes: fs::MAX_NODES,
        }
    }
}

/// Why a mount failed.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("{0}")]
    Core(#[from] trove_core::Error),
    #[error("FUSE is not available here: {what}")]
    NoFuse { what: String },
    #[error("{}: {reason}", path.display())]
    Mountpoint { path: PathBuf, reason: String },
    #[error("{}: cannot mount: {reason}", path.display())]
    Mount { path: PathBuf, reason: String },
}

fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
}

/// Whether this machine can mount a FUSE filesystem: `/dev/fuse` and `fusermount3`.
pub fn check_available() -> Result<(), MountError> {
    if !Path::new("/dev/fuse").exists() {
        return Err(MountError::NoFuse { what: "/dev/fuse does not exist (is the fuse kernel module loaded?)".into() });
    }
    if !on_path("fusermount3") {
        return Err(MountError::NoFuse {
            what: "fusermount3 is not installed (Debian/Ubuntu: apt-get install fuse3)".into(),
        });
    }
    Ok(())
}

/// Whether `auto_unmount` can be asked for: it needs `allow_other`/`allow_root`, which
/// fusermount3 grants to root, or to others when /etc/fuse.conf says `user_allow_other`.
fn can_auto_unmount() -> bool {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    root || std::fs::read_to_string("/etc/fuse.conf").is_ok_and(|s| s.lines().any(|l| l.trim() == "user_allow_other"))
}

/// Mounts the index and serves it until `stop` is set (SIGINT/SIGTERM) or someone unmounts
/// it (`fusermount3 -u`), then unmounts cleanly. `log` receives one-line notices.
pub fn mount(opts: &MountOptions, stop: &AtomicBool, log: &(dyn Fn(&str) + Sync)) -> Result<(), MountError> {
    check_available()?;
    let mp = &opts.mountpoint;
    match std::fs::metadata(mp) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(MountError::Mountpoint { path: mp.clone(), reason: "not a directory".into() }),
        Err(e) => {
            return Err(MountError::Mountpoint { path: mp.clone(), reason: trove_core::model::io_reason(&e) });
        }
    }
    let mut index = Index::open(&opts.index, OpenMode::Existing)?;
    // Each gesture in a writable mount is its own operation in the log, by `mount`.
    index.set_actor("mount");
    if opts.writable && index.is_read_only() {
        return Err(trove_core::Error::from(trove_core::StoreError::ReadOnlyIndex { path: opts.index.clone() }).into());
    }
    let state = Arc::new(Mutex::new(fs::State::new(index, opts)?));
    let canonical = std::fs::canonicalize(mp).unwrap_or_else(|_| mp.clone());
    let filesystem = TroveFs::new(state.clone(), opts.writable, canonical);

    let mut mount_options = vec![
        fuser::MountOption::FSName("trove".into()),
        fuser::MountOption::Subtype("trove".into()),
        fuser::MountOption::DefaultPermissions,
        fuser::MountOption::NoAtime,
        fuser::MountOption::NoDev,
        fuser::MountOption::NoSuid,
        if opts.writable { fuser::MountOption::RW } else { fuser::MountOption::RO },
    ];
    let mut config = fuser::Config::default();
    if can_auto_unmount() {
        mount_options.push(fuser::MountOption::AutoUnmount);
        config.acl = fuser::SessionACL::RootAndOwner;
    } else {
        log("auto_unmount needs `user_allow_other` in /etc/fuse.conf; if trove is killed, `fusermount3 -u` the mount");
    }
    config.mount_options = mount_options;
    // Two workers: a request that resolves a path may pass through this mount again.
    config.n_threads = Some(2);
    let session = fuser::spawn_mount(filesystem, mp, &config)
        .map_err(|e| MountError::Mount { path: mp.clone(), reason: trove_core::model::io_reason(&e) })?;
    let notifier = session.notifier();
    log(&format!(
        "{}: mounted {}; Ctrl-C unmounts",
        mp.display(),
        if opts.writable { "(writable)" } else { "read-only" }
    ));

    // The poll loop: notice commits by others (data_version), invalidate what the kernel
    // cached, stop on a signal or when the session ends (unmounted from outside).
    while !stop.load(Ordering::Relaxed) && !session.guard.is_finished() {
        std::thread::sleep(Duration::from_millis(100));
        let stale = match state.lock() {
            Ok(mut s) => {
                if let Err(e) = s.refresh() {
                    log(&format!("cannot read the index: {e}"));
                }
                s.take_stale()
            }
            Err(_) => break,
        };
        // Outside the lock: the kernel may wait on a request that waits for the lock.
        for st in stale {
            if st.pages {
                let _ = notifier.inval_inode(fuser::INodeNo(st.dir), 0, 0);
            }
            for n in st.names {
                let _ = notifier.inval_entry(fuser::INodeNo(st.dir), &n);
            }
            // A file listed here may be linked elsewhere too (its inode stays): the link's
            // cached target must go if the file moved.
            for ino in st.files {
                let _ = notifier.inval_inode(fuser::INodeNo(ino), 0, 0);
            }
        }
    }
    let ended_outside = session.guard.is_finished();
    if !ended_outside {
        // fuser's own unmount, under auto_unmount, only closes the socket its fusermount3
        // helper watches; when that helper is gone (killed with this process group) nothing
        // would unmount. Unmount here first; lazily if something still has a file open.
        unmount(mp);
    }
    session.umount_and_join().map_err(|e| MountError::Mount { path: mp.clone(), reason: e.to_string() })?;
    log(&format!("{}: unmounted{}", mp.display(), if ended_outside { " (from outside)" } else { "" }));
    Ok(())
}

/// `fusermount3 -u DIR`, then `-uz` (lazy: detach now, finish when the last user leaves).
fn unmount(mp: &Path) {
    let run = |flags: &str| {
        std::process::Command::new("fusermount3")
            .arg(flags)
            .arg(mp)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !run("-u") {
        run("-uz");
    }
}
