//! A purge's report: one row per (item, instance), what happened there, and the counts.

use super::wire::str_enum;
use super::{CacheStatusFormat, Contract, SkippedInstance};
use serde::{Deserialize, Serialize};

str_enum! {
    /// Overall result of a purge.
    pub enum PurgeStatus {
        /// Every instance confirmed every URL (purged, or it was not cached there).
        Purged = "purged",
        /// Some (URL, instance) pairs succeeded and some did not.
        Partial = "partial",
        /// No (URL, instance) pair succeeded.
        Failed = "failed",
    }
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

str_enum! {
    /// What happened to one URL on one instance.
    pub enum Outcome {
        /// The instance confirmed it dropped its copy.
        Purged = "purged",
        /// The instance answered that it held no copy: the desired state, so a success.
        NotCached = "not_cached",
        /// The instance answered success, but not as the VCL contract says (no `Purge-Count` or
        /// `Purge-Ban`, or a 404): it may not have dropped its copy. Counted as a success (sending
        /// it again would change nothing), shown apart so it can be looked into.
        Unconfirmed = "unconfirmed",
        /// The instance answered and refused (4xx); retrying the same request will not help.
        Rejected = "rejected",
        /// No usable answer: connection failure, timeout, 5xx or a malformed answer.
        Failed = "failed",
    }
}

impl Outcome {
    /// Words for people: `not cached` rather than `not_cached`.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::NotCached => "not cached",
            other => other.as_str(),
        }
    }

    /// Whether the purge is done with, as far as the instance said: it no longer serves the old
    /// copy, or it answered success without the contract's confirmation (`Unconfirmed`).
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Purged | Outcome::NotCached | Outcome::Unconfirmed)
    }
}

/// One (URL, instance) row of a report.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// When it started, in ms after the fan-out began (with `elapsed_ms`: its bar in a waterfall).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<u64>,
    /// How many times it was sent (1, plus inline retries).
    #[serde(default)]
    pub attempts: u32,
    /// Failed inline, queued for background redelivery (see `GET /api/deliveries`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
    /// With `confirm`: what the instance served for the URL right after the purge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<Confirmation>,
    /// A soft purge done hard: the instance's contract has no soft purge (`plain`), so its
    /// copy was removed rather than marked stale.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub done_hard: bool,
    /// An upstream CDN that asked to be called again later (HTTP 429 with `Retry-After`): the
    /// seconds it asked for. Its redelivery is due then, not earlier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u32>,
    /// An upstream CDN's own id for the purge (Fastly's purge id, Cloudflare's result id) and,
    /// when it sent one, the id of its answer (`;`-separated), for its support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_id: Option<String>,
}

/// The answer to the `HEAD` sent right behind a `PURGE` (`confirm`), read through the instance's
/// RFC 9211 `Cache-Status`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// Whether the instance no longer serves the old copy: its answer was not a cache hit, or,
    /// after a soft purge, a hit on a copy marked stale (`fwd=stale`). `None` when it could
    /// not tell (no answer, or no `Cache-Status`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh: Option<bool>,
    /// The instance's HTTP status for the `HEAD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Its cache status field, as sent (`Cache-Status`, or `X-Cache` where that was read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_status: Option<String>,
    /// The format the verdict was read in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<CacheStatusFormat>,
    /// Why there is no verdict, when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The URL asked for, when it is not the row's own (a key, prefix or host purge confirmed
    /// through `confirm_urls`). With several, the verdict is the worst: the first URL still
    /// served old, else the first that could not tell, else the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Counts of each outcome in a report.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Rows in the report: URLs times the instances serving each URL's host.
    pub total: usize,
    /// Rows with outcome `purged`.
    pub purged: usize,
    /// Rows with outcome `not_cached`.
    pub not_cached: usize,
    /// Rows with outcome `unconfirmed`.
    #[serde(default)]
    pub unconfirmed: usize,
    /// Rows with outcome `rejected`.
    pub rejected: usize,
    /// Rows with outcome `failed`.
    pub failed: usize,
}

impl Summary {
    /// Counts of each outcome in `rows`.
    pub fn of(rows: &[PurgeResult]) -> Summary {
        let mut summary = Summary { total: rows.len(), ..Summary::default() };
        for r in rows {
            match r.outcome {
                Outcome::Purged => summary.purged += 1,
                Outcome::NotCached => summary.not_cached += 1,
                Outcome::Unconfirmed => summary.unconfirmed += 1,
                Outcome::Rejected => summary.rejected += 1,
                Outcome::Failed => summary.failed += 1,
            }
        }
        summary
    }
}

/// Reply of `POST /api/purge`: one row per (URL, instance), never fewer.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// Instance groups an item was not sent to, because their contract cannot do it (a key
    /// purge and a `plain` group): nothing was sent there, and nothing there was purged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedGroup>,
    /// Fly Machines discovery listed that get no `PURGE` now: those that start again from an
    /// empty cache (stopped, ...: nothing to purge), and those that may come back with their old
    /// copies (suspended, ...: `pending`, their rows queued until they are started).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_instances: Vec<SkippedInstance>,
    /// Why the history entry (written before the first `PURGE`) could not be completed with
    /// these results; no row is then `pending` (nothing was queued for redelivery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_error: Option<String>,
    /// The W3C trace id of this purge (also in the reply's `traceparent` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// An item not sent to an instance group, and why.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedGroup {
    /// The item, as rows and the history name it (`key:<key>@<host>`).
    pub item: String,
    /// The group: its `DISCOVERY` rule.
    pub group: String,
    /// The contract the rule declares.
    pub contract: Contract,
    /// Why it was not sent there.
    pub reason: String,
}

/// What the fan-out used, so a caller can see it stayed within the platform's limits.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// Distinct instances contacted.
    pub instances: usize,
    /// PURGE requests planned.
    pub requests: usize,
    /// Connections opened at most at the same time.
    pub concurrency: usize,
}
