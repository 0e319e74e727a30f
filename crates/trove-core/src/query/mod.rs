//! The query language: one grammar for the CLI, and later the HTTP API, web UI and FUSE view.
//!
//! This module is pure: text in, syntax tree out. Turning a tree into SQL needs the schema
//! and lives in `store::find`.

mod ast;
mod parse;
mod values;

/// The byte-wise glob `path:` matches with (see the README's query table).
pub use crate::store::find::glob_match;
pub use ast::{
    CmpOp, DateSpec, Duration, Expr, Modifier, NamePart, NamePattern, OPERATOR_WORDS, Predicate, RESERVED, SortKey,
};
pub use parse::{MAX_DEPTH, MAX_PATTERN_BYTES, MAX_TERMS, ParseError, parse};
pub use values::{parse_date, parse_duration, parse_size};

#[cfg(test)]
mod tests;
