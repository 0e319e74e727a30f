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
    CmpOp, DateSpec, DupeKind, Duration, Expr, Modifier, NamePart, NamePattern, OPERATOR_WORDS, Predicate, RESERVED,
    Ratio, SortKey,
};
pub use parse::{MAX_DEPTH, MAX_PATTERN_BYTES, MAX_TERMS, ParseError, parse};
pub use values::{parse_date, parse_duration, parse_size};

#[cfg(test)]
mod tests;

/// Why a query that parses cannot be run as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryMeaning {
    /// `sort:` or `limit:` inside parentheses, an OR or a negation.
    #[error(
        "{modifier}: sort: and limit: apply to the whole query; put them at the top level, outside parentheses, '|' and '-'"
    )]
    NestedModifier {
        /// The modifier as typed, e.g. `sort:size`.
        modifier: String,
    },
    /// `sort:pool` without exactly one `pool:TITLE` joined by AND.
    #[error("sort:pool needs exactly one pool:TITLE term joined to the query by AND")]
    SortPoolNeedsOnePool,
    /// A page cursor that no page of any query gave out.
    #[error("{cursor:?}: not a cursor from a previous page")]
    BadCursor {
        /// The cursor as given.
        cursor: String,
    },
    /// A cursor from a page of this query in another order.
    #[error("the cursor does not belong to this query's order")]
    CursorForAnotherOrder,
}
