//! Fan-out I/O: a byte pump between [`Connection`]s and the core's [`InstanceDelivery`]
//! machines, which decide every step and judge every answer; this only performs each step under
//! its timeout and says what happened. At most `plan.concurrency` instances at once (Workers: 6),
//! each on one connection: [`Sockets`] counts what is open, so the most ever open at once is a
//! figure the trace shows, not a hope.

use crate::random::random_u64;
use crate::socket::{Connection, Opening};
use edgepurge_core::delivery::{Completed, Event, InstanceDelivery, Limits, Step};
use edgepurge_core::discovery::Instance;
use edgepurge_core::plan::{Job, Plan};
use futures_util::future::{select, Either};
use futures_util::stream::{self, Stream, StreamExt};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;
use worker::{Date, Delay};

/// A finished request of job `job` of the plan.
pub struct Finished {
    pub job: usize,
    pub done: Completed,
}

/// The sockets one invocation's fan-out holds: open now, and the most at once; and the
/// connections opened early (`Plan::early_connects`), by job, until their job takes them.
#[derive(Clone, Default)]
pub struct Sockets {
    counts: Rc<Cell<(usize, usize)>>,
    early: Rc<RefCell<Vec<(usize, Opening, Held)>>>,
}

impl Sockets {
    /// The most sockets that were open (or opening) at once.
    pub fn peak(&self) -> usize {
        self.counts.get().1
    }

    fn take(&self) -> Held {
        let (open, peak) = self.counts.get();
        self.counts.set((open + 1, peak.max(open + 1)));
        Held(self.counts.clone())
    }

    /// Starts connecting to the instances of `jobs` of `plan` now, before anything may be sent
    /// to them: each job's first connection step takes its connection over. One that cannot
    /// even start is left to that step. Those never taken are closed when these `Sockets` go.
    pub fn open_early(&self, plan: &Plan, jobs: &[usize]) {
        for &j in jobs {
            let Some(job) = plan.jobs.get(j) else { continue };
            if let Ok((opening, held)) = self.open(&job.instance) {
                self.early.borrow_mut().push((j, opening, held));
            }
        }
    }

    /// Starts connecting to `instance`, counted from now (uncounted at once if it cannot start).
    fn open(&self, instance: &Instance) -> Result<(Opening, Held), String> {
        let held = self.take();
        Ok((Opening::start(&instance.connect, instance.tls.as_deref())?, held))
    }

    fn early(&self, job: usize) -> Option<(Opening, Held)> {
        let mut early = self.early.borrow_mut();
        let at = early.iter().position(|(j, ..)| *j == job)?;
        let (_, opening, held) = early.swap_remove(at);
        Some((opening, held))
    }
}

/// One socket counted (in its `Sockets`' counts) from the moment it starts to open until it is
/// closed or dropped.
struct Held(Rc<Cell<(usize, usize)>>);

impl Drop for Held {
    fn drop(&mut self) {
        let (open, peak) = self.0.get();
        self.0.set((open.saturating_sub(1), peak));
    }
}

/// Every request of `plan`, yielded as each finishes, its jobs started in the plan's start
/// order; `sockets` counts the connections.
pub fn deliveries(plan: &Plan, limits: Limits, sockets: &Sockets) -> impl Stream<Item = Finished> + 'static {
    let pumps: Vec<_> = plan
        .start_order()
        .into_iter()
        .filter_map(|j| Some(Box::pin(pump(j, plan.jobs.get(j)?.clone(), limits, sockets.clone()))))
        .collect();
    stream::iter(pumps).flatten_unordered(plan.concurrency)
}

type Socket = Option<(Connection, Held)>;

fn pump(job: usize, plan_job: Job, limits: Limits, sockets: Sockets) -> impl Stream<Item = Finished> {
    let seed = random_u64();
    let machine = InstanceDelivery::new(plan_job, limits, seed);
    stream::unfold((machine, None::<(Connection, Held)>), move |(mut m, mut socket)| {
        let sockets = sockets.clone();
        async move {
            let mut buf: Vec<u8>;
            let mut failure = String::new();
            loop {
                if let Some(done) = m.poll_completed() {
                    return Some((Finished { job, done }, (m, socket)));
                }
                let event = match m.poll(Date::now().as_millis()) {
                    Step::Done => return m.poll_completed().map(|done| (Finished { job, done }, (m, socket))),
                    Step::Close => {
                        if let Some((connection, _held)) = socket.take() {
                            connection.close();
                        }
                        continue;
                    }
                    Step::Wait { ms } => {
                        Delay::from(Duration::from_millis(ms.into())).await;
                        Event::Waited
                    }
                    Step::Connect { timeout_ms } => {
                        let opening = sockets.early(job).map(Ok).unwrap_or_else(|| sockets.open(m.instance()));
                        io(timed(timeout_ms, connect(&mut socket, opening)).await, &mut failure)
                    }
                    // The machine never asks to send or receive without a connection.
                    Step::Send { bytes, timeout_ms } => {
                        io(timed(timeout_ms, send(&mut socket.as_mut()?.0, bytes)).await, &mut failure)
                    }
                    Step::Receive { timeout_ms } => match timed(timeout_ms, socket.as_mut()?.0.read()).await {
                        Some(Ok(Some(bytes))) => {
                            buf = bytes;
                            Event::Received(&buf)
                        }
                        Some(Ok(None)) => Event::Closed,
                        read => io(read.map(|r| r.map(|_| Event::Closed)), &mut failure),
                    },
                };
                m.handle(event, Date::now().as_millis());
            }
        }
    })
}

/// Waits for the connection to open, counted in its `Held` since it started (dropped, and
/// uncounted, if it fails).
async fn connect(slot: &mut Socket, opening: Result<(Opening, Held), String>) -> Result<Event<'static>, String> {
    let (opening, held) = opening?;
    *slot = Some((opening.opened().await?, held));
    Ok(Event::Connected)
}

async fn send(socket: &mut Connection, bytes: &[u8]) -> Result<Event<'static>, String> {
    socket.write(bytes).await.map(|()| Event::Sent)
}

/// An I/O step's result as the machine's event: its own, a failure, or a timeout.
fn io<'a, E: std::fmt::Display>(result: Option<Result<Event<'a>, E>>, slot: &'a mut String) -> Event<'a> {
    match result {
        Some(Ok(event)) => event,
        Some(Err(e)) => {
            *slot = e.to_string();
            Event::Failed(slot)
        }
        None => Event::TimedOut,
    }
}

/// `step` under a timeout: `None` if it ran out.
async fn timed<T>(timeout_ms: u32, step: impl Future<Output = T>) -> Option<T> {
    match select(Box::pin(step), Delay::from(Duration::from_millis(timeout_ms.into()))).await {
        Either::Left((out, _)) => Some(out),
        Either::Right(_) => None,
    }
}
