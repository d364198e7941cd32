//! The purge pipeline, one for the JSON, NDJSON, Fastly and Cloudflare endpoints alike:
//! caller (counted) -> prepare (rate limit, role, validation, discovery, plan, the history entry
//! written ahead) -> fan-out -> finish (redelivery queue, the entry completed).
//!
//! The order is the security contract: nothing leaves for any instance until the caller, the
//! body, every item and every host have been checked, discovery has succeeded for all, and the
//! history holds the purge. Refused attempts go to the history too, named by the labels the
//! core gives their items, within the bounds of `core::limits`.

use crate::auth::{self, Identity, Refused};
use crate::ctx::{client, header, json_body, Base};
use crate::doh::Resolver;
use crate::fanout::{Finished, Sockets};
use crate::problem::{internal, json};
use crate::random::{random_u32, random_u64};
use crate::shard::{fan_out, Shards};
use crate::store::{Completion, HistoryRecord, Keyed, Lease, Store};
use crate::trace::{clock, Tracer};
use edgepurge_core::api::{
    HistoryKind, HistoryStatus, PurgeEvent, PurgeReport, PurgeRequest, PurgeStatus, SkippedGroup, SkippedInstance,
};
use edgepurge_core::auth::Action;
use edgepurge_core::config::Config;
use edgepurge_core::delivery::Limits;
use edgepurge_core::error::ErrorKind;
use edgepurge_core::idempotency::{self, Decision};
use edgepurge_core::lease;
use edgepurge_core::limits::{self, OverLimit};
use edgepurge_core::plan::Plan;
use edgepurge_core::purge::Purge;
use edgepurge_core::report::ReportBuilder;
use edgepurge_core::request::{confirm_for, labels, purges_for, skipped_groups};
use edgepurge_core::stats;
use edgepurge_core::target::Target;
use edgepurge_core::ApiError;
use futures_channel::{mpsc, oneshot};
use futures_util::stream::{self, Stream, StreamExt};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;
use worker::{Context, Env, Headers, Request, Response};

/// `POST /api/purge`: the report as JSON, or live as NDJSON for `Accept: application/x-ndjson`.
pub async fn endpoint(mut req: Request, env: &Env, ctx: &Context, tracer: &Rc<Tracer>) -> Result<Response, ApiError> {
    let base = Base::open(env)?;
    let caller = identify(&base, &req, tracer).await?;
    let wants_stream = header(&req, "accept")?.is_some_and(|a| a.contains("application/x-ndjson"));
    let key = header(&req, idempotency::HEADER)?;
    let prepared = match start(&base, &caller, json_body(&mut req), tracer, key.as_deref()).await? {
        Started::New(prepared) => prepared,
        // Asked for already under this key: the first purge's answer, and nothing sent.
        Started::Again(entry) => {
            let report = idempotency::report_of(&base.store.entry(entry).await?)?;
            if !wants_stream {
                return json(&report, report.status.http_status());
            }
            let line = ndjson(&PurgeEvent::Done(report));
            return Ok(Response::from_bytes(line).map_err(internal)?.with_headers(ndjson_headers()?));
        }
    };
    if !wants_stream {
        let report = run(ctx, base, prepared).await?;
        return json(&report, report.status.http_status());
    }
    let body = live(ctx, base, prepared).map(Ok::<Vec<u8>, worker::Error>);
    Ok(Response::from_stream(body).map_err(internal)?.with_headers(ndjson_headers()?))
}

/// The headers of a purge answered as NDJSON, live or (asked again) its one `done` line.
fn ndjson_headers() -> Result<Headers, ApiError> {
    let headers = Headers::new();
    headers.set("content-type", "application/x-ndjson").map_err(internal)?;
    headers.set("cache-control", "no-store").map_err(internal)?;
    Ok(headers)
}

/// A purge that passed every check and is in the history: its plan, who asked, and its
/// history entry.
pub struct Prepared {
    pub plan: Rc<Plan>,
    /// The instance connections this invocation holds.
    sockets: Sockets,
    tracer: Rc<Tracer>,
    /// Connections to instances left within `SUBREQUEST_BUDGET` after discovery.
    budget: usize,
    entry: i64,
    /// The groups items were not sent to (their contract cannot do them), for the report.
    skipped: Vec<SkippedGroup>,
    /// Machines listed but not purged now (`pending` ones may hold old copies).
    not_serving: Vec<SkippedInstance>,
    /// Per host, the Machines that may come back with old copies: rows queued, nothing sent.
    held: BTreeMap<String, Vec<(String, String)>>,
    /// Who holds the entry's lease: only its owner completes it.
    owner: String,
}

/// The limits of a fan-out starting now: the configured ones (`Limits::for_plan`), to end by
/// `FAN_OUT_DEADLINE_MS` from now, the time the platform allows it.
pub fn fan_out_limits(config: &Config, plan: &Plan, budget: usize) -> Limits {
    Limits::for_plan(config, plan, budget).until(clock() + u64::from(config.fan_out_deadline_ms))
}

/// A new lease owner's id: random, so that a takeover is told from the original.
pub fn lease_owner() -> String {
    format!("{:016x}", random_u64())
}

/// An identified caller of a purge route, and its requests this minute (this one included) once
/// counted. An accepted purge is counted in the batch that writes its history entry (one D1
/// round trip for both); a refused one on its way out; a caller this isolate already saw over
/// its limit right away, so it is refused before its body is read or discovery is asked.
pub struct Caller {
    pub identity: Identity,
    calls: Option<i64>,
}

impl Caller {
    fn key(&self) -> String {
        rate_key(&self.identity)
    }
}

fn rate_key(identity: &Identity) -> String {
    format!("person:{}", identity.person.id)
}

thread_local! {
    /// The callers this isolate saw over `RATE_LIMIT_PER_MINUTE` this minute.
    static OVER_LIMIT: RefCell<OverLimit> = RefCell::new(OverLimit::default());
    /// Each instance's recent typical request time, and when this isolate read them (after a
    /// reply, at most once a minute): the fan-out starts the slowest first.
    static LATENCIES: RefCell<(Option<i64>, BTreeMap<String, u32>)> = const { RefCell::new((None, BTreeMap::new())) };
}

/// Reads the instances' typical times again if they are due (`core::stats`).
async fn refresh_latencies(base: &Base) {
    let due = LATENCIES.with(|l| {
        let mut l = l.borrow_mut();
        let due = stats::latency_refresh_due(l.0, base.now);
        if due {
            // Marked first, so concurrent purges in this isolate do not read them too.
            l.0 = Some(base.now);
        }
        due
    });
    if !due {
        return;
    }
    match base.store.typical_latencies(stats::latency_since_hour(base.now)).await {
        Ok(map) => LATENCIES.with(|l| l.borrow_mut().1 = map),
        Err(e) => worker::console_error!("reading the instances' typical times failed: {}", e.detail),
    }
}

/// Counts one request by `key` now, and notes whether it is over the limit.
async fn count(base: &Base, key: &str) -> Result<i64, ApiError> {
    let calls = base.store.hit(key, base.now).await?;
    saw(base, key, calls);
    Ok(calls)
}

fn saw(base: &Base, key: &str, calls: i64) {
    OVER_LIMIT.with(|o| o.borrow_mut().saw(key, calls, base.config.rate_limit_per_minute, base.now));
}

/// The caller of a purge route, as authentication found them. Every request of an identified
/// caller counts towards `RATE_LIMIT_PER_MINUTE`, refused or not; a refusal is recorded within
/// the bounds of `core::limits` (the caller's limit, or the refusal budget for unknown callers).
pub async fn caller(
    base: &Base,
    req: &Request,
    who: Result<Identity, Refused>,
    tracer: &Tracer,
) -> Result<Caller, ApiError> {
    let limit = base.config.rate_limit_per_minute;
    let (identity, refusal) = match who {
        Ok(identity) => (identity, None),
        Err(Refused { who: Some(identity), error }) => (identity, Some(error)),
        Err(Refused { who: None, error }) => {
            record_anonymous(base, req, &error, tracer).await;
            return Err(error);
        }
    };
    let key = rate_key(&identity);
    match refusal {
        None => {
            let known = OVER_LIMIT.with(|o| o.borrow().known(&key, base.now));
            let calls = if known { Some(count(base, &key).await?) } else { None };
            Ok(Caller { identity, calls })
        }
        Some(error) => {
            let calls = count(base, &key).await?;
            let error = limits::over(calls, limit, base.now, PURGES).unwrap_or(error);
            if limits::record_refusal(calls, limit) {
                record_refusal(&base.store, base.now, Some(&identity), Vec::new(), &error, Some(tracer.trace_id()))
                    .await;
            }
            Err(error)
        }
    }
}

const PURGES: &str = "purge requests (RATE_LIMIT_PER_MINUTE)";

/// Authenticates the caller the API's way (bearer token, Access JWT or session, with the CSRF
/// rule for sessions), recorded as the trace's `authenticate` span.
pub async fn identify(base: &Base, req: &Request, tracer: &Tracer) -> Result<Caller, ApiError> {
    let start = clock();
    let who = auth::authenticate(req, &base.config, &base.store, base.now).await;
    let caller = caller(base, req, who, tracer).await;
    authenticated(tracer, start, &caller);
    caller
}

/// Records authentication's span and who the caller is; an authenticated caller's trace
/// context is continued from here on.
pub fn authenticated(tracer: &Tracer, start: u64, caller: &Result<Caller, ApiError>) {
    let span = tracer.child("authenticate", 0, start);
    match caller {
        Ok(Caller { identity, .. }) => {
            tracer.authenticated();
            tracer.attr("edgepurge.caller", identity.person.name.clone());
            tracer.attr("edgepurge.role", identity.person.role.as_str());
            tracer.attr("edgepurge.via", identity.via.as_str());
            tracer.span(span.with("edgepurge.via", identity.via.as_str()));
        }
        Err(e) => tracer.span(span.with("error.type", e.status().to_string()).failed(e.detail.clone())),
    }
}

/// Everything between an authenticated caller and the fan-out: the role, the request (read
/// after the role check, so a caller without the role is refused before its body is read),
/// validation into purges, discovery and the plan; then the rate limit and the history entry,
/// written ahead, in one D1 batch: over the limit (429), or if the entry cannot be written
/// (503), nothing is sent. A refused request is counted too, and a 429 wins over any other
/// refusal. A refusal is recorded in the history, naming the request's items, before it is
/// returned.
pub async fn prepare(
    base: &Base,
    caller: &Caller,
    request: impl Future<Output = Result<PurgeRequest, ApiError>>,
    tracer: &Rc<Tracer>,
) -> Result<Prepared, ApiError> {
    match start(base, caller, request, tracer, None).await? {
        Started::New(prepared) => Ok(prepared),
        Started::Again(entry) => Err(internal(format!("history entry {entry} answered a request without a key"))),
    }
}

/// What a purge request starts: a new purge, or (with an `Idempotency-Key` already used for
/// the same request) nothing, answered by the first purge's history entry.
pub enum Started {
    New(Prepared),
    Again(i64),
}

/// [`prepare`] with the caller's `Idempotency-Key`, if it sent one: within the window, the same
/// key and request start nothing new (`Started::Again`), another request under it is a 422, and
/// a new purge remembers it in the batch that writes its entry.
pub async fn start(
    base: &Base,
    caller: &Caller,
    request: impl Future<Output = Result<PurgeRequest, ApiError>>,
    tracer: &Rc<Tracer>,
    idempotency_key: Option<&str>,
) -> Result<Started, ApiError> {
    let (identity, limit, key) = (&caller.identity, base.config.rate_limit_per_minute, caller.key());
    let mut items = Vec::new();
    let mut budget = 0;
    let mut calls = caller.calls;
    let result = async {
        if let Some((n, e)) = calls.and_then(|n| Some((n, limits::over(n, limit, base.now, PURGES)?))) {
            // Read (capped) only to name the items of the one 429 a minute that is recorded.
            if limits::record_refusal(n, limit) {
                items = request.await.map(|r| labels(&base.config, &r)).unwrap_or_default();
            }
            return Err(e);
        }
        identity.require(Action::Purge)?;
        let idempotency_key = idempotency_key.map(idempotency::key).transpose()?;
        let request = request.await?;
        items = labels(&base.config, &request);
        let purges = purges_for(&base.config, identity.person.role, &request)?;
        let person_id = identity.person.id;
        let keyed = match idempotency_key {
            None => None,
            Some(key) => {
                let fingerprint = idempotency::fingerprint(&request);
                let remembered = base.store.remembered(person_id, &key).await?;
                let window = base.config.idempotency_window_ms;
                match idempotency::decide(remembered.as_ref(), &fingerprint, base.now, window)? {
                    Decision::Again(entry) => {
                        // Asked again is a request too: it counts, and over the limit it is a 429.
                        let n = count(base, &caller.key()).await?;
                        calls = Some(n);
                        if let Some(e) = limits::over(n, limit, base.now, PURGES) {
                            return Err(e);
                        }
                        return Ok(Started::Again(entry));
                    }
                    Decision::Fresh => {
                        let forget_before = base.now - i64::from(window);
                        Some(Keyed { person_id, key, fingerprint, forget_before })
                    }
                }
            }
        };
        let skipped = skipped_groups(&base.config, &request);
        let confirm = confirm_for(&base.config, &request)?;
        let mut resolver = Resolver::new(&base.config).traced(tracer.clone());
        let hosts = purges.iter().map(Purge::host).chain(confirm.named.iter().map(Target::host));
        let instances = resolver.resolve_hosts(hosts).await?;
        let (not_serving, held) = (resolver.not_serving(), resolver.held());
        let start = clock();
        let (token, concurrency) = (&base.config.purge_token, base.config.concurrency);
        let mut plan = Plan::confirming(purges, &instances, token, concurrency, &confirm)?;
        let timed = LATENCIES.with(|l| {
            let figures = &l.borrow().1;
            plan.slowest_first(figures);
            plan.jobs.iter().filter(|j| figures.contains_key(&j.instance.key())).count()
        });
        plan.trace(&tracer.context(), &tracer.ids);
        budget = base.config.instance_budget(resolver.subrequests());
        let early = plan.early_connects(base.shards.is_some());
        let s = plan.summary();
        let span = tracer.child("plan", 0, start).with("edgepurge.instances", s.instances as i64);
        tracer.span(
            span.with("edgepurge.requests", s.requests as i64)
                .with("edgepurge.concurrency", s.concurrency as i64)
                .with("edgepurge.budget", budget as i64)
                .with("edgepurge.instances.timed", timed as i64)
                .with("edgepurge.connections.early", early.len() as i64)
                // Each item's full label once, line `i` for `edgepurge.item.index` `i` (request
                // spans carry the index and a cut label).
                .with("edgepurge.items", plan.purges.iter().map(Purge::label).collect::<Vec<_>>().join("\n")),
        );
        plan.check_budget(budget)?;
        plan.check_report(base.config.max_report_bytes)?;
        // The lease: by when this fan-out will have ended, plus the margin; past it, the cron
        // runs the purge again (`core::lease`).
        let limits = Limits::for_plan(&base.config, &plan, budget);
        let lease_until = lease::lease_until_for(base.now, &plan, &limits, &base.config);
        let owner = lease_owner();
        let entry = HistoryRecord {
            at: base.now,
            actor: identity.person.name.clone(),
            person_id: Some(identity.person.id),
            labels: plan.purges.iter().map(Purge::label).collect(),
            status: HistoryStatus::Running,
            http_status: 0,
            detail: None,
            trace_id: Some(tracer.trace_id()),
            kind: HistoryKind::Purge,
            lease: Some(Lease {
                until: lease_until,
                owner: owner.clone(),
                replay: lease::replay(&plan.purges, &confirm),
            }),
        };
        // The first connections open while the history is written (nothing is sent on them
        // before it holds the purge); over the limit, or if the write fails, they close unused.
        let sockets = Sockets::default();
        sockets.open_early(&plan, &early);
        let written = base.store.record_within(&entry, &key, limit, keyed.as_ref()).await;
        let (n, entry) = match written {
            Ok(written) => written,
            Err(e) => {
                // The batch fails on a key another request under it remembered meanwhile: that
                // one is the purge, this one is it again.
                let raced = match &keyed {
                    Some(k) => base.store.remembered(person_id, &k.key).await.ok().flatten().map(|r| (k, r)),
                    None => None,
                };
                if let Some((k, remembered)) = raced {
                    worker::console_log!("a concurrent request under the same Idempotency-Key won: {}", e.detail);
                    let window = base.config.idempotency_window_ms;
                    return match idempotency::decide(Some(&remembered), &k.fingerprint, base.now, window)? {
                        Decision::Again(entry) => Ok(Started::Again(entry)),
                        Decision::Fresh => Err(internal("the Idempotency-Key was remembered and forgotten at once")),
                    };
                }
                worker::console_error!("history write-ahead failed, nothing sent: {}", e.detail);
                return Err(ApiError::new(
                    ErrorKind::AuditUnavailable,
                    "the history could not record this purge, so nothing was sent",
                ));
            }
        };
        calls = Some(n);
        saw(base, &key, n);
        let entry = entry.ok_or_else(|| {
            limits::over(n, limit, base.now, PURGES).unwrap_or_else(|| internal("the history entry was not written"))
        })?;
        Ok(Started::New(Prepared {
            plan: Rc::new(plan),
            sockets,
            tracer: tracer.clone(),
            budget,
            entry,
            skipped,
            not_serving,
            held,
            owner,
        }))
    }
    .await;
    let Err(error) = result else { return result };
    let calls = match calls {
        Some(n) => Some(n),
        // Refused before the batch that counts: counted now (if D1 cannot, the refusal stands).
        None => count(base, &key).await.map_err(|e| worker::console_error!("rate count failed: {}", e.detail)).ok(),
    };
    let Some(calls) = calls else { return Err(error) };
    let error = limits::over(calls, limit, base.now, PURGES).unwrap_or(error);
    if limits::record_refusal(calls, limit) {
        record_refusal(&base.store, base.now, Some(identity), items, &error, Some(tracer.trace_id())).await;
    }
    Err(error)
}

/// Runs every request of `plan` and collects each into the report.
pub async fn collect(plan: &Plan, limits: Limits, sockets: &Sockets, shards: Option<&Shards>) -> ReportBuilder {
    let mut report = ReportBuilder::new(plan);
    report.started(clock());
    let mut results = fan_out(plan, limits, sockets, shards);
    while let Some(Finished { job, done }) = results.next().await {
        report.record(plan, job, &done);
    }
    report
}

/// Fans the purge out and finishes it: the report the caller gets. The work runs under
/// `wait_until`, so a caller who hangs up does not cancel it: a purge that has started always
/// completes its history entry and queues its redeliveries.
pub async fn run(ctx: &Context, base: Base, prepared: Prepared) -> Result<PurgeReport, ApiError> {
    let (reply, report) = oneshot::channel();
    let held = prepared.tracer.hold();
    ctx.wait_until(async move {
        let _held = held;
        let limits = fan_out_limits(&base.config, &prepared.plan, prepared.budget);
        let mut builder = collect(&prepared.plan, limits, &prepared.sockets, base.shards.as_ref()).await;
        builder.hold(&prepared.plan, &prepared.held);
        let (report, later) = finish(&base, &prepared, builder).await;
        // The caller may be gone: the report is then only in the history.
        let _ = reply.send(report);
        complete_later(&base, &prepared, later).await;
    });
    report.await.map_err(internal)
}

/// The live form of [`run`], also kept running after the caller hangs up: one NDJSON line when
/// the plan is made, one per finished (item, instance), and the report at the end.
pub fn live(ctx: &Context, base: Base, prepared: Prepared) -> impl Stream<Item = Vec<u8>> {
    let (lines, received) = mpsc::unbounded();
    let held = prepared.tracer.hold();
    ctx.wait_until(async move {
        let _held = held;
        let mut events = Box::pin(events(base, prepared));
        let mut lines = Some(lines);
        while let Some((line, last)) = events.next().await {
            // The caller may be gone: the purge goes on to its end regardless.
            if let Some(sender) = &lines {
                let _ = sender.unbounded_send(line);
            }
            if last {
                // The report is out: the reply ends here, whatever is still written after it.
                lines = None;
            }
        }
    });
    received
}

/// The live purge's lines, each with whether it is the last one (the report).
fn events(base: Base, prepared: Prepared) -> impl Stream<Item = (Vec<u8>, bool)> {
    let plan = prepared.plan.clone();
    let builder = Rc::new(RefCell::new(ReportBuilder::new(&plan)));
    builder.borrow_mut().started(clock());
    // Rows nothing will finish (Machines that may hold old copies): sent right after the plan.
    let held = builder.borrow_mut().hold(&plan, &prepared.held);
    let started = ndjson(&PurgeEvent::Started { pairs: builder.borrow().pairs() });
    let held = held.into_iter().map(|row| (ndjson(&PurgeEvent::Result(row)), false));
    let rows = {
        let (builder, plan) = (builder.clone(), plan.clone());
        let limits = fan_out_limits(&base.config, &plan, prepared.budget);
        fan_out(&plan, limits, &prepared.sockets, base.shards.as_ref()).filter_map(move |Finished { job, done }| {
            let row = builder.borrow_mut().record(&plan, job, &done);
            futures_util::future::ready(row.map(|row| (ndjson(&PurgeEvent::Result(row)), false)))
        })
    };
    // The report's line, then (once it is sent) the history entry's completion, if it waited.
    let done = stream::unfold(Some((base, prepared, builder, None)), |state| async move {
        let (base, prepared, builder, later) = state?;
        if let Some(later) = later {
            complete_later(&base, &prepared, later).await;
            return None;
        }
        let finished = builder.borrow().clone();
        let (report, later) = finish(&base, &prepared, finished).await;
        Some(((ndjson(&PurgeEvent::Done(report)), true), Some((base, prepared, builder, Some(later)))))
    });
    stream::once(futures_util::future::ready((started, false))).chain(stream::iter(held)).chain(rows).chain(done)
}

fn ndjson<T: serde::Serialize>(event: &T) -> Vec<u8> {
    let mut line = serde_json::to_vec(event)
        .unwrap_or_else(|e| format!("{{\"event\":\"error\",\"detail\":\"{e}\"}}").into_bytes());
    line.push(b'\n');
    line
}

/// Finishes a purge's report: queues what failed retryably for background redelivery (marking
/// those rows pending) and completes its history entry with the per-instance results; a
/// failure there is in the report (`audit_error`), not only in the log. When nothing is queued
/// the completion is not part of the answer: it comes back to be written after the reply
/// ([`complete_later`]), off the caller's wait; the write-ahead entry is there before any
/// `PURGE` either way.
async fn finish(base: &Base, prepared: &Prepared, mut builder: ReportBuilder) -> (PurgeReport, Option<Completion>) {
    let (store, config, now, shards) = (&base.store, &base.config, base.now, base.shards.as_ref());
    let queued = builder.queue_retryable();
    let tracer = &prepared.tracer;
    tracer.spans(builder.spans(&prepared.plan, tracer.root(), &tracer.ids));
    let mut report = builder.finish();
    report.trace_id = Some(tracer.trace_id());
    report.skipped = prepared.skipped.clone();
    report.skipped_instances = prepared.not_serving.clone();
    let s = &report.summary;
    tracer.attr("edgepurge.purge_status", HistoryStatus::from(report.status).as_str());
    tracer.fan_out(&prepared.sockets, shards);
    // These attributes are also the request's one JSON log line (`trace::finish`, after the
    // reply): a console line of its own here would cost the caller's wait.
    tracer.attr("edgepurge.entry", prepared.entry);
    for (key, n) in [
        ("edgepurge.items", prepared.plan.purges.len()),
        ("edgepurge.instances", report.plan.instances),
        ("edgepurge.pairs", s.total),
        ("edgepurge.purged", s.purged),
        ("edgepurge.not_cached", s.not_cached),
        ("edgepurge.unconfirmed", s.unconfirmed),
        ("edgepurge.rejected", s.rejected),
        ("edgepurge.failed", s.failed),
    ] {
        tracer.attr(key, n as i64);
    }
    if report.status != PurgeStatus::Purged {
        tracer.fail(format!(
            "purge {}: {} of {} pairs failed or were rejected",
            HistoryStatus::from(report.status).as_str(),
            s.failed + s.rejected,
            s.total
        ));
    }
    let completion = Completion {
        status: report.status.into(),
        http_status: report.status.http_status(),
        results: report.results.clone(),
        queued,
        next_at: config.redelivery.next_at(now, 1, random_u32()),
        owner: prepared.owner.clone(),
        recovered: false,
    };
    if completion.queued.is_empty() {
        return (report, Some(completion));
    }
    if let Some(why) = not_completed(prepared, store.complete(prepared.entry, now, &completion).await) {
        // The entry was not completed here, and nothing was queued: the report must say so.
        worker::console_error!(
            "history entry {} not completed, {} deliveries not queued: {why}",
            prepared.entry,
            completion.queued.len()
        );
        for row in &mut report.results {
            row.pending = false;
        }
        report.audit_error = Some(format!(
            "history entry {} could not be completed with these results, and the {} failed pairs were not queued \
             for redelivery: {why}",
            prepared.entry,
            completion.queued.len()
        ));
    }
    (report, None)
}

/// What is left after the reply: the history entry's completion, when nothing was queued (the
/// report promised nothing that depends on it; a failure leaves the entry `running` and is
/// logged and traced), and the instances' typical times when due. The trace then gets what the
/// invocation ran on the store.
async fn complete_later(base: &Base, prepared: &Prepared, completion: Option<Completion>) {
    if let Some(completion) = completion {
        if let Some(why) = not_completed(prepared, base.store.complete(prepared.entry, base.now, &completion).await) {
            worker::console_error!("history entry {} not completed: {why}", prepared.entry);
            prepared.tracer.fail(format!("history entry {} not completed: {why}", prepared.entry));
        }
    }
    refresh_latencies(base).await;
    prepared.tracer.store_usage(base.store.usage());
}

/// Why a completion did not complete the entry, if it did not: the write failed, or the cron
/// took the entry over after its lease ran out (its run's results are the entry's).
fn not_completed(prepared: &Prepared, completed: Result<bool, ApiError>) -> Option<String> {
    match completed {
        Ok(true) => None,
        Ok(false) => Some(format!(
            "its lease ran out and the cron took entry {} over: that run's results are the entry's",
            prepared.entry
        )),
        Err(e) => Some(e.detail),
    }
}

/// Writes a purge attempt refused before the caller was known, within the refusal budget: at
/// most `REFUSAL_BUDGET_PER_MINUTE` a minute for the whole deployment and a quarter of that for
/// each client (IPv6: per /64). Over either budget a refusal costs reads and no write.
async fn record_anonymous(base: &Base, req: &Request, err: &ApiError, tracer: &Tracer) {
    let (store, now, budget) = (&base.store, base.now, base.config.refusal_budget_per_minute);
    let recorded = async {
        if store.peek("refusals", now).await? >= i64::from(budget) {
            return Ok(false);
        }
        // One client gets a quarter of the budget, so it cannot silence everyone else's refusals;
        // past it, its refusals write nothing at all (a read, then an upsert whose condition fails).
        if store.hit_below(&format!("anonymous:{}", client(req)), now, (budget / 4).max(1)).await?.is_none() {
            return Ok(false);
        }
        store.hit("refusals", now).await?;
        Ok::<_, ApiError>(true)
    };
    match recorded.await {
        Ok(true) => record_refusal(store, now, None, Vec::new(), err, Some(tracer.trace_id())).await,
        Ok(false) => {}
        Err(e) => worker::console_error!("refusal budget check failed: {}", e.detail),
    }
}

/// Writes a refused or failed purge attempt to the history. A history write that fails is
/// logged, never allowed to change the caller's answer.
async fn record_refusal(
    store: &Store,
    now: i64,
    identity: Option<&Identity>,
    labels: Vec<String>,
    err: &ApiError,
    trace_id: Option<String>,
) {
    let record = HistoryRecord {
        at: now,
        actor: identity.map_or_else(|| "(not signed in)".to_owned(), |i| i.person.name.clone()),
        person_id: identity.map(|i| i.person.id),
        labels,
        status: HistoryStatus::refused(err.status()),
        http_status: err.status(),
        detail: Some({
            let p = err.problem();
            format!("{}: {}", p.title, p.detail)
        }),
        trace_id,
        kind: HistoryKind::Purge,
        lease: None,
    };
    if let Err(e) = store.record(&record).await {
        worker::console_error!("history write failed: {e}");
    }
}
