//! Fan-out I/O: one TCP socket per instance, its purges sent in order over it.
//!
//! The core wrote every byte ([`Plan`]) and judges every answer ([`ReportBuilder`]); this module
//! only moves bytes. Jobs run at most `plan.concurrency` at a time (the Workers limit is 6
//! simultaneous connections); each request has its own timeout, so one slow or dead instance
//! holds up only its own queue, never the report of the others.

use edgepurge_core::api::Outcome;
use edgepurge_core::config::Config;
use edgepurge_core::http1::{Answer, AnswerError, AnswerReader};
use edgepurge_core::outcome::classify;
use edgepurge_core::outcome::DeliveryError;
use edgepurge_core::plan::Plan;
use edgepurge_core::report::ReportBuilder;
use edgepurge_core::retry::RetryPolicy;
use futures_util::future::{select, Either};
use futures_util::stream::{self, Stream, StreamExt};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use worker::{Date, Delay, SecureTransport, Socket};

type Reply = Result<Answer, DeliveryError>;

/// One finished request: (job index, request index, reply, elapsed ms, attempts).
pub type Delivery = (usize, usize, Reply, u64, u32);

/// Per-request limits: the timeout of one attempt and the inline retry policy.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout_ms: u32,
    pub retry: RetryPolicy,
}

impl Limits {
    pub fn from_config(config: &Config) -> Limits {
        Limits { timeout_ms: config.instance_timeout_ms, retry: config.retry }
    }
}

/// Runs every job of `plan` and reports every (URL, instance) pair.
pub async fn execute(plan: Rc<Plan>, limits: Limits) -> ReportBuilder {
    let mut report = ReportBuilder::new(&plan);
    let mut results = deliveries(plan.clone(), limits);
    while let Some((j, r, reply, elapsed, attempts)) = results.next().await {
        report.record(&plan, j, r, &reply, Some(elapsed), attempts);
    }
    report
}

/// Every request of `plan`, yielded as each finishes: at most `plan.concurrency` instances are
/// worked on at once, each instance's requests in order on one connection.
pub fn deliveries(plan: Rc<Plan>, limits: Limits) -> impl Stream<Item = Delivery> + 'static {
    let jobs: Vec<_> = (0..plan.jobs.len()).map(|j| Box::pin(job(plan.clone(), j, limits))).collect();
    let limit = plan.concurrency;
    stream::iter(jobs).flatten_unordered(limit)
}

struct JobState {
    conn: Option<Socket>,
    next: usize,
    unreachable: Option<DeliveryError>,
}

/// A random u32 for backoff jitter, from the platform's CSPRNG.
pub fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    // On failure the jitter is merely 0: backoff still grows with the cap.
    let _ = getrandom::getrandom(&mut b);
    u32::from_le_bytes(b)
}

/// One instance's queue, a request at a time, each retried inline per the policy.
fn job(plan: Rc<Plan>, j: usize, limits: Limits) -> impl Stream<Item = Delivery> {
    let state = JobState { conn: None, next: 0, unreachable: None };
    stream::unfold(state, move |mut st| {
        let plan = plan.clone();
        async move {
            let job = &plan.jobs[j];
            let Some(req) = job.requests.get(st.next) else {
                close(&mut st.conn).await;
                return None;
            };
            let r = st.next;
            st.next += 1;
            if let Some(e) = &st.unreachable {
                return Some(((j, r, Err(DeliveryError::Skipped(Box::new(e.clone()))), 0, 0), st));
            }
            let started = Date::now().as_millis();
            let mut attempts = 0;
            let reply = loop {
                attempts += 1;
                let reply = attempt(&mut st.conn, job.instance, &req.bytes, req.head, limits.timeout_ms).await;
                let c = classify(&reply);
                let retryable = c.outcome == Outcome::Failed && c.retryable;
                match limits.retry.retry_after(attempts, retryable, random_u32()) {
                    Some(wait) => Delay::from(Duration::from_millis(wait.into())).await,
                    None => break reply,
                }
            };
            let elapsed = Date::now().as_millis().saturating_sub(started);
            if let Err(e) = &reply {
                if e.instance_unreachable() {
                    st.unreachable = Some(e.clone());
                }
            }
            Some(((j, r, reply, elapsed, attempts), st))
        }
    })
}

/// One send under the timeout; closes the connection unless the answer allows reuse.
async fn attempt(conn: &mut Option<Socket>, instance: SocketAddr, bytes: &[u8], head: bool, timeout_ms: u32) -> Reply {
    let reply = {
        let exchange = Box::pin(send(conn, instance, bytes, head));
        let timeout = Delay::from(Duration::from_millis(timeout_ms.into()));
        match select(exchange, timeout).await {
            Either::Left((reply, _)) => reply,
            Either::Right(_) => Err(DeliveryError::Timeout(timeout_ms)),
        }
    };
    if !matches!(&reply, Ok(answer) if answer.keep_alive) {
        close(conn).await;
    }
    reply
}

async fn close(conn: &mut Option<Socket>) {
    if let Some(mut socket) = conn.take() {
        let _ = socket.close().await;
    }
}

/// Sends one request, on the open connection if there is one. A reused connection the instance
/// closed while idle gets one fresh retry (RFC 9112 section 9.3.1 allows retrying then).
async fn send(conn: &mut Option<Socket>, instance: SocketAddr, bytes: &[u8], head: bool) -> Reply {
    let reused = conn.is_some();
    match exchange(conn, instance, bytes, head).await {
        Err(Exchange::BeforeAnswer(_)) if reused => {
            *conn = None;
            exchange(conn, instance, bytes, head).await.map_err(Exchange::into_error)
        }
        other => other.map_err(Exchange::into_error),
    }
}

enum Exchange {
    /// Failed before a single byte of the answer arrived.
    BeforeAnswer(DeliveryError),
    After(DeliveryError),
}

impl Exchange {
    fn into_error(self) -> DeliveryError {
        match self {
            Exchange::BeforeAnswer(e) | Exchange::After(e) => e,
        }
    }
}

async fn exchange(
    conn: &mut Option<Socket>,
    instance: SocketAddr,
    bytes: &[u8],
    head: bool,
) -> Result<Answer, Exchange> {
    if conn.is_none() {
        let socket = Socket::builder()
            .secure_transport(SecureTransport::Off)
            .connect(instance.ip().to_string(), instance.port())
            .map_err(|e| Exchange::After(DeliveryError::Connect(e.to_string())))?;
        socket.opened().await.map_err(|e| Exchange::After(DeliveryError::Connect(e.to_string())))?;
        *conn = Some(socket);
    }
    let Some(socket) = conn.as_mut() else {
        return Err(Exchange::After(DeliveryError::Connect("no connection".into())));
    };
    let io = |e: std::io::Error| Exchange::BeforeAnswer(DeliveryError::Io(e.to_string()));
    socket.write_all(bytes).await.map_err(io)?;
    socket.flush().await.map_err(io)?;
    let mut reader = if head { AnswerReader::for_head() } else { AnswerReader::new() };
    let mut buf = vec![0u8; 8192];
    let mut received = 0usize;
    loop {
        let n = socket.read(&mut buf).await.map_err(|e| {
            let e = DeliveryError::Io(e.to_string());
            if received == 0 {
                Exchange::BeforeAnswer(e)
            } else {
                Exchange::After(e)
            }
        })?;
        if n == 0 {
            return match reader.finish() {
                Err(AnswerError::Incomplete) if received == 0 => {
                    Err(Exchange::BeforeAnswer(DeliveryError::Answer(AnswerError::Incomplete)))
                }
                other => other.map_err(|e| Exchange::After(DeliveryError::Answer(e))),
            };
        }
        received += n;
        if let Some(answer) = reader.feed(&buf[..n]).map_err(|e| Exchange::After(DeliveryError::Answer(e)))? {
            return Ok(answer);
        }
    }
}
