//! The HTTP API's JSON types: the one serialised contract between the worker and the console.
//!
//! Everything else in the core is plain Rust; keeping serde here means a change to the wire
//! format is a change to this file and nowhere else. Field names are `snake_case`; optional
//! fields are omitted when absent rather than sent as `null`.

use serde::{Deserialize, Serialize};

pub mod compat;
pub mod shard;

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

/// Overall result of a purge.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The instance confirmed it dropped its copy.
    Purged,
    /// The instance answered that it held no copy: the desired state, so a success.
    NotCached,
    /// The instance answered success, but not as the VCL contract says (no `Purge-Count` or
    /// `Purge-Ban`, or a 404): it may not have dropped its copy. Counted as a success (sending
    /// it again would change nothing), shown apart so it can be looked into.
    Unconfirmed,
    /// The instance answered and refused (4xx); retrying the same request will not help.
    Rejected,
    /// No usable answer: connection failure, timeout, 5xx or a malformed answer.
    Failed,
}

impl Outcome {
    /// The serialised and stored name (`not_cached`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Purged => "purged",
            Outcome::NotCached => "not_cached",
            Outcome::Unconfirmed => "unconfirmed",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
        }
    }

    /// Every outcome.
    pub const ALL: [Outcome; 5] =
        [Outcome::Purged, Outcome::NotCached, Outcome::Unconfirmed, Outcome::Rejected, Outcome::Failed];

    /// Reads a stored name.
    pub fn parse(raw: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == raw)
    }

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

/// What a group of instances understands of a `PURGE` (a `DISCOVERY` rule's `contract=`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Contract {
    /// `vcl/edgepurge.vcl`: URLs, keys, prefixes and hosts, soft or hard, each answer with
    /// `Purge-Count` or `Purge-Ban`.
    #[default]
    Edgepurge,
    /// A cache that purges the one URL a `PURGE` names (Varnish's `return(purge)` as in
    /// Pipely, nginx's cache_purge, Apache Traffic Server): URL purges only, always hard,
    /// success is a 2xx.
    Plain,
}

impl Contract {
    /// The serialised name, as rules write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Contract::Edgepurge => "edgepurge",
            Contract::Plain => "plain",
        }
    }

    /// Reads a rule's `contract=` value.
    pub fn parse(raw: &str) -> Option<Contract> {
        [Contract::Edgepurge, Contract::Plain].into_iter().find(|c| c.as_str() == raw)
    }
}

/// Which format an instance's cache status was read in.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheStatusFormat {
    /// RFC 9211 `Cache-Status` (the edgepurge VCL's).
    Rfc9211,
    /// Pipely's `cache-status` (`region=...; origin=...; ttl=...; hit; hits=N`).
    Pipely,
    /// `X-Cache: HIT` / `MISS` (Squid, Varnish setups, Fastly, CloudFront).
    XCache,
    /// Only an `Age` header above 0: served from a cache.
    Age,
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

/// How a discovery rule's instances are spoken to.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// Clear text, to loopback or private addresses only (the purge token travels in clear).
    Plain,
    /// TLS, the certificate checked against the purged site's host.
    Tls,
    /// Clear text to any address, public ones included: the rule says `insecure`.
    Insecure,
}

impl Transport {
    /// The serialised name: `plain`, `tls` or `insecure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Plain => "plain",
            Transport::Tls => "tls",
            Transport::Insecure => "insecure",
        }
    }

    /// The rule suffix (`:tls`, `:insecure`), empty for plain.
    pub fn suffix(self) -> &'static str {
        match self {
            Transport::Plain => "",
            Transport::Tls => ":tls",
            Transport::Insecure => ":insecure",
        }
    }
}

/// Reply of `GET /api/health`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `"ok"`: the configuration loads as a purge's would and the store is bound (otherwise the
    /// answer is a 503 problem naming the setting).
    pub status: String,
    /// The edgepurge version.
    pub version: String,
    /// Trace export from this isolate, when an OTLP endpoint is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traces: Option<ExportStatus>,
}

/// How exporting traces has gone, as one isolate saw it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportStatus {
    /// Traces the collector accepted.
    pub exported: u64,
    /// Exports that failed (unreachable, timed out, refused).
    pub failed: u64,
    /// Traces over the export cap, exported without their request spans.
    #[serde(default)]
    pub summarised: u64,
    /// When the last export was tried, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<i64>,
    /// Whether the last export worked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ok: Option<bool>,
    /// Why the last failed export failed: for authenticated callers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// An RFC 9457 problem details object (`application/problem+json`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    pub source: ErrorSource,
    /// Whether the same request may succeed later.
    pub retryable: bool,
    /// The configuration setting at fault, for `config` problems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
    /// The offending URL or host, when one is at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// Where a fault lies.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorSource {
    /// The request: its token, body or URLs.
    Caller,
    /// The deployment's configuration.
    Config,
    /// Instance discovery (DNS over HTTPS).
    Discovery,
    /// A cache instance.
    Instance,
}

impl ErrorSource {
    /// The name used in problem details.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorSource::Caller => "caller",
            ErrorSource::Config => "config",
            ErrorSource::Discovery => "discovery",
            ErrorSource::Instance => "instance",
        }
    }
}

/// The media type of [`Problem`] bodies (RFC 9457 section 3).
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

// ---------------------------------------------------------------------------------------------
// The console: identity, people and tokens, history, live purges, verification.

/// What a person may do: editors purge, verify and read; admins also manage people and tokens.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including people and tokens.
    Admin,
    /// Purge, verify, read instances and history.
    Editor,
}

impl Role {
    /// The stored and serialised name: `admin` or `editor`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
        }
    }

    /// Reads a stored role strictly: anything but `admin` or `editor` is `None`, never a
    /// silent default.
    pub fn parse(raw: &str) -> Option<Role> {
        match raw {
            "admin" => Some(Role::Admin),
            "editor" => Some(Role::Editor),
            _ => None,
        }
    }
}

/// How a request was authenticated.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A console session cookie.
    Session,
    /// A bearer token (personal or bootstrap), or a Fastly-Key.
    Token,
    /// A Cloudflare Access JWT.
    Access,
}

impl Via {
    /// The serialised name: `session`, `token` or `access`.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Session => "session",
            Via::Token => "token",
            Via::Access => "access",
        }
    }
}

/// Body of `POST /api/session`: sign in with a personal token.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// A personal API token (or the bootstrap admin token).
    pub token: String,
}

/// Reply of `GET /api/me` and `POST /api/session`: who is signed in.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// Display name.
    pub name: String,
    /// E-mail, when known (always for Cloudflare Access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Role.
    pub role: Role,
    /// How this request was authenticated: `session`, `token` or `access`.
    pub via: Via,
    /// For cookie sessions: the token to send as `X-CSRF-Token` on state-changing calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
    /// Session expiry, milliseconds since the epoch, for cookie sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Where a trace can be seen: `TRACE_URL_TEMPLATE`, with `{trace_id}` to fill in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_url: Option<String>,
}

/// A person who may use edgepurge.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Id.
    pub id: i64,
    /// Display name, unique.
    pub name: String,
    /// E-mail (how Cloudflare Access identities map to people).
    #[serde(default)]
    pub email: Option<String>,
    /// Role.
    pub role: Role,
    /// Creation time, milliseconds since the epoch.
    pub created_at: i64,
}

/// Body of `POST /api/people`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPerson {
    /// Display name.
    pub name: String,
    /// E-mail, optional.
    #[serde(default)]
    pub email: Option<String>,
    /// Role.
    pub role: Role,
}

/// Body of `PATCH /api/people/{id}`: a new role (the person's sessions end).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonUpdate {
    /// The new role.
    pub role: Role,
}

/// A personal token as listed: never the token itself.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Id.
    pub id: i64,
    /// Whose token.
    pub person_id: i64,
    /// What it is for.
    pub label: String,
    /// Its first characters, to recognise it.
    pub hint: String,
    /// Creation time, ms.
    pub created_at: i64,
    /// Revocation time, ms, if revoked.
    #[serde(default)]
    pub revoked_at: Option<i64>,
}

/// Body of `POST /api/people/{id}/tokens`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for.
    pub label: String,
}

/// Reply of `POST /api/people/{id}/tokens`: the token, shown this once.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    /// The stored description.
    pub info: TokenInfo,
    /// The secret; only its hash is kept.
    pub token: String,
}

/// One purge attempt in the history, denied ones included.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Id; higher is newer.
    pub id: i64,
    /// When, ms since the epoch.
    pub at: i64,
    /// Who: a person's name, or a description of a refused caller.
    pub actor: String,
    /// The items asked for, by their labels: at most 100, each cut at 1,024 characters
    /// (`crate::history`); `item_count` says how many there were.
    pub urls: Vec<String>,
    /// How many items the request had (absent in entries older than this field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_count: Option<usize>,
    /// `purged`, `partial`, `failed`, `denied` (refused before any purge), or `running`
    /// (written before the fan-out and not completed).
    pub status: HistoryStatus,
    /// The HTTP status the caller got.
    pub http_status: u16,
    /// Why it was denied, for denied attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Per (URL, instance) results.
    #[serde(default)]
    pub results: Vec<PurgeResult>,
    /// The W3C trace id of the request (absent in older entries and untraced refusals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// A purge, or an instance check (whose `urls` are the groups checked and whose `detail`
    /// names each warning).
    #[serde(default)]
    pub kind: HistoryKind,
    /// The purge was cut off mid-fan-out (the worker stopped) and run again by the cron once
    /// its lease ran out: its results are that run's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recovered: bool,
}

/// What a running purge's history entry keeps to be run again by the cron if it is cut off
/// (stored while it runs, never sent): its items in full, by their labels, and what it
/// confirms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replay {
    /// Every item's label (`Purge::label`), in full.
    pub items: Vec<String>,
    /// `confirm`: a `HEAD` behind each URL's `PURGE`.
    #[serde(default)]
    pub confirm: bool,
    /// `confirm_urls`, normalised.
    #[serde(default)]
    pub confirm_urls: Vec<String>,
}

/// What a history entry records.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryKind {
    /// A purge (or a refused attempt at one).
    #[default]
    Purge,
    /// An instance check: nothing purged.
    Check,
}

impl HistoryKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryKind::Purge => "purge",
            HistoryKind::Check => "check",
        }
    }

    /// Reads a stored name.
    pub fn parse(raw: &str) -> Option<HistoryKind> {
        [HistoryKind::Purge, HistoryKind::Check].into_iter().find(|k| k.as_str() == raw)
    }
}

/// How a purge attempt ended, as the history keeps it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryStatus {
    /// Every (item, instance) pair succeeded.
    Purged,
    /// Some pairs succeeded.
    Partial,
    /// It ran and no pair succeeded, or it failed before running for a reason not the caller's
    /// (a 5xx: configuration, discovery).
    Failed,
    /// Refused before any purge: authentication, role, validation, rate limit (a 4xx).
    Denied,
    /// Written before the first `PURGE` left and not completed since: the worker stopped
    /// during the fan-out, or could not write the results.
    Running,
}

impl HistoryStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryStatus::Purged => "purged",
            HistoryStatus::Partial => "partial",
            HistoryStatus::Failed => "failed",
            HistoryStatus::Denied => "denied",
            HistoryStatus::Running => "running",
        }
    }

    /// Reads a stored name.
    pub fn parse(raw: &str) -> Option<HistoryStatus> {
        [
            HistoryStatus::Purged,
            HistoryStatus::Partial,
            HistoryStatus::Failed,
            HistoryStatus::Denied,
            HistoryStatus::Running,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }

    /// The status of an attempt refused with HTTP `status` before any purge.
    pub fn refused(status: u16) -> HistoryStatus {
        if status < 500 {
            HistoryStatus::Denied
        } else {
            HistoryStatus::Failed
        }
    }
}

impl From<PurgeStatus> for HistoryStatus {
    fn from(s: PurgeStatus) -> Self {
        match s {
            PurgeStatus::Purged => HistoryStatus::Purged,
            PurgeStatus::Partial => HistoryStatus::Partial,
            PurgeStatus::Failed => HistoryStatus::Failed,
        }
    }
}

/// The query string of `GET /api/history` (`?url=&actor=&before=&limit=`), as sent: every
/// field is text so that `crate::request::history_filter` can refuse a bad one with a clear
/// problem (and ignore empty ones, as a form submits them).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryQuery {
    /// Only entries whose items contain this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Only entries by this actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Only entries older than this id (the previous page's `next_before`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Entries per page, 1 to 100 (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// The query string of `GET /api/deliveries` (`?status=&limit=`), as sent.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveriesQuery {
    /// `pending`, `delivered` or `abandoned`; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Deliveries listed, 1 to 1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// Reply of `GET /api/history`, newest first.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    /// This page.
    pub entries: Vec<HistoryEntry>,
    /// Pass as `before` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
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

/// A (URL, instance) purge that failed inline, redelivered in the background.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Id.
    pub id: i64,
    /// The purge it belongs to (history id).
    pub purge_id: i64,
    /// The URL.
    pub url: String,
    /// The instance, as `ip:port`.
    pub instance: String,
    /// `pending`, `delivered` or `abandoned`.
    pub status: DeliveryStatus,
    /// Background attempts made so far.
    pub attempts: u32,
    /// When it was queued, ms.
    pub first_at: i64,
    /// When it will next be tried (pending), ms.
    pub next_at: i64,
    /// When it last changed, ms.
    pub updated_at: i64,
    /// The last failure, or why it was abandoned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Where a background delivery stands.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The instance confirmed it.
    Delivered,
    /// Given up, with the reason in `last_error`.
    Abandoned,
}

impl DeliveryStatus {
    /// Every status, in the order the API lists them.
    pub const ALL: [DeliveryStatus; 3] =
        [DeliveryStatus::Pending, DeliveryStatus::Delivered, DeliveryStatus::Abandoned];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Abandoned => "abandoned",
        }
    }

    /// Reads a stored name.
    pub fn parse(raw: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// Reply of `GET /api/deliveries`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveriesReply {
    /// Counts by status.
    pub pending: usize,
    /// Counts by status.
    pub delivered: usize,
    /// Counts by status.
    pub abandoned: usize,
    /// The deliveries asked for, newest first.
    pub deliveries: Vec<Delivery>,
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
