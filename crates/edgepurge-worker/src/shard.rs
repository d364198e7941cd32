//! Fan-out past one invocation's six connections: the shards.
//!
//! The core splits a plan with more instances than `CONCURRENCY` into shards
//! (`edgepurge_core::shard`). The calling invocation runs the first; each other one goes to a
//! [`Shard`] Durable Object, a new one per shard (`unique_id`), whose invocation has six
//! connections of its own. A shard runs exactly the jobs it was sent through the same
//! [`fanout::deliveries`] and streams each finished request back as one NDJSON line, then its
//! socket count. All shards run at once, and their rows reach the caller's report (and live
//! stream) as they finish. A shard that cannot be reached, or stops early, leaves its rows as
//! "no result": failed, retryable, queued for redelivery like any other failure.

use crate::fanout::{self, Finished, Sockets};
use edgepurge_core::api::shard::{ShardEvent, ShardPlan};
use edgepurge_core::delivery::Limits;
use edgepurge_core::ndjson::LineBuffer;
use edgepurge_core::plan::Plan;
use edgepurge_core::shard;
use futures_util::future::join_all;
use futures_util::stream::{self, Stream, StreamExt};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::pin::Pin;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use worker::{
    durable_object, ByteStream, DurableObject, Env, Method, ObjectNamespace, Request, RequestInit, Response, State,
};

/// A shard of a purge's fan-out: runs the jobs it is sent, streams back what each request did.
#[durable_object]
pub struct Shard {
    _state: State,
}

impl DurableObject for Shard {
    fn new(state: State, _env: Env) -> Self {
        Shard { _state: state }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let wire: ShardPlan = req.json().await?;
        let (plan, limits) = match shard::from_wire(wire) {
            Ok(run) => run,
            Err(e) => return Response::error(format!("shard plan refused: {e}"), 400),
        };
        let sockets = Sockets::default();
        let peak = sockets.clone();
        let lines = fanout::deliveries(&plan, limits, &sockets)
            .map(|Finished { job, done }| line(&shard::finished(job, &done)))
            .chain(stream::once(async move { line(&ShardEvent::End { sockets_peak: peak.peak() }) }));
        Response::from_stream(lines.map(Ok::<_, worker::Error>))
    }
}

fn line(event: &ShardEvent) -> Vec<u8> {
    let mut out = serde_json::to_vec(event).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The shards of one invocation's fan-out: the binding, and each shard's socket count.
#[derive(Clone)]
pub struct Shards {
    namespace: Rc<ObjectNamespace>,
    peaks: Rc<RefCell<Vec<usize>>>,
}

impl Shards {
    /// The `SHARDS` binding, if the deployment has it (without it, the fan-out stays in the
    /// calling invocation, `CONCURRENCY` instances at a time).
    pub fn from_env(env: &Env) -> Option<Shards> {
        let namespace = env.durable_object("SHARDS").ok()?;
        Some(Shards { namespace: Rc::new(namespace), peaks: Rc::default() })
    }

    /// Shards that reported their end, and the most sockets any of them held at once.
    pub fn reported(&self) -> (usize, usize) {
        let peaks = self.peaks.borrow();
        (peaks.len(), peaks.iter().copied().max().unwrap_or(0))
    }

    /// Starts `wire` in a new shard: its reply's body once the shard has answered, `None` (and
    /// a log line) if it could not be reached.
    async fn start(&self, wire: &ShardPlan) -> Option<ByteStream> {
        match open(&self.namespace, wire).await {
            Ok(body) => Some(body),
            Err(e) => {
                worker::console_error!("shard of {} instances unreachable: {e}", wire.jobs.len());
                None
            }
        }
    }

    /// A started shard's finished requests, as the caller's (`jobs` maps the shard's job indices
    /// to the caller's); ends with the shard's reply, early if it breaks.
    fn read(&self, body: Option<ByteStream>, jobs: Vec<usize>) -> impl Stream<Item = Finished> + 'static {
        let state = (body, LineBuffer::default(), VecDeque::new(), jobs, self.peaks.clone());
        stream::unfold(state, |(mut body, mut lines, mut ready, jobs, peaks)| async move {
            loop {
                if let Some(done) = ready.pop_front() {
                    return Some((done, (body, lines, ready, jobs, peaks)));
                }
                let chunk = match body.as_mut()?.next().await {
                    Some(Ok(chunk)) => chunk,
                    Some(Err(e)) => {
                        worker::console_error!("shard stream broke: {e}");
                        return None;
                    }
                    None => return None,
                };
                for line in lines.push(&chunk) {
                    match serde_json::from_str::<ShardEvent>(&line) {
                        Ok(ShardEvent::Finished(f)) => {
                            if let Some((job, done)) = shard::completed(&jobs, f) {
                                ready.push_back(Finished { job, done });
                            }
                        }
                        Ok(ShardEvent::End { sockets_peak }) => peaks.borrow_mut().push(sockets_peak),
                        Err(e) => worker::console_error!("shard sent an unreadable line: {e}"),
                    }
                }
            }
        })
    }
}

async fn open(namespace: &ObjectNamespace, wire: &ShardPlan) -> worker::Result<ByteStream> {
    let stub = namespace.unique_id()?.get_stub()?;
    let body = serde_json::to_string(wire).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(JsValue::from_str(&body)));
    let req = Request::new_with_init("https://shard.internal/run", &init)?;
    let mut resp = stub.fetch_with_request(req).await?;
    if resp.status_code() != 200 {
        return Err(worker::Error::RustError(format!("status {}: {}", resp.status_code(), resp.text().await?)));
    }
    resp.stream()
}

/// Every request of `plan`, yielded as each finishes: with `shards`, a plan past `CONCURRENCY`
/// instances runs its first shard here on `sockets` and each other one in a shard of its own,
/// all at once; otherwise all of it here, `CONCURRENCY` instances at a time.
///
/// The shards are started first, and this invocation's own sockets opened only once every
/// shard has answered: on Workers a request waiting for its response headers holds one of the
/// invocation's six connections, so sockets opened first would leave the shards queued behind
/// them until the local shard is done. (`wrangler dev` does not enforce the six; production
/// does.)
pub fn fan_out(
    plan: &Plan,
    limits: Limits,
    sockets: &Sockets,
    shards: Option<&Shards>,
) -> Pin<Box<dyn Stream<Item = Finished>>> {
    let Some(shards) = shards.filter(|_| plan.needs_shards()).cloned() else {
        return Box::pin(fanout::deliveries(plan, limits, sockets));
    };
    let mut parts = shard::split(plan).into_iter();
    let here = parts.next().unwrap_or_default();
    let remote: Vec<(ShardPlan, Vec<usize>)> = parts.map(|jobs| (shard::to_wire(plan, &jobs, limits), jobs)).collect();
    let local = plan.subset(&here);
    let sockets = sockets.clone();
    let starting = {
        let shards = shards.clone();
        async move {
            let bodies = join_all(remote.iter().map(|(wire, _)| shards.start(wire))).await;
            bodies.into_iter().zip(remote.into_iter().map(|(_, jobs)| jobs)).collect::<Vec<_>>()
        }
    };
    let all = stream::once(starting).flat_map(move |started| {
        let mut streams: Vec<Pin<Box<dyn Stream<Item = Finished>>>> =
            started.into_iter().map(|(body, jobs)| Box::pin(shards.read(body, jobs)) as _).collect();
        let here = here.clone();
        let own = fanout::deliveries(&local, limits, &sockets).filter_map(move |f| {
            futures_util::future::ready(here.get(f.job).map(|&job| Finished { job, done: f.done }))
        });
        streams.push(Box::pin(own));
        stream::select_all(streams)
    });
    Box::pin(all)
}
