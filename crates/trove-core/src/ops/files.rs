//! Reading one file's record and its tags, for callers outside core (the HTTP server).

use crate::model::{FileId, FileRecord};
use crate::store::{files, links};
use crate::{Index, Result};

pub use crate::store::links::FileTag;

/// The record with this id, if any (present, missing or offline).
pub fn get(index: &Index, id: FileId) -> Result<Option<FileRecord>> {
    files::by_id(index.conn(), id)
}

/// A file's tags: direct ones with their sources, and implied ones marked.
pub fn tags_of(index: &Index, id: FileId) -> Result<Vec<FileTag>> {
    links::of_file(index.conn(), id)
}
