//! Fastly's purge API (<https://www.fastly.com/documentation/reference/api/purging/>), as
//! documented, quirks included:
//!
//! - A URL purge is `POST /purge/{cached_url}`, the URL *without its scheme*
//!   (`www.example.com/path?q`), one URL per call; it is not scoped to a service (Fastly purges
//!   the URL wherever it is cached). The host part is the `Host` value, port included, since
//!   Fastly's default cache key is the URL and the `Host` header.
//! - A key purge of many keys is `POST /service/{id}/purge` with `Surrogate-Key: k1 k2 …`, "up
//!   to 256 surrogate keys … in one batch request"; the answer maps each key to its purge id,
//!   `{"k1": "108-1391560174-974124", …}`.
//! - `Fastly-Soft-Purge: 1` marks stale instead of removing, for URLs and keys; so soft and
//!   hard keys go in separate calls.
//! - `POST /service/{id}/purge_all` "cannot be done in soft mode" and empties the whole
//!   service, so a host purge is sent only when the rule says the service serves that host
//!   alone. It counts against the 1,000 writes an hour; URL and key purges do not.
//! - There is no prefix purge.
//! - A single purge answers `{"status": "ok", "id": "…"}`; an error `{"msg": "…"}`, sometimes
//!   with `"detail"` (`{"msg":"Record not found","detail":"Cannot find 'service'"}`).
//! - A 429 carries `Fastly-RateLimit-Reset` (epoch seconds, which would need a clock); only
//!   `Retry-After` is read here, else [`DEFAULT_RETRY_AFTER_SECS`].

use super::{Call, Vendor, Verdict};
use crate::dialect::Support;
use crate::purge::Purge;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Keys per batch call: "Up to 256 surrogate keys can be purged in one batch request".
pub const MAX_KEYS_PER_CALL: usize = 256;
/// The most bytes of one `Surrogate-Key` field: Fastly takes 69 KB of request header fields
/// in all, and 256 keys of 256 bytes would be 65.8 KB, so a batch of long keys is split
/// earlier.
pub const MAX_KEY_FIELD_BYTES: usize = 32 * 1024;
/// The header asking for a soft purge.
pub const SOFT_PURGE_HEADER: &str = "Fastly-Soft-Purge";
/// The header listing the keys of a batch purge.
pub const SURROGATE_KEY_HEADER: &str = "Surrogate-Key";
/// The wait after a 429 without `Retry-After`.
pub const DEFAULT_RETRY_AFTER_SECS: u32 = 60;

/// How far a Fastly service can do `purge`.
pub(super) fn support(purge: &Purge, whole_host: bool) -> Support {
    match purge {
        Purge::Url { .. } | Purge::Key { .. } => Support::Yes,
        Purge::Host { .. } if whole_host => Support::Yes,
        Purge::Prefix { .. } | Purge::Host { .. } => Support::No,
    }
}

fn headers(soft: bool) -> Vec<(String, String)> {
    let mut headers = vec![("Accept".to_owned(), "application/json".to_owned())];
    if soft {
        headers.push((SOFT_PURGE_HEADER.to_owned(), "1".to_owned()));
    }
    headers
}

/// The calls for `todo` (items this service can do): one per URL, key batches (hard, then
/// soft), and one `purge_all` carrying every host item.
pub(super) fn calls(id: &str, per_call: usize, todo: &[(usize, &Purge)]) -> Vec<Call> {
    let mut calls = Vec::new();
    let mut keys: [Vec<(usize, &str)>; 2] = [Vec::new(), Vec::new()];
    let mut hosts = Vec::new();
    for &(item, purge) in todo {
        match purge {
            Purge::Url { target, soft } => {
                let path = format!("/purge/{}{}", target.authority(), target.path_and_query());
                calls.push(Call::post(path, headers(*soft), None, vec![item]));
            }
            Purge::Key { key, soft, .. } => keys[usize::from(*soft)].push((item, key.as_str())),
            Purge::Host { .. } => hosts.push(item),
            Purge::Prefix { .. } => {}
        }
    }
    for (soft, keys) in [false, true].into_iter().zip(keys) {
        for batch in batches(&keys, per_call) {
            let mut headers = headers(soft);
            let field: Vec<&str> = batch.iter().map(|(_, key)| *key).collect();
            headers.push((SURROGATE_KEY_HEADER.to_owned(), field.join(" ")));
            let items = batch.iter().map(|(item, _)| *item).collect();
            calls.push(Call::post(format!("/service/{id}/purge"), headers, None, items));
        }
    }
    if !hosts.is_empty() {
        calls.push(Call::post(format!("/service/{id}/purge_all"), headers(false), None, hosts));
    }
    calls
}

/// `keys` cut into batches of at most `per_call` keys and [`MAX_KEY_FIELD_BYTES`] bytes.
fn batches<'a>(keys: &[(usize, &'a str)], per_call: usize) -> Vec<Vec<(usize, &'a str)>> {
    let mut out: Vec<Vec<(usize, &str)>> = Vec::new();
    let mut bytes = 0;
    for &(item, key) in keys {
        match out.last_mut() {
            Some(batch) if batch.len() < per_call && bytes + 1 + key.len() <= MAX_KEY_FIELD_BYTES => {
                bytes += 1 + key.len();
                batch.push((item, key));
            }
            _ => {
                bytes = key.len();
                out.push(vec![(item, key)]);
            }
        }
    }
    out
}

#[derive(Deserialize)]
struct Status {
    status: String,
    id: Option<String>,
}

#[derive(Deserialize)]
struct Problem {
    msg: Option<String>,
    title: Option<String>,
    detail: Option<String>,
}

/// Fastly's own words for a failure: `msg` (or an RFC 9457 `title`), with its `detail`.
pub(super) fn message(body: &[u8]) -> Option<String> {
    let problem: Problem = serde_json::from_slice(body).ok()?;
    match (problem.msg.or(problem.title), problem.detail) {
        (Some(msg), Some(detail)) => Some(format!("{msg} ({detail})")),
        (msg, detail) => msg.or(detail),
    }
}

/// What a 2xx answer means for each item of `call`.
pub(super) fn success(call: &Call, body: &[u8]) -> Vec<Verdict> {
    let Some(keys) = call.header(SURROGATE_KEY_HEADER) else {
        // One URL, or purge_all: {"status": "ok", "id": …}.
        return vec![match serde_json::from_slice::<Status>(body) {
            Ok(Status { status, id }) if status == "ok" => Verdict::Purged(id),
            Ok(Status { status, .. }) => Verdict::Rejected(
                message(body).map_or_else(|| format!("Fastly answered status {status:?}"), |m| format!("Fastly: {m}")),
            ),
            Err(_) => Verdict::unreadable(Vendor::Fastly),
        }];
    };
    // A batch: {"key": "purge id", …}, one entry per key.
    let Ok(ids) = serde_json::from_slice::<BTreeMap<String, String>>(body) else {
        return vec![Verdict::unreadable(Vendor::Fastly)];
    };
    keys.split(' ')
        .map(|key| match ids.get(key) {
            Some(id) => Verdict::Purged(Some(id.clone())),
            None => Verdict::Failed {
                error: format!("Fastly's answer has no purge id for key {key}"),
                retryable: true,
                retry_after: None,
            },
        })
        .collect()
}
