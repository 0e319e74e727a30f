//! One file per command: `<Name>Args` (clap) and `run`.

pub mod backup;
pub mod check;
pub mod completions;
pub mod dupes;
pub mod export;
pub mod find;
pub mod history;
pub mod import;
pub mod include;
pub mod install_aliases;
pub mod keys;
pub mod log;
pub mod ls;
pub mod meta;
pub mod mount;
pub mod mv;
pub mod pool;
pub mod reconcile;
pub mod restore;
pub mod rm;
pub mod roots;
pub mod rules;
pub mod serve;
pub mod show;
pub mod stats;
pub mod tag;
pub mod tags;
pub mod thumbs;
pub mod undo;
pub mod untag;
pub mod view;
pub mod watch;

use crate::cli::{Cli, Command};
use crate::ctx::{CmdResult, Ctx};

pub fn run(cli: Cli) -> CmdResult {
    if let Command::Completions(a) = &cli.command {
        return completions::run(a);
    }
    let ctx = Ctx::new(cli.index)?;
    match cli.command {
        Command::Include(a) => include::run(&ctx, a),
        Command::Tag(a) => tag::run(&ctx, a),
        Command::Untag(a) => untag::run(&ctx, a),
        Command::Log(a) => log::run(&ctx, a),
        Command::Undo(a) => undo::run(&ctx, a),
        Command::History(a) => history::run(&ctx, a),
        Command::Find(a) => find::run(&ctx, a),
        Command::Ls(a) => ls::run(&ctx, a),
        Command::Show(a) => show::run(&ctx, a),
        Command::Meta(a) => meta::run(&ctx, a),
        Command::Rules(a) => rules::run(&ctx, a),
        Command::Dupes(a) => dupes::run(&ctx, a),
        Command::Tags(a) => tags::run(&ctx, a),
        Command::Pool(a) => pool::run(&ctx, a),
        Command::Rm(a) => rm::run(&ctx, a),
        Command::Roots(a) => roots::run(&ctx, a),
        Command::Reconcile(a) => reconcile::run(&ctx, a),
        Command::Watch(a) => watch::run(&ctx, a),
        Command::Status => watch::status(&ctx),
        Command::Mv(a) => mv::run(&ctx, a),
        Command::Check(a) => check::run(&ctx, a),
        Command::Stats(a) => stats::run(&ctx, a),
        Command::Backup(a) => backup::run(&ctx, a),
        Command::Restore(a) => restore::run(&ctx, a),
        Command::Serve(a) => serve::run(&ctx, a),
        Command::Mount(a) => mount::run(&ctx, a),
        Command::View(a) => view::run(&ctx, a),
        Command::Keys(a) => keys::run(&ctx, a),
        Command::Thumbs(a) => thumbs::run(&ctx, a),
        Command::Export(a) => export::run(&ctx, a),
        Command::Import(a) => import::run(&ctx, a),
        Command::InstallAliases(a) => install_aliases::run(&ctx, a),
        Command::Completions(_) => Ok(0),
    }
}
