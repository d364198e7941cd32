//! `POST /api/purge`: the request, and the NDJSON lines of a live purge.

use super::{PurgeReport, PurgeResult};
use serde::{Deserialize, Serialize};

/// Body of `POST /api/purge`: any mix of the kinds, at least one item in all.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// Absolute `http`/`https` URLs to purge on every instance serving their host.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Surrogate keys (xkey / `Surrogate-Key` tags) to purge on every instance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// Path prefixes, as URLs (`https://host/path/`): every object of the host under the path.
    /// Admins only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefixes: Vec<String>,
    /// Hosts to empty entirely. Admins only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Mark stale instead of removing (URLs and keys): instances serve stale while refetching.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub soft: bool,
    /// Right behind each URL's `PURGE`, on the same connection, send a `HEAD` of the URL: each
    /// row then says whether that instance now serves a fresh copy (its `confirm`), and the
    /// instance is warmed again for the next visitor. Keys, prefixes and hosts name no URL of
    /// their own: see `confirm_urls`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirm: bool,
    /// URLs to confirm key, prefix and host purges with (at most 10): each is asked for with a
    /// `HEAD` right behind every `PURGE` of this request that covers it (a key purge of its
    /// host's instances, a prefix it starts with, its host), on each of those instances; the
    /// purge's row then carries the verdict (`confirm`, naming the URL). Each must be covered by
    /// at least one such purge.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub confirm_urls: Vec<String>,
}

/// One line of a live purge (`Accept: application/x-ndjson`): newline-delimited JSON.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PurgeEvent {
    /// First line: every (URL, instance) pair that will be reported, in report order.
    Started {
        /// The pairs, as rows without an outcome yet.
        pairs: Vec<Pair>,
    },
    /// One pair finished.
    Result(PurgeResult),
    /// Last line: the complete report.
    Done(PurgeReport),
}

/// A (URL, instance) pair of a purge.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    /// The normalised URL.
    pub url: String,
    /// The instance, as `ip:port`.
    pub instance: String,
}
