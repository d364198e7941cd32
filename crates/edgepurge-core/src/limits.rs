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
//!   deployment (over it they cost one read and no write) and the same per client, a client
//!   being an IPv4 address or an IPv6 /64.

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
