//! Looking at the instances rather than purging them: `GET /api/instances`, `POST /api/verify`
//! and `POST /api/instances/check`.

use super::{CacheStatusFormat, Contract, Outcome, Problem, SkippedInstance, Transport};
use serde::{Deserialize, Serialize};

/// Reply of `GET /api/instances`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstancesReply {
    /// One entry per allowed host.
    pub hosts: Vec<HostInstances>,
    /// Each instance's latency and failures over the last 24 hours, when it had any purges.
    #[serde(default)]
    pub stats: Vec<InstanceStats>,
}

/// One instance's figures over the last 24 hours.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStats {
    /// The instance, as reports name it.
    pub instance: String,
    /// (item, instance) requests recorded.
    pub requests: usize,
    /// Of those, how many did not succeed.
    pub failed: usize,
    /// Median request time, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<u64>,
    /// 95th percentile request time, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<u64>,
    /// The p95 of each hour, oldest first (24 values; none for an hour without requests).
    pub hourly_p95_ms: Vec<Option<u64>>,
}

/// The instances one allowed host resolves to now.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInstances {
    /// The allowed host.
    pub host: String,
    /// How its instances are found, e.g. `dns:instances.example.net:443:tls` or `static:tls`.
    pub discovery: String,
    /// How they are spoken to: `tls`, or in clear text (`plain` to loopback or private
    /// addresses, `insecure` where a rule accepts clear text to public ones).
    pub transport: Transport,
    /// What its instances understand of a `PURGE`.
    #[serde(default)]
    pub contract: Contract,
    /// The instances, as `ip:port`.
    pub instances: Vec<String>,
    /// Why discovery failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
    /// Each instance's last purge, when the history has one.
    #[serde(default)]
    pub last: Vec<LastPurge>,
    /// Instances discovery found that are not purged: Fly Machines that are not started.
    #[serde(default)]
    pub skipped: Vec<SkippedInstance>,
    /// The upstream CDN groups purged beside the instances (`fastly:<service id>`,
    /// `cloudflare:<zone id>`), as report rows name them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstreams: Vec<String>,
}

/// The last purge an instance took part in.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastPurge {
    /// The instance, as `ip:port`.
    pub instance: String,
    /// When, ms.
    pub at: i64,
    /// Which URL.
    pub url: String,
    /// What happened.
    pub outcome: Outcome,
}

/// Body of `POST /api/verify`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The URL to fetch from every instance.
    pub url: String,
}

/// What one instance said about a URL.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyResult {
    /// The instance, as `ip:port`.
    pub instance: String,
    /// Its HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The raw `Cache-Status` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_status: Option<String>,
    /// Whether the instance served it from cache (RFC 9211 `hit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hit: Option<bool>,
    /// Why it went forward on a miss (`fwd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwd: Option<String>,
    /// Remaining freshness in seconds (`ttl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    /// The `Age` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<u64>,
    /// The format `hit` was read in; absent when no header could be read with confidence
    /// (`hit` is then absent too, never a guess).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<CacheStatusFormat>,
    /// Why there is no answer, or no verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Reply of `POST /api/verify`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// The normalised URL.
    pub url: String,
    /// One row per instance.
    pub results: Vec<VerifyResult>,
}

/// Reply of `POST /api/instances/check`: every instance of every group, asked a `PURGE` of a
/// path that is never cached ([`CHECK_PATH`]) and a `HEAD` of `/`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// One row per instance, group by group (each group under its first host in `ALLOWED_HOSTS`).
    pub results: Vec<InstanceCheck>,
    /// Rows with a warning.
    pub warnings: usize,
    /// Groups whose discovery failed: nothing was asked of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<GroupError>,
    /// The W3C trace id of this check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// The path an instance check purges: reserved, never cached by any site.
pub const CHECK_PATH: &str = "/.well-known/edgepurge-check";

/// A group the check could not discover.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupError {
    /// The group: its `DISCOVERY` rule.
    pub group: String,
    /// The host it was discovered for.
    pub host: String,
    /// What went wrong.
    pub error: String,
}

/// What one instance showed of itself to the check.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceCheck {
    /// The group: its `DISCOVERY` rule.
    pub group: String,
    /// The host it was checked as (`Host` and TLS name): the group's first allowed host.
    pub host: String,
    /// The instance, as reports name it.
    pub instance: String,
    /// The contract its rule declares.
    pub declared: Contract,
    /// Whether it answered the `PURGE` at all.
    pub reachable: bool,
    /// Over TLS: whether a connection with a certificate valid for `host` answered (the
    /// platform always checks it); absent in clear text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_verified: Option<bool>,
    /// Whether it took the purge token (its answer was not a 401 or 403); absent when it did
    /// not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_accepted: Option<bool>,
    /// Its status for the `PURGE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_status: Option<u16>,
    /// The contract its answer shows: `edgepurge` with `Purge-Count`, `plain` with a 2xx
    /// without it; absent when the answer shows neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<Contract>,
    /// Its status for the `HEAD` of `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_status: Option<u16>,
    /// The cache status field it sent with it, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_status: Option<String>,
    /// The format that field was read in; absent when it could not be read with confidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_status_format: Option<CacheStatusFormat>,
    /// What to fix, when the instance and its rule disagree or something is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// Why it could not be checked (fully), when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
