//! Tag management: create, rename, alias, merge, delete, implications, listing.
//!
//! Every name is checked (NFC, trimmed, no control characters) before anything is written,
//! and every change runs in one transaction: a refused merge or a name clash leaves the
//! index exactly as it was.

use crate::model::{Tag, TagId, normalize_tag_name, now_unix};
use crate::store::tags::{self as st, TagSummary};
use crate::{Error, Index, Result};

fn resolve(c: &rusqlite::Connection, name: &str) -> Result<TagId> {
    let n = normalize_tag_name(name)?;
    st::by_name(c, &n)?.ok_or(Error::UnknownTag(n))
}

/// The id of an existing tag, by any of its names.
pub fn lookup(index: &Index, name: &str) -> Result<TagId> {
    resolve(index.conn(), name)
}

/// Creates a tag with the primary name `name` (normalised and checked) and a fresh
/// universal id; [`Error::NameTaken`] when any tag already has that name.
pub fn create(index: &mut Index, name: &str) -> Result<TagId> {
    let n = normalize_tag_name(name)?;
    index.write(|tx| st::create(tx, &n, now_unix()))
}

/// Gives a tag a new primary name; links and implications stay (they hang off the id).
pub fn rename(index: &mut Index, old: &str, new: &str) -> Result<()> {
    let n = normalize_tag_name(new)?;
    index.write(|tx| {
        let t = resolve(tx, old)?;
        st::rename(tx, t, &n)
    })
}

/// Gives the tag named `tag` another name `name`, optionally marked as a translation into
/// `lang`; names are unique across tags ([`Error::NameTaken`]).
pub fn alias(index: &mut Index, tag: &str, name: &str, lang: Option<&str>) -> Result<()> {
    let n = normalize_tag_name(name)?;
    let lang = lang.map(str::trim).filter(|l| !l.is_empty());
    index.write(|tx| {
        let t = resolve(tx, tag)?;
        st::add_alias(tx, t, &n, lang)
    })
}

/// Removes the alias `name` from its tag; the primary name cannot be removed
/// ([`Error::AliasIsPrimary`]: rename the tag instead).
pub fn unalias(index: &mut Index, name: &str) -> Result<()> {
    index.write(|tx| {
        let t = resolve(tx, name)?;
        if !st::remove_alias(tx, t, &normalize_tag_name(name)?)? {
            return Err(Error::AliasIsPrimary(name.to_string()));
        }
        Ok(())
    })
}

/// Moves every link, name and implication of `from` into `into`; `from` disappears.
pub fn merge(index: &mut Index, from: &str, into: &str) -> Result<()> {
    index.write(|tx| {
        let f = resolve(tx, from)?;
        let i = resolve(tx, into)?;
        if f == i {
            return Err(Error::AlreadySameTag { from: from.to_string(), into: into.to_string() });
        }
        st::merge(tx, f, i)
    })
}

/// Deletes a tag. A tag in use needs `force`; then its links go too.
pub fn delete(index: &mut Index, name: &str, force: bool) -> Result<u64> {
    index.write(|tx| {
        let t = resolve(tx, name)?;
        let n = st::file_count(tx, t)?;
        if n > 0 && !force {
            return Err(Error::TagInUse { name: st::primary_name(tx, t)?, files: n });
        }
        st::delete(tx, t)?;
        Ok(n)
    })
}

/// What [`imply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Implied {
    /// Whether the implication is new (false: it existed already).
    pub new: bool,
    /// The tags created because they did not exist yet.
    pub created: Vec<String>,
}

/// `child ⇒ parent`, creating either tag when it does not exist yet.
pub fn imply(index: &mut Index, child: &str, parent: &str) -> Result<Implied> {
    let names = [normalize_tag_name(child)?, normalize_tag_name(parent)?];
    index.write(|tx| {
        let (ids, created) = crate::ops::include::ensure_tags(tx, &names, now_unix())?;
        if ids[0] == ids[1] {
            return Err(Error::SelfImplication(names[0].clone()));
        }
        Ok(Implied { new: st::imply(tx, ids[0], ids[1])?, created })
    })
}

/// Removes `child ⇒ parent`; false when there was no such implication. Implications
/// through other tags stay.
pub fn unimply(index: &mut Index, child: &str, parent: &str) -> Result<bool> {
    index.write(|tx| {
        let c = resolve(tx, child)?;
        let p = resolve(tx, parent)?;
        st::unimply(tx, c, p)
    })
}

/// Every name of a tag: the primary one first, then its aliases.
pub fn names(index: &Index, tag: TagId) -> Result<Vec<crate::model::TagName>> {
    st::names(index.conn(), tag)
}

/// Every tag with its file counts, by folded primary name or, with `by_count`, most files
/// first. `pattern` is a `*` glob matched against every name of a tag, case-folded.
pub fn list(index: &Index, pattern: Option<&str>, by_count: bool) -> Result<Vec<TagSummary>> {
    st::list(index.conn(), pattern, by_count)
}

/// Everything `tags show` prints.
#[derive(Debug, Clone)]
pub struct TagDetails {
    /// The tag with all its names.
    pub tag: Tag,
    /// Files carrying it directly.
    pub files: u64,
    /// Files carrying it directly or through a tag that implies it.
    pub with_implied: u64,
    /// Tags it implies directly, by primary name.
    pub parents: Vec<String>,
    /// Tags that imply it directly, by primary name.
    pub children: Vec<String>,
    /// Every tag this one implies, transitively.
    pub implies: Vec<String>,
}

/// Details of the tag with the name (or alias) `name`.
pub fn show(index: &Index, name: &str) -> Result<TagDetails> {
    let c = index.conn();
    let t = resolve(c, name)?;
    let names = |ids: &mut dyn Iterator<Item = TagId>| -> Result<Vec<String>> {
        let mut v = ids.map(|i| st::primary_name(c, i)).collect::<Result<Vec<_>>>()?;
        v.sort_by_key(|s| s.to_lowercase());
        Ok(v)
    };
    let (parents, children) = st::neighbours(c, t)?;
    Ok(TagDetails {
        tag: st::get(c, t)?,
        files: st::file_count(c, t)?,
        with_implied: st::file_count_with_implied(c, t)?,
        parents: names(&mut parents.into_iter())?,
        children: names(&mut children.into_iter())?,
        implies: names(&mut st::ancestors(c, &[t])?.into_iter())?,
    })
}
