//! `trove mount`: browse the index as folders of symlinks (FUSE).

use clap::Args;

use crate::ctx::{CmdResult, CommandError, Ctx, note};

/// Show the index as folders: tags, namespaces, queries and pools, with the files as
/// symlinks to where they really are (runs in the foreground; Ctrl-C or SIGTERM unmounts).
///
///   DIR/tags/techno/@files/            files tagged techno
///   DIR/tags/techno/year:2019/@files/  techno AND year:2019 (each level lists the tags
///                                      that co-occur with the path's, most common first)
///   DIR/ns/artist/                     the values of a namespace (ns/artist/x = tags/artist:x)
///   'DIR/query/genre:techno -live/'    any query, evaluated when opened
///   DIR/pools/<title>/                 a pool's files in order: "0001 name.ext"
///   DIR/by-id/<id>                     one file by its record id
///
/// Two files with the same name in one folder both appear as `name~<id>.ext`. `tags/` lists
/// the 1000 most used tags, but any tag opens by name; `/` and `%` in names are written
/// `%2F` and `%25`. A tag added or removed by another command shows up without remounting.
///
/// Read-only unless --writable; then `mkdir DIR/tags/x` creates tag x, `ln -s /real/file
/// DIR/tags/x/` tags a file with x, and `rm DIR/tags/x/@files/link` removes tag x from that
/// one file (source `mount`). Nothing in the mount ever deletes or changes a real file, and
/// `rm -r` of a tag folder is refused. Needs FUSE (`fusermount3`, Debian package fuse3);
/// without it, `trove view` makes a plain folder of symlinks.
///
/// Example: trove mount ~/tags &  then  ls ~/tags/tags/techno/@files
#[derive(Debug, Args)]
pub struct MountArgs {
    /// An empty directory to mount on
    #[arg(value_name = "DIR")]
    pub dir: std::path::PathBuf,
    /// Allow the tagging gestures (mkdir, ln -s, rm of a link)
    #[arg(long)]
    pub writable: bool,
}

pub fn run(ctx: &Ctx, a: MountArgs) -> CmdResult {
    let dir = trove_core::paths::resolve(&ctx.cwd, &a.dir);
    let mut opts = trove_fuse::MountOptions::new(ctx.index_path.clone(), dir);
    opts.writable = a.writable;
    let stop = trove_watch::stop_on_signals();
    let log = |s: &str| note(format!("trove mount: {s}"));
    trove_fuse::mount(&opts, stop, &log).map_err(|e| match e {
        trove_fuse::MountError::Core(c) => c.into(),
        e @ trove_fuse::MountError::NoFuse { .. } => CommandError::new(e.to_string())
            .with_hint("install FUSE (Debian/Ubuntu: apt-get install fuse3), or use `trove view QUERY DIR` for a plain folder of symlinks"),
        e => CommandError::new(e.to_string()),
    })?;
    Ok(0)
}
