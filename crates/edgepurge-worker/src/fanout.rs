//! Fan-out I/O: one TCP socket per instance, its purges sent in order over it.
//!
//! The core wrote every byte ([`Plan`]) and judges every answer ([`ReportBuilder`]); this module
//! only moves bytes. Jobs run at most `plan.concurrency` at a time (the Workers limit is 6
//! simultaneous connections); each request has its own timeout, so one slow or dead instance
//! holds up only its own queue, never the report of the others.

use edgepurge_core::api::PurgeReport;
use edgepurge_core::http1::{Answer, AnswerError, AnswerReader};
use edgepurge_core::outcome::DeliveryError;
use edgepurge_core::plan::{Job, Plan};
use edgepurge_core::report::ReportBuilder;
use futures_util::future::{select, Either};
use futures_util::stream::{self, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use worker::{Date, Delay, SecureTransport, Socket};

type Reply = Result<Answer, DeliveryError>;

/// Runs every job of `plan` and reports every (URL, instance) pair.
pub async fn execute(plan: &Plan, timeout_ms: u32) -> PurgeReport {
    let mut report = ReportBuilder::new(plan);
    let mut results = stream::iter(plan.jobs.iter().enumerate())
        .map(|(j, job)| async move { (j, run_job(job, timeout_ms).await) })
        .buffer_unordered(plan.concurrency);
    while let Some((j, replies)) = results.next().await {
        for (r, reply, elapsed) in replies {
            report.record(plan, j, r, &reply, Some(elapsed));
        }
    }
    report.finish()
}

/// Sends one instance's queue; returns (request index, reply, elapsed ms) for each request.
async fn run_job(job: &Job, timeout_ms: u32) -> Vec<(usize, Reply, u64)> {
    let mut out = Vec::with_capacity(job.requests.len());
    let mut conn: Option<Socket> = None;
    let mut unreachable: Option<DeliveryError> = None;
    for (r, req) in job.requests.iter().enumerate() {
        if let Some(e) = &unreachable {
            out.push((r, Err(DeliveryError::Skipped(Box::new(e.clone()))), 0));
            continue;
        }
        let started = Date::now().as_millis();
        let reply = {
            let exchange = Box::pin(send(&mut conn, job.instance, &req.bytes));
            let timeout = Delay::from(Duration::from_millis(timeout_ms.into()));
            match select(exchange, timeout).await {
                Either::Left((reply, _)) => reply,
                Either::Right(_) => Err(DeliveryError::Timeout(timeout_ms)),
            }
        };
        let elapsed = Date::now().as_millis().saturating_sub(started);
        match &reply {
            Ok(answer) if answer.keep_alive => {}
            Ok(_) => close(&mut conn).await,
            Err(e) => {
                close(&mut conn).await;
                if e.instance_unreachable() {
                    unreachable = Some(e.clone());
                }
            }
        }
        out.push((r, reply, elapsed));
    }
    close(&mut conn).await;
    out
}

async fn close(conn: &mut Option<Socket>) {
    if let Some(mut socket) = conn.take() {
        let _ = socket.close().await;
    }
}

/// Sends one request, on the open connection if there is one. A reused connection the instance
/// closed while idle gets one fresh retry (RFC 9112 section 9.3.1 allows retrying then).
async fn send(conn: &mut Option<Socket>, instance: SocketAddr, bytes: &[u8]) -> Reply {
    let reused = conn.is_some();
    match exchange(conn, instance, bytes).await {
        Err(Exchange::BeforeAnswer(_)) if reused => {
            *conn = None;
            exchange(conn, instance, bytes)
                .await
                .map_err(Exchange::into_error)
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
) -> Result<Answer, Exchange> {
    if conn.is_none() {
        let socket = Socket::builder()
            .secure_transport(SecureTransport::Off)
            .connect(instance.ip().to_string(), instance.port())
            .map_err(|e| Exchange::After(DeliveryError::Connect(e.to_string())))?;
        socket
            .opened()
            .await
            .map_err(|e| Exchange::After(DeliveryError::Connect(e.to_string())))?;
        *conn = Some(socket);
    }
    let Some(socket) = conn.as_mut() else {
        return Err(Exchange::After(DeliveryError::Connect(
            "no connection".into(),
        )));
    };
    let io = |e: std::io::Error| Exchange::BeforeAnswer(DeliveryError::Io(e.to_string()));
    socket.write_all(bytes).await.map_err(io)?;
    socket.flush().await.map_err(io)?;
    let mut reader = AnswerReader::new();
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
                Err(AnswerError::Incomplete) if received == 0 => Err(Exchange::BeforeAnswer(
                    DeliveryError::Answer(AnswerError::Incomplete),
                )),
                other => other.map_err(|e| Exchange::After(DeliveryError::Answer(e))),
            };
        }
        received += n;
        if let Some(answer) = reader
            .feed(&buf[..n])
            .map_err(|e| Exchange::After(DeliveryError::Answer(e)))?
        {
            return Ok(answer);
        }
    }
}
