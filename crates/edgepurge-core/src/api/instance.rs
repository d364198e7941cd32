//! An instance as the API names it: the contract its rule declares, how it is spoken to, the
//! format its cache status was read in, and why one listed was not purged.

use super::wire::str_enum;
use serde::{Deserialize, Serialize};

str_enum! {
    /// What a group of instances understands of a `PURGE` (a `DISCOVERY` rule's `contract=`).
    #[derive(Default, PartialOrd, Ord, Hash)]
    pub enum Contract {
        /// `vcl/edgepurge.vcl`: URLs, keys, prefixes and hosts, soft or hard, each answer with
        /// `Purge-Count` or `Purge-Ban`.
        #[default]
        Edgepurge = "edgepurge",
        /// A cache that purges the one URL a `PURGE` names (Varnish's `return(purge)` as in
        /// Pipely, nginx's cache_purge, Apache Traffic Server): URL purges only, always hard,
        /// success is a 2xx.
        Plain = "plain",
    }
}

str_enum! {
    /// How a discovery rule's instances are spoken to.
    #[derive(PartialOrd, Ord, Hash)]
    pub enum Transport {
        /// Clear text, to loopback or private addresses only (the purge token travels in clear).
        Plain = "plain",
        /// TLS, the certificate checked against the purged site's host.
        Tls = "tls",
        /// Clear text to any address, public ones included: the rule says `insecure`.
        Insecure = "insecure",
    }
}

impl Transport {
    /// The rule suffix (`:tls`, `:insecure`), empty for plain.
    pub fn suffix(self) -> &'static str {
        match self {
            Transport::Plain => "",
            Transport::Tls => ":tls",
            Transport::Insecure => ":insecure",
        }
    }
}

str_enum! {
    /// Which format an instance's cache status was read in.
    pub enum CacheStatusFormat {
        /// RFC 9211 `Cache-Status` (the edgepurge VCL's).
        Rfc9211 = "rfc9211",
        /// Pipely's `cache-status` (`region=...; origin=...; ttl=...; hit; hits=N`).
        Pipely = "pipely",
        /// `X-Cache: HIT` / `MISS` (Squid, Varnish setups, Fastly, CloudFront).
        XCache = "x_cache",
        /// Only an `Age` header above 0: served from a cache.
        Age = "age",
    }
}

impl CacheStatusFormat {
    /// Words for people: `RFC 9211`, `Pipely`, `X-Cache`, `Age`.
    pub fn label(self) -> &'static str {
        match self {
            CacheStatusFormat::Rfc9211 => "RFC 9211",
            CacheStatusFormat::Pipely => "Pipely",
            CacheStatusFormat::XCache => "X-Cache",
            CacheStatusFormat::Age => "Age",
        }
    }
}

/// An instance listed but not purged, and why.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedInstance {
    /// Its name, as reports would give it (`syd 148e272b4e5d89`).
    pub instance: String,
    /// Its state (`stopped`, `suspended`, ...).
    pub state: String,
    /// It may come back with its old copies (suspended, ...): purges to it are queued and sent
    /// once it is started. Otherwise it starts from an empty cache and is skipped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}
