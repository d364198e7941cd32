//! Verification: ask every instance for a URL and read what its cache status says.
//!
//! Caches say it in several formats, each read by its own reader ([`read_answer`]), in this
//! order; a value none of them reads with confidence gives no verdict (`hit: None`), never a
//! guess:
//!
//! 1. RFC 9211 `Cache-Status` (the edgepurge VCL's): a List whose members each name a cache;
//!    "the first member of the list represents the cache closest to the origin server, and the
//!    last member represents the cache closest to the user". We read the last member: the
//!    instance we asked. It must carry `hit` or `fwd` to tell anything.
//! 2. Pipely's `cache-status`: not a List but one run of `;`-separated parts, `region=<r>`
//!    first, e.g. `region=fra; origin=app,changelog-2025-05-05.internal; ttl=59.849;
//!    grace=86400.000; keep=604800.000; storage=storage.memory; hit; hits=2` (`miss` instead of
//!    `hit`, `stale` after a hit past its ttl, `bypass` for a pass, `synth` for its own
//!    answers). The comma inside `origin=` is not a member boundary.
//! 3. RFC 9211 read loosely, member by member, for values that are not a structured List only
//!    because a cache names itself by a host name that is not an sf-token (a container id).
//! 4. `X-Cache: HIT` / `MISS` (the last of a comma-separated list: the cache nearest the user).
//! 5. `Age` above 0 without any of these: served from a cache (`Age: 0` tells nothing).
//!
//! Requests are `HEAD` (the instance treats it like a GET for caching).

use crate::api::{CacheStatusFormat, Confirmation, VerifyResult};
use crate::http1::Answer;
use crate::outcome::DeliveryError;
use crate::plan::Plan;

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
        .filter_map(|member| match member {
            sfv::ListEntry::Item(item) => member_of(&item),
            sfv::ListEntry::InnerList(_) => None,
        })
        .collect()
}

/// One structured member: a token or string naming the cache, and its parameters.
fn member_of(item: &sfv::Item) -> Option<CacheStatus> {
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
}

/// `member; key; key=value, ...` split on `,` and `;`, for fields `sfv` refuses.
fn parse_loosely(value: &str) -> Vec<CacheStatus> {
    value.split(',').filter_map(parse_member).collect()
}

/// One member read the simple way; `None` unless it names a cache the way caches name
/// themselves (no `=`, no blank: a `key=value` first is another format, not a cache).
fn parse_member(member: &str) -> Option<CacheStatus> {
    let mut parts = member.split(';').map(str::trim);
    let cache = parts.next().filter(|c| !c.is_empty())?.trim_matches('"');
    if cache.is_empty() || cache.contains(['=', ' ', '\t']) {
        return None;
    }
    let mut status = CacheStatus { cache: cache.to_owned(), ..CacheStatus::default() };
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
}

/// A token's or a string's text.
fn text(item: &sfv::BareItem) -> Option<String> {
    item.as_token().map(|t| t.as_str().to_owned()).or_else(|| item.as_string().map(|s| s.as_str().to_owned()))
}

/// What one instance's answer says of the copy it served, read with confidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheReading {
    /// The format it was read in.
    pub format: CacheStatusFormat,
    /// The cache that said it (RFC 9211's member, Pipely's `region`), when named.
    pub cache: Option<String>,
    /// Served from the cache.
    pub hit: bool,
    /// A hit on a copy past its freshness (RFC 9211 `fwd=stale`, Pipely's `stale`): what a soft
    /// purge leaves.
    pub stale: bool,
    /// RFC 9211 `fwd`.
    pub fwd: Option<String>,
    /// Remaining freshness in whole seconds.
    pub ttl: Option<i64>,
}

/// An answer's cache status as sent (the field that was read, or else `Cache-Status` as it
/// came), and what it says when some reader is confident.
pub fn read_answer(answer: &Answer) -> (Option<String>, Option<CacheReading>) {
    let raw = answer.header("cache-status").map(str::to_owned);
    if let Some(reading) = raw.as_deref().and_then(read_cache_status) {
        return (raw, Some(reading));
    }
    if let Some(x_cache) = answer.header("x-cache") {
        if let Some(reading) = read_x_cache(x_cache) {
            return (Some(x_cache.to_owned()), Some(reading));
        }
    }
    let age = answer.header("age").and_then(|a| a.trim().parse::<u64>().ok()).filter(|age| *age > 0);
    let reading = age.map(|_| CacheReading {
        format: CacheStatusFormat::Age,
        cache: None,
        hit: true,
        stale: false,
        fwd: None,
        ttl: None,
    });
    (raw, reading)
}

/// A `Cache-Status` value read as RFC 9211, as Pipely's, or loosely, in that order; `None`
/// when none is confident.
pub fn read_cache_status(value: &str) -> Option<CacheReading> {
    let rfc = |c: CacheStatus| {
        let stale = c.hit && c.fwd.as_deref() == Some("stale");
        let format = CacheStatusFormat::Rfc9211;
        CacheReading { format, cache: Some(c.cache), hit: c.hit, stale, fwd: c.fwd, ttl: c.ttl }
    };
    // A member tells something only with `hit` or `fwd` (a bare name may be anything).
    let telling = |c: &CacheStatus| c.hit || c.fwd.is_some();
    if let Ok(list) = sfv::Parser::new(value).parse_list::<sfv::List>() {
        let last = list.into_iter().last().and_then(|member| match member {
            sfv::ListEntry::Item(item) => member_of(&item),
            sfv::ListEntry::InnerList(_) => None,
        });
        return last.filter(telling).map(rfc);
    }
    if let Some(reading) = read_pipely(value) {
        return Some(reading);
    }
    let members = value.split(',').map(parse_member).collect::<Option<Vec<_>>>()?;
    members.into_iter().last().filter(telling).map(rfc)
}

/// Pipely's format: `region=<r>` first, then `;`-separated parts; exactly one of `hit`, `miss`
/// and `bypass`, or no verdict (`synth`: its own answer, not a cached copy).
fn read_pipely(value: &str) -> Option<CacheReading> {
    let mut parts = value.split(';').map(str::trim);
    let region = parts.next()?.strip_prefix("region=")?;
    let mut reading = CacheReading {
        format: CacheStatusFormat::Pipely,
        cache: (!region.is_empty()).then(|| region.to_owned()),
        hit: false,
        stale: false,
        fwd: None,
        ttl: None,
    };
    let mut verdicts = 0;
    for part in parts {
        match part.split_once('=') {
            None if part == "hit" || part == "miss" || part == "bypass" => {
                verdicts += 1;
                reading.hit = part == "hit";
            }
            None if part == "stale" => reading.stale = true,
            Some(("ttl", v)) => reading.ttl = whole_seconds(v),
            _ => {}
        }
    }
    reading.stale &= reading.hit;
    (verdicts == 1).then_some(reading)
}

/// Seconds with decimals (Varnish prints durations as `59.849`), truncated toward zero.
fn whole_seconds(v: &str) -> Option<i64> {
    let (whole, frac) = v.split_once('.').unwrap_or((v, "0"));
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    whole.parse().ok()
}

/// `X-Cache`: its last member (the cache nearest the user) starting `HIT` or `MISS`, whatever
/// the case and whatever follows (`HIT from squid`, `Miss from cloudfront`); anything else
/// (`RefreshHit`, `PASS`, `Error`) tells nothing.
fn read_x_cache(value: &str) -> Option<CacheReading> {
    let last = value.rsplit(',').next()?.trim().to_ascii_lowercase();
    let word = last.split_whitespace().next()?;
    let hit = match word {
        "hit" => true,
        "miss" => false,
        _ => return None,
    };
    Some(CacheReading { format: CacheStatusFormat::XCache, cache: None, hit, stale: false, fwd: None, ttl: None })
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
            format: None,
            error: Some(e.to_string()),
        },
        Ok(answer) => {
            let (raw, reading) = read_answer(answer);
            VerifyResult {
                instance,
                http_status: Some(answer.status),
                hit: reading.as_ref().map(|c| c.hit),
                fwd: reading.as_ref().and_then(|c| c.fwd.clone()),
                ttl: reading.as_ref().and_then(|c| c.ttl),
                age: answer.header("age").and_then(|a| a.parse().ok()),
                format: reading.as_ref().map(|c| c.format),
                error: reading.is_none().then(|| unreadable(raw.as_deref())),
                cache_status: raw,
            }
        }
    }
}

/// Why an answer gives no verdict.
fn unreadable(raw: Option<&str>) -> String {
    match raw {
        None => "no Cache-Status (nor X-Cache, nor an Age above 0): is the edgepurge VCL included?".to_owned(),
        Some(_) => "Cache-Status in a format edgepurge cannot read with confidence (RFC 9211, Pipely's, X-Cache): \
                    no verdict"
            .to_owned(),
    }
}

/// A confirmation with no verdict, and why there is none.
pub fn no_verdict(why: String) -> Confirmation {
    Confirmation { fresh: None, http_status: None, cache_status: None, format: None, error: Some(why), url: None }
}

/// What the `HEAD` behind a `PURGE` says: whether the instance now serves a fresh copy (not a
/// hit; after a soft purge, a hit on a copy it marked stale also counts).
pub fn confirmation(reply: &Result<Answer, DeliveryError>, soft: bool) -> Confirmation {
    match reply {
        Err(e) => no_verdict(e.to_string()),
        Ok(answer) => {
            let (raw, reading) = read_answer(answer);
            let fresh = reading.as_ref().map(|c| !c.hit || (soft && c.stale));
            Confirmation {
                fresh,
                http_status: Some(answer.status),
                format: reading.map(|c| c.format),
                error: fresh.is_none().then(|| unreadable(raw.as_deref())),
                cache_status: raw,
                url: None,
            }
        }
    }
}

/// The rows of a verification: one per instance that answered (or failed), from the fan-out's
/// `(job, reply)` pairs of `plan`, in instance order. A job the plan does not have gives no row
/// (a driver bug must not panic the request).
pub fn verify_rows(plan: &Plan, replies: Vec<(usize, Result<Answer, DeliveryError>)>) -> Vec<VerifyResult> {
    let mut rows: Vec<VerifyResult> = replies
        .into_iter()
        .filter_map(|(job, reply)| Some(verify_result(plan.jobs.get(job)?.instance.key(), &reply)))
        .collect();
    rows.sort_by(|a, b| a.instance.cmp(&b.instance));
    rows
}
