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

/// Parses a `Cache-Status` field value into its members.
///
/// The field is an RFC 8941 structured List (RFC 9211 section 2), parsed with `sfv`: each member
/// is a token or string naming the cache, with parameters `hit` and `stored` (Booleans), `fwd`
/// (a token) and `ttl` (an Integer). A field that is not a valid List is ignored as a whole, as
/// RFC 8941 section 4.2 requires; members that are inner lists or name no cache are skipped.
pub fn parse_cache_status(value: &str) -> Vec<CacheStatus> {
    let Ok(list) = sfv::Parser::new(value).parse_list::<sfv::List>() else { return Vec::new() };
    list.into_iter()
        .filter_map(|member| {
            let sfv::ListEntry::Item(item) = member else { return None };
            let cache = text(&item.bare_item)?;
            let mut status = CacheStatus { cache, ..CacheStatus::default() };
            for (key, value) in &item.params {
                match key.as_str() {
                    "hit" => status.hit = value.as_boolean() == Some(true),
                    "stored" => status.stored = value.as_boolean() == Some(true),
                    "fwd" => status.fwd = text(value),
                    "ttl" => {
                        status.ttl = value
                            .as_integer()
                            .map(i64::from)
                            .or_else(|| value.as_decimal().map(|d| (i64::from(d.as_integer_scaled_1000())) / 1000))
                    }
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
