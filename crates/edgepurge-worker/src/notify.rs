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
use edgepurge_core::api::NotifyKind;
use edgepurge_core::notify::{self, Event, Minute, NotifySettings, Rate, SIGNATURE_HEADER};
use edgepurge_core::trace::Span;
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
    trace_told(tracer, span(tracer, start, kind), kind, result);
}

/// A `notify` span from `start` to now, numbered after those already recorded (a cron run may
/// send several: a recovered purge's, the abandoned deliveries', each kind's held back).
fn span(tracer: &Tracer, start: u64, kind: NotifyKind) -> Span {
    tracer.child("notify", tracer.recorded("notify"), start).with("edgepurge.notify.kind", kind.as_str())
}

/// The `notify` span of one notification of `kind`: how its POSTs went, or why it was not
/// sent; a failure is also logged, and fails the span.
fn trace_told(tracer: &Tracer, span: Span, kind: NotifyKind, result: Result<Minute, ApiError>) {
    let (span, why) = match result {
        Ok(figures) => (
            span.with("edgepurge.notify.sent", figures.sent as i64)
                .with("edgepurge.notify.failed", figures.failed as i64)
                .with("edgepurge.notify.held_back", figures.held_back as i64),
            figures.last_error,
        ),
        Err(e) => (span, Some(format!("not sent: {}", e.detail))),
    };
    match why {
        Some(why) => {
            worker::console_error!("{}", serde_json::json!({ "notify": kind.as_str(), "error": why }));
            tracer.span(span.failed(why));
        }
        None => tracer.span(span),
    }
}

/// Counts the event, then POSTs it or holds it back, and adds what happened to its minute.
async fn deliver(base: &Base, settings: &NotifySettings, event: &Event) -> Result<Minute, ApiError> {
    let now = now_ms();
    let window = base.store.notify_count(event.kind(), now, settings.per_minute).await?;
    let figures = match notify::rate(window, settings.per_minute) {
        Rate::Hold => Minute { held_back: 1, ..Minute::default() },
        Rate::Send { held, since } => post_all(base, settings, event, now, held, since).await,
    };
    base.store.notify_record(now, &figures).await?;
    Ok(figures)
}

/// The message for `event` (standing for `held` held back since `since` too), POSTed to every
/// webhook at once; how that went.
async fn post_all(
    base: &Base,
    settings: &NotifySettings,
    event: &Event,
    now: i64,
    held: u64,
    since: Option<i64>,
) -> Minute {
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

/// Tells of the events each kind held back that no notification sent since has summarised (the
/// cron calls it each run): a burst followed by quiet is told of within a minute, once. One
/// notification per such kind, not counted against the rate (it is the rate's summary); two
/// D1 statements each, after the one that reads them.
pub async fn send_held(base: &Base, tracer: &Tracer) {
    let Some(settings) = base.config.notify.as_ref() else { return };
    let untold = match base.store.notify_untold().await {
        Ok(untold) => untold,
        Err(e) => {
            worker::console_error!("{}", serde_json::json!({ "notify": "held back", "error": e.detail }));
            return;
        }
    };
    for untold in untold {
        let Some(kind) = untold.kind().filter(|k| settings.wants(*k)) else { continue };
        let start = clock();
        let told = async {
            if !base.store.notify_claim(&untold).await? {
                return Ok(None);
            }
            let now = now_ms();
            let event = notify::held_back(kind, now, Some(tracer.trace_id()));
            let figures = post_all(base, settings, &event, now, untold.held, untold.held_since).await;
            base.store.notify_record(now, &figures).await?;
            Ok::<_, ApiError>(Some(figures))
        };
        // Claimed by another run (or told of by an event since): nothing sent, no span.
        if let Some(result) = told.await.transpose() {
            let span = span(tracer, start, kind).with("edgepurge.notify.held_back_told", untold.held as i64);
            trace_told(tracer, span, kind, result);
        }
    }
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
