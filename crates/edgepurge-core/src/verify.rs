//! Verification: ask every instance for a URL and read its RFC 9211 `Cache-Status`.
//!
//! RFC 9211 section 2: the Cache-Status field value is a List whose members each name a cache;
//! "the first member of the list represents the cache closest to the origin server, and the
//! last member represents the cache closest to the user". We report the last member: the
//! instance we asked. Requests are `HEAD` (the instance treats it like a GET for caching).

use crate::api::{Confirmation, VerifyResult};
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

/// Parses a `Cache-Status` field value into its members.
///
/// The field is an RFC 8941 structured List (RFC 9211 section 2), parsed with `sfv`: each member
/// is a token or string naming the cache, with parameters `hit` and `stored` (Booleans), `fwd`
/// (a token) and `ttl` (an Integer); inner lists and members naming no cache are skipped.
///
/// A field that is not a valid List is read member by member the simple way instead of being
/// dropped (RFC 8941 section 4.2 would drop it): caches name themselves by host name (Varnish's
/// default `server.identity`), and one starting with a digit, such as a container id, is not an
/// sf-token, yet its `hit` and `ttl` are what verification is for.
pub fn parse_cache_status(value: &str) -> Vec<CacheStatus> {
    let Ok(list) = sfv::Parser::new(value).parse_list::<sfv::List>() else { return parse_loosely(value) };
    list.into_iter()
        .filter_map(|member| {
            let sfv::ListEntry::Item(item) = member else { return None };
            let mut status = CacheStatus { cache: text(&item.bare_item)?, ..CacheStatus::default() };
            for (key, value) in &item.params {
                match key.as_str() {
                    "hit" => status.hit = value.as_boolean() == Some(true),
                    "stored" => status.stored = value.as_boolean() == Some(true),
                    "fwd" => status.fwd = text(value),
                    "ttl" => {
                        status.ttl = value
                            .as_integer()
                            .map(i64::from)
                            .or_else(|| value.as_decimal().map(|d| i64::from(d.as_integer_scaled_1000()) / 1000))
                    }
                    _ => {}
                }
            }
            Some(status)
        })
        .collect()
}

/// `member; key; key=value, ...` split on `,` and `;`, for fields `sfv` refuses.
fn parse_loosely(value: &str) -> Vec<CacheStatus> {
    value
        .split(',')
        .filter_map(|member| {
            let mut parts = member.split(';').map(str::trim);
            let cache = parts.next().filter(|c| !c.is_empty())?.trim_matches('"').to_owned();
            let mut status = CacheStatus { cache, ..CacheStatus::default() };
            for param in parts {
                match param.split_once('=').map_or((param, None), |(k, v)| (k.trim(), Some(v.trim()))) {
                    ("hit", None | Some("?1")) => status.hit = true,
                    ("stored", None | Some("?1")) => status.stored = true,
                    ("fwd", Some(v)) => status.fwd = Some(v.trim_matches('"').to_owned()),
                    ("ttl", Some(v)) => status.ttl = v.parse().ok(),
                    _ => {}
                }
            }
            Some(status)
        })
        .collect()
}

/// A token's or a string's text.
fn text(item: &sfv::BareItem) -> Option<String> {
    item.as_token().map(|t| t.as_str().to_owned()).or_else(|| item.as_string().map(|s| s.as_str().to_owned()))
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
            let (raw, last) = instance_status(answer);
            VerifyResult {
                instance,
                http_status: Some(answer.status),
                hit: last.as_ref().map(|c| c.hit),
                fwd: last.as_ref().and_then(|c| c.fwd.clone()),
                ttl: last.as_ref().and_then(|c| c.ttl),
                age: answer.header("age").and_then(|a| a.parse().ok()),
                error: raw.is_none().then(|| NO_CACHE_STATUS.to_owned()),
                cache_status: raw,
            }
        }
    }
}

const NO_CACHE_STATUS: &str = "no Cache-Status header: is the edgepurge VCL included?";

/// An answer's `Cache-Status` as sent, and its last member: what the instance asked says of itself.
fn instance_status(answer: &Answer) -> (Option<String>, Option<CacheStatus>) {
    let raw = answer.header("cache-status").map(str::to_owned);
    let last = raw.as_deref().map(parse_cache_status).and_then(|mut v| v.pop());
    (raw, last)
}

/// What the `HEAD` behind a `PURGE` says: whether the instance now serves a fresh copy (not a
/// hit; after a soft purge, a hit on a copy it marked stale also counts).
pub fn confirmation(reply: &Result<Answer, DeliveryError>, soft: bool) -> Confirmation {
    match reply {
        Err(e) => {
            Confirmation { fresh: None, http_status: None, cache_status: None, error: Some(e.to_string()), url: None }
        }
        Ok(answer) => {
            let (raw, last) = instance_status(answer);
            let fresh = last.map(|c| !c.hit || (soft && c.fwd.as_deref() == Some("stale")));
            Confirmation {
                fresh,
                http_status: Some(answer.status),
                error: fresh.is_none().then(|| NO_CACHE_STATUS.to_owned()),
                cache_status: raw,
                url: None,
            }
        }
    }
}
