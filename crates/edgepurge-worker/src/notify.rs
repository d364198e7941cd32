//! Webhook notifications: what `core::notify` decided, sent. Called after a purge's reply (under
//! `wait_until`) and at the end of a redelivery run; it never fails or holds up what it reports
//! on: every error is counted (`GET /api/health`), logged and put on the trace, nothing more.
//!
//! An event costs at most two D1 statements (its kind's count, then its minute's figures) and
//! one subrequest per webhook (kept out of the instances' budget by `Config::instance_budget`);
//! each POST runs under `NOTIFY_TIMEOUT_MS`, all webhooks at once.

use crate::body::{fetch_within, Unsent};
use crate::ctx::{now_ms, Base};
use crate::trace::{clock, Tracer};
use edgepurge_core::notify::{self, Event, Minute, NotifySettings, Rate, SIGNATURE_HEADER};
use edgepurge_core::ApiError;
use futures_util::future::join_all;
use worker::{Headers, Method, Request, RequestInit};

/// Sends `event` if the settings want its kind and its minute has room, else counts it held
/// back; one span on `tracer` says which, and how the POSTs went.
pub async fn send(base: &Base, event: Option<Event>, tracer: &Tracer) {
    let (Some(settings), Some(event)) = (base.config.notify.as_ref(), event) else { return };
    let kind = event.kind();
    if !settings.wants(kind) {
        return;
    }
    let start = clock();
    let result = deliver(base, settings, &event).await;
    let span = tracer.child("notify", 0, start).with("edgepurge.notify.kind", kind.as_str());
    let why = match &result {
        Ok(figures) => figures.last_error.clone(),
        Err(e) => Some(format!("not sent: {}", e.detail)),
    };
    let mut span = match &result {
        Ok(figures) => span
            .with("edgepurge.notify.sent", figures.sent as i64)
            .with("edgepurge.notify.failed", figures.failed as i64)
            .with("edgepurge.notify.held_back", figures.held_back as i64),
        Err(_) => span,
    };
    if let Some(why) = why {
        worker::console_error!("{}", serde_json::json!({ "notify": kind.as_str(), "error": why }));
        span = span.failed(why);
    }
    tracer.span(span);
}

/// Counts the event, then POSTs it or holds it back, and adds what happened to its minute.
async fn deliver(base: &Base, settings: &NotifySettings, event: &Event) -> Result<Minute, ApiError> {
    let now = now_ms();
    let window = base.store.notify_count(event.kind(), now, settings.per_minute).await?;
    let figures = match notify::rate(window, settings.per_minute) {
        Rate::Hold => Minute { held_back: 1, ..Minute::default() },
        Rate::Send { held, since } => {
            let trace_url = base.config.trace_url.as_deref();
            let message = notify::message(event, now, held, since, settings.console_url.as_deref(), trace_url);
            let body = notify::body(&message);
            let signature = notify::signature(&settings.secret, &body);
            let posts = settings.webhooks.iter().map(|url| post(url, &body, &signature, settings.timeout_ms));
            let results: Vec<Result<(), String>> = join_all(posts)
                .await
                .into_iter()
                .enumerate()
                .map(|(i, r)| r.map_err(|why| notify::failure(i, &why, &settings.webhooks)))
                .collect();
            notify::sent(&results, now_ms())
        }
    };
    base.store.notify_record(now, &figures).await?;
    Ok(figures)
}

/// One POST of `body` to `url`, within `timeout_ms`.
async fn post(url: &str, body: &[u8], signature: &str, timeout_ms: u32) -> Result<(), String> {
    let headers = Headers::new();
    let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| e.to_string());
    set("content-type", "application/json")?;
    set(SIGNATURE_HEADER, signature)?;
    set("user-agent", concat!("edgepurge/", env!("CARGO_PKG_VERSION")))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers.clone()).with_body(Some(js_sys::Uint8Array::from(body).into()));
    let request = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
    match fetch_within(request, u64::from(timeout_ms)).await {
        Ok(response) if (200..300).contains(&response.status_code()) => Ok(()),
        Ok(response) => Err(format!("answered HTTP {}", response.status_code())),
        Err(Unsent::Failed(e)) => Err(format!("could not be reached: {e}")),
        Err(Unsent::TimedOut) => Err(format!("no answer within {timeout_ms} ms")),
    }
}
