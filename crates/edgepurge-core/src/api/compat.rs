//! The wire formats of the Fastly- and Cloudflare-compatible purge endpoints: what their clients
//! send and what they expect back. The translation into a [`super::PurgeRequest`] is
//! `crate::compat`; these are only the shapes.

use super::PurgeReport;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Body of Cloudflare's `POST /client/v4/zones/{zone}/purge_cache`.
///
/// Unknown fields are refused, as Cloudflare refuses them.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudflarePurge {
    /// URLs, as strings or `{"url": ..., "headers": {...}}` objects.
    #[serde(default)]
    pub files: Vec<CloudflareFile>,
    /// Cache tags (surrogate keys).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Prefixes as `host/path`, without a scheme.
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// Hosts to empty.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Everything in the zone.
    #[serde(default)]
    pub purge_everything: bool,
}

/// One entry of [`CloudflarePurge::files`].
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CloudflareFile {
    /// A plain URL.
    Url(String),
    /// A URL with the request headers that select a cached variant (the headers are not used:
    /// an edgepurge URL purge drops every variant).
    Object {
        /// The URL.
        url: String,
    },
}

impl CloudflareFile {
    /// The URL.
    pub fn url(&self) -> &str {
        match self {
            CloudflareFile::Url(url) | CloudflareFile::Object { url } => url,
        }
    }
}

/// Cloudflare's response envelope for `purge_cache`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudflareReply {
    /// Whether every instance took the purge.
    pub success: bool,
    /// Why not, when not.
    pub errors: Vec<CloudflareMessage>,
    /// Always empty.
    pub messages: Vec<CloudflareMessage>,
    /// The purge's id, and the report when it did not fully succeed.
    pub result: CloudflareResult,
}

/// One entry of [`CloudflareReply::errors`].
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudflareMessage {
    /// Cloudflare's error code (1000 here).
    pub code: u32,
    /// What happened.
    pub message: String,
}

/// [`CloudflareReply::result`].
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudflareResult {
    /// The purge's id.
    pub id: String,
    /// The full report, when not every pair succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<PurgeReport>,
}

/// Fastly's purge replies.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FastlyReply {
    /// `{"status": "ok", "id": ...}`, or `{"status": "error", "msg": ..., "id": ..., "report": ...}`.
    Single {
        /// `ok` or `error`.
        status: String,
        /// What went wrong, for errors.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        msg: Option<String>,
        /// The purge's id.
        id: String,
        /// The full report, for errors.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        report: Option<Box<PurgeReport>>,
    },
    /// A batch purge by `Surrogate-Key`: each key mapped to the purge's id.
    Batch(BTreeMap<String, String>),
}
