//! Verification: ask every instance for a URL and read its RFC 9211 `Cache-Status`.
//!
//! RFC 9211 section 2: the Cache-Status field value is a List whose members each name a cache;
//! "the first member of the list represents the cache closest to the origin server, and the
//! last member represents the cache closest to the user". We report the last member: the
//! instance we asked. Requests are `HEAD` (the instance treats it like a GET for caching).

use crate::api::VerifyResult;
use crate::http1::Answer;
use crate::outcome::DeliveryError;

/// One member of a `Cache-Status` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStatus {
    /// The cache's identifier.
    pub cache: String,
    /// `hit`: served from cache.
    pub hit: bool,
    /// `fwd=<reason>`: why the request went forward.
    pub fwd: Option<String>,
    /// `stored`: the forwarded response was stored.
    pub stored: bool,
    /// `ttl=<seconds>`: remaining freshness.
    pub ttl: Option<i64>,
}

/// Parses a `Cache-Status` field value into its members, skipping ones that do not parse.
pub fn parse_cache_status(value: &str) -> Vec<CacheStatus> {
    value
        .split(',')
        .filter_map(|member| {
            let mut parts = member.split(';').map(str::trim);
            let cache = parts.next().filter(|c| !c.is_empty())?.trim_matches('"').to_owned();
            let mut status = CacheStatus { cache, ..CacheStatus::default() };
            for param in parts {
                let (key, val) = match param.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
                    None => (param, None),
                };
                match (key, val) {
                    ("hit", None | Some("?1")) => status.hit = true,
                    ("stored", None | Some("?1")) => status.stored = true,
                    ("fwd", Some(v)) => status.fwd = Some(v.to_owned()),
                    ("ttl", Some(v)) => status.ttl = v.parse().ok(),
                    _ => {}
                }
            }
            Some(status)
        })
        .collect()
}

/// The verification row for one instance's answer.
pub fn verify_result(instance: String, reply: &Result<Answer, DeliveryError>) -> VerifyResult {
    match reply {
        Err(e) => VerifyResult {
            instance,
            http_status: None,
            cache_status: None,
            hit: None,
            fwd: None,
            ttl: None,
            age: None,
            error: Some(e.to_string()),
        },
        Ok(answer) => {
            let raw = answer.header("cache-status").map(str::to_owned);
            let last = raw.as_deref().map(parse_cache_status).and_then(|mut v| v.pop());
            VerifyResult {
                instance,
                http_status: Some(answer.status),
                hit: last.as_ref().map(|c| c.hit),
                fwd: last.as_ref().and_then(|c| c.fwd.clone()),
                ttl: last.as_ref().and_then(|c| c.ttl),
                age: answer.header("age").and_then(|a| a.parse().ok()),
                error: raw.is_none().then(|| "no Cache-Status header: is the edgepurge VCL included?".to_owned()),
                cache_status: raw,
            }
        }
    }
}
