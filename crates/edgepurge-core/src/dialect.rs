//! Instance dialects: what a group of instances understands of a `PURGE`, declared on its
//! `DISCOVERY` rule (`:contract=plain`, `:token-header=<name>`).
//!
//! Caches as they are deployed speak one of two dialects:
//!
//! | kind | `edgepurge` (`vcl/edgepurge.vcl`) | `plain` (Pipely, `return(purge)`, nginx, ATS) |
//! |---|---|---|
//! | URL | yes | yes |
//! | soft URL | yes | done hard, and the row says so |
//! | key, soft key | yes (xkey) | no: not sent, the report names the group |
//! | prefix | yes (ban) | no: the request is refused (400) |
//! | host | yes (ban) | no: the request is refused (400) |
//! | answer | `Purge-Count: N` / `Purge-Ban` | any 2xx is `purged`; 404 is `not_cached` |
//!
//! A `plain` cache purges exactly the URL of the request line, whatever the headers say: a key
//! or prefix sent to it as `PURGE /` would purge its home page and answer 200. So nothing but
//! a URL purge is ever written for it ([`Dialect::request`] has no bytes for the rest).

use crate::api::Contract;
use crate::http1::{write_purge, FieldValue, PURGE_TOKEN_HEADER};
use crate::purge::{regex_escape, Purge};
use std::fmt;

/// A header field name the purge token travels in: an RFC 9110 token (letters, digits and
/// ``!#$%&'*+-.^_`|~``), at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenHeader(String);

impl TokenHeader {
    /// A valid field name, or `None`.
    pub fn new(raw: &str) -> Option<TokenHeader> {
        let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        (!raw.is_empty() && raw.len() <= 64 && raw.bytes().all(tchar)).then(|| TokenHeader(raw.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How far a dialect can do a kind of purge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// As asked.
    Yes,
    /// A soft purge, done hard (the copy removed rather than marked stale).
    Hard,
    /// Not at all: nothing may be sent.
    No,
}

/// What one group of instances understands: its contract, and the header its purge token
/// goes in (`None`: sent without one).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dialect {
    /// The contract.
    pub contract: Contract,
    /// Where the purge token goes.
    pub token_header: Option<TokenHeader>,
}

impl Default for Dialect {
    fn default() -> Self {
        Dialect::edgepurge()
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.contract.as_str())
    }
}

impl Dialect {
    /// The edgepurge VCL contract (the token in `Purge-Token`).
    pub fn edgepurge() -> Dialect {
        Dialect { contract: Contract::Edgepurge, token_header: TokenHeader::new(PURGE_TOKEN_HEADER) }
    }

    /// A PURGE-only cache, its token in `token_header` (Pipely reads `purge-token`, which
    /// `Purge-Token` matches: field names are case-insensitive).
    pub fn plain(token_header: Option<TokenHeader>) -> Dialect {
        Dialect { contract: Contract::Plain, token_header }
    }

    /// How far this dialect can do `purge`.
    pub fn support(&self, purge: &Purge) -> Support {
        match (self.contract, purge) {
            (Contract::Edgepurge, _) => Support::Yes,
            (Contract::Plain, Purge::Url { soft: false, .. }) => Support::Yes,
            (Contract::Plain, Purge::Url { soft: true, .. }) => Support::Hard,
            (Contract::Plain, _) => Support::No,
        }
    }

    /// Why this dialect cannot do `purge` (for a refusal or a skipped group), if it cannot.
    pub fn refusal(&self, purge: &Purge) -> Option<String> {
        (self.support(purge) == Support::No).then(|| {
            let kind = purge.kind();
            format!(
                "its instances speak the {} contract, which purges only the URL a request names: a {kind} purge \
                 cannot be done there (sent as `PURGE /`, it would purge the home page instead); include \
                 vcl/edgepurge.vcl in them and drop :contract=plain to purge by {kind}",
                self.contract.as_str(),
            )
        })
    }

    /// The `PURGE` request for `purge` in this dialect, or `None` when it cannot do it (nothing
    /// is ever written for a purge it would misread). `routing` is a shared edge's routing
    /// field (see `Instance::routing`).
    pub fn request(
        &self,
        purge: &Purge,
        token: &FieldValue,
        routing: Option<(&str, FieldValue)>,
        keep_alive: bool,
    ) -> Option<Vec<u8>> {
        let token = self.token_header.as_ref().map(|name| (name.as_str(), token));
        let mut extra: Vec<(&str, FieldValue)> = Vec::new();
        let one = |v: &str| FieldValue::new(v);
        let (path, authority) = match (self.contract, purge) {
            (Contract::Plain, Purge::Url { target, .. }) => (target.path_and_query(), target.authority()),
            (Contract::Plain, _) => return None,
            (Contract::Edgepurge, Purge::Url { target, soft }) => {
                extra.extend(one("1").filter(|_| *soft).map(|v| ("Purge-Soft", v)));
                (target.path_and_query(), target.authority())
            }
            (Contract::Edgepurge, Purge::Key { key, host, soft }) => {
                extra.push(("Purge-Keys", key.clone()));
                extra.extend(one("key").map(|v| ("Purge-Kind", v)));
                extra.extend(one("1").filter(|_| *soft).map(|v| ("Purge-Soft", v)));
                ("/", host.as_str())
            }
            (Contract::Edgepurge, Purge::Prefix { target }) => {
                extra.extend(one("prefix").map(|v| ("Purge-Kind", v)));
                extra.extend(FieldValue::new(&regex_escape(target.path_and_query())).map(|v| ("Purge-Prefix", v)));
                ("/", target.authority())
            }
            (Contract::Edgepurge, Purge::Host { host }) => {
                extra.extend(one("host").map(|v| ("Purge-Kind", v)));
                ("/", host.as_str())
            }
        };
        extra.extend(routing);
        Some(write_purge(path, authority, token, &extra, keep_alive))
    }
}
