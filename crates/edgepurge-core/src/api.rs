//! The HTTP API's JSON types: the one serialised contract between the worker and the console.
//!
//! Everything else in the core is plain Rust; keeping serde here means a change to the wire
//! format is a change to this file and nowhere else. Field names are `snake_case`; optional
//! fields are omitted when absent rather than sent as `null`.

use serde::{Deserialize, Serialize};

/// Body of `POST /api/purge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// Absolute `http`/`https` URLs to purge on every instance serving their host.
    pub urls: Vec<String>,
}

/// Overall result of a purge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurgeStatus {
    /// Every instance confirmed every URL (purged, or it was not cached there).
    Purged,
    /// Some (URL, instance) pairs succeeded and some did not.
    Partial,
    /// No (URL, instance) pair succeeded.
    Failed,
}

impl PurgeStatus {
    /// The HTTP status of the reply carrying a report with this status:
    /// 200 all purged, 207 (Multi-Status) some failed, 502 none succeeded.
    pub fn http_status(self) -> u16 {
        match self {
            PurgeStatus::Purged => 200,
            PurgeStatus::Partial => 207,
            PurgeStatus::Failed => 502,
        }
    }
}

/// What happened to one URL on one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The instance confirmed it dropped its copy.
    Purged,
    /// The instance answered that it held no copy: the desired state, so a success.
    NotCached,
    /// The instance answered and refused (4xx); retrying the same request will not help.
    Rejected,
    /// No usable answer: connection failure, timeout, 5xx or a malformed answer.
    Failed,
}

impl Outcome {
    /// Whether the instance no longer serves the old copy.
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Purged | Outcome::NotCached)
    }
}

/// One (URL, instance) row of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeResult {
    /// The normalised URL that was purged.
    pub url: String,
    /// The instance, as `ip:port` (IPv6 in brackets).
    pub instance: String,
    /// What happened.
    pub outcome: Outcome,
    /// The instance's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Why it did not succeed, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether sending the same purge again may succeed.
    pub retryable: bool,
    /// Wall time spent on this request, measured by the caller of the core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
}

/// Counts of each outcome in a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Rows in the report: URLs times the instances serving each URL's host.
    pub total: usize,
    /// Rows with outcome `purged`.
    pub purged: usize,
    /// Rows with outcome `not_cached`.
    pub not_cached: usize,
    /// Rows with outcome `rejected`.
    pub rejected: usize,
    /// Rows with outcome `failed`.
    pub failed: usize,
}

/// Reply of `POST /api/purge`: one row per (URL, instance), never fewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeReport {
    /// Overall status; see [`PurgeStatus::http_status`].
    pub status: PurgeStatus,
    /// Counts per outcome.
    pub summary: Summary,
    /// How the fan-out was carried out.
    pub plan: PlanSummary,
    /// Every (URL, instance) pair, ordered by URL then instance.
    pub results: Vec<PurgeResult>,
}

/// What the fan-out used, so a caller can see it stayed within the platform's limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// Distinct instances contacted.
    pub instances: usize,
    /// PURGE requests planned.
    pub requests: usize,
    /// Connections opened at most at the same time.
    pub concurrency: usize,
}

/// Reply of `GET /api/instances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstancesReply {
    /// One entry per allowed host.
    pub hosts: Vec<HostInstances>,
}

/// The instances one allowed host resolves to now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInstances {
    /// The allowed host.
    pub host: String,
    /// How its instances are found, e.g. `dns:instances.example.net:80` or `static`.
    pub discovery: String,
    /// The instances, as `ip:port`.
    pub instances: Vec<String>,
    /// Why discovery failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
}

/// Reply of `GET /api/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `"ok"` when the worker answers.
    pub status: String,
    /// The edgepurge version.
    pub version: String,
}

/// An RFC 9457 problem details object (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI naming the problem type, e.g. `urn:edgepurge:problem:unauthorized`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for a human.
    pub detail: String,
    /// Where the fault lies: `caller`, `config`, `discovery` or `instance`.
    pub source: String,
    /// Whether the same request may succeed later.
    pub retryable: bool,
    /// The configuration setting at fault, for `config` problems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
    /// The offending URL or host, when one is at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// The media type of [`Problem`] bodies (RFC 9457 section 3).
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
