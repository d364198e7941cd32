//! The purge pipeline, one for the JSON, NDJSON, Fastly and Cloudflare endpoints alike:
//! [`mod@caller`] (authenticated, counted) -> [`mod@prepare`] (rate limit, role, validation, discovery,
//! plan, the history entry written ahead) -> the fan-out (here) -> [`mod@finish`] (redelivery
//! queue, the entry completed, the notification sent after the reply).
//!
//! The order is the security contract: nothing leaves for any instance until the caller, the
//! body, every item and every host have been checked, discovery has succeeded for all, and the
//! history holds the purge. Refused attempts go to the history too, named by the labels the
//! core gives their items, within the bounds of `core::limits`.

mod caller;
mod finish;
mod prepare;

pub use caller::{authenticated, caller, identify};
pub use prepare::{prepare, start, Started};

use crate::ctx::{header, json_body, Base};
use crate::fanout::{Finished, Sockets};
use crate::problem::{internal, json};
use crate::random::random_u64;
use crate::shard::{fan_out, Shards};
use crate::trace::{clock, Tracer};
use crate::upstream;
use edgepurge_core::api::{PurgeEvent, PurgeReport, PurgeResult, SkippedGroup, SkippedInstance};
use edgepurge_core::config::Config;
use edgepurge_core::delivery::Limits;
use edgepurge_core::idempotency;
use edgepurge_core::plan::Plan;
use edgepurge_core::report::ReportBuilder;
use edgepurge_core::ApiError;
use finish::{complete_later, finish};
use futures_channel::{mpsc, oneshot};
use futures_util::stream::{self, Stream, StreamExt};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::pin::Pin;
use std::rc::Rc;
use worker::{Context, Env, Headers, Request, Response};

/// Each instance's recent typical request time, as this isolate last read them: the fan-out
/// starts the slowest first.
#[derive(Default)]
struct Latencies {
    /// When they were read (after a reply, at most once a minute: `stats::latency_refresh_due`).
    read_at: Option<i64>,
    /// Instance key to its typical time in ms.
    by_instance: BTreeMap<String, u32>,
}

thread_local! {
    static LATENCIES: RefCell<Latencies> = RefCell::new(Latencies::default());
}

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
    /// Per host, the Machines listed but not serving: rows to the `pending` ones (which may come
    /// back with old copies) are queued, nothing sent.
    held: BTreeMap<String, Vec<SkippedInstance>>,
    /// Who holds the entry's lease: only its owner completes it.
    owner: String,
    /// Who asked, as the history names them (for the notification).
    actor: String,
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

/// Runs every request of `plan` and collects each into the report.
pub async fn collect(
    config: &Rc<Config>,
    plan: &Rc<Plan>,
    limits: Limits,
    sockets: &Sockets,
    shards: Option<&Shards>,
    tracer: &Tracer,
) -> ReportBuilder {
    let mut report = ReportBuilder::new(plan);
    report.started(clock());
    let mut results = finished(config, plan, limits, sockets, shards);
    while let Some(done) = results.next().await {
        record(&mut report, plan, tracer, done);
    }
    report
}

/// What finished: an instance's request, or an upstream call.
enum Done {
    Instance(Finished),
    Upstream(upstream::CallDone),
}

/// The instances' requests (`fan_out`) and the upstream calls, as they finish.
fn finished(
    config: &Rc<Config>,
    plan: &Rc<Plan>,
    limits: Limits,
    sockets: &Sockets,
    shards: Option<&Shards>,
) -> Pin<Box<dyn Stream<Item = Done>>> {
    let calls = upstream::calls(config.clone(), plan.clone(), limits);
    Box::pin(stream::select(fan_out(plan, limits, sockets, shards).map(Done::Instance), calls.map(Done::Upstream)))
}

/// Records what finished in the report (an upstream call's span on the trace too); the rows
/// it finished, for the live report.
fn record(report: &mut ReportBuilder, plan: &Plan, tracer: &Tracer, done: Done) -> Vec<PurgeResult> {
    match done {
        Done::Instance(Finished { job, done }) => report.record(plan, job, &done).into_iter().collect(),
        Done::Upstream(call) => {
            tracer.span(upstream::span(tracer, plan, &call));
            let took = call.ended_at.saturating_sub(call.started_at);
            report.record_upstream(plan, call.group, &call.rows, call.http_status, call.started_at, took)
        }
    }
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
        let shards = base.shards.as_ref();
        let mut builder =
            collect(&base.config, &prepared.plan, limits, &prepared.sockets, shards, &prepared.tracer).await;
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
        let (builder, plan, tracer) = (builder.clone(), plan.clone(), prepared.tracer.clone());
        let limits = fan_out_limits(&base.config, &plan, prepared.budget);
        finished(&base.config, &prepared.plan, limits, &prepared.sockets, base.shards.as_ref()).flat_map(move |done| {
            let rows = record(&mut builder.borrow_mut(), &plan, &tracer, done);
            stream::iter(rows.into_iter().map(|row| (ndjson(&PurgeEvent::Result(row)), false)))
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
