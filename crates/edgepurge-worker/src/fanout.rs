//! Fan-out I/O: a byte pump between `worker::Socket`s and the core's delivery state machines.
//!
//! Each instance's [`InstanceDelivery`] decides what happens (connect, send, receive, close,
//! wait) and judges every answer; this module only performs each step under its timeout and
//! reports what happened. At most `plan.concurrency` instances are worked on at once (the
//! Workers limit is 6 simultaneous connections).

use crate::ctx::random_u32;
use edgepurge_core::delivery::{Completed, Event, InstanceDelivery, Limits, Step};
use edgepurge_core::plan::{Job, Plan};
use futures_util::future::{select, Either};
use futures_util::stream::{self, Stream, StreamExt};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use worker::{Date, Delay, SecureTransport, Socket};

/// A finished request of job `job` of the plan.
pub struct Finished {
    pub job: usize,
    pub done: Completed,
}

/// Every request of `plan`, yielded as each finishes.
pub fn deliveries(plan: &Plan, limits: Limits) -> impl Stream<Item = Finished> + 'static {
    let pumps: Vec<_> = plan.jobs.iter().enumerate().map(|(j, job)| Box::pin(pump(j, job.clone(), limits))).collect();
    stream::iter(pumps).flatten_unordered(plan.concurrency)
}

fn pump(job: usize, plan_job: Job, limits: Limits) -> impl Stream<Item = Finished> {
    let seed = u64::from(random_u32()) << 32 | u64::from(random_u32());
    let machine = InstanceDelivery::new(plan_job, limits, seed);
    stream::unfold((machine, None::<Socket>), move |(mut m, mut socket)| async move {
        let (mut buf, mut failure) = (vec![0u8; 8192], String::new());
        loop {
            if let Some(done) = m.poll_completed() {
                return Some((Finished { job, done }, (m, socket)));
            }
            let event = match m.poll(Date::now().as_millis()) {
                Step::Done => return m.poll_completed().map(|done| (Finished { job, done }, (m, socket))),
                Step::Close => {
                    let _ = async { socket.take()?.close().await.ok() }.await;
                    continue;
                }
                Step::Wait { ms } => {
                    Delay::from(Duration::from_millis(ms.into())).await;
                    Event::Waited
                }
                Step::Connect { timeout_ms } => match timed(timeout_ms, connect(m.instance())).await {
                    Some(Ok(s)) => {
                        socket = Some(s);
                        Event::Connected
                    }
                    Some(Err(e)) => failed(&mut failure, e),
                    None => Event::TimedOut,
                },
                Step::Send { bytes, timeout_ms } => {
                    let s = socket.as_mut()?; // never asked without a connection
                    match timed(timeout_ms, async { s.write_all(bytes).await.and(s.flush().await) }).await {
                        Some(Ok(())) => Event::Sent,
                        Some(Err(e)) => failed(&mut failure, e),
                        None => Event::TimedOut,
                    }
                }
                Step::Receive { timeout_ms } => {
                    let s = socket.as_mut()?; // never asked without a connection
                    match timed(timeout_ms, s.read(&mut buf)).await {
                        Some(Ok(0)) => Event::Closed,
                        Some(Ok(n)) => Event::Received(&buf[..n]),
                        Some(Err(e)) => failed(&mut failure, e),
                        None => Event::TimedOut,
                    }
                }
            };
            m.handle(event, Date::now().as_millis());
        }
    })
}

async fn connect(instance: SocketAddr) -> Result<Socket, worker::Error> {
    let socket =
        Socket::builder().secure_transport(SecureTransport::Off).connect(instance.ip().to_string(), instance.port())?;
    socket.opened().await?;
    Ok(socket)
}

fn failed(slot: &mut String, e: impl std::fmt::Display) -> Event<'_> {
    *slot = e.to_string();
    Event::Failed(slot)
}

/// `io` under a timeout: `None` if it ran out.
async fn timed<T>(timeout_ms: u32, io: impl Future<Output = T>) -> Option<T> {
    match select(Box::pin(io), Delay::from(Duration::from_millis(timeout_ms.into()))).await {
        Either::Left((out, _)) => Some(out),
        Either::Right(_) => None,
    }
}
