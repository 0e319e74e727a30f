//! trove-core: the index, the tag model, the query language and every operation.
//!
//! Policy: this crate never talks to the user (no printing, no exiting, no environment
//! lookups). Paths and settings come in as arguments; results and warnings go out as values.
//! Every mutation goes through [`ops`] in one transaction, so the CLI, a daemon and a web
//! server share a single writer path.
//!
//! That path is enforced by the compiler, not by convention: the `store` module (every SQL
//! statement) is private to this crate, its write functions take a write transaction that
//! only the index's own `write` can open, and the raw connection is private too. Another
//! crate can read and write only through [`ops`]:
//!
//! ```compile_fail,E0603
//! // A store write function is out of reach from another crate.
//! fn sneak(index: &trove_core::Index) {
//!     trove_core::store::files::set_state(index.conn(), trove_core::FileId(1), trove_core::FileState::Missing);
//! }
//! ```
//!
//! ```compile_fail,E0624
//! // So is the connection, and with it raw SQL.
//! fn sneak(index: &trove_core::Index) {
//!     index.conn().execute("DELETE FROM file_tags", []).unwrap();
//! }
//! ```
//!
//! ```compile_fail,E0624
//! // And so is a write transaction.
//! fn sneak(index: &mut trove_core::Index) {
//!     index.write(|tx| Ok(tx.execute("DELETE FROM file_tags", [])?)).unwrap();
//! }
//! ```
//!
//! The same calls through `ops` compile:
//!
//! ```no_run
//! # fn main() -> trove_core::Result<()> {
//! let mut index = trove_core::Index::open(std::path::Path::new("/tmp/i.db"), trove_core::OpenMode::Create)?;
//! let files = trove_core::ops::find::find(&index, "cat")?;
//! trove_core::ops::tags::create(&mut index, "dog")?;
//! # let _ = files; Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod filter;
pub mod hash;
pub mod meta;
pub mod model;
pub mod ops;
pub mod paths;
pub mod query;
pub mod similar;
pub(crate) mod store;
pub mod time;

pub use error::{Error, Result, StoreError};
pub use model::{FileId, FileRecord, FileState, Hash, PoolId, Source, Stat, Tag, TagId, TagName};
pub use store::{Index, OpenMode, SCHEMA_VERSION};
