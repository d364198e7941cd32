//! Rate limits and the refusal budget: per-minute windows, which bucket a client falls in, and
//! what a count means. The counting itself is storage (the worker's D1 table `rate_limits`).
//!
//! - Every request of an identified caller counts towards its limit, accepted or refused: purge
//!   routes against `RATE_LIMIT_PER_MINUTE`, every other authenticated route against
//!   `READ_RATE_LIMIT_PER_MINUTE`; sign-in against `SIGN_IN_RATE_LIMIT_PER_MINUTE` per client.
//! - A refused caller's attempts go to the history only while the caller is under its limit,
//!   and the first refusal over it (the 429) once a minute: a caller cannot write more rows than
//!   its limit allows.
//! - Refusals by unknown callers are written within `REFUSAL_BUDGET_PER_MINUTE` for the whole
//!   deployment and a quarter of it (at least one) per client, a client being an IPv4 address or
//!   an IPv6 /64 ([`RefusalBudget`]); past either they cost reads and no write.
//! - Each counter's key and setting are [`Bucket`]'s; which refusal is answered and whether it
//!   is written is [`refusal`]'s.

use crate::config::Config;
use crate::error::{ApiError, ErrorKind};
use std::collections::BTreeSet;
use std::net::IpAddr;

/// The minute a time (ms since the epoch) falls in: the window a count belongs to.
pub fn window(now_ms: i64) -> i64 {
    now_ms.div_euclid(60_000)
}

/// Seconds until the next window starts (the `Retry-After` of a 429), 1 to 60.
pub fn retry_after_secs(now_ms: i64) -> u32 {
    let next = (window(now_ms) + 1) * 60_000;
    u32::try_from((next - now_ms + 999) / 1000).unwrap_or(60).clamp(1, 60)
}

/// The 429 for a caller whose `count`-th request this minute is over `limit`, or `None`.
pub fn over(count: i64, limit: u32, now_ms: i64, what: &str) -> Option<ApiError> {
    (count > i64::from(limit)).then(|| too_many(limit, now_ms, what))
}

/// The 429 for a caller already at `limit` this minute.
pub fn too_many(limit: u32, now_ms: i64, what: &str) -> ApiError {
    let mut e = ApiError::new(ErrorKind::TooManyRequests, format!("more than {limit} {what} this minute"));
    e.retry_after_secs = Some(retry_after_secs(now_ms));
    e
}

/// Whether a caller's refused request, its `count`-th this minute, goes to the history: while
/// under the limit, and the first one over it.
pub fn record_refusal(count: i64, limit: u32) -> bool {
    count <= i64::from(limit) + 1
}

/// The callers an isolate has seen over their limit in the current window. A count only grows
/// within its window, so a caller once over stays over until the window turns: the worker then
/// refuses at once, before reading the body or asking discovery, instead of learning it again
/// from the count written with the history entry (which would cost a discovery per request).
#[derive(Debug, Default)]
pub struct OverLimit {
    window: i64,
    keys: BTreeSet<String>,
}

impl OverLimit {
    /// The most callers remembered per window (beyond that, a caller is found over its limit
    /// one discovery later: the count in D1 still decides).
    pub const MAX_KEYS: usize = 4096;

    /// Notes `key`'s `count`-th request at `now_ms`.
    pub fn saw(&mut self, key: &str, count: i64, limit: u32, now_ms: i64) {
        let w = window(now_ms);
        if w != self.window {
            self.window = w;
            self.keys.clear();
        }
        if count > i64::from(limit) && self.keys.len() < Self::MAX_KEYS {
            self.keys.insert(key.to_owned());
        }
    }

    /// Whether `key` is known to be over its limit at `now_ms`.
    pub fn known(&self, key: &str, now_ms: i64) -> bool {
        self.window == window(now_ms) && self.keys.contains(key)
    }
}

/// The bucket a client address counts in: the address for IPv4, its /64 for IPv6 (one site's
/// allocation), `unknown` when there is none.
pub fn client_bucket(addr: Option<&str>) -> String {
    match addr.map(str::trim).and_then(|a| a.parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "unknown".to_owned(),
    }
}

/// A rate-limit counter: each kind's key in the store and the setting that bounds it, written
/// once here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket<'a> {
    /// A person's requests to purge routes (`RATE_LIMIT_PER_MINUTE`).
    Purges(i64),
    /// A person's requests to every other authenticated route (`READ_RATE_LIMIT_PER_MINUTE`).
    Reads(i64),
    /// A client's sign-ins (`SIGN_IN_RATE_LIMIT_PER_MINUTE`); the client is [`client_bucket`]'s.
    SignIns(&'a str),
    /// The refusals of unknown callers written for one client ([`RefusalBudget::per_client`]).
    AnonymousRefusals(&'a str),
    /// The refusals of unknown callers written for the whole deployment
    /// ([`RefusalBudget::deployment`]).
    Refusals,
}

impl Bucket<'_> {
    /// The counter's key in the store.
    pub fn key(&self) -> String {
        match self {
            Bucket::Purges(person) => format!("person:{person}"),
            Bucket::Reads(person) => format!("read:{person}"),
            Bucket::SignIns(client) => format!("signin:{client}"),
            Bucket::AnonymousRefusals(client) => format!("anonymous:{client}"),
            Bucket::Refusals => "refusals".to_owned(),
        }
    }

    /// What the counter counts, naming its setting: the words of its 429.
    pub fn what(&self) -> &'static str {
        match self {
            Bucket::Purges(_) => "purge requests (RATE_LIMIT_PER_MINUTE)",
            Bucket::Reads(_) => "requests (READ_RATE_LIMIT_PER_MINUTE)",
            Bucket::SignIns(_) => "sign-ins (SIGN_IN_RATE_LIMIT_PER_MINUTE)",
            Bucket::AnonymousRefusals(_) | Bucket::Refusals => "refusals written (REFUSAL_BUDGET_PER_MINUTE)",
        }
    }

    /// The most requests it allows a minute under `config`.
    pub fn limit(&self, config: &Config) -> u32 {
        let budget = RefusalBudget::of(config.refusal_budget_per_minute);
        match self {
            Bucket::Purges(_) => config.rate_limit_per_minute,
            Bucket::Reads(_) => config.read_rate_limit_per_minute,
            Bucket::SignIns(_) => config.sign_in_rate_limit_per_minute,
            Bucket::AnonymousRefusals(_) => budget.per_client,
            Bucket::Refusals => budget.deployment,
        }
    }
}

/// What becomes of an identified caller's refused request, its `count`-th this minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The answer: the 429 when the count is over `limit` (a 429 wins over any other refusal,
    /// so a caller over its limit learns that first), else the refusal itself.
    pub error: ApiError,
    /// Whether it goes to the history ([`record_refusal`]).
    pub record: bool,
}

/// The refusal of an identified caller's request, its `count`-th this minute against `limit`
/// (counting `what`), refused for `error`.
pub fn refusal(count: i64, limit: u32, now_ms: i64, what: &str, error: ApiError) -> Refusal {
    Refusal { error: over(count, limit, now_ms, what).unwrap_or(error), record: record_refusal(count, limit) }
}

/// How many refusals of unknown callers are written a minute: `REFUSAL_BUDGET_PER_MINUTE` for
/// the whole deployment, and a quarter of it (at least one) for each client, so one client
/// cannot spend everyone's. Past either, a refusal costs reads and writes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusalBudget {
    /// Refusals written a minute for the whole deployment.
    pub deployment: u32,
    /// Refusals written a minute for one client (an IPv4 address or an IPv6 /64).
    pub per_client: u32,
}

impl RefusalBudget {
    /// The budget of `REFUSAL_BUDGET_PER_MINUTE` = `per_minute`.
    pub fn of(per_minute: u32) -> RefusalBudget {
        RefusalBudget { deployment: per_minute, per_client: (per_minute / 4).max(1) }
    }

    /// Whether the deployment's budget is spent, `written` refusals having been written this
    /// minute: then the client's counter is not even touched.
    pub fn spent(&self, written: i64) -> bool {
        written >= i64::from(self.deployment)
    }
}
