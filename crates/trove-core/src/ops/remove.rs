//! `rm`: forget files. The disk is never touched; the records, their links and pool
//! entries go.

use std::path::PathBuf;

use crate::ops::tagging::records_for;
use crate::store::files;
use crate::{Error, Index, Result};

#[derive(Debug, Default)]
pub struct RemoveReport {
    pub removed: usize,
    pub not_indexed: Vec<PathBuf>,
    pub failed: Vec<Error>,
}

pub fn remove(index: &mut Index, paths: &[PathBuf], recursive: bool) -> Result<RemoveReport> {
    let (ids, unknown, errors) = records_for(index, paths, recursive)?;
    let n = index.write(|tx| {
        for id in &ids {
            files::delete(tx, *id)?;
        }
        Ok(ids.len())
    })?;
    Ok(RemoveReport { removed: n, not_indexed: unknown, failed: errors })
}
