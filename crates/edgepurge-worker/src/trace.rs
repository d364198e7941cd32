//! Tracing I/O: the request's trace context from its headers, the spans the pipeline records,
//! and, after the reply, one JSON log line and the export of the trace to the OTLP collector.
//! What a span holds and how a trace is written is the core's (`edgepurge_core::trace`); this
//! keeps the clock readings and the randomness, and does the one POST.
//!
//! The export never touches a purge: it runs under `wait_until` after the reply, with a timeout
//! and a size cap, and its failures are only counted (`GET /api/health`) and logged.

use crate::body::{fetch_within, Unsent};
use crate::ctx::{load_config, now_ms};
use crate::fanout::Sockets;
use crate::random::random_bytes32;
use crate::shard::Shards;
use edgepurge_core::api::ExportStatus;
use edgepurge_core::config::OtelSettings;
use edgepurge_core::trace::{Kind, Span, SpanId, SpanIds, Trace, TraceContext, TraceId, Value};
use edgepurge_core::writes::Usage;
use futures_channel::oneshot;
use futures_util::future::join_all;
use std::cell::RefCell;
use std::rc::Rc;
use worker::{Env, Headers, Method, Request, RequestInit};

/// The largest trace exported (a purge of 100 URLs on 60 instances is about 3 MB of JSON).
const MAX_EXPORT_BYTES: usize = 8 * 1024 * 1024;
/// How long one export may take.
const EXPORT_TIMEOUT_MS: u64 = 5000;

thread_local! {
    /// How exporting has gone in this isolate (`GET /api/health`).
    static EXPORTS: RefCell<ExportStatus> = RefCell::new(ExportStatus::default());
}

/// The clock, in ms since the epoch.
pub fn clock() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0)
}

/// The export status this isolate has seen.
pub fn export_status() -> ExportStatus {
    EXPORTS.with(|e| e.borrow().clone())
}

/// One request's trace while it is served.
pub struct Tracer {
    /// The trace it belongs to: its own until the caller is authenticated, then the caller's.
    context: RefCell<TraceContext>,
    /// The caller's `traceparent`, when valid: continued once the caller is authenticated, else
    /// a link from the request's own root span.
    caller: Option<TraceContext>,
    /// Where its span ids come from.
    pub ids: SpanIds,
    kind: Kind,
    start: u64,
    spans: RefCell<Vec<Span>>,
    attributes: RefCell<Vec<(&'static str, Value)>>,
    failure: RefCell<Option<String>>,
    open: RefCell<Vec<oneshot::Receiver<()>>>,
}

impl Tracer {
    /// The trace of `req`: a new one, which continues the caller's (`traceparent`) only once
    /// [`Tracer::authenticated`] says who is calling.
    pub fn start(req: &Request) -> Rc<Tracer> {
        let header = |name: &str| req.headers().get(name).ok().flatten();
        let caller = TraceContext::caller(header("traceparent").as_deref(), header("tracestate").as_deref());
        Tracer::new(caller, Kind::Server)
    }

    /// A new trace for work nobody asked for over HTTP (the redelivery cron).
    pub fn background() -> Rc<Tracer> {
        Tracer::new(None, Kind::Internal)
    }

    fn new(caller: Option<TraceContext>, kind: Kind) -> Rc<Tracer> {
        let random = random_bytes32().unwrap_or([1; 32]);
        let mut trace = [0u8; 16];
        let mut seed = [0u8; 16];
        trace.copy_from_slice(&random[..16]);
        seed.copy_from_slice(&random[16..]);
        Rc::new(Tracer {
            context: RefCell::new(TraceContext::fresh(TraceId(trace))),
            caller,
            ids: SpanIds::new(seed),
            kind,
            start: clock(),
            spans: RefCell::default(),
            attributes: RefCell::default(),
            failure: RefCell::default(),
            open: RefCell::default(),
        })
    }

    /// The caller is authenticated: from now on the request belongs to the caller's trace, if
    /// it sent one. Call it before any span's trace id is handed out (a reply, a `PURGE`'s
    /// `traceparent`, a history row).
    pub fn authenticated(&self) {
        if let Some(caller) = &self.caller {
            *self.context.borrow_mut() = caller.clone();
        }
    }

    /// The trace it belongs to now.
    pub fn context(&self) -> TraceContext {
        self.context.borrow().clone()
    }

    /// The request's own span id.
    pub fn root(&self) -> SpanId {
        self.ids.root()
    }

    /// The `traceparent` of the request's span, for the reply.
    pub fn traceparent(&self) -> String {
        self.context.borrow().traceparent(self.root())
    }

    /// The trace id.
    pub fn trace_id(&self) -> String {
        self.context.borrow().trace_id.to_string()
    }

    /// Records a span.
    pub fn span(&self, span: Span) {
        self.spans.borrow_mut().push(span);
    }

    /// How many spans named `name` it has recorded: the number of the next one of them, so
    /// that spans recorded one at a time (a run's notifications) each get an id of their own.
    pub fn recorded(&self, name: &str) -> usize {
        self.spans.borrow().iter().filter(|s| s.name == name).count()
    }

    /// Records spans.
    pub fn spans(&self, spans: Vec<Span>) {
        self.spans.borrow_mut().extend(spans);
    }

    /// A child of the request's span from `start` to now.
    pub fn child(&self, name: &str, n: usize, start: u64) -> Span {
        Span::new(self.ids.id(name, n, 0), Some(self.root()), name, Kind::Internal, start, clock())
    }

    /// Sets an attribute of the request's span.
    pub fn attr(&self, key: &'static str, value: impl Into<Value>) {
        self.attributes.borrow_mut().push((key, value.into()));
    }

    /// What a fan-out held: the most sockets open at once in this invocation and, when it ran
    /// in shards, how many and the most any of them held (the one place these are named).
    pub fn fan_out(&self, sockets: &Sockets, shards: Option<&Shards>) {
        self.attr("edgepurge.sockets.peak", sockets.peak() as i64);
        if let Some((n, peak)) = shards.map(Shards::reported).filter(|(n, _)| *n > 0) {
            self.attr("edgepurge.shards", n as i64);
            self.attr("edgepurge.shards.sockets.peak", peak as i64);
        }
    }

    /// Marks the request's span failed (a refusal, or a purge not fully successful).
    /// What the invocation ran on the store: its statements and the rows they wrote.
    pub fn store_usage(&self, usage: Usage) {
        self.attr("edgepurge.d1.statements", i64::from(usage.statements));
        self.attr("edgepurge.d1.rows_written", i64::try_from(usage.rows_written).unwrap_or(i64::MAX));
    }

    pub fn fail(&self, why: impl Into<String>) {
        *self.failure.borrow_mut() = Some(why.into());
    }

    /// Keeps the trace open until the returned sender is used or dropped: the live purge goes
    /// on after the reply has started.
    pub fn hold(&self) -> oneshot::Sender<()> {
        let (done, wait) = oneshot::channel();
        self.open.borrow_mut().push(wait);
        done
    }
}

/// After an API request's reply: [`finish`] with the request's method, route and status.
pub async fn finish_request(tracer: Rc<Tracer>, env: Env, method: String, route: String, status: u16) {
    tracer.attr("http.request.method", method.clone());
    tracer.attr("http.route", route.clone());
    tracer.attr("http.response.status_code", i64::from(status));
    if status >= 400 && tracer.failure.borrow().is_none() {
        tracer.attr("error.type", status.to_string());
        tracer.fail(format!("HTTP {status}"));
    }
    finish(tracer, env, format!("{method} {route}")).await;
}

/// Waits for the work still under way, closes the root span (`name`), writes the JSON log line
/// and exports the trace (when an endpoint is set and it is sampled).
pub async fn finish(tracer: Rc<Tracer>, env: Env, name: String) {
    let waits: Vec<_> = tracer.open.borrow_mut().drain(..).collect();
    join_all(waits).await;
    let end = clock();
    let context = tracer.context();
    let mut root = Span::new(tracer.root(), context.parent, &name, tracer.kind, tracer.start, end);
    // Not continued (a refused or anonymous request): the caller's span is a link, not a parent.
    if let Some(caller) = tracer.caller.as_ref().filter(|c| c.trace_id != context.trace_id) {
        root.links.extend(caller.parent.map(|span| (caller.trace_id, span)));
    }
    root.attributes.extend(tracer.attributes.borrow().iter().cloned());
    if let Some(why) = tracer.failure.borrow().clone() {
        root = root.failed(why);
    }
    log_line(&tracer, &root, end);
    let mut spans = vec![root];
    spans.extend(tracer.spans.borrow_mut().drain(..));
    let trace = Trace { context, spans };
    let Ok(config) = load_config(&env) else { return };
    if let Some(otel) = &config.otel {
        if trace.keep(otel.ratio) {
            export(otel, &trace).await;
        }
    }
}

/// One JSON line per request: what Workers Logs and tail consumers see. Never a secret: only the
/// request span's attributes (route, caller, role, counts), which hold none.
fn log_line(tracer: &Tracer, root: &Span, end: u64) {
    let mut line = serde_json::Map::new();
    line.insert("trace_id".into(), tracer.trace_id().into());
    line.insert("span".into(), root.name.clone().into());
    line.insert("duration_ms".into(), (end.saturating_sub(root.start_ms)).into());
    for (key, value) in &root.attributes {
        let value = match value {
            Value::Str(s) => serde_json::Value::from(s.clone()),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Bool(b) => serde_json::Value::from(*b),
        };
        line.insert((*key).into(), value);
    }
    if let Some(why) = &root.error {
        line.insert("error".into(), why.clone().into());
    }
    worker::console_log!("{}", serde_json::Value::Object(line));
}

async fn export(otel: &OtelSettings, trace: &Trace) {
    let mut body = trace.otlp_json(&otel.service_name, env!("CARGO_PKG_VERSION"));
    if body.len() > MAX_EXPORT_BYTES {
        // Over the cap: sent without its request spans rather than not at all, and counted.
        body = trace.summarised().otlp_json(&otel.service_name, env!("CARGO_PKG_VERSION"));
        EXPORTS.with(|e| e.borrow_mut().summarised += 1);
    }
    let result = if body.len() > MAX_EXPORT_BYTES {
        Err(format!("trace of {} bytes is over the {MAX_EXPORT_BYTES}-byte cap even summarised: not sent", body.len()))
    } else {
        post(otel, body).await
    };
    let now = i64::try_from(clock()).unwrap_or(i64::MAX);
    EXPORTS.with(|e| {
        let mut e = e.borrow_mut();
        e.last_at = Some(now);
        e.last_ok = Some(result.is_ok());
        match &result {
            Ok(()) => e.exported += 1,
            Err(why) => {
                e.failed += 1;
                e.last_error = Some(why.clone());
            }
        }
    });
    if let Err(why) = result {
        let line = serde_json::json!({ "trace_export": "failed", "trace_id": trace.context.trace_id.to_string(), "error": why });
        worker::console_error!("{line}");
    }
}

async fn post(otel: &OtelSettings, body: Vec<u8>) -> Result<(), String> {
    let headers = Headers::new();
    let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| e.to_string());
    set("content-type", "application/json")?;
    for (name, value) in &otel.headers {
        set(name, value)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers.clone())
        .with_body(Some(js_sys::Uint8Array::from(&body[..]).into()));
    let request = Request::new_with_init(&otel.endpoint, &init).map_err(|e| e.to_string())?;
    match fetch_within(request, EXPORT_TIMEOUT_MS).await {
        Ok(response) if (200..300).contains(&response.status_code()) => Ok(()),
        Ok(response) => Err(format!("the collector answered HTTP {}", response.status_code())),
        Err(Unsent::Failed(e)) => Err(format!("the collector could not be reached: {e}")),
        Err(Unsent::TimedOut) => Err(format!("no answer from the collector within {EXPORT_TIMEOUT_MS} ms")),
    }
}
