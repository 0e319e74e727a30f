//! Identity rules: which file on disk a record is, after programs renamed, replaced, linked
//! or deleted files behind trove's back. One set of rules, used by reconcile (and so by the
//! watcher's start-up and periodic reconciles), the watcher's batches (`track`), `check` and
//! `include`.
//!
//! Policy (a tag on the wrong file is the worst bug trove can have, so every rule errs
//! towards keeping a record where the user looks for it, and towards *missing* over a guess):
//! 1. **Path continuity first.** A record whose path holds a regular file again at the end
//!    of a watcher batch or a reconcile scan stays on that path, re-hashed if the content
//!    changed (vim's save, `git checkout`, `tar -x`, `unzip -o`, `rm f; write f`, backup by
//!    rename). The one exception is a swap: the file now at the path is provably *another
//!    record's* file (moved there), and this record's own file is found elsewhere.
//! 2. **Backups by rename.** A rename to the same name plus a backup suffix (`~`, `.bak`,
//!    `.orig`, `.old`, `_original`) or prefix (`.#`), followed (even in a later watcher
//!    batch) by a new file at the old name, keeps the record at the old name. The backup,
//!    if it stays, is not this record (it is an unindexed file like any other new file).
//! 3. **Inodes prove little.** A record moves by inode only when its old path is gone (or
//!    holds another record's file), exactly one unclaimed path holds the inode, the size and
//!    the sampled fingerprint agree, and no other vanished record shares the inode (hard
//!    links: ambiguous, listed, never guessed). On filesystems that number inodes per mount
//!    (vfat, msdos, exfat, FUSE, SMB) an inode proves nothing and is never used.
//! 4. **Hard links are separate records** on separate paths: each is located by its own
//!    path first, so one link's rename never pulls the other link's record along.
//! 5. **A record already missing** (gone longer than the watcher remembers, 5 s, or found
//!    missing by a reconcile) comes back automatically — `include`, reconcile, the watcher —
//!    only with equal content ([`revives`](crate::ops::disk::revives)): a new file at an old path much later is
//!    usually another file (camera names repeat). `check` lists the other case and `check --repair` applies rule 1 to it.
//! 6. **Content last.** A record still unplaced is matched by content (size → fingerprint →
//!    BLAKE3) among unclaimed files; exactly one candidate for exactly one record is certain.
//!    A record with no candidate is *missing*, tags kept.
//!
//! The rules are applied by the pure functions of [`crate::ops::disk`] (record versus disk),
//! which every operation above calls instead of writing its own copy.
//!
//! `trove mv` needs no guessing: it renames the file itself and moves exactly that path's
//! record (a hard link's other records stay); a replaced destination's record becomes
//! missing, as for any rename over an indexed path.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Which renames count as "keep a backup of the old version" (rule 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupNames {
    /// Appended to the file name: `f.txt~`, `img.jpg_original`.
    pub suffixes: Vec<String>,
    /// Put before the file name: Emacs' `.#f.txt`.
    pub prefixes: Vec<String>,
}

/// The default backup names, in the form [`BackupNames::parse`] reads (and `trove watch
/// --backup-names` shows).
pub const DEFAULT_BACKUP_NAMES: &str = "~,.bak,.orig,.old,_original,.#*";

impl Default for BackupNames {
    fn default() -> Self {
        BackupNames {
            suffixes: ["~", ".bak", ".orig", ".old", "_original"].map(String::from).to_vec(),
            prefixes: vec![".#".to_string()],
        }
    }
}

impl BackupNames {
    /// Parses a list such as `~,.bak,.#*`: an entry ending in `*` is a prefix, anything else
    /// a suffix. An empty list turns rule 2 off.
    pub fn parse(list: &str) -> Result<Self, crate::Error> {
        let mut out = BackupNames { suffixes: Vec::new(), prefixes: Vec::new() };
        for e in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if e.contains('/') {
                return Err(crate::Error::BadBackupPattern {
                    pattern: e.to_string(),
                    reason: "a backup name pattern cannot hold '/'",
                });
            }
            match e.strip_suffix('*') {
                Some("") => {
                    return Err(crate::Error::BadBackupPattern {
                        pattern: e.to_string(),
                        reason: "a backup prefix needs at least one character",
                    });
                }
                Some(p) => out.prefixes.push(p.to_string()),
                None => out.suffixes.push(e.to_string()),
            }
        }
        Ok(out)
    }

    /// Whether `backup` is `original` renamed the way backup-keeping programs do: same
    /// directory, same name plus a known suffix or prefix.
    pub fn is_backup_of(&self, original: &Path, backup: &Path) -> bool {
        if original.parent() != backup.parent() {
            return false;
        }
        let (Some(o), Some(b)) = (original.file_name(), backup.file_name()) else { return false };
        let (o, b) = (o.as_bytes(), b.as_bytes());
        self.suffixes.iter().any(|s| b.len() == o.len() + s.len() && b.starts_with(o) && b.ends_with(s.as_bytes()))
            || self
                .prefixes
                .iter()
                .any(|p| b.len() == o.len() + p.len() && b.ends_with(o) && b.starts_with(p.as_bytes()))
    }
}

/// Filesystem types whose inode numbers are made up at mount time (or by a FUSE daemon), so
/// an inode number seen before a remount may belong to any file after it.
const PER_MOUNT_INODES: &[&str] =
    &["vfat", "msdos", "exfat", "fat", "umsdos", "fuse", "fuseblk", "cifs", "smb3", "smbfs"];

/// Whether inode numbers on a filesystem of this type (as `/proc/self/mountinfo` names it)
/// identify a file for as long as it exists.
pub fn fs_type_has_stable_inodes(fstype: &str) -> bool {
    let base = fstype.split('.').next().unwrap_or(fstype);
    !PER_MOUNT_INODES.contains(&base)
}

/// Device number → whether its inodes are stable, read once from `/proc/self/mountinfo`
/// (the same answer `statfs(2)` gives through `f_type`, without an unsafe call). A device
/// not listed counts as stable: that is how every local Linux filesystem behaves.
#[derive(Debug, Clone, Default)]
pub struct InodeTrust {
    unstable: HashMap<u64, String>,
}

impl InodeTrust {
    /// Reads the mount table of this process.
    pub fn from_mounts() -> Self {
        std::fs::read("/proc/self/mountinfo").map(|t| Self::parse_mountinfo(&t)).unwrap_or_default()
    }

    /// Parses mountinfo text: `id parent major:minor root mountpoint opts [tags] - fstype ...`.
    pub fn parse_mountinfo(text: &[u8]) -> Self {
        let mut unstable = HashMap::new();
        for line in text.split(|&b| b == b'\n') {
            let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
            let Some(dash) = fields.iter().position(|f| *f == b"-") else { continue };
            let (Some(dev), Some(fstype)) = (fields.get(2), fields.get(dash + 1)) else { continue };
            let fstype = String::from_utf8_lossy(fstype).into_owned();
            let Some((maj, min)) = std::str::from_utf8(dev).ok().and_then(|d| d.split_once(':')) else { continue };
            let (Ok(maj), Ok(min)) = (maj.parse::<u32>(), min.parse::<u32>()) else { continue };
            if !fs_type_has_stable_inodes(&fstype) {
                unstable.insert(libc::makedev(maj, min), fstype);
            }
        }
        InodeTrust { unstable }
    }

    /// Marks a device as numbering inodes per mount (tests, and callers that know better).
    pub fn set_unstable(&mut self, device: u64, fstype: &str) {
        self.unstable.insert(device, fstype.to_string());
    }

    /// Whether an inode number on `device` identifies a file.
    pub fn stable(&self, device: u64) -> bool {
        !self.unstable.contains_key(&device)
    }

    /// The filesystem type of an unstable device, for messages.
    pub fn fs_type(&self, device: u64) -> Option<&str> {
        self.unstable.get(&device).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names_match_same_name_plus_suffix_or_prefix_only() {
        let b = BackupNames::default();
        let yes = [
            ("/l/f.txt", "/l/f.txt~"),
            ("/l/f.txt", "/l/f.txt.bak"),
            ("/l/f.txt", "/l/f.txt.orig"),
            ("/l/f.txt", "/l/f.txt.old"),
            ("/l/img.jpg", "/l/img.jpg_original"),
            ("/l/f.txt", "/l/.#f.txt"),
        ];
        for (o, k) in yes {
            assert!(b.is_backup_of(Path::new(o), Path::new(k)), "{o} -> {k}");
        }
        let no = [
            ("/l/f.txt", "/m/f.txt~"),
            ("/l/f.txt", "/l/g.txt~"),
            ("/l/f.txt", "/l/f.txt"),
            ("/l/f.txt", "/l/f.txt.new"),
            ("/l/f.txt", "/l/f.bak"),
            ("/l/f.txt~", "/l/f.txt"),
        ];
        for (o, k) in no {
            assert!(!b.is_backup_of(Path::new(o), Path::new(k)), "{o} -> {k}");
        }
    }

    #[test]
    fn the_default_list_parses_to_the_default() {
        assert_eq!(BackupNames::parse(DEFAULT_BACKUP_NAMES).unwrap(), BackupNames::default());
    }

    #[test]
    fn backup_name_list_parses_prefixes_and_rejects_slashes() {
        let b = BackupNames::parse("~, .keep ,#*").unwrap();
        assert_eq!(b.suffixes, ["~", ".keep"]);
        assert_eq!(b.prefixes, ["#"]);
        assert!(b.is_backup_of(Path::new("/a/x"), Path::new("/a/#x")));
        assert!(!b.is_backup_of(Path::new("/a/x"), Path::new("/a/x.bak")));
        assert!(
            matches!(BackupNames::parse("a/b"), Err(crate::Error::BadBackupPattern { pattern, .. }) if pattern == "a/b")
        );
        assert!(
            matches!(BackupNames::parse("~, *"), Err(crate::Error::BadBackupPattern { pattern, .. }) if pattern == "*")
        );
        assert_eq!(BackupNames::parse("").unwrap().suffixes.len(), 0);
    }

    #[test]
    fn mountinfo_marks_fat_exfat_and_fuse_devices_unstable() {
        let text = b"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
            40 22 8:17 / /media/usb rw,relatime - vfat /dev/sdb1 rw\n\
            41 22 8:33 / /media/card rw - exfat /dev/sdc1 rw\n\
            42 22 0:50 / /mnt/ssh rw,nosuid shared:7 master:3 - fuse.sshfs host: rw\n\
            43 22 0:51 / /tmp rw - tmpfs tmpfs rw\n";
        let t = InodeTrust::parse_mountinfo(text);
        assert!(t.stable(libc::makedev(8, 1)));
        assert!(!t.stable(libc::makedev(8, 17)));
        assert!(!t.stable(libc::makedev(8, 33)));
        assert_eq!(t.fs_type(libc::makedev(0, 50)), Some("fuse.sshfs"));
        assert!(t.stable(libc::makedev(0, 51)));
    }

    #[test]
    fn this_machines_own_filesystem_counts_as_stable() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let dev = std::fs::metadata(d.path()).unwrap().dev();
        assert!(InodeTrust::from_mounts().stable(dev));
    }
}
