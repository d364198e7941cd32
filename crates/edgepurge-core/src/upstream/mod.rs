//! Fastly services and Cloudflare zones as purge targets, beside self-hosted instances.
//!
//! A rule may name a Fastly service or a Cloudflare zone (an [`Upstream`]) for a host. The core
//! plans the vendor API calls that carry a purge's items ([`Upstream::calls`]); the worker sends
//! each with `fetch`, prefixing `FASTLY_API_URL` or `CLOUDFLARE_API_URL` to [`Call::path`] and
//! adding [`auth_header`]; [`Upstream::read`] turns each answer into one [`CallRow`] per item.
//! The credential never enters a [`Call`], so it cannot reach a span, a row or the history.
//!
//! | kind | Fastly ([`fastly`]) | Cloudflare ([`cloudflare`]) |
//! |---|---|---|
//! | URL | `POST /purge/{host}{path}`, one call per URL | `files`, to `purge_cache` |
//! | soft URL | the same, with `Fastly-Soft-Purge: 1` | `files`, to `invalidate_cache` |
//! | key | `POST /service/{id}/purge`, `Surrogate-Key: k1 k2 …`, at most 256 | `tags` |
//! | soft key | the same with `Fastly-Soft-Purge: 1`, in calls of their own | `tags`, to `invalidate_cache` |
//! | prefix | no: Fastly has no prefix purge | `prefixes`, `host/path` without scheme, at most 31 `/` |
//! | host | `purge_all`, only when the rule says the service serves the host alone | `hosts` |
//!
//! Both vendors mark stale on request for URLs and keys, so no kind is ever done hard here
//! ([`Support::Hard`] is never answered); a prefix or host purge has no soft form in [`Purge`].
//!
//! Answers ([`Upstream::read`]): a 2xx with the vendor's success shape is `purged`, with the
//! vendor's purge id; a 2xx whose body says failure is `rejected`, one that cannot be read is
//! `failed` (retryable: sending a purge again is harmless); 429 is `failed` and retried after
//! `Retry-After`; 5xx or no answer at all is `failed`, retryable; any other 4xx is `rejected`
//! with the vendor's own message.

pub mod cloudflare;
pub mod fastly;

use crate::api::Outcome;
use crate::dialect::Support;
use crate::http1::FieldValue;
use crate::purge::Purge;
use std::collections::BTreeSet;
use std::fmt;

/// The longest `Retry-After` obeyed, in seconds: a longer wait is cut to this.
pub const MAX_RETRY_AFTER_SECS: u32 = 3600;
/// The largest answer body read; a longer one counts as unreadable.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;
/// The most characters of a vendor's message a row keeps.
pub const MAX_ERROR_CHARS: usize = 300;
/// The most characters of a purge id or request id a row keeps.
const MAX_ID_CHARS: usize = 128;

/// A CDN vendor whose API edgepurge can call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Vendor {
    /// Fastly: a service, purged through `api.fastly.com`.
    Fastly,
    /// Cloudflare: a zone, purged through `api.cloudflare.com`.
    Cloudflare,
}

impl Vendor {
    /// The name in row keys: `fastly` or `cloudflare`.
    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::Fastly => "fastly",
            Vendor::Cloudflare => "cloudflare",
        }
    }

    /// Items per call when the rule sets none.
    pub fn default_per_call(self) -> usize {
        match self {
            Vendor::Fastly => fastly::MAX_KEYS_PER_CALL,
            Vendor::Cloudflare => cloudflare::DEFAULT_PER_CALL,
        }
    }

    /// The most items per call the vendor documents.
    pub fn max_per_call(self) -> usize {
        match self {
            Vendor::Fastly => fastly::MAX_KEYS_PER_CALL,
            Vendor::Cloudflare => cloudflare::MAX_PER_CALL,
        }
    }

    /// The wait after a 429 without a usable `Retry-After`.
    pub fn default_retry_after_secs(self) -> u32 {
        match self {
            Vendor::Fastly => fastly::DEFAULT_RETRY_AFTER_SECS,
            Vendor::Cloudflare => cloudflare::DEFAULT_RETRY_AFTER_SECS,
        }
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Vendor::Fastly => "Fastly",
            Vendor::Cloudflare => "Cloudflare",
        })
    }
}

/// A Fastly service id or Cloudflare zone id: 1 to 64 ASCII letters and digits, since it goes
/// into URL paths.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UpstreamId(String);

impl UpstreamId {
    /// A valid id, or `None`.
    pub fn new(raw: &str) -> Option<UpstreamId> {
        let plain = !raw.is_empty() && raw.len() <= 64 && raw.bytes().all(|b| b.is_ascii_alphanumeric());
        plain.then(|| UpstreamId(raw.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a rule's upstream is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamError {
    /// The id is not 1 to 64 ASCII letters and digits.
    Id,
    /// Items per call outside 1 to the vendor's maximum.
    PerCall {
        /// The vendor's maximum.
        max: usize,
    },
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamError::Id => f.write_str("a service or zone id is 1 to 64 ASCII letters and digits"),
            UpstreamError::PerCall { max } => write!(f, "items per call must be 1 to {max}"),
        }
    }
}

/// A Fastly service or Cloudflare zone that purges go to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Upstream {
    /// The vendor.
    pub vendor: Vendor,
    /// The service or zone id.
    pub id: UpstreamId,
    /// Whether the rule says this service or zone serves its host alone: only then may a host
    /// purge empty the whole service (Fastly `purge_all`).
    pub whole_host: bool,
    /// Items per call: Fastly keys per batch (at most 256), Cloudflare list entries (30 on the
    /// free plan by the older documentation, 100 by the current one). Out of range, it is
    /// clamped when calls are planned.
    pub per_call: usize,
}

/// Whether a report row's or delivery's `instance` names an upstream group (`fastly:<id>`,
/// `cloudflare:<id>`) rather than an instance: no instance key has a vendor's name before a
/// colon (`ip:port`, `[v6]:port`, `<region> <machine>`).
pub fn names_upstream(instance: &str) -> bool {
    instance.split_once(':').is_some_and(|(vendor, _)| matches!(vendor, "fastly" | "cloudflare"))
}

/// One vendor API call, without its credential (the worker adds [`auth_header`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The method: always `POST`.
    pub method: &'static str,
    /// Path (and query) relative to the vendor's API base URL.
    pub path: String,
    /// Header fields besides the credential.
    pub headers: Vec<(String, String)>,
    /// The JSON body, if any.
    pub body: Option<String>,
    /// Indices into the purges planned: the items this call carries, in order.
    pub items: Vec<usize>,
}

impl Call {
    fn post(path: String, headers: Vec<(String, String)>, body: Option<String>, items: Vec<usize>) -> Call {
        Call { method: "POST", path, headers, body, items }
    }

    /// The value of header `name` (case-insensitive), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What the vendor answered to a [`Call`], as the worker read it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The `Retry-After` field, as sent.
    pub retry_after: Option<String>,
    /// The vendor's request id (Cloudflare's `CF-Ray`, for instance), for support requests.
    pub request_id: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// What one item of a call came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRow {
    /// The item: an index into the purges planned.
    pub item: usize,
    /// What happened.
    pub outcome: Outcome,
    /// Why it did not succeed (bounded, printable), when it did not.
    pub error: Option<String>,
    /// Whether sending it again may succeed.
    pub retryable: bool,
    /// After a 429 (or a 5xx with `Retry-After`): seconds to wait before sending again.
    pub retry_after_secs: Option<u32>,
    /// The vendor's purge id, when it gave one.
    pub id: Option<String>,
    /// The vendor's request id, when the worker read one.
    pub request_id: Option<String>,
}

/// What an answer means for one item, before it becomes a row.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Purged(Option<String>),
    Rejected(String),
    Failed { error: String, retryable: bool, retry_after: Option<u32> },
}

impl Verdict {
    /// A 2xx whose body is not the documented shape: retryable, a purge sent twice is harmless.
    fn unreadable(vendor: Vendor) -> Verdict {
        let error = format!("{vendor} answered 2xx, but not in its documented form");
        Verdict::Failed { error, retryable: true, retry_after: None }
    }
}

/// The credential header for `vendor`: `Fastly-Key: <token>` or `Authorization: Bearer <token>`.
/// Only the worker calls this, on the request it sends; never put it into a [`Call`].
pub fn auth_header(vendor: Vendor, token: &FieldValue) -> (&'static str, String) {
    match vendor {
        Vendor::Fastly => ("Fastly-Key", token.as_str().to_owned()),
        Vendor::Cloudflare => ("Authorization", format!("Bearer {}", token.as_str())),
    }
}

/// Seconds to wait from a `Retry-After` field: its delta-seconds, between 1 and
/// [`MAX_RETRY_AFTER_SECS`]; `default` (bounded the same way) when it is missing or an
/// HTTP-date (RFC 9110 section 10.2.3 allows both; a date would need a clock, which the core
/// does not read).
pub fn retry_after_secs(value: Option<&str>, default: u32) -> u32 {
    value.and_then(delta_seconds).unwrap_or(default.clamp(1, MAX_RETRY_AFTER_SECS))
}

/// A `Retry-After` in delta-seconds, bounded; `None` for anything else.
fn delta_seconds(value: &str) -> Option<u32> {
    let value = value.trim();
    (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())).then(|| {
        // All digits: parsing fails only on overflow, which is a very long wait.
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        u32::try_from(secs.clamp(1, u64::from(MAX_RETRY_AFTER_SECS))).unwrap_or(MAX_RETRY_AFTER_SECS)
    })
}

/// `text` bounded to `max` characters, control characters made spaces: fit for a row.
fn printable(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

impl Upstream {
    /// A validated upstream.
    pub fn new(vendor: Vendor, id: &str, whole_host: bool, per_call: usize) -> Result<Upstream, UpstreamError> {
        let id = UpstreamId::new(id).ok_or(UpstreamError::Id)?;
        let max = vendor.max_per_call();
        if !(1..=max).contains(&per_call) {
            return Err(UpstreamError::PerCall { max });
        }
        Ok(Upstream { vendor, id, whole_host, per_call })
    }

    /// The name its report rows carry as `instance`: `fastly:<service id>` or
    /// `cloudflare:<zone id>`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.vendor.as_str(), self.id.as_str())
    }

    fn per_call(&self) -> usize {
        self.per_call.clamp(1, self.vendor.max_per_call())
    }

    /// How far this upstream can do `purge` (see the module's table).
    pub fn support(&self, purge: &Purge) -> Support {
        match self.vendor {
            Vendor::Fastly => fastly::support(purge, self.whole_host),
            Vendor::Cloudflare => cloudflare::support(purge),
        }
    }

    /// The calls that carry `items` (indices into `purges`; out of range or repeated ones are
    /// left out, and so is every item this upstream cannot do).
    pub fn calls(&self, purges: &[Purge], items: &[usize]) -> Vec<Call> {
        let mut seen = BTreeSet::new();
        let todo: Vec<(usize, &Purge)> = items
            .iter()
            .filter(|i| seen.insert(**i))
            .filter_map(|&i| purges.get(i).map(|p| (i, p)))
            .filter(|(_, p)| self.support(p) != Support::No)
            .collect();
        match self.vendor {
            Vendor::Fastly => fastly::calls(self.id.as_str(), self.per_call(), &todo),
            Vendor::Cloudflare => cloudflare::calls(self.id.as_str(), self.per_call(), &todo),
        }
    }

    /// One row per item of `call`, from the vendor's answer (`Err`: no answer at all).
    pub fn read(&self, call: &Call, reply: Result<Reply, String>) -> Vec<CallRow> {
        let vendor = self.vendor;
        let (verdicts, request_id) = match reply {
            Err(e) => {
                let error = format!("{vendor} API not reached: {e}");
                (vec![Verdict::Failed { error, retryable: true, retry_after: None }], None)
            }
            Ok(reply) => (self.verdicts(call, &reply), reply.request_id),
        };
        let request_id = request_id.map(|r| printable(&r, MAX_ID_CHARS));
        let fallback = verdicts.first().cloned().unwrap_or_else(|| Verdict::unreadable(vendor));
        let verdict = |i: usize| verdicts.get(i).cloned().unwrap_or_else(|| fallback.clone());
        call.items
            .iter()
            .enumerate()
            .map(|(i, &item)| {
                let (outcome, error, retryable, retry_after_secs, id) = match verdict(i) {
                    Verdict::Purged(id) => (Outcome::Purged, None, false, None, id),
                    Verdict::Rejected(error) => (Outcome::Rejected, Some(error), false, None, None),
                    Verdict::Failed { error, retryable, retry_after } => {
                        (Outcome::Failed, Some(error), retryable, retry_after, None)
                    }
                };
                CallRow {
                    item,
                    outcome,
                    error: error.map(|e| printable(&e, MAX_ERROR_CHARS)),
                    retryable,
                    retry_after_secs,
                    id: id.map(|id| printable(&id, MAX_ID_CHARS)),
                    request_id: request_id.clone(),
                }
            })
            .collect()
    }

    /// What `reply` means for each item of `call`, in order (one verdict: the same for all).
    fn verdicts(&self, call: &Call, reply: &Reply) -> Vec<Verdict> {
        let vendor = self.vendor;
        let body = if reply.body.len() <= MAX_REPLY_BYTES { reply.body.as_slice() } else { &[] };
        let said = || {
            let message = match vendor {
                Vendor::Fastly => fastly::message(body),
                Vendor::Cloudflare => cloudflare::message(body),
            };
            message.map(|m| format!(": {m}")).unwrap_or_default()
        };
        let status = reply.status;
        let one = match status {
            200..=299 => {
                return match vendor {
                    Vendor::Fastly => fastly::success(call, body),
                    Vendor::Cloudflare => cloudflare::success(body),
                }
            }
            429 => Verdict::Failed {
                error: format!("{vendor} is rate limiting (HTTP 429){}", said()),
                retryable: true,
                retry_after: Some(retry_after_secs(reply.retry_after.as_deref(), vendor.default_retry_after_secs())),
            },
            500..=599 => Verdict::Failed {
                error: format!("{vendor} failed (HTTP {status}){}", said()),
                retryable: true,
                retry_after: reply.retry_after.as_deref().and_then(delta_seconds),
            },
            400..=499 => Verdict::Rejected(format!("{vendor} refused (HTTP {status}){}", said())),
            _ => Verdict::Failed {
                error: format!("{vendor} answered HTTP {status}, which a purge call never gets"),
                retryable: false,
                retry_after: None,
            },
        };
        vec![one]
    }
}
