//! Fastly- and Cloudflare-compatible purging: their requests translated into a
//! [`PurgeRequest`], and a report translated into the reply each client expects.
//!
//! | Fastly request | here |
//! |---|---|
//! | `POST /purge/{host}/{path}` | purge that URL (`https://{host}/{path}`) |
//! | `POST /service/{id}/purge/{key}` | purge a surrogate key |
//! | `POST /service/{id}/purge` with `Surrogate-Key: k1 k2` | purge several keys; reply `{"k1": id, "k2": id}` |
//! | `POST /service/{id}/purge_all` | purge every allowed host (admins only) |
//!
//! `Fastly-Soft-Purge: 1` asks for a soft purge (`0` or none: a hard one; any other value is refused). The service id is ignored: one edgepurge
//! deployment is one service. Cloudflare's `purge_cache` body ([`CloudflarePurge`]) maps
//! `files`, `tags`, `prefixes` (`host/path`, no scheme), `hosts` and `purge_everything` to URLs,
//! surrogate keys, prefixes and hosts, with Cloudflare's limit of 30 items per list.
//!
//! `invalidate_cache` takes the same body: `files` and `tags` are marked stale (soft purge: the
//! next request is served stale while a fresh copy is fetched), prefixes, hosts and everything
//! are purged (a Varnish ban cannot mark stale).
//!
//! A purge that did not reach every instance is never reported as ok: Fastly gets a 502 with
//! `"status": "error"`, Cloudflare a 502 with `"success": false`, both with the full report.

use crate::api::compat::{CloudflareMessage, CloudflarePurge, CloudflareReply, CloudflareResult, FastlyReply};
use crate::api::{PurgeReport, PurgeRequest, PurgeStatus};
use crate::error::{ApiError, ErrorKind};

/// Items per list Cloudflare accepts in one `purge_cache` request.
pub const CLOUDFLARE_LIST_LIMIT: usize = 30;

/// A Fastly purge, translated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FastlyRequest {
    /// What to purge.
    pub request: PurgeRequest,
    /// For a batch purge by `Surrogate-Key`: the keys, each named in the reply.
    pub batch: Option<Vec<String>>,
}

/// Translates a Fastly purge: `path` and `query` of the request, its `Fastly-Soft-Purge` and
/// `Surrogate-Key` headers, and the allowed hosts (for `purge_all`). 404 for any other path.
pub fn fastly_request(
    path: &str,
    query: Option<&str>,
    soft_purge: Option<&str>,
    surrogate_keys: Option<&str>,
    allowed_hosts: &[String],
) -> Result<FastlyRequest, ApiError> {
    let soft = match soft_purge.map(str::trim) {
        None | Some("0") => false,
        Some("1") => true,
        // A soft purge asked for in another spelling must not silently become a hard one.
        Some(other) => return Err(ApiError::bad_request(format!("Fastly-Soft-Purge must be 1 or 0, not {other:?}"))),
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let single = |request| Ok(FastlyRequest { request, batch: None });
    match segments.as_slice() {
        ["purge", rest @ ..] if rest.first().is_some_and(|h| !h.is_empty()) => {
            let mut url = format!("https://{}", rest.join("/"));
            if let Some(q) = query {
                url.push('?');
                url.push_str(q);
            }
            single(PurgeRequest { urls: vec![url], soft, ..Default::default() })
        }
        ["service", _, "purge", key] => {
            single(PurgeRequest { keys: vec![(*key).to_owned()], soft, ..Default::default() })
        }
        ["service", _, "purge"] => {
            let keys: Vec<String> = surrogate_keys.unwrap_or_default().split_whitespace().map(str::to_owned).collect();
            Ok(FastlyRequest {
                request: PurgeRequest { keys: keys.clone(), soft, ..Default::default() },
                batch: Some(keys),
            })
        }
        ["service", _, "purge_all"] => single(PurgeRequest { hosts: allowed_hosts.to_vec(), ..Default::default() }),
        _ => Err(ApiError::new(ErrorKind::NotFound, format!("no Fastly-compatible route for {path}"))),
    }
}

/// Which Cloudflare endpoint a body came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudflareAction {
    /// `purge_cache`: delete.
    Purge,
    /// `invalidate_cache`: mark stale, revalidate with the origin. edgepurge's soft purge for
    /// `files` and `tags`; a prefix, a host or everything cannot be marked stale in Varnish (a
    /// ban removes), so those are purged.
    Invalidate,
}

/// Cloudflare's purge body as a [`PurgeRequest`]; 400 or 422 for what Cloudflare refuses too.
pub fn cloudflare_request(
    body: &CloudflarePurge,
    allowed_hosts: &[String],
    action: CloudflareAction,
) -> Result<PurgeRequest, ApiError> {
    let lists = [
        ("files", body.files.len()),
        ("tags", body.tags.len()),
        ("prefixes", body.prefixes.len()),
        ("hosts", body.hosts.len()),
    ];
    if let Some((name, _)) = lists.iter().find(|(_, n)| *n > CLOUDFLARE_LIST_LIMIT) {
        return Err(ApiError::new(
            ErrorKind::TooManyUrls,
            format!("{name}: at most {CLOUDFLARE_LIST_LIMIT} per request"),
        ));
    }
    let any_list = lists.iter().any(|(_, n)| *n > 0);
    let soft = action == CloudflareAction::Invalidate;
    let stale_able = !body.files.is_empty() || !body.tags.is_empty();
    if soft && stale_able && (body.purge_everything || !body.prefixes.is_empty() || !body.hosts.is_empty()) {
        return Err(ApiError::bad_request(
            "invalidate_cache takes one kind of item: files or tags (marked stale), or prefixes, hosts or \
             purge_everything (purged)",
        ));
    }
    if body.purge_everything {
        if any_list {
            return Err(ApiError::bad_request("purge_everything cannot be combined with other lists"));
        }
        return Ok(PurgeRequest { hosts: allowed_hosts.to_vec(), ..Default::default() });
    }
    Ok(PurgeRequest {
        urls: body.files.iter().map(|f| f.url().to_owned()).collect(),
        keys: body.tags.clone(),
        prefixes: body.prefixes.iter().map(|p| format!("https://{p}")).collect(),
        hosts: body.hosts.clone(),
        soft: soft && stale_able,
        ..Default::default()
    })
}

/// The id of a purge in a compatible reply, from the time and a random number (both passed
/// in): `<ms hex>-<random hex>` in Fastly's form, `<ms hex><random hex>` in Cloudflare's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeId {
    /// Milliseconds since the epoch.
    pub now_ms: i64,
    /// A random number.
    pub random: u32,
}

impl PurgeId {
    fn fastly(self) -> String {
        format!("{:x}-{:08x}", self.now_ms, self.random)
    }

    fn cloudflare(self) -> String {
        format!("{:x}{:08x}", self.now_ms, self.random)
    }
}

fn shortfall(report: &PurgeReport) -> String {
    format!(
        "purge reached {} of {} (item, instance) pairs; failed ones are redelivered in the background",
        report.summary.purged + report.summary.not_cached + report.summary.unconfirmed,
        report.summary.total
    )
}

/// Fastly's reply for `report`: (HTTP status, body).
pub fn fastly_reply(report: PurgeReport, id: PurgeId, batch: Option<Vec<String>>) -> (u16, FastlyReply) {
    let id = id.fastly();
    if report.status != PurgeStatus::Purged {
        let msg = Some(shortfall(&report));
        return (502, FastlyReply::Single { status: "error".into(), msg, id, report: Some(Box::new(report)) });
    }
    match batch {
        Some(keys) => (200, FastlyReply::Batch(keys.into_iter().map(|k| (k, id.clone())).collect())),
        None => (200, FastlyReply::Single { status: "ok".into(), msg: None, id, report: None }),
    }
}

/// Cloudflare's reply envelope for `report`: (HTTP status, body).
pub fn cloudflare_reply(report: PurgeReport, id: PurgeId) -> (u16, CloudflareReply) {
    let id = id.cloudflare();
    if report.status == PurgeStatus::Purged {
        let result = CloudflareResult { id, report: None };
        return (200, CloudflareReply { success: true, errors: vec![], messages: vec![], result });
    }
    let errors = vec![CloudflareMessage { code: 1000, message: shortfall(&report) }];
    (
        502,
        CloudflareReply {
            success: false,
            errors,
            messages: vec![],
            result: CloudflareResult { id, report: Some(report) },
        },
    )
}
