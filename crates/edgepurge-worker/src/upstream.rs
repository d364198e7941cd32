//! Upstream CDN calls: each call of a plan's upstream groups (a Fastly service, a Cloudflare
//! zone) sent to its vendor's API through `fetch`, one at a time beside the instances' jobs
//! (the plan keeps a connection free for it). The core writes every call
//! (`core::upstream`) and reads every answer; this module adds the credential, sends, and
//! reads the answer's head and capped body.

use crate::body::{fetch_within, read_capped, Unread, Unsent};
use crate::trace::{clock, Tracer};
use edgepurge_core::config::Config;
use edgepurge_core::delivery::Limits;
use edgepurge_core::plan::Plan;
use edgepurge_core::trace::{Kind, Span};
use edgepurge_core::upstream::{auth_header, Call, CallRow, Reply, Upstream, MAX_REPLY_BYTES};
use futures_util::stream::{self, Stream, StreamExt};
use std::rc::Rc;
use wasm_bindgen::JsValue;
use worker::{Headers, Method, Request, RequestInit};

/// Response fields that identify a vendor's answer, for its support: Cloudflare's `cf-ray`,
/// then the usual request ids.
const REQUEST_ID_FIELDS: [&str; 3] = ["cf-ray", "x-request-id", "fastly-request-id"];

/// One upstream call, answered (or not).
pub struct CallDone {
    /// Its group: an index into `Plan::upstream`.
    pub group: usize,
    /// Its index among the group's calls.
    pub call: usize,
    /// The rows the core read from its answer.
    pub rows: Vec<CallRow>,
    /// The vendor's HTTP status, when it answered.
    pub http_status: Option<u16>,
    /// When it was sent and answered (the driver's clock).
    pub started_at: u64,
    pub ended_at: u64,
}

/// Every upstream call of `plan`, one at a time, as they finish, each within the attempt
/// timeout and the fan-out's deadline (`Limits::call_time`); a call the deadline leaves no
/// time for is not sent, and its rows are queued as unanswered.
pub fn calls(config: Rc<Config>, plan: Rc<Plan>, limits: Limits) -> impl Stream<Item = CallDone> {
    let all: Vec<(usize, usize)> =
        plan.upstream.iter().enumerate().flat_map(|(g, job)| (0..job.calls.len()).map(move |c| (g, c))).collect();
    stream::iter(all)
        .then(move |(group, call)| {
            let (config, plan) = (config.clone(), plan.clone());
            async move {
                let time = limits.call_time(clock())?;
                let job = &plan.upstream[group];
                let started_at = clock();
                let reply = send(&config, &job.upstream, &job.calls[call], time).await;
                let http_status = reply.as_ref().ok().map(|r| r.status);
                let rows = job.upstream.read(&job.calls[call], reply);
                Some(CallDone { group, call, rows, http_status, started_at, ended_at: clock() })
            }
        })
        .take_while(|done| futures_util::future::ready(done.is_some()))
        .filter_map(futures_util::future::ready)
}

/// The call's span under the request's: vendor, group, items carried, status, the vendor's
/// request id. Never the credential.
pub fn span(tracer: &Tracer, plan: &Plan, done: &CallDone) -> Span {
    let job = &plan.upstream[done.group];
    let id = tracer.ids.id("upstream", done.group, done.call);
    let call = &job.calls[done.call];
    let mut span = Span::new(id, Some(tracer.root()), "upstream purge", Kind::Client, done.started_at, done.ended_at)
        .with("edgepurge.vendor", job.upstream.vendor.as_str())
        .with("edgepurge.upstream", job.upstream.key())
        .with("edgepurge.items", call.items.len() as i64)
        .with("url.path", call.path.clone());
    if let Some(status) = done.http_status {
        span = span.with("http.response.status_code", i64::from(status));
    }
    if let Some(id) = done.rows.first().and_then(|r| r.request_id.clone()) {
        span = span.with("edgepurge.upstream.request_id", id);
    }
    match done.rows.iter().find(|r| !r.outcome.is_success()) {
        Some(row) => span.failed(row.error.clone().unwrap_or_default()),
        None => span,
    }
}

/// Sends one call with its vendor's credential: the answer's status, `Retry-After`, request id
/// and body (at most `MAX_REPLY_BYTES`; past it, none), or why there is none.
async fn send(config: &Config, upstream: &Upstream, call: &Call, timeout_ms: u64) -> Result<Reply, String> {
    let vendor = upstream.vendor;
    let api = config.upstream_api(vendor).ok_or_else(|| format!("no {vendor} API settings"))?;
    let failed = |e: worker::Error| format!("building the {vendor} call: {e}");
    let headers = Headers::new();
    for (name, value) in &call.headers {
        headers.set(name, value).map_err(failed)?;
    }
    if call.body.is_some() {
        headers.set("content-type", "application/json").map_err(failed)?;
    }
    let (name, value) = auth_header(vendor, &api.token);
    headers.set(name, &value).map_err(failed)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(call.body.as_deref().map(JsValue::from_str));
    let request = Request::new_with_init(&format!("{}{}", api.url, call.path), &init).map_err(failed)?;
    let mut response = match fetch_within(request, timeout_ms).await {
        Ok(response) => response,
        Err(Unsent::TimedOut) => return Err(format!("no answer within {timeout_ms} ms")),
        Err(Unsent::Failed(e)) => return Err(e),
    };
    let header = |name: &str| response.headers().get(name).ok().flatten();
    let retry_after = header("retry-after");
    let request_id = REQUEST_ID_FIELDS.iter().find_map(|f| header(f));
    let body = match read_capped(response.stream().ok(), MAX_REPLY_BYTES).await {
        Ok(body) => body,
        Err(Unread::TooLarge) => Vec::new(),
        Err(Unread::Broken(e)) => return Err(format!("reading the answer: {e}")),
    };
    Ok(Reply { status: response.status_code(), retry_after, request_id, body })
}
