//! Fan-out past one invocation's connection limit.
//!
//! Workers lets one invocation hold 6 connections at once, so a plan with more instances than
//! `CONCURRENCY` would work through them in waves. Instead its jobs are split into shards of at
//! most `CONCURRENCY` instances ([`split`]); the caller runs the first and hands each other one
//! to an invocation of its own (a Durable Object: its own 6 connections), all at once. A shard
//! gets whole jobs, the request bytes exactly as the core wrote them ([`to_wire`]), runs them
//! with the same state machine, and sends each finished request back classified
//! ([`finished`]); the caller turns those back into [`Completed`]s ([`completed`]) for its one
//! report. Only the core's API module is serialised: these are its `shard` types.

use crate::api::shard::{ShardEvent, ShardFinished, ShardJob, ShardPlan, ShardRequest};
use crate::delivery::{Completed, Limits, Timing};
use crate::dialect::Dialect;
use crate::discovery::{Endpoint, Instance};
use crate::http1::Answer;
use crate::outcome::{Classified, DeliveryError};
use crate::plan::{Job, Plan, PlannedRequest};
use crate::retry::RetryPolicy;

/// The plan's jobs split into shards of at most `plan.concurrency` each, as even as can be; one
/// shard (the caller's own, the first) when they fit. Shards take the jobs in their start order
/// (`Plan::slowest_first`): the Durable Object shards, started first, get the slowest
/// instances, and the caller's own shard, which opens its sockets only once every other shard
/// has answered, the fastest. Each shard lists job indices, in start order.
pub fn split(plan: &Plan) -> Vec<Vec<usize>> {
    let order = plan.start_order();
    let jobs = order.len();
    let cap = plan.concurrency.max(1);
    let shards = jobs.div_ceil(cap).max(1);
    let (base, extra) = (jobs / shards, jobs % shards);
    let mut out = Vec::with_capacity(shards);
    let mut next = 0;
    for s in 0..shards {
        let n = base + usize::from(s < extra);
        out.push(order[next..next + n].to_vec());
        next += n;
    }
    // The fastest (the last of the start order) to the caller, which starts last.
    out.rotate_right(1);
    out
}

/// What a shard is sent to run `jobs` of `plan` under `limits`.
pub fn to_wire(plan: &Plan, jobs: &[usize], limits: Limits) -> ShardPlan {
    ShardPlan {
        jobs: jobs
            .iter()
            .filter_map(|&j| plan.jobs.get(j))
            .map(|job| ShardJob {
                connect: job.instance.connect.to_string(),
                tls: job.instance.tls.clone(),
                contract: job.instance.dialect.contract,
                requests: job
                    .requests
                    .iter()
                    .map(|r| ShardRequest {
                        text: String::from_utf8_lossy(&r.bytes).into_owned(),
                        head: r.head,
                        keep_alive: r.keep_alive,
                    })
                    .collect(),
            })
            .collect(),
        concurrency: plan.concurrency,
        timeout_ms: limits.timeout_ms,
        attempts: limits.retry.attempts,
        base_ms: limits.retry.base_ms,
        cap_ms: limits.retry.cap_ms,
        connections: limits.connections,
        window: limits.window,
        deadline_at: limits.deadline_at,
    }
}

/// The plan and limits a shard runs; refuses an address it cannot read, or a request with a
/// byte the core never writes (the shard sends them as they are).
pub fn from_wire(wire: ShardPlan) -> Result<(Plan, Limits), String> {
    let mut jobs = Vec::with_capacity(wire.jobs.len());
    for job in wire.jobs {
        let connect = match job.connect.parse() {
            Ok(addr) => Endpoint::Addr(addr),
            Err(_) => {
                let (name, port) = job.connect.rsplit_once(':').ok_or("an address without a port")?;
                let port = port.parse().map_err(|_| format!("a bad port in {}", job.connect))?;
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
                    return Err(format!("a bad host name in {}", job.connect));
                }
                Endpoint::Host { name: name.to_owned(), port }
            }
        };
        let mut requests = Vec::with_capacity(job.requests.len());
        for r in job.requests {
            if !r.text.bytes().all(|b| b.is_ascii_graphic() || b == b' ' || b == b'\r' || b == b'\n') {
                return Err("a request with a byte the core never writes".into());
            }
            requests.push(PlannedRequest {
                target: 0,
                bytes: r.text.into_bytes(),
                head: r.head,
                keep_alive: r.keep_alive,
                confirms: None,
            });
        }
        // The requests are written already: only the classification needs the contract.
        let dialect = Dialect { contract: job.contract, token_header: None };
        let instance = Instance { connect, tls: job.tls, route: None, name: None, dialect };
        jobs.push(Job { instance, requests });
    }
    let limits = Limits {
        timeout_ms: wire.timeout_ms,
        retry: RetryPolicy { attempts: wire.attempts.max(1), base_ms: wire.base_ms, cap_ms: wire.cap_ms },
        connections: wire.connections.max(1),
        window: wire.window.max(1),
        deadline_at: wire.deadline_at,
    };
    Ok((
        Plan {
            purges: Vec::new(),
            jobs,
            concurrency: wire.concurrency.max(1),
            start: Vec::new(),
            upstream: Vec::new(),
        },
        limits,
    ))
}

/// A finished request of the shard's job `job`, as its line.
pub fn finished(job: usize, done: &Completed) -> ShardEvent {
    let (status, headers) = match &done.reply {
        Ok(answer) => (Some(answer.status), answer.headers.clone()),
        Err(_) => (None, Vec::new()),
    };
    let c = &done.classified;
    ShardEvent::Finished(ShardFinished {
        job,
        request: done.request,
        attempts: done.attempts,
        elapsed_ms: done.elapsed_ms,
        started_at: done.timing.started_at,
        ended_at: done.timing.ended_at,
        connect_ms: done.timing.connect_ms,
        outcome: c.outcome,
        status,
        headers,
        error: c.error.clone(),
        retryable: c.retryable,
    })
}

/// A shard's line back as the caller's job index (`jobs`: the shard's job indices in the
/// caller's plan) and [`Completed`], its classification as the shard made it; `None` for a job
/// the shard was not given.
pub fn completed(jobs: &[usize], f: ShardFinished) -> Option<(usize, Completed)> {
    let job = *jobs.get(f.job)?;
    let reply = match f.status {
        Some(status) => Ok(Answer { status, headers: f.headers, body: Vec::new(), keep_alive: true }),
        None => Err(DeliveryError::Relayed(f.error.clone().unwrap_or_else(|| "no answer".into()))),
    };
    let classified = Classified { outcome: f.outcome, http_status: f.status, error: f.error, retryable: f.retryable };
    let timing = Timing { started_at: f.started_at, ended_at: f.ended_at, connect_ms: f.connect_ms };
    Some((
        job,
        Completed { request: f.request, reply, classified, attempts: f.attempts, elapsed_ms: f.elapsed_ms, timing },
    ))
}
