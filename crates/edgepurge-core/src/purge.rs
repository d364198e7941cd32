//! The kinds of purge: a URL, a surrogate key, a path prefix, a whole host; hard or soft.
//!
//! Each kind is written as one `PURGE` request in the dialect of the instances it goes to
//! ([`crate::dialect`]; `vcl/edgepurge.vcl`'s header states its contract). Every kind has a *label*, the text the report and the history show
//! in their `url` field, which [`Purge::from_label`] reads back for background redelivery:
//!
//! | kind | label |
//! |---|---|
//! | URL | `https://host/path?q` (soft: `soft:https://host/path?q`) |
//! | surrogate key | `key:<key>@<host>` (soft: `soft-key:<key>@<host>`) |
//! | path prefix | `prefix:https://host/path/` |
//! | whole host | `host:<host>` |

use crate::http1::FieldValue;
use crate::target::{Target, TargetError};
use std::fmt;

/// The longest surrogate key accepted.
pub const MAX_KEY_LEN: usize = 256;

/// One purge, as sent to every instance serving its host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Purge {
    /// One URL (every variant of it).
    Url {
        /// The URL.
        target: Target,
        /// Mark stale instead of removing.
        soft: bool,
    },
    /// Every object tagged with a surrogate key (instance-wide, as in xkey).
    Key {
        /// The key: printable ASCII without spaces.
        key: FieldValue,
        /// The host whose instances get the purge (and its `Host` header).
        host: String,
        /// Mark stale instead of removing.
        soft: bool,
    },
    /// Every object of the target's host whose path starts with the target's path.
    Prefix {
        /// Host and path prefix (no query).
        target: Target,
    },
    /// Every object of a host.
    Host {
        /// The host.
        host: String,
    },
}

/// Why a key, prefix or label is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeError {
    /// A URL or prefix that does not parse.
    Target(TargetError),
    /// A key with blanks, commas, control characters, non-ASCII, or over [`MAX_KEY_LEN`].
    Key,
    /// A prefix with a query string.
    PrefixQuery,
    /// A label this module did not write.
    Label,
}

impl fmt::Display for PurgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PurgeError::Target(e) => e.fmt(f),
            PurgeError::Key => {
                write!(f, "a key is 1 to {MAX_KEY_LEN} printable ASCII characters without spaces or commas")
            }
            PurgeError::PrefixQuery => f.write_str("a prefix is a path: no query string"),
            PurgeError::Label => f.write_str("not a purge label"),
        }
    }
}

impl From<TargetError> for PurgeError {
    fn from(e: TargetError) -> Self {
        PurgeError::Target(e)
    }
}

/// Validates a surrogate key.
///
/// xkey splits `Purge-Keys` on commas and blanks, so a comma would make one item purge several
/// keys: the grammar is 1 to [`MAX_KEY_LEN`] printable ASCII characters, no blank, no comma.
pub fn parse_key(raw: &str) -> Result<FieldValue, PurgeError> {
    if raw.len() > MAX_KEY_LEN || raw.contains(',') {
        return Err(PurgeError::Key);
    }
    FieldValue::new(raw).ok_or(PurgeError::Key)
}

/// Validates a path prefix given as a URL (`https://host/path/`).
pub fn parse_prefix(raw: &str) -> Result<Target, PurgeError> {
    let target = Target::parse(raw)?;
    if target.path_and_query().contains('?') {
        return Err(PurgeError::PrefixQuery);
    }
    Ok(target)
}

/// Escapes a path for the POSIX extended regex of a Varnish ban, so it matches literally.
pub fn regex_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len() * 2);
    for c in path.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Purge {
    /// URL purges of `targets`.
    pub fn urls(targets: Vec<Target>, soft: bool) -> Vec<Purge> {
        targets.into_iter().map(|target| Purge::Url { target, soft }).collect()
    }

    /// The host whose instances this purge goes to.
    pub fn host(&self) -> &str {
        match self {
            Purge::Url { target, .. } | Purge::Prefix { target } => target.host(),
            Purge::Key { host, .. } | Purge::Host { host } => host,
        }
    }

    /// The URL target, for URL purges.
    pub fn url_target(&self) -> Option<&Target> {
        match self {
            Purge::Url { target, .. } => Some(target),
            _ => None,
        }
    }

    /// The kind, as traces name it: `url`, `key`, `prefix` or `host`.
    pub fn kind(&self) -> &'static str {
        match self {
            Purge::Url { .. } => "url",
            Purge::Key { .. } => "key",
            Purge::Prefix { .. } => "prefix",
            Purge::Host { .. } => "host",
        }
    }

    /// Whether it marks stale rather than removes.
    pub fn soft(&self) -> bool {
        matches!(self, Purge::Url { soft: true, .. } | Purge::Key { soft: true, .. })
    }

    /// The label shown in reports and history, and stored for redelivery.
    pub fn label(&self) -> String {
        match self {
            Purge::Url { target, soft: false } => target.url().to_owned(),
            Purge::Url { target, soft: true } => format!("soft:{}", target.url()),
            Purge::Key { key, host, soft } => {
                format!("{}:{}@{host}", if *soft { "soft-key" } else { "key" }, key.as_str())
            }
            Purge::Prefix { target } => format!("prefix:{}", target.url()),
            Purge::Host { host } => format!("host:{host}"),
        }
    }

    /// Reads a label back.
    pub fn from_label(label: &str) -> Result<Purge, PurgeError> {
        let key = |rest: &str, soft: bool| -> Result<Purge, PurgeError> {
            let (key, host) = rest.rsplit_once('@').ok_or(PurgeError::Label)?;
            let host = crate::target::normalise_host(host).ok_or(PurgeError::Label)?;
            Ok(Purge::Key { key: parse_key(key)?, host, soft })
        };
        if let Some(rest) = label.strip_prefix("soft-key:") {
            key(rest, true)
        } else if let Some(rest) = label.strip_prefix("key:") {
            key(rest, false)
        } else if let Some(rest) = label.strip_prefix("prefix:") {
            Ok(Purge::Prefix { target: parse_prefix(rest)? })
        } else if let Some(rest) = label.strip_prefix("host:") {
            Ok(Purge::Host { host: crate::target::normalise_host(rest).ok_or(PurgeError::Label)? })
        } else if let Some(rest) = label.strip_prefix("soft:") {
            Ok(Purge::Url { target: Target::parse(rest)?, soft: true })
        } else {
            Ok(Purge::Url { target: Target::parse(label)?, soft: false })
        }
    }
}
