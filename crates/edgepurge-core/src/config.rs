//! Configuration, read from string settings (Workers `[vars]` and secrets).
//!
//! The core never sees the platform: [`Config::from_lookup`] takes a function from setting name
//! to value. Every problem names the setting at fault, so a broken deployment answers a clear
//! 500 problem instead of panicking.
//!
//! | setting | required | meaning |
//! |---|---|---|
//! | `ALLOWED_HOSTS` | yes | host names that may be purged, separated by commas or spaces |
//! | `DISCOVERY` | yes | `;`-separated rules `[host=]spec[:tls\|:insecure][:contract=plain[:token-header=<name>\|none]]`; spec is `dns:<name>:<port>`, `static:<ip:port>,...` or `fly:<app>[:<regions>][@<edge>]`; no host (or `*`) means every host; `:tls` speaks TLS to the instances (certificate checked against the purged host), none speaks clear text to loopback and private addresses only, `:insecure` to any; `:contract=plain` for instances without the edgepurge VCL (URL purges only, see `dialect`), their token in `Purge-Token` unless `:token-header=` names another field (or `none`). Besides its own instances' rule, a host may name upstream groups: `host=fastly:<service id>[:whole-host]`, `host=cloudflare:<zone id>[:whole-host]` (see `upstream`) |
//! | `FASTLY_API_TOKEN` | with a `fastly:` rule (secret) | a Fastly API token that may purge the services named |
//! | `FASTLY_API_URL` | no | Fastly's API, default `https://api.fastly.com`; https, or http on loopback only |
//! | `CLOUDFLARE_API_TOKEN` | with a `cloudflare:` rule (secret) | a Cloudflare API token with Cache Purge on the zones named |
//! | `CLOUDFLARE_API_URL` | no | Cloudflare's API, default `https://api.cloudflare.com`; https, or http on loopback only |
//! | `CLOUDFLARE_PURGE_PER_CALL` | no | items per Cloudflare purge call, default 30 (the free plan's), at most 100 |
//! | `DOH_URL` | no | DNS-over-HTTPS endpoint (RFC 8484), default Cloudflare's; https, or http on loopback only |
//! | `INSTANCE_TIMEOUT_MS` | no | per-request timeout towards an instance, default 5000 |
//! | `DISCOVERY_TIMEOUT_MS` | no | timeout of one DoH lookup, default 3000 |
//! | `CONCURRENCY` | no | instances contacted at once, default 6 (the Workers connection limit) |
//! | `PIPELINE_WINDOW` | no | requests sent ahead on one instance connection before their answers (HTTP/1.1 pipelining), default 128; 1 sends each after the previous answer |
//! | `MAX_URLS` | no | URLs per request, default 100 |
//! | `API_TOKENS` | yes (secret) | bearer tokens accepted by the API, comma-separated, at least 16 characters each |
//! | `PURGE_TOKEN` | yes (secret) | sent to instances as `Purge-Token` |
//! | `SESSION_TTL_SECS` | no | console session lifetime, default 28800 (8 hours) |
//! | `RETRY_ATTEMPTS` | no | sends per (URL, instance) within a request, default 3 |
//! | `RETRY_BASE_MS`, `RETRY_CAP_MS` | no | inline backoff, default 100 and 2000 |
//! | `REDELIVERY_BASE_MS`, `REDELIVERY_CAP_MS` | no | background backoff, default 30000 and 3600000 |
//! | `FAN_OUT_DEADLINE_MS` | no | how long a fan-out may run: what is unanswered then is queued for redelivery; default 25000, inside the about 30 s Workers gives `wait_until` work after the reply |
//! | `IDEMPOTENCY_WINDOW_MS` | no | how long a caller's `Idempotency-Key` on `POST /api/purge` answers with the first purge, default 86400000 (a day) |
//! | `LEASE_MARGIN_MS` | no | added to a purge's fan-out deadline for its lease: a purge still running past it was cut off, and the cron runs it again; default 30000 |
//! | `REDELIVERY_MAX_AGE_MS` | no | abandon a delivery still failing after this, default 86400000 (a day) |
//! | `RATE_LIMIT_PER_MINUTE` | no | purge requests per caller per minute, accepted or refused, default 120 |
//! | `READ_RATE_LIMIT_PER_MINUTE` | no | requests to every other authenticated route per caller per minute, default 600 |
//! | `SIGN_IN_RATE_LIMIT_PER_MINUTE` | no | console sign-ins per client address (IPv6: /64) per minute, default 30 |
//! | `REFUSAL_BUDGET_PER_MINUTE` | no | refusals of unknown callers written to the history per minute for the whole deployment, and a quarter of it (at least 1) per client (an IPv4 address or IPv6 /64), default 60 |
//! | `ALLOW_PRIVATE_INSTANCES` | no | `true` lets discovery and static lists name loopback, private, link-local, ... addresses (a local CDN); default `false` |
//! | `SUBREQUEST_BUDGET` | no | instance connections one purge may open, default 1000 (Workers paid plan; 50 on free) |
//! | `FLY_API_TOKEN` | with a `fly:` rule (secret) | a Fly.io token that can read the app's Machines |
//! | `FLY_API_URL` | no | the Machines API, default `https://api.machines.dev`; https, or http on loopback only |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | no | where to POST traces (OTLP/HTTP, JSON), e.g. `https://api.honeycomb.io/v1/traces`; https, or http on loopback only |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | no | the same as a base URL (`/v1/traces` is added) |
//! | `OTEL_EXPORTER_OTLP_HEADERS` | no (secret) | `name=value,...` sent with each export, e.g. `x-honeycomb-team=<key>` |
//! | `OTEL_SERVICE_NAME` | no | the traces' `service.name`, default `edgepurge` |
//! | `OTEL_TRACES_SAMPLER_ARG` | no | the share of fully successful requests exported, 0 to 1, default 1; the rest are always exported |
//! | `TRACE_URL_TEMPLATE` | no | a link to one trace with `{trace_id}` in it, e.g. Honeycomb's trace view; the console links history entries with it |
//! | `ACCESS_TEAM_DOMAIN` | no | Cloudflare Access team domain, e.g. `myteam.cloudflareaccess.com`; enables Access sign-in |
//! | `ACCESS_AUD` | with the above | the Access application's audience tag |
//! | `ACCESS_CERTS_URL` | no | JWKS URL, default `https://<team domain>/cdn-cgi/access/certs`; https, or http on loopback only |
//! | `NOTIFY_WEBHOOKS`, `NOTIFY_SECRET`, `NOTIFY_ON`, `NOTIFY_PER_MINUTE`, `NOTIFY_TIMEOUT_MS`, `CONSOLE_URL` | no | webhook notifications: see [`crate::notify`] |

use crate::api::{Contract, NotifyKind, Transport};
use crate::auth::{constant_time_eq, secret_hash};
use crate::dialect::{Dialect, TokenHeader};
use crate::discovery::{non_public, DiscoveryRule, DiscoverySpec};
use crate::error::{ApiError, ErrorKind};
use crate::http1::{FieldValue, PURGE_TOKEN_HEADER};
use crate::notify::{NotifySettings, MAX_WEBHOOKS};
use crate::target::{normalise_host, Target};
use crate::upstream::{Upstream, Vendor};
use std::net::SocketAddr;
use url::Url;

/// Fastly's API, the default `FASTLY_API_URL`.
pub const FASTLY_API_URL: &str = "https://api.fastly.com";
/// Cloudflare's API, the default `CLOUDFLARE_API_URL` (the calls' paths start `/client/v4/`).
pub const CLOUDFLARE_API_URL: &str = "https://api.cloudflare.com";
/// Cloudflare's public DNS-over-HTTPS endpoint, the default `DOH_URL`.
pub const DEFAULT_DOH_URL: &str = "https://cloudflare-dns.com/dns-query";
/// Simultaneous outgoing connections a Workers invocation may hold; more are queued.
pub const WORKERS_CONNECTION_LIMIT: usize = 6;
/// The largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// A broken setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The setting's name.
    pub setting: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl From<ConfigError> for ApiError {
    fn from(e: ConfigError) -> Self {
        ApiError::new(ErrorKind::Config, format!("setting {}: {}", e.setting, e.reason)).with_setting(e.setting)
    }
}

/// Which hosts a discovery rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Every allowed host without a rule of its own.
    Any,
    /// Exactly this host.
    Exact(String),
}

/// Validated configuration. Its `Debug` form leaves the secrets out.
#[derive(Clone)]
pub struct Config {
    /// Hosts that may be purged, normalised like [`Target::host`].
    pub allowed_hosts: Vec<String>,
    /// Discovery rules; an exact host wins over `*`.
    pub discovery: Vec<(HostPattern, DiscoveryRule)>,
    /// The upstream CDN groups (Fastly services, Cloudflare zones) beside a host's own
    /// instances: `host=fastly:<service>` and `host=cloudflare:<zone>` rules, exact hosts only.
    pub upstreams: Vec<(String, Upstream)>,
    /// Fastly's API, when a `fastly:` rule needs it.
    pub fastly: Option<UpstreamApi>,
    /// Cloudflare's API, when a `cloudflare:` rule needs it.
    pub cloudflare: Option<UpstreamApi>,
    /// The DNS-over-HTTPS endpoint.
    pub doh_url: String,
    /// Per-request timeout towards an instance, in milliseconds.
    pub instance_timeout_ms: u32,
    /// Timeout of one DoH lookup, in milliseconds.
    pub discovery_timeout_ms: u32,
    /// Instances contacted at once.
    pub concurrency: usize,
    /// Requests sent ahead on one connection (HTTP/1.1 pipelining).
    pub pipeline_window: u32,
    /// URLs accepted per request.
    pub max_urls: usize,
    /// Sent to instances as `Purge-Token`.
    pub purge_token: FieldValue,
    /// Console session lifetime in seconds.
    pub session_ttl_secs: u32,
    /// Cloudflare Access, when configured.
    pub access: Option<AccessSettings>,
    /// Inline retries.
    pub retry: crate::retry::RetryPolicy,
    /// Background redelivery.
    pub redelivery: crate::retry::RedeliveryPolicy,
    /// Added to a purge's fan-out deadline for its lease (`crate::lease`), in milliseconds.
    pub lease_margin_ms: u32,
    /// How long an `Idempotency-Key` is remembered (`crate::idempotency`), in milliseconds.
    pub idempotency_window_ms: u32,
    /// How long a fan-out may run (the platform's limit on the path it runs on), in milliseconds.
    pub fan_out_deadline_ms: u32,
    /// Store statements one invocation may run (`crate::writes::Usage`): the platform's limit
    /// on queries per invocation.
    pub d1_statement_budget: u32,
    /// Days the per-instance hourly figures and finished deliveries are kept.
    pub retention_days: u32,
    /// The largest purge report (JSON) a purge may make (`Plan::check_report`), in bytes.
    pub max_report_bytes: usize,
    /// Purge requests per caller per minute.
    pub rate_limit_per_minute: u32,
    /// Requests to the other authenticated routes per caller per minute.
    pub read_rate_limit_per_minute: u32,
    /// Sign-ins per client per minute.
    pub sign_in_rate_limit_per_minute: u32,
    /// Refusals of unknown callers recorded per minute.
    pub refusal_budget_per_minute: u32,
    /// Instance connections one purge may open.
    pub subrequest_budget: usize,
    /// Whether instances may have non-public addresses (see [`crate::discovery::non_public`]).
    pub allow_private_instances: bool,
    api_tokens: Vec<String>,
    /// The Machines API, when a `fly:` rule needs it.
    pub fly: Option<FlySettings>,
    /// Where traces go, when an OTLP endpoint is set.
    pub otel: Option<OtelSettings>,
    /// A link to one trace, `{trace_id}` to fill in.
    pub trace_url: Option<String>,
    /// Webhook notifications, when `NOTIFY_WEBHOOKS` is set.
    pub notify: Option<NotifySettings>,
}

/// A vendor's API: its base URL and the token the worker sends it (never shown).
#[derive(Clone)]
pub struct UpstreamApi {
    /// The base URL the calls' paths go after (`FASTLY_API_URL`, `CLOUDFLARE_API_URL`).
    pub url: String,
    /// The token (`FASTLY_API_TOKEN`, `CLOUDFLARE_API_TOKEN`).
    pub token: FieldValue,
}

/// OpenTelemetry trace export (OTLP/HTTP with JSON bodies).
#[derive(Clone)]
pub struct OtelSettings {
    /// The full traces URL.
    pub endpoint: String,
    /// Headers sent with each export (API keys: never printed).
    pub headers: Vec<(String, String)>,
    /// `service.name`.
    pub service_name: String,
    /// The share of fully successful traces exported.
    pub ratio: f64,
}

impl std::fmt::Debug for OtelSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelSettings")
            .field("endpoint", &self.endpoint)
            .field("headers", &self.headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>())
            .field("service_name", &self.service_name)
            .field("ratio", &self.ratio)
            .finish()
    }
}

/// Where and how Fly.io Machines are listed.
#[derive(Clone)]
pub struct FlySettings {
    /// The Machines API base URL.
    pub api_url: String,
    /// `FLY_API_TOKEN`, sent as `Authorization: Bearer`.
    pub token: String,
}

impl std::fmt::Debug for UpstreamApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamApi").field("url", &self.url).field("token", &"(secret)").finish()
    }
}

impl std::fmt::Debug for FlySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlySettings").field("api_url", &self.api_url).field("token", &"(secret)").finish()
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("allowed_hosts", &self.allowed_hosts)
            .field("discovery", &self.discovery)
            .field("doh_url", &self.doh_url)
            .field("instance_timeout_ms", &self.instance_timeout_ms)
            .field("discovery_timeout_ms", &self.discovery_timeout_ms)
            .field("concurrency", &self.concurrency)
            .field("pipeline_window", &self.pipeline_window)
            .field("max_urls", &self.max_urls)
            .field("purge_token", &"(secret)")
            .field("session_ttl_secs", &self.session_ttl_secs)
            .field("access", &self.access)
            .field("retry", &self.retry)
            .field("redelivery", &self.redelivery)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("read_rate_limit_per_minute", &self.read_rate_limit_per_minute)
            .field("sign_in_rate_limit_per_minute", &self.sign_in_rate_limit_per_minute)
            .field("refusal_budget_per_minute", &self.refusal_budget_per_minute)
            .field("subrequest_budget", &self.subrequest_budget)
            .field("allow_private_instances", &self.allow_private_instances)
            .field("api_tokens", &format_args!("({} secrets)", self.api_tokens.len()))
            .field("fly", &self.fly)
            .field("upstreams", &self.upstreams)
            .field("fastly", &self.fastly)
            .field("cloudflare", &self.cloudflare)
            .field("otel", &self.otel)
            .field("trace_url", &self.trace_url)
            .field("notify", &self.notify)
            .finish()
    }
}

/// Cloudflare Access settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessSettings {
    /// The expected `iss`: `https://<team domain>`.
    pub issuer: String,
    /// The expected `aud`.
    pub audience: String,
    /// Where the team's JWKS is published.
    pub certs_url: String,
}

impl Config {
    /// Reads and validates every setting through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let required = |name: &'static str| {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError { setting: name, reason: "missing or empty".into() })
        };
        let number = |name: &'static str, default: u32, min: u32, max: u32| -> Result<u32, ConfigError> {
            match get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => match v.parse::<u32>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(n),
                    _ => Err(ConfigError {
                        setting: name,
                        reason: format!("{v:?} is not a whole number from {min} to {max}"),
                    }),
                },
            }
        };

        let mut allowed_hosts = Vec::new();
        for raw in required("ALLOWED_HOSTS")?.split([',', ' ', '\n']).filter(|s| !s.is_empty()) {
            let host = normalise_host(raw)
                .ok_or(ConfigError { setting: "ALLOWED_HOSTS", reason: format!("{raw:?} is not a host name") })?;
            if !allowed_hosts.contains(&host) {
                allowed_hosts.push(host);
            }
        }

        let allow_private_instances = match get("ALLOW_PRIVATE_INSTANCES").as_deref().map(str::trim) {
            None | Some("" | "false" | "0") => false,
            Some("true" | "1") => true,
            Some(other) => {
                return Err(ConfigError {
                    setting: "ALLOW_PRIVATE_INSTANCES",
                    reason: format!("{other:?} is not true or false"),
                })
            }
        };
        let Rules { own: discovery, upstreams: upstream_rules } = parse_discovery(&required("DISCOVERY")?)?;
        for (_, rule) in &discovery {
            let addrs = match &rule.spec {
                DiscoverySpec::Static(addrs) => addrs.as_slice(),
                DiscoverySpec::Fly { edge: Some(edge), .. } => std::slice::from_ref(edge),
                _ => continue,
            };
            if !allow_private_instances {
                if let Some((addr, why)) = addrs.iter().find_map(|a| non_public(a.ip()).map(|why| (a, why))) {
                    return Err(ConfigError {
                        setting: "DISCOVERY",
                        reason: format!("{addr} is {why}; set ALLOW_PRIVATE_INSTANCES=true to purge such instances"),
                    });
                }
            }
            // The purge token must not cross the internet in clear unless the rule says so.
            if rule.transport == Transport::Plain {
                if let Some(addr) = addrs.iter().find(|a| non_public(a.ip()).is_none()) {
                    return Err(ConfigError {
                        setting: "DISCOVERY",
                        reason: format!(
                            "the rule {rule} sends the purge token in clear text to the public address {addr}: \
                             end it with :tls (or :insecure to accept that)"
                        ),
                    });
                }
            }
        }
        for host in &allowed_hosts {
            if find_rule(&discovery, host).is_none() {
                return Err(ConfigError {
                    setting: "DISCOVERY",
                    reason: format!("no rule covers allowed host {host:?} (add `{host}=...` or a `*` rule)"),
                });
            }
        }

        let doh_url = get("DOH_URL")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_DOH_URL.to_owned());
        // A discovery answer over plain HTTP could be altered on the way: loopback only.
        let doh_url = secure_url("DOH_URL", doh_url)?;

        let purge_token = FieldValue::new(required("PURGE_TOKEN")?.trim())
            .ok_or(ConfigError { setting: "PURGE_TOKEN", reason: "must be printable ASCII without spaces".into() })?;

        let api_tokens: Vec<String> =
            required("API_TOKENS")?.split([',', ' ', '\n']).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        if api_tokens.is_empty() || api_tokens.iter().any(|t| t.len() < 16) {
            return Err(ConfigError {
                setting: "API_TOKENS",
                reason: "each token must be at least 16 characters".into(),
            });
        }

        let optional = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let access = match (optional("ACCESS_TEAM_DOMAIN"), optional("ACCESS_AUD")) {
            (None, None) => None,
            (Some(team), Some(audience)) => {
                let issuer = access_issuer(&team);
                let certs_url =
                    optional("ACCESS_CERTS_URL").unwrap_or_else(|| format!("{issuer}/cdn-cgi/access/certs"));
                // The keys that decide who is signed in: over TLS (plain http on loopback only).
                let certs_url = secure_url("ACCESS_CERTS_URL", certs_url)?;
                Some(AccessSettings { issuer, audience, certs_url })
            }
            (Some(_), None) => {
                return Err(ConfigError {
                    setting: "ACCESS_AUD",
                    reason: "required when ACCESS_TEAM_DOMAIN is set".into(),
                })
            }
            (None, Some(_)) => {
                return Err(ConfigError {
                    setting: "ACCESS_TEAM_DOMAIN",
                    reason: "required when ACCESS_AUD is set".into(),
                })
            }
        };

        let needs_fly = discovery.iter().any(|(_, r)| matches!(r.spec, DiscoverySpec::Fly { .. }));
        let fly = if needs_fly {
            let token = optional("FLY_API_TOKEN").ok_or(ConfigError {
                setting: "FLY_API_TOKEN",
                reason: "required by the fly: discovery rule (a token that can read the app's Machines)".into(),
            })?;
            let api_url = optional("FLY_API_URL").unwrap_or_else(|| crate::fly::DEFAULT_API_URL.to_owned());
            let api_url = secure_url("FLY_API_URL", api_url)?;
            Some(FlySettings { api_url, token })
        } else {
            None
        };

        let cloudflare_per_call = number(
            "CLOUDFLARE_PURGE_PER_CALL",
            crate::upstream::cloudflare::DEFAULT_PER_CALL as u32,
            1,
            crate::upstream::cloudflare::MAX_PER_CALL as u32,
        )? as usize;
        let mut upstreams = Vec::new();
        for rule in upstream_rules {
            let per_call = match rule.vendor {
                Vendor::Fastly => crate::upstream::fastly::MAX_KEYS_PER_CALL,
                Vendor::Cloudflare => cloudflare_per_call,
            };
            let upstream = Upstream::new(rule.vendor, &rule.id, rule.whole_host, per_call)
                .map_err(|e| ConfigError { setting: "DISCOVERY", reason: format!("{}: {e}", rule.text) })?;
            upstreams.push((rule.host, upstream));
        }
        let upstream_api = |vendor: Vendor, token_setting: &'static str, url_setting: &'static str, default: &str| {
            if !upstreams.iter().any(|(_, u)| u.vendor == vendor) {
                return Ok(None);
            }
            let token = optional(token_setting).and_then(|t| FieldValue::new(&t)).ok_or(ConfigError {
                setting: token_setting,
                reason: format!("required by the {vendor}: discovery rule (a token that may purge), printable ASCII"),
            })?;
            let url = secure_url(url_setting, optional(url_setting).unwrap_or_else(|| default.to_owned()))?;
            Ok(Some(UpstreamApi { url: url.trim_end_matches('/').to_owned(), token }))
        };
        let fastly = upstream_api(Vendor::Fastly, "FASTLY_API_TOKEN", "FASTLY_API_URL", FASTLY_API_URL)?;
        let cloudflare =
            upstream_api(Vendor::Cloudflare, "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_URL", CLOUDFLARE_API_URL)?;

        let otel = otel_settings(&optional)?;
        let notify = notify_settings(&optional)?;
        let trace_url = optional("TRACE_URL_TEMPLATE");
        if let Some(t) = &trace_url {
            let ok = Url::parse(&t.replace("{trace_id}", "0")).is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
            if !ok || !t.contains("{trace_id}") {
                return Err(ConfigError {
                    setting: "TRACE_URL_TEMPLATE",
                    reason: format!("{t:?} must be an http(s) URL containing {{trace_id}}"),
                });
            }
        }

        Ok(Config {
            notify,
            upstreams,
            fastly,
            cloudflare,
            trace_url,
            otel,
            fly,
            allowed_hosts,
            discovery,
            doh_url,
            instance_timeout_ms: number("INSTANCE_TIMEOUT_MS", 5000, 50, 120_000)?,
            discovery_timeout_ms: number("DISCOVERY_TIMEOUT_MS", 3000, 50, 60_000)?,
            concurrency: number("CONCURRENCY", WORKERS_CONNECTION_LIMIT as u32, 1, 64)? as usize,
            pipeline_window: number("PIPELINE_WINDOW", 128, 1, 1024)?,
            max_urls: number("MAX_URLS", 100, 1, 10_000)? as usize,
            purge_token,
            session_ttl_secs: number("SESSION_TTL_SECS", 8 * 3600, 60, 30 * 24 * 3600)?,
            access,
            retry: crate::retry::RetryPolicy {
                attempts: number("RETRY_ATTEMPTS", 3, 1, 10)?,
                base_ms: number("RETRY_BASE_MS", 100, 1, 60_000)?,
                cap_ms: number("RETRY_CAP_MS", 2000, 1, 300_000)?,
            },
            redelivery: crate::retry::RedeliveryPolicy {
                base_ms: number("REDELIVERY_BASE_MS", 30_000, 1, 3_600_000)?.into(),
                cap_ms: number("REDELIVERY_CAP_MS", 3_600_000, 1, 86_400_000)?.into(),
                max_age_ms: number("REDELIVERY_MAX_AGE_MS", 86_400_000, 1000, 4_000_000_000)?.into(),
            },
            // Time for the completion to be written (and clocks to differ) before the cron may
            // take a running purge over (`crate::lease`).
            lease_margin_ms: number("LEASE_MARGIN_MS", 30_000, 0, 3_600_000)?,
            fan_out_deadline_ms: number("FAN_OUT_DEADLINE_MS", 25_000, 100, 900_000)?,
            // D1 allows 1,000 queries per invocation on the paid plan, 50 on the free plan.
            d1_statement_budget: number("D1_STATEMENT_BUDGET", 1000, 10, 1_000_000)?,
            retention_days: number("RETENTION_DAYS", 90, 1, 36_500)?,
            // The report is built whole in a 128 MB isolate, with its JSON beside it.
            max_report_bytes: number("MAX_REPORT_BYTES", 8 << 20, 64 << 10, 64 << 20)? as usize,
            idempotency_window_ms: number(
                "IDEMPOTENCY_WINDOW_MS",
                crate::idempotency::DEFAULT_WINDOW_MS,
                1000,
                7 * 86_400_000,
            )?,
            rate_limit_per_minute: number("RATE_LIMIT_PER_MINUTE", 120, 1, 1_000_000)?,
            read_rate_limit_per_minute: number("READ_RATE_LIMIT_PER_MINUTE", 600, 1, 1_000_000)?,
            sign_in_rate_limit_per_minute: number("SIGN_IN_RATE_LIMIT_PER_MINUTE", 30, 1, 1_000_000)?,
            refusal_budget_per_minute: number("REFUSAL_BUDGET_PER_MINUTE", 60, 1, 1_000_000)?,
            subrequest_budget: number("SUBREQUEST_BUDGET", 1000, 1, 1_000_000)? as usize,
            allow_private_instances,
            api_tokens,
        })
    }

    /// Whether `token` is one of the bootstrap API tokens (`API_TOKENS`), compared in constant
    /// time against every configured token, with no early exit.
    pub fn is_bootstrap_token(&self, token: &str) -> bool {
        let token = token.as_bytes();
        self.api_tokens.iter().fold(false, |found, known| found | constant_time_eq(known.as_bytes(), token))
    }

    /// Connections to instances one invocation may still open once `spent` subrequests went to
    /// discovery: `SUBREQUEST_BUDGET` less those, less one kept for the Access JWKS fetch when
    /// Access is on (any request may need it), and less one for the trace export when an OTLP
    /// endpoint is set, and less one per webhook when notifications are on.
    pub fn instance_budget(&self, spent: usize) -> usize {
        let webhooks = self.notify.as_ref().map_or(0, |n| n.webhooks.len());
        let kept = usize::from(self.access.is_some()) + usize::from(self.otel.is_some()) + webhooks;
        self.subrequest_budget.saturating_sub(spent + kept)
    }

    /// Whether `hash` (`auth::secret_hash` of a token) is that of a current bootstrap token: a
    /// session signed in with one ends when the token leaves `API_TOKENS`.
    pub fn is_bootstrap_hash(&self, hash: &str) -> bool {
        let hash = hash.as_bytes();
        self.api_tokens.iter().fold(false, |found, known| found | constant_time_eq(secret_hash(known).as_bytes(), hash))
    }

    /// The upstream groups beside `host`'s own instances.
    pub fn upstreams_for<'a>(&'a self, host: &'a str) -> impl Iterator<Item = &'a Upstream> + 'a {
        self.upstreams.iter().filter(move |(h, _)| h == host).map(|(_, u)| u)
    }

    /// The upstream group whose rows are named `key` (`fastly:<id>`) beside `host`, if any.
    pub fn upstream(&self, host: &str, key: &str) -> Option<&Upstream> {
        self.upstreams.iter().find(|(h, u)| h == host && u.key() == key).map(|(_, u)| u)
    }

    /// The API of `vendor`, set whenever a rule names one of its groups.
    pub fn upstream_api(&self, vendor: Vendor) -> Option<&UpstreamApi> {
        match vendor {
            Vendor::Fastly => self.fastly.as_ref(),
            Vendor::Cloudflare => self.cloudflare.as_ref(),
        }
    }

    /// Refuses a target whose host is not allowed (403).
    pub fn check_host(&self, target: &Target) -> Result<(), ApiError> {
        if self.allowed_hosts.iter().any(|h| h == target.host()) {
            Ok(())
        } else {
            Err(ApiError::new(ErrorKind::HostNotAllowed, format!("host {:?} is not in ALLOWED_HOSTS", target.host()))
                .with_subject(target.url()))
        }
    }

    /// The instance groups: each distinct rule, with the first allowed host it covers (the host
    /// a group is addressed and named as), in `ALLOWED_HOSTS` order.
    pub fn groups(&self) -> Vec<(&str, &DiscoveryRule)> {
        let mut groups: Vec<(&str, &DiscoveryRule)> = Vec::new();
        for host in &self.allowed_hosts {
            let Some(rule) = find_rule(&self.discovery, host) else { continue };
            if !groups.iter().any(|(_, r)| *r == rule) {
                groups.push((host, rule));
            }
        }
        groups
    }

    /// The rule for the instances serving `host`; a 500 problem naming `DISCOVERY` if no rule
    /// covers it (loading checks every allowed host has one, so this names a host that is not).
    pub fn discovery_rule(&self, host: &str) -> Result<&DiscoveryRule, ApiError> {
        find_rule(&self.discovery, host).ok_or_else(|| {
            ApiError::new(ErrorKind::Config, format!("no DISCOVERY rule covers {host}")).with_setting("DISCOVERY")
        })
    }
}

/// `url`, the value of `setting`, if it is https (or http on loopback), else the error naming it.
fn secure_url(setting: &'static str, url: String) -> Result<String, ConfigError> {
    if secure_or_loopback(&url) {
        return Ok(url);
    }
    Err(ConfigError { setting, reason: format!("{url:?} must be an https URL (plain http only on loopback)") })
}

/// Whether `raw` is an https URL, or an http one to a loopback address or `localhost`.
fn secure_or_loopback(raw: &str) -> bool {
    let Ok(url) = Url::parse(raw) else { return false };
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => return false,
    };
    url.scheme() == "https" || (url.scheme() == "http" && loopback)
}

fn find_rule<'a>(rules: &'a [(HostPattern, DiscoveryRule)], host: &str) -> Option<&'a DiscoveryRule> {
    rules
        .iter()
        .find(|(p, _)| matches!(p, HostPattern::Exact(h) if h == host))
        .or_else(|| rules.iter().find(|(p, _)| *p == HostPattern::Any))
        .map(|(_, spec)| spec)
}

/// A `host=fastly:<id>[:whole-host]` or `host=cloudflare:<id>[:whole-host]` rule, as written.
struct UpstreamRule {
    host: String,
    vendor: Vendor,
    id: String,
    whole_host: bool,
    text: String,
}

/// An upstream group's rule (`fastly:<id>` or `cloudflare:<id>`, then `:whole-host`), if `spec`
/// is one.
fn upstream_rule(spec: &str) -> Option<(Vendor, &str, bool)> {
    let (vendor, rest) = match spec.split_once(':')? {
        ("fastly", rest) => (Vendor::Fastly, rest),
        ("cloudflare", rest) => (Vendor::Cloudflare, rest),
        _ => return None,
    };
    Some(match rest.strip_suffix(":whole-host") {
        Some(id) => (vendor, id, true),
        None => (vendor, rest, false),
    })
}

/// The rules of `DISCOVERY`: each host's own instances, and the upstream groups beside them.
struct Rules {
    own: Vec<(HostPattern, DiscoveryRule)>,
    upstreams: Vec<UpstreamRule>,
}

fn parse_discovery(raw: &str) -> Result<Rules, ConfigError> {
    let err = |reason: String| ConfigError { setting: "DISCOVERY", reason };
    let mut rules = Vec::new();
    let mut upstreams: Vec<UpstreamRule> = Vec::new();
    for rule in raw.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let (pattern, spec) = match rule.split_once('=') {
            // `contract=` and `token-header=` options have an `=` too, after a spec's `:`.
            Some((h, _)) if ["dns:", "static:", "fly:"].iter().any(|kind| h.trim_start().starts_with(kind)) => {
                (HostPattern::Any, rule)
            }
            Some((h, spec)) if h.trim() == "*" => (HostPattern::Any, spec.trim()),
            Some((h, spec)) => {
                let host = normalise_host(h.trim()).ok_or_else(|| err(format!("{h:?} is not a host name")))?;
                (HostPattern::Exact(host), spec.trim())
            }
            None => (HostPattern::Any, rule),
        };
        if let Some((vendor, id, whole_host)) = upstream_rule(spec) {
            let HostPattern::Exact(host) = pattern else {
                return Err(err(format!("{rule:?}: an upstream group names its host (host={spec})")));
            };
            if upstreams.iter().any(|u| u.host == host && u.vendor == vendor && u.id == id) {
                return Err(err(format!("{rule:?}: the same group twice for {host}")));
            }
            upstreams.push(UpstreamRule { host, vendor, id: id.to_owned(), whole_host, text: rule.to_owned() });
            continue;
        }
        let (spec, dialect) = parse_dialect(spec).map_err(|why| err(format!("{rule:?}: {why}")))?;
        let (spec, mut transport) = match (spec.strip_suffix(":tls"), spec.strip_suffix(":insecure")) {
            (Some(spec), _) => (spec, Transport::Tls),
            (_, Some(spec)) => (spec, Transport::Insecure),
            _ => (spec, Transport::Plain),
        };
        let spec = if let Some(rest) = spec.strip_prefix("fly:") {
            if transport == Transport::Insecure {
                return Err(err(format!("{spec:?}: Fly's edge is reached over TLS only")));
            }
            transport = Transport::Tls;
            parse_fly(rest).map_err(|why| err(format!("{spec:?}: {why}")))?
        } else if let Some(rest) = spec.strip_prefix("dns:") {
            let (name, port) =
                rest.rsplit_once(':').ok_or_else(|| err(format!("{spec:?}: expected dns:<name>:<port>")))?;
            let port: u16 = port
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| err(format!("{spec:?}: {port:?} is not a port")))?;
            let name = normalise_host(name).ok_or_else(|| err(format!("{spec:?}: {name:?} is not a DNS name")))?;
            DiscoverySpec::Dns { name, port }
        } else if let Some(rest) = spec.strip_prefix("static:") {
            let mut addrs = Vec::new();
            for a in rest.split([',', ' ']).filter(|s| !s.is_empty()) {
                let addr: SocketAddr =
                    a.parse().map_err(|_| err(format!("{a:?} is not ip:port (IPv6 as [addr]:port)")))?;
                if !addrs.contains(&addr) {
                    addrs.push(addr);
                }
            }
            if addrs.is_empty() {
                return Err(err(format!("{spec:?}: a static list needs at least one ip:port")));
            }
            DiscoverySpec::Static(addrs)
        } else {
            return Err(err(format!(
                "{spec:?}: expected dns:<name>:<port> or static:<ip:port>,..., then :tls or :insecure"
            )));
        };
        if rules.iter().any(|(p, _)| *p == pattern) {
            return Err(err(
                "two rules of its own instances for the same host (one, beside any upstream groups)".into()
            ));
        }
        rules.push((pattern, DiscoveryRule { spec, transport, dialect }));
    }
    if rules.is_empty() {
        return Err(err("no rules".into()));
    }
    Ok(Rules { own: rules, upstreams })
}

/// A rule's trailing dialect options, `:contract=<edgepurge|plain>` and (with `plain`)
/// `:token-header=<field name|none>`, in either order: the rest of the rule and the dialect.
fn parse_dialect(spec: &str) -> Result<(&str, Dialect), String> {
    let (mut rest, mut contract, mut token_header) = (spec, None, None);
    while let Some((head, option)) = rest.rsplit_once(':') {
        if let Some(value) = option.strip_prefix("contract=") {
            let parsed =
                Contract::parse(value).ok_or_else(|| format!("{value:?} is not a contract: edgepurge or plain"))?;
            if contract.replace(parsed).is_some() {
                return Err("contract= given twice".into());
            }
        } else if let Some(value) = option.strip_prefix("token-header=") {
            let parsed = match value {
                "none" => None,
                name => Some(TokenHeader::new(name).ok_or_else(|| format!("{name:?} is not a header field name"))?),
            };
            if token_header.replace(parsed).is_some() {
                return Err("token-header= given twice".into());
            }
        } else {
            break;
        }
        rest = head;
    }
    let dialect = match (contract.unwrap_or_default(), token_header) {
        (Contract::Edgepurge, None) => Dialect::edgepurge(),
        (Contract::Edgepurge, Some(_)) => {
            return Err("token-header= is for contract=plain: the edgepurge VCL reads Purge-Token".into())
        }
        (Contract::Plain, header) => Dialect::plain(header.unwrap_or_else(|| TokenHeader::new(PURGE_TOKEN_HEADER))),
    };
    Ok((rest, dialect))
}

/// `<app>[:<region>,<region>][@<ip:port>]`.
fn parse_fly(rest: &str) -> Result<DiscoverySpec, String> {
    let (rest, edge) = match rest.split_once('@') {
        Some((rest, edge)) => {
            let edge: SocketAddr =
                edge.parse().map_err(|_| format!("the edge {edge:?} is not ip:port (IPv6 as [addr]:port)"))?;
            (rest, Some(edge))
        }
        None => (rest, None),
    };
    let (app, regions) = rest.split_once(':').unwrap_or((rest, ""));
    let name = |s: &str| !s.is_empty() && s.len() <= 63 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !name(app) {
        return Err(format!("{app:?} is not a Fly app name"));
    }
    let regions: Vec<String> = regions.split(',').filter(|r| !r.is_empty()).map(str::to_ascii_lowercase).collect();
    if let Some(bad) = regions.iter().find(|r| !r.bytes().all(|b| b.is_ascii_alphanumeric())) {
        return Err(format!("{bad:?} is not a region code"));
    }
    Ok(DiscoverySpec::Fly { app: app.to_owned(), regions, edge })
}

/// The OTLP settings, when an endpoint is set.
fn otel_settings(optional: &dyn Fn(&str) -> Option<String>) -> Result<Option<OtelSettings>, ConfigError> {
    let endpoint = match (optional("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), optional("OTEL_EXPORTER_OTLP_ENDPOINT")) {
        (Some(traces), _) => (traces, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        (None, Some(base)) => (format!("{}/v1/traces", base.trim_end_matches('/')), "OTEL_EXPORTER_OTLP_ENDPOINT"),
        (None, None) => return Ok(None),
    };
    let (endpoint, setting) = endpoint;
    if !secure_or_loopback(&endpoint) {
        return Err(ConfigError {
            setting,
            reason: format!("{endpoint:?} must be an https URL (plain http only on loopback): exports carry API keys"),
        });
    }
    let mut headers = Vec::new();
    for pair in optional("OTEL_EXPORTER_OTLP_HEADERS").unwrap_or_default().split(',').filter(|p| !p.trim().is_empty()) {
        let bad = || ConfigError {
            setting: "OTEL_EXPORTER_OTLP_HEADERS",
            reason: "expected name=value pairs separated by commas (printable, no spaces in names)".into(),
        };
        let (name, value) = pair.split_once('=').ok_or_else(bad)?;
        let (name, value) = (name.trim(), value.trim());
        let token = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !token || value.is_empty() || !value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return Err(bad());
        }
        headers.push((name.to_ascii_lowercase(), value.to_owned()));
    }
    let ratio = match optional("OTEL_TRACES_SAMPLER_ARG") {
        None => 1.0,
        Some(v) => v.parse::<f64>().ok().filter(|r| (0.0..=1.0).contains(r)).ok_or(ConfigError {
            setting: "OTEL_TRACES_SAMPLER_ARG",
            reason: format!("{v:?} is not a number from 0 to 1"),
        })?,
    };
    let service_name = optional("OTEL_SERVICE_NAME").unwrap_or_else(|| "edgepurge".to_owned());
    Ok(Some(OtelSettings { endpoint, headers, service_name, ratio }))
}

/// Reads the notification settings through `optional` (a setting's trimmed value, if not empty):
/// none without `NOTIFY_WEBHOOKS`; every error names its setting and never shows a URL or the
/// secret.
fn notify_settings(optional: &dyn Fn(&str) -> Option<String>) -> Result<Option<NotifySettings>, ConfigError> {
    let console_url = match optional("CONSOLE_URL") {
        None => None,
        Some(url) if url::Url::parse(&url).is_ok_and(|u| matches!(u.scheme(), "https" | "http")) => {
            Some(url.trim_end_matches('/').to_owned())
        }
        Some(url) => {
            return Err(ConfigError { setting: "CONSOLE_URL", reason: format!("{url:?} is not an http(s) URL") })
        }
    };
    let Some(raw) = optional("NOTIFY_WEBHOOKS") else {
        for setting in ["NOTIFY_SECRET", "NOTIFY_ON", "NOTIFY_PER_MINUTE", "NOTIFY_TIMEOUT_MS"] {
            if optional(setting).is_some() {
                return Err(ConfigError {
                    setting,
                    reason: "set without NOTIFY_WEBHOOKS, which names where to send".into(),
                });
            }
        }
        return Ok(None);
    };
    let webhooks: Vec<String> = raw.split([',', ' ', '\n']).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if webhooks.len() > MAX_WEBHOOKS {
        return Err(ConfigError {
            setting: "NOTIFY_WEBHOOKS",
            reason: format!("{} URLs; at most {MAX_WEBHOOKS}", webhooks.len()),
        });
    }
    if let Some(i) = webhooks.iter().position(|u| !secure_or_loopback(u)) {
        // The URL itself is a secret (a Slack webhook's is its credential): named by position.
        return Err(ConfigError {
            setting: "NOTIFY_WEBHOOKS",
            reason: format!("URL {} of {} must be an https URL (plain http only on loopback)", i + 1, webhooks.len()),
        });
    }
    let secret = optional("NOTIFY_SECRET").ok_or(ConfigError {
        setting: "NOTIFY_SECRET",
        reason: "required when NOTIFY_WEBHOOKS is set: the key that signs each notification".into(),
    })?;
    if secret.len() < 16 {
        return Err(ConfigError { setting: "NOTIFY_SECRET", reason: "must be at least 16 characters".into() });
    }
    let on = notify_kinds(optional("NOTIFY_ON").as_deref())?;
    let number = |setting: &'static str, default: u32, min: u32, max: u32| match optional(setting) {
        None => Ok(default),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or(ConfigError { setting, reason: format!("{v:?} is not a whole number from {min} to {max}") }),
    };
    Ok(Some(NotifySettings {
        webhooks,
        secret,
        on,
        per_minute: number("NOTIFY_PER_MINUTE", 3, 1, 60)?,
        timeout_ms: number("NOTIFY_TIMEOUT_MS", 5000, 100, 10_000)?,
        console_url,
    }))
}

/// `NOTIFY_ON`: the kinds it names (`all` is every kind), default `partial,failed,abandoned`.
fn notify_kinds(raw: Option<&str>) -> Result<Vec<NotifyKind>, ConfigError> {
    let Some(raw) = raw else { return Ok(vec![NotifyKind::Partial, NotifyKind::Failed, NotifyKind::Abandoned]) };
    let mut on = Vec::new();
    for word in raw.split([',', ' ']).filter(|w| !w.is_empty()) {
        match (word, NotifyKind::parse(word)) {
            ("all", _) => on.extend(NotifyKind::ALL),
            (_, Some(kind)) => on.push(kind),
            (_, None) => {
                let names: Vec<&str> = NotifyKind::ALL.iter().map(|k| k.as_str()).collect();
                return Err(ConfigError {
                    setting: "NOTIFY_ON",
                    reason: format!("{word:?} is not one of {} or all", names.join(", ")),
                });
            }
        }
    }
    on.sort();
    on.dedup();
    if on.is_empty() {
        return Err(ConfigError { setting: "NOTIFY_ON", reason: "names no kind (unset it for the default)".into() });
    }
    Ok(on)
}

/// The issuer Cloudflare Access uses for a team domain such as `myteam.cloudflareaccess.com`.
pub fn access_issuer(team_domain: &str) -> String {
    let d = team_domain.trim().trim_end_matches('/');
    if d.starts_with("https://") || d.starts_with("http://") {
        d.to_owned()
    } else {
        format!("https://{d}")
    }
}
