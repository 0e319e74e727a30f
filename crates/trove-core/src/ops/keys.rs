//! API keys for the HTTP server: made here, shown once, stored hashed, checked in constant
//! time. A key is 32 random bytes written as 64 hex digits.

use crate::model::now_unix;
use crate::store::keys as sk;
use crate::{Error, Index, Result};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Search, file metadata and content, thumbnails, tag lists.
    Read,
    /// Read, and add or remove tags on files.
    Tag,
    /// Everything: also rename, alias, merge and imply tags, and edit pools.
    All,
}

impl Scope {
    /// The scope's name as stored and typed: `read`, `tag` or `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Tag => "tag",
            Scope::All => "all",
        }
    }

    /// The scope named `s` (`read`, `tag`, `all`), `None` for anything else.
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "read" => Some(Scope::Read),
            "tag" => Some(Scope::Tag),
            "all" => Some(Scope::All),
            _ => None,
        }
    }

    /// Whether a key with this scope may do what `need` asks.
    pub fn allows(self, need: Scope) -> bool {
        self >= need
    }
}

/// A key that matched: its name (for the `api:NAME` source) and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's name; links made with it get the source `api:NAME`.
    pub name: String,
    /// What it may do.
    pub scope: Scope,
    /// When it was made (or requested), seconds since the epoch.
    pub created_at: i64,
    /// Requested by a client (`/request_new_permissions`) and not approved yet: it opens
    /// nothing until `trove keys approve NAME`.
    pub pending: bool,
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.eq_ignore_ascii_case("web") {
        // The browser session's writes are recorded as api:web.
        return Err(Error::BadKeyName {
            name: name.to_string(),
            reason: "this name is the browser session's own; pick another",
        });
    }
    if ok {
        Ok(())
    } else {
        Err(Error::BadKeyName { name: name.to_string(), reason: "a key name is 1-64 letters, digits, '-', '_' or '.'" })
    }
}

fn hash(key: &str) -> [u8; 32] {
    *blake3::hash(key.as_bytes()).as_bytes()
}

/// Makes a key; returns the only copy of its secret (64 hex digits).
pub fn add(index: &mut Index, name: &str, scope: Scope) -> Result<String> {
    check_name(name)?;
    let bytes = crate::store::random_uid()?;
    let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let h = hash(&key);
    index.write(|tx| {
        if sk::exists(tx, name)? {
            return Err(Error::KeyExists(name.to_string()));
        }
        sk::insert(tx, name, &h, scope.as_str(), now_unix(), false)
    })?;
    Ok(key)
}

/// At most this many requested keys wait for approval at once: the request needs no key,
/// so it must not fill the index.
pub const MAX_PENDING: u64 = 16;

/// A key made by [`request`], waiting for approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    /// The name it was given (derived from the one asked for).
    pub name: String,
    /// The key itself (64 hex digits), shown to the client once.
    pub key: String,
}

/// Makes a key a client asked for, under a name derived from `wanted` (characters a key
/// name cannot hold become `-`; a taken name gets `-2`, `-3`, ...). The key opens nothing
/// until [`approve`].
pub fn request(index: &mut Index, wanted: &str, scope: Scope) -> Result<Requested> {
    let mut base: String = wanted
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' })
        .take(56)
        .collect();
    if base.is_empty() || base.eq_ignore_ascii_case("web") {
        base = format!("client-{base}").trim_end_matches('-').to_string();
    }
    let bytes = crate::store::random_uid()?;
    let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let h = hash(&key);
    let name = index.write(|tx| {
        if sk::count_pending(tx)? >= MAX_PENDING {
            return Err(Error::TooManyKeyRequests { max: MAX_PENDING });
        }
        let mut name = base.clone();
        let mut n = 2;
        while sk::exists(tx, &name)? {
            name = format!("{base}-{n}");
            n += 1;
        }
        sk::insert(tx, &name, &h, scope.as_str(), now_unix(), true)?;
        Ok(name)
    })?;
    Ok(Requested { name, key })
}

/// Approves a requested key; false when no key by that name waits.
pub fn approve(index: &mut Index, name: &str) -> Result<bool> {
    index.write(|tx| sk::approve(tx, name))
}

/// Removes a key; false when there was none by that name.
pub fn remove(index: &mut Index, name: &str) -> Result<bool> {
    index.write(|tx| sk::delete(tx, name))
}

/// Every key, approved or pending, by name (the secrets are never stored, only hashes).
pub fn list(index: &Index) -> Result<Vec<KeyInfo>> {
    Ok(sk::list(index.conn())?
        .into_iter()
        .map(|r| KeyInfo {
            name: r.name,
            scope: Scope::parse(&r.scope).unwrap_or(Scope::Read),
            created_at: r.created_at,
            pending: r.pending,
        })
        .collect())
}

/// The key a client presented, if it is one of ours and approved. Every stored hash is
/// compared, each in constant time, so the answer's timing says nothing about which bytes
/// matched.
pub fn verify(index: &Index, presented: &str) -> Result<Option<KeyInfo>> {
    Ok(lookup(index, presented)?.filter(|k| !k.pending))
}

/// As [`verify`], but also a key that waits for approval (marked `pending`), so a server
/// can tell its client why the key opens nothing yet.
pub fn lookup(index: &Index, presented: &str) -> Result<Option<KeyInfo>> {
    let h = hash(presented.trim());
    let mut found = None;
    for (name, scope, stored, pending) in sk::all_hashes(index.conn())? {
        if constant_time_eq(&stored, &h) && found.is_none() {
            found = Some(KeyInfo { name, scope: Scope::parse(&scope).unwrap_or(Scope::Read), created_at: 0, pending });
        }
    }
    Ok(found)
}

/// Byte equality whose running time depends only on the lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stored_hashed_and_scoped() {
        let d = tempfile::tempdir().unwrap();
        let mut index = Index::open(&d.path().join("i.db"), crate::OpenMode::Create).unwrap();
        let k = add(&mut index, "phone", Scope::Tag).unwrap();
        assert_eq!(k.len(), 64);
        assert!(k.bytes().all(|b| b.is_ascii_hexdigit()));
        let info = verify(&index, &k).unwrap().unwrap();
        assert_eq!((info.name.as_str(), info.scope), ("phone", Scope::Tag));
        assert!(info.scope.allows(Scope::Read) && info.scope.allows(Scope::Tag) && !info.scope.allows(Scope::All));
        assert_eq!(verify(&index, &k.replace(&k[..1], "x")).unwrap(), None);
        assert_eq!(verify(&index, "").unwrap(), None);
        // The secret itself is nowhere in the file.
        drop(index);
        let raw = std::fs::read(d.path().join("i.db")).unwrap();
        assert!(!raw.windows(64).any(|w| w == k.as_bytes()));
        let mut index = Index::open(&d.path().join("i.db"), crate::OpenMode::Existing).unwrap();
        assert!(matches!(add(&mut index, "phone", Scope::Read), Err(Error::KeyExists(n)) if n == "phone"));
        assert!(
            matches!(add(&mut index, "bad name", Scope::Read), Err(Error::BadKeyName { name, .. }) if name == "bad name")
        );
        assert!(matches!(add(&mut index, "Web", Scope::Read), Err(Error::BadKeyName { name, .. }) if name == "Web"));
        assert!(remove(&mut index, "phone").unwrap());
        assert_eq!(verify(&index, &k).unwrap(), None);
        assert!(!remove(&mut index, "phone").unwrap());
    }

    #[test]
    fn requested_keys_open_nothing_until_approved() {
        let d = tempfile::tempdir().unwrap();
        let mut index = Index::open(&d.path().join("i.db"), crate::OpenMode::Create).unwrap();
        add(&mut index, "my-import-script", Scope::Read).unwrap();
        let Requested { name, key: k } = request(&mut index, "my import script", Scope::Tag).unwrap();
        assert_eq!(name, "my-import-script-2");
        assert_eq!(verify(&index, &k).unwrap(), None);
        assert!(lookup(&index, &k).unwrap().unwrap().pending);
        assert!(list(&index).unwrap().iter().any(|i| i.name == name && i.pending));
        assert!(!approve(&mut index, "my-import-script").unwrap(), "an approved key is not waiting");
        assert!(approve(&mut index, &name).unwrap());
        let info = verify(&index, &k).unwrap().unwrap();
        assert_eq!((info.name.as_str(), info.scope, info.pending), (name.as_str(), Scope::Tag, false));
        let web = request(&mut index, "web", Scope::Read).unwrap().name;
        assert_eq!(web, "client-web");
        for _ in 1..MAX_PENDING {
            request(&mut index, "spam", Scope::Read).unwrap();
        }
        assert!(
            matches!(request(&mut index, "spam", Scope::Read), Err(Error::TooManyKeyRequests { max }) if max == MAX_PENDING)
        );
    }
}
