//! Cloudflare's cache purge API (<https://developers.cloudflare.com/api/resources/cache/>), as
//! documented, quirks included:
//!
//! - `POST /client/v4/zones/{zone_id}/purge_cache` removes; `…/invalidate_cache` (same body)
//!   marks stale and revalidates with the origin, Cloudflare's soft purge.
//! - The body is one of `files` (full URLs), `tags`, `hosts`, `prefixes` or
//!   `purge_everything`: "Send one of these fields in the request body", so a call carries one
//!   list. `purge_everything` is never sent: `hosts` purges exactly the host on every plan,
//!   while `purge_everything` would also empty every other name of the zone.
//! - A prefix is written without scheme, `www.example.com/foo/`, with at most 31 path
//!   separators; it cannot carry a query string (a prefix has none, see `purge::parse_prefix`).
//! - Items per call depend on the plan: 30 URLs on Free, Pro and Business by the API reference,
//!   100 operations per request by the current limits page (500 URLs on Enterprise).
//! - Every answer is the v4 envelope: `{"success": true, "errors": [], "messages": [],
//!   "result": {"id": "…"}}`, or `success: false` with `errors: [{"code": 1107, "message": …}]`.
//!   A 200 means "accepted", not that anything was cached.
//! - Over the API's global limit, "all API calls for the next five minutes will be blocked"
//!   with a 429 and `Retry-After` in seconds; without one, [`DEFAULT_RETRY_AFTER_SECS`].

use super::{Call, Vendor, Verdict};
use crate::dialect::Support;
use crate::purge::Purge;
use crate::target::Target;
use serde::Deserialize;
use std::collections::BTreeMap;

/// List entries per call when the rule sets none: the smallest documented limit.
pub const DEFAULT_PER_CALL: usize = 30;
/// The most list entries per call any plan takes for every list.
pub const MAX_PER_CALL: usize = 100;
/// Path separators a prefix may have.
pub const MAX_PREFIX_SEPARATORS: usize = 31;
/// The wait after a 429 without `Retry-After`: the global limit blocks for five minutes.
pub const DEFAULT_RETRY_AFTER_SECS: u32 = 300;

/// A prefix as Cloudflare wants it: `host/path`, no scheme.
fn prefix(target: &Target) -> String {
    format!("{}{}", target.authority(), target.path_and_query())
}

/// How far a Cloudflare zone can do `purge`.
pub(super) fn support(purge: &Purge) -> Support {
    match purge {
        Purge::Prefix { target } if prefix(target).matches('/').count() > MAX_PREFIX_SEPARATORS => Support::No,
        _ => Support::Yes,
    }
}

/// The body list an item goes in, the endpoint (soft: `invalidate_cache`), and its entry.
fn entry(purge: &Purge) -> ((bool, &'static str), String) {
    match purge {
        Purge::Url { target, soft } => ((*soft, "files"), target.url().to_owned()),
        Purge::Key { key, soft, .. } => ((*soft, "tags"), key.as_str().to_owned()),
        Purge::Prefix { target } => ((false, "prefixes"), prefix(target)),
        Purge::Host { host } => ((false, "hosts"), host.clone()),
    }
}

/// The calls for `todo`: one list per call, at most `per_call` entries, hard before soft.
pub(super) fn calls(id: &str, per_call: usize, todo: &[(usize, &Purge)]) -> Vec<Call> {
    let mut lists: BTreeMap<(bool, &str), Vec<(usize, String)>> = BTreeMap::new();
    for &(item, purge) in todo {
        let (list, value) = entry(purge);
        lists.entry(list).or_default().push((item, value));
    }
    let mut calls = Vec::new();
    for ((soft, list), entries) in lists {
        let endpoint = if soft { "invalidate_cache" } else { "purge_cache" };
        for chunk in entries.chunks(per_call) {
            let values: Vec<&str> = chunk.iter().map(|(_, v)| v.as_str()).collect();
            let mut body = serde_json::Map::new();
            body.insert(list.to_owned(), values.into());
            calls.push(Call::post(
                format!("/client/v4/zones/{id}/{endpoint}"),
                vec![("Content-Type".to_owned(), "application/json".to_owned())],
                Some(serde_json::Value::Object(body).to_string()),
                chunk.iter().map(|(item, _)| *item).collect(),
            ));
        }
    }
    calls
}

#[derive(Deserialize)]
struct Envelope {
    success: bool,
    #[serde(default)]
    errors: Vec<Message>,
    result: Option<PurgeResult>,
}

#[derive(Deserialize)]
struct Message {
    code: Option<i64>,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct PurgeResult {
    id: Option<String>,
}

/// Cloudflare's own words for a failure: each of `errors`, with its code.
pub(super) fn message(body: &[u8]) -> Option<String> {
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    let said: Vec<String> = envelope
        .errors
        .iter()
        .map(|e| match e.code {
            Some(code) => format!("{} (code {code})", e.message),
            None => e.message.clone(),
        })
        .collect();
    (!said.is_empty()).then(|| said.join("; "))
}

/// What a 2xx answer means for every item of its call.
pub(super) fn success(body: &[u8]) -> Vec<Verdict> {
    vec![match serde_json::from_slice::<Envelope>(body) {
        Ok(Envelope { success: true, result, .. }) => Verdict::Purged(result.and_then(|r| r.id)),
        Ok(_) => Verdict::Rejected(format!(
            "Cloudflare answered success: false: {}",
            message(body).unwrap_or_else(|| "no error given".to_owned())
        )),
        Err(_) => Verdict::unreadable(Vendor::Cloudflare),
    }]
}
