//! One instance's deliveries as a state machine: it says what to do next, is told what
//! happened, and decides everything in between.
//!
//! Like quinn-proto's `Connection`, it does no I/O and reads no clock: its driver (the worker's
//! socket pump) asks [`InstanceDelivery::poll`] for the next [`Step`] (connect, send these
//! bytes, receive, close, wait), performs it, and hands back an [`Event`] (connected, sent,
//! bytes received, closed by the instance, failed, timed out, waited) with the time it
//! happened. Finished requests come out of [`InstanceDelivery::poll_completed`], each
//! classified once ([`classify`]).
//!
//! The policy lives here and nowhere else:
//! - **Per-attempt timeout.** Each attempt (connect, send, the whole answer) has
//!   `Limits::timeout_ms`; every I/O step carries what is left of it.
//! - **Inline retries** with full-jitter backoff ([`RetryPolicy::retry_after`]) for failures
//!   [`classify`] marks retryable; the random numbers come from a seed passed in.
//! - **Reconnect after an idle close.** A reused keep-alive connection that fails before a
//!   single byte of the answer arrived is reconnected once and the request sent again, within
//!   the same attempt (RFC 9112 section 9.3.1: the instance may close an idle connection at any
//!   time, and a client may then retry an idempotent request).
//! - **Skip after unreachable.** Once a request's final error says the instance is unreachable
//!   (connect failure, timeout), the rest of its queue is reported as skipped at once instead of
//!   each waiting for its own timeout; one that was written behind the failed one (pipelined)
//!   is reported as sent and unanswered, not as skipped.
//! - **Connection budget.** A job opens at most `Limits::connections` connections, retries and
//!   reconnects included; past that a request fails (retryable: redelivery has a budget of its
//!   own) without connecting.
//! - **Keep-alive.** The connection is kept while answers allow it and closed when one says
//!   `Connection: close`, after a failure, and at the end.
//!
//! - **Pipelining** (RFC 9112 section 9.3.2). Up to `Limits::window` requests go out in one
//!   write before their answers come back; answers are read in send order, and one read may
//!   finish several. A `Connection: close` answer ends the window there; a connection that
//!   closes or breaks with requests unanswered costs only the front one its attempt (unless it
//!   was an idle close, above): the rest are sent again, as they were, on a new connection.
//!   Nothing is sent behind a request that itself asks the instance to close.
//!
//! Each request's timeout runs from when it was put on the connection, or from the answer
//! before it, whichever is later: answers come in order, so one slow answer (a confirming `HEAD`
//! waiting for the origin) does not time out the ones queued behind it.

use crate::api::Outcome;
use crate::config::Config;
use crate::discovery::Instance;
use crate::http1::{Answer, AnswerError, AnswerReader};
use crate::outcome::{classify, Classified, DeliveryError};
use crate::plan::{Job, Plan};
use crate::retry::RetryPolicy;
use std::collections::VecDeque;

/// Per-request limits: the timeout of one attempt, the inline retry policy, and how many
/// connections the job may open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Milliseconds one attempt may take, from connecting to the end of the answer.
    pub timeout_ms: u32,
    /// Inline retries.
    pub retry: RetryPolicy,
    /// Connections the job may open, first one and reconnects included.
    pub connections: u32,
    /// Requests sent ahead on one connection before their answers (HTTP/1.1 pipelining); 1
    /// sends each after the previous answer.
    pub window: u32,
    /// When the whole fan-out must have ended, on the driver's clock (ms): the time the platform
    /// allows on the path it runs on (`FAN_OUT_DEADLINE_MS`). What is unanswered then is given
    /// up, failed and retryable, so it is queued for redelivery, never cut off silently.
    pub deadline_at: Option<u64>,
}

impl Limits {
    /// The configured limits for the jobs of `plan`: `budget` connections (what
    /// `Config::instance_budget` leaves) shared evenly among its instances, so retries and
    /// reconnects can never open more connections than the budget (`Plan::check_budget` has
    /// made sure each gets at least one).
    pub fn for_plan(config: &Config, plan: &Plan, budget: usize) -> Limits {
        // The upstream calls' subrequests first: one each.
        let per_job = budget.saturating_sub(plan.upstream_calls()) / plan.jobs.len().max(1);
        Limits {
            timeout_ms: config.instance_timeout_ms,
            retry: config.retry,
            connections: u32::try_from(per_job.max(1)).unwrap_or(u32::MAX),
            window: config.pipeline_window,
            deadline_at: None,
        }
    }

    /// How long an upstream call sent at `now` may take: the attempt timeout, cut to the
    /// fan-out's deadline; `None` once the deadline has passed, and then the call is not sent
    /// (its rows stay failed and retryable, so they are queued for redelivery).
    pub fn call_time(self, now: u64) -> Option<u64> {
        let timeout = u64::from(self.timeout_ms);
        match self.deadline_at {
            None => Some(timeout),
            Some(at) if now < at => Some(timeout.min(at - now)),
            Some(_) => None,
        }
    }

    /// The same limits, the fan-out to end by `at` (the driver's clock, ms).
    pub fn until(self, at: u64) -> Limits {
        Limits { deadline_at: Some(at), ..self }
    }

    /// The same limits with a single attempt (verification: a `HEAD` is a look, not a purge).
    pub fn single_attempt(self) -> Limits {
        Limits { retry: RetryPolicy { attempts: 1, ..self.retry }, ..self }
    }
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<'a> {
    /// Open a connection to [`InstanceDelivery::instance`]; answer with [`Event::Connected`],
    /// [`Event::Failed`] or [`Event::TimedOut`] after `timeout_ms`.
    Connect {
        /// Milliseconds left of the attempt.
        timeout_ms: u32,
    },
    /// Write these bytes on the open connection; answer [`Event::Sent`], `Failed` or `TimedOut`.
    Send {
        /// The request bytes, written by the core.
        bytes: &'a [u8],
        /// Milliseconds left of the attempt.
        timeout_ms: u32,
    },
    /// Read from the connection; answer [`Event::Received`], [`Event::Closed`], `Failed` or
    /// `TimedOut`.
    Receive {
        /// Milliseconds left of the attempt.
        timeout_ms: u32,
    },
    /// Close the connection. No event follows: poll again.
    Close,
    /// Wait (retry backoff), then answer [`Event::Waited`].
    Wait {
        /// Milliseconds to wait.
        ms: u32,
    },
    /// Every request is finished and the connection closed.
    Done,
}

/// What happened to the last [`Step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// The connection is open.
    Connected,
    /// The bytes were written.
    Sent,
    /// Bytes arrived (never empty: end of file is [`Event::Closed`]).
    Received(&'a [u8]),
    /// The instance closed the connection (end of file).
    Closed,
    /// The step failed (connection refused, reset, ...).
    Failed(&'a str),
    /// The step's `timeout_ms` ran out.
    TimedOut,
    /// The wait is over.
    Waited,
}

/// A finished request of the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// Index into the job's requests.
    pub request: usize,
    /// The answer, or why there is none.
    pub reply: Result<Answer, DeliveryError>,
    /// The one classification of `reply`.
    pub classified: Classified,
    /// Sends made (0 when skipped).
    pub attempts: u32,
    /// Milliseconds from the first send to the final answer, backoff included.
    pub elapsed_ms: u64,
    /// When it was started and finished (the driver's clock, ms), and how long the connection
    /// it opened took to open, if it opened one: what its trace span shows.
    pub timing: Timing,
}

/// A request's times, for its trace span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    /// When its first attempt started.
    pub started_at: u64,
    /// When it completed.
    pub ended_at: u64,
    /// How long the last connection opened for it took to open.
    pub connect_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between steps: decide the next.
    Idle,
    /// Opening a connection, since this time.
    Connecting(u64),
    Sending,
    Receiving,
    /// A backoff is under way.
    Waiting,
    Done,
}

/// A request being attempted: queued to be sent (again), or on the connection.
#[derive(Debug)]
struct Flight {
    request: usize,
    /// Attempts counted so far (a resend after someone else's broken connection is not one).
    attempts: u32,
    started_at: u64,
    deadline: u64,
    /// Queued after a failure: not before this time, and only after a `Wait` step.
    ready_at: u64,
    waited: bool,
    /// Whether this attempt already reopened a connection the instance closed.
    reconnected: bool,
    sent: bool,
    /// Whether its bytes were ever written to a connection (so a skip cannot say "not sent").
    written: bool,
    received: usize,
    reader: AnswerReader,
    /// How long the last connection opened for it took to open.
    connect_ms: Option<u64>,
}

/// The deliveries of one instance's job.
#[derive(Debug)]
pub struct InstanceDelivery {
    job: Job,
    limits: Limits,
    rng: u64,
    phase: Phase,
    /// The next request never started.
    next: usize,
    /// Started requests waiting to be sent again: retries (after their backoff) and requests a
    /// lost connection left unanswered.
    queue: Vec<Flight>,
    /// Requests on the current connection, in send order: answers come back in this order.
    in_flight: VecDeque<Flight>,
    connected: bool,
    /// Answers read on the current connection.
    answered_here: u32,
    /// The current connection takes no more requests (one asked it to close).
    closing: bool,
    /// A connection failed and its request waits out a backoff: no new connection before it.
    held: bool,
    /// The bytes of the current `Send` step: every request not yet sent, back to back.
    send_buf: Vec<u8>,
    connects: u32,
    close_pending: bool,
    unreachable: Option<DeliveryError>,
    completed: VecDeque<Completed>,
}

impl InstanceDelivery {
    /// A machine for `job`; `seed` (random) drives the backoff jitter.
    pub fn new(job: Job, limits: Limits, seed: u64) -> Self {
        InstanceDelivery {
            job,
            limits,
            rng: seed,
            phase: Phase::Idle,
            next: 0,
            queue: Vec::new(),
            in_flight: VecDeque::new(),
            connected: false,
            answered_here: 0,
            closing: false,
            held: false,
            send_buf: Vec::new(),
            connects: 0,
            close_pending: false,
            unreachable: None,
            completed: VecDeque::new(),
        }
    }

    /// Where to connect.
    pub fn instance(&self) -> &Instance {
        &self.job.instance
    }

    /// A finished request, if one is waiting to be taken.
    pub fn poll_completed(&mut self) -> Option<Completed> {
        self.completed.pop_front()
    }

    /// The next thing to do, at time `now` (milliseconds, any fixed origin).
    pub fn poll(&mut self, now: u64) -> Step<'_> {
        let deadline = self.limits.deadline_at;
        if deadline.is_some_and(|at| now >= at) && self.phase != Phase::Done {
            self.give_up(now);
        }
        // No step outlasts the fan-out's deadline: the machine is polled again by then.
        let cap = |ms: u32| deadline.map_or(ms, |at| ms.min(u32::try_from(at.saturating_sub(now)).unwrap_or(u32::MAX)));
        match self.poll_step(now) {
            Step::Connect { timeout_ms } => Step::Connect { timeout_ms: cap(timeout_ms) },
            Step::Receive { timeout_ms } => Step::Receive { timeout_ms: cap(timeout_ms) },
            Step::Wait { ms } => Step::Wait { ms: cap(ms) },
            Step::Send { bytes, timeout_ms } => Step::Send { bytes, timeout_ms: cap(timeout_ms) },
            step => step,
        }
    }

    /// The fan-out's deadline has come: every request not finished is completed now, failed
    /// and retryable (`DeliveryError::Deadline`: sent and unanswered, or not sent), and the
    /// connection closed.
    fn give_up(&mut self, now: u64) {
        self.drop_connection();
        let mut left: Vec<(usize, u32, bool)> = Vec::new();
        left.extend(self.in_flight.drain(..).map(|f| (f.request, f.attempts, f.written)));
        left.extend(self.queue.drain(..).map(|f| (f.request, f.attempts, f.written)));
        left.extend((self.next..self.job.requests.len()).map(|r| (r, 0, false)));
        self.next = self.job.requests.len();
        left.sort_unstable();
        for (request, attempts, sent) in left {
            let reply = Err(DeliveryError::Deadline { sent });
            let classified = classify(&reply, self.job.instance.dialect.contract);
            let timing = Timing { started_at: now, ended_at: now, connect_ms: None };
            let attempts = if sent { attempts.max(1) } else { attempts };
            self.completed.push_back(Completed { request, reply, classified, attempts, elapsed_ms: 0, timing });
        }
        self.phase = Phase::Done;
    }

    fn poll_step(&mut self, now: u64) -> Step<'_> {
        loop {
            if self.close_pending {
                self.close_pending = false;
                return Step::Close;
            }
            match self.phase {
                Phase::Done => return Step::Done,
                // Polled again without `Event::Waited`: keep waiting.
                Phase::Waiting => return Step::Wait { ms: 0 },
                Phase::Idle => {
                    if let Some(step) = self.decide(now) {
                        return step;
                    }
                }
                Phase::Connecting(_) | Phase::Sending | Phase::Receiving => {
                    let Some(deadline) = self.in_flight.front().map(|f| f.deadline) else {
                        self.phase = Phase::Idle;
                        continue;
                    };
                    let left = deadline.saturating_sub(now);
                    if left == 0 {
                        self.handle(Event::TimedOut, now);
                        continue;
                    }
                    let timeout_ms = u32::try_from(left).unwrap_or(u32::MAX);
                    return match self.phase {
                        Phase::Connecting(_) => Step::Connect { timeout_ms },
                        Phase::Sending => Step::Send { bytes: &self.send_buf, timeout_ms },
                        _ => Step::Receive { timeout_ms },
                    };
                }
            }
        }
    }

    /// From `Idle`: fills the window and picks the next step; `None` to poll again (the phase
    /// changed, or a step is pending).
    fn decide(&mut self, now: u64) -> Option<Step<'static>> {
        if self.connected && self.closing && self.in_flight.is_empty() {
            self.drop_connection();
            return None;
        }
        let may_send = if self.connected { !self.closing } else { !self.held };
        if may_send {
            self.fill(now);
        }
        if self.in_flight.is_empty() {
            if let Some(at) = self.queue.iter().filter(|f| !f.waited).map(|f| f.ready_at).min() {
                self.phase = Phase::Waiting;
                return Some(Step::Wait { ms: u32::try_from(at.saturating_sub(now)).unwrap_or(u32::MAX) });
            }
            if self.connected {
                self.drop_connection();
                return None;
            }
            self.phase = Phase::Done;
            return Some(Step::Done);
        }
        if !self.connected {
            if self.connects >= self.limits.connections {
                // Not sent: the attempt `fill` counted for it did not happen.
                if let Some(front) = self.in_flight.front_mut() {
                    front.attempts = front.attempts.saturating_sub(1);
                }
                let budget = self.limits.connections;
                self.lost(DeliveryError::Budget(budget), now, false);
                return None;
            }
            self.connects += 1;
            self.phase = Phase::Connecting(now);
            return None;
        }
        if self.in_flight.iter().any(|f| !f.sent) {
            self.send_buf.clear();
            for flight in self.in_flight.iter_mut().filter(|f| !f.sent) {
                flight.sent = true;
                flight.written = true;
                self.send_buf.extend_from_slice(&self.job.requests[flight.request].bytes);
            }
            self.phase = Phase::Sending;
            return None;
        }
        self.phase = Phase::Receiving;
        None
    }

    /// Puts requests on the connection up to the window: queued ones first (lowest first),
    /// then new ones; stops after one that asks the instance to close.
    fn fill(&mut self, now: u64) {
        let window = self.limits.window.max(1) as usize;
        while self.in_flight.len() < window {
            let Some(mut flight) = self.take_next(now) else { return };
            flight.attempts += 1;
            flight.deadline = now + u64::from(self.limits.timeout_ms);
            flight.sent = false;
            flight.received = 0;
            flight.reader = reader(self.job.requests[flight.request].head);
            let asks_close = !self.job.requests[flight.request].keep_alive;
            self.in_flight.push_back(flight);
            if asks_close {
                self.closing = true;
                return;
            }
        }
    }

    /// The next request to put on the connection; skips (completes) what an unreachable
    /// instance will not get.
    fn take_next(&mut self, now: u64) -> Option<Flight> {
        loop {
            if let Some(e) = self.unreachable.clone() {
                let first = self.queue.iter().enumerate().min_by_key(|(_, f)| f.request).map(|(i, _)| i);
                let skipped = match first.map(|i| self.queue.swap_remove(i)) {
                    Some(flight) => Some((flight.request, flight.attempts, flight.written)),
                    None if self.next < self.job.requests.len() => {
                        self.next += 1;
                        Some((self.next - 1, 0, false))
                    }
                    None => None,
                };
                let (request, attempts, written) = skipped?;
                // Written once but unanswered: it was sent, so it says so, and counts that send.
                let (reply, attempts) = match written {
                    true => (Err(DeliveryError::Unanswered(Box::new(e))), attempts.max(1)),
                    false => (Err(DeliveryError::Skipped(Box::new(e))), attempts),
                };
                let classified = classify(&reply, self.job.instance.dialect.contract);
                let timing = Timing { started_at: now, ended_at: now, connect_ms: None };
                self.completed.push_back(Completed { request, reply, classified, attempts, elapsed_ms: 0, timing });
                continue;
            }
            let ready = self.queue.iter().enumerate().filter(|(_, f)| f.waited).min_by_key(|(_, f)| f.request);
            if let Some(i) = ready.map(|(i, _)| i) {
                return Some(self.queue.swap_remove(i));
            }
            if self.next >= self.job.requests.len() {
                return None;
            }
            self.next += 1;
            return Some(Flight {
                request: self.next - 1,
                attempts: 0,
                started_at: now,
                deadline: now,
                ready_at: now,
                waited: true,
                reconnected: false,
                sent: false,
                written: false,
                received: 0,
                reader: AnswerReader::new(),
                connect_ms: None,
            });
        }
    }

    /// Takes what happened to the last step, at time `now`.
    pub fn handle(&mut self, event: Event<'_>, now: u64) {
        match (self.phase, event) {
            (Phase::Waiting, Event::Waited) => {
                for flight in self.queue.iter_mut().filter(|f| f.ready_at <= now) {
                    flight.waited = true;
                }
                self.held = false;
                self.phase = Phase::Idle;
            }
            (Phase::Connecting(since), Event::Connected) => {
                self.connected = true;
                self.answered_here = 0;
                for flight in &mut self.in_flight {
                    flight.connect_ms = Some(now.saturating_sub(since));
                }
                self.phase = Phase::Idle;
            }
            (Phase::Connecting(_), Event::Failed(e)) => self.lost(DeliveryError::Connect(e.to_owned()), now, false),
            (Phase::Sending, Event::Sent) => self.phase = Phase::Idle,
            (Phase::Sending, Event::Failed(e)) => self.lost(DeliveryError::Io(e.to_owned()), now, true),
            (Phase::Receiving, Event::Received(bytes)) => self.receive(bytes, now),
            (Phase::Receiving, Event::Closed) => {
                let Some(flight) = self.in_flight.front_mut() else { return };
                match flight.reader.finish() {
                    Ok(answer) => {
                        self.answered(answer, now);
                        // Whatever else was on the connection went unanswered with it.
                        self.lost(DeliveryError::Answer(AnswerError::Incomplete), now, true);
                    }
                    Err(e) => self.lost(DeliveryError::Answer(e), now, true),
                }
            }
            (Phase::Receiving, Event::Failed(e)) => self.lost(DeliveryError::Io(e.to_owned()), now, true),
            // The step ran out because the fan-out's deadline came, not its own timeout.
            (Phase::Connecting(_) | Phase::Sending | Phase::Receiving, Event::TimedOut)
                if self.limits.deadline_at.is_some_and(|at| now >= at) =>
            {
                self.give_up(now)
            }
            (Phase::Connecting(_) | Phase::Sending | Phase::Receiving, Event::TimedOut) => {
                let ms = self.limits.timeout_ms;
                self.lost(DeliveryError::Timeout(ms), now, false)
            }
            // An event that does not answer the step asked for changes nothing.
            _ => {}
        }
    }

    /// Bytes arrived: they complete answers in send order, a read may hold several.
    fn receive(&mut self, bytes: &[u8], now: u64) {
        self.phase = Phase::Idle;
        let mut data = bytes.to_vec();
        while !data.is_empty() {
            let Some(flight) = self.in_flight.front_mut() else {
                // Bytes nobody asked for: the connection cannot be trusted any more.
                self.drop_connection();
                return;
            };
            flight.received += data.len();
            match flight.reader.feed(&data) {
                Ok(Some(answer)) => {
                    data = flight.reader.take_rest();
                    self.answered(answer, now);
                    if !self.connected {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => return self.lost(DeliveryError::Answer(e), now, false),
            }
        }
    }

    /// The front request's answer: it is complete; a `Connection: close` ends the window there,
    /// and whatever was sent behind it goes back to the queue, unanswered.
    fn answered(&mut self, answer: Answer, now: u64) {
        let Some(flight) = self.in_flight.pop_front() else { return };
        self.answered_here += 1;
        // The instance answers in order: the next one's time runs from this answer, not from
        // when it was sent (a slow answer ahead of it is not its fault).
        let timeout = u64::from(self.limits.timeout_ms);
        if let Some(next) = self.in_flight.front_mut() {
            next.deadline = next.deadline.max(now + timeout);
        }
        let keep_alive = answer.keep_alive;
        self.conclude(flight, Ok(answer), now, false);
        if !keep_alive {
            self.drop_connection();
            for flight in std::mem::take(&mut self.in_flight) {
                self.requeue(flight, now);
            }
        }
    }

    /// The connection is gone (or could not be opened), with `error` for its front request.
    /// A reused connection that broke before any byte of that request's answer was closed by
    /// the instance while idle (RFC 9112 section 9.3.1): when `reopen` allows, it is sent again
    /// on a new connection, once per attempt. Every other request on the connection was never
    /// answered and is sent again on the next one (section 9.3.2: purges are idempotent).
    fn lost(&mut self, error: DeliveryError, now: u64, reopen: bool) {
        let reused = self.connected && self.answered_here > 0;
        self.drop_connection();
        if let Some(mut flight) = self.in_flight.pop_front() {
            if reopen && reused && flight.received == 0 && !flight.reconnected {
                flight.reconnected = true;
                self.requeue(flight, now);
            } else {
                self.conclude(flight, Err(error), now, true);
            }
        }
        for flight in std::mem::take(&mut self.in_flight) {
            self.requeue(flight, now);
        }
        self.phase = Phase::Idle;
    }

    /// Back to the queue, ready at once: the attempt it was on is not counted.
    fn requeue(&mut self, mut flight: Flight, now: u64) {
        flight.attempts = flight.attempts.saturating_sub(1);
        flight.ready_at = now;
        flight.waited = true;
        flight.sent = false;
        self.queue.push(flight);
    }

    fn drop_connection(&mut self) {
        if self.connected {
            self.connected = false;
            self.close_pending = true;
        }
        self.closing = false;
        self.answered_here = 0;
    }

    /// The attempt is over: queue a retry after a backoff (no new connection before it, when
    /// the connection failed), or complete the request.
    fn conclude(&mut self, mut flight: Flight, reply: Result<Answer, DeliveryError>, now: u64, connection: bool) {
        let classified = classify(&reply, self.job.instance.dialect.contract);
        // Out of connections, sending again inline cannot help; redelivery can (its own budget).
        let out_of_budget = matches!(reply, Err(DeliveryError::Budget(_)));
        let retryable = classified.outcome == Outcome::Failed && classified.retryable && !out_of_budget;
        let random = self.random();
        if let Some(wait) = self.limits.retry.retry_after(flight.attempts, retryable, random) {
            flight.ready_at = now + u64::from(wait);
            flight.waited = false;
            flight.reconnected = false;
            flight.sent = false;
            self.held |= connection;
            self.queue.push(flight);
            return;
        }
        if let Err(e) = &reply {
            if e.instance_unreachable() {
                self.unreachable = Some(e.clone());
            }
        }
        self.completed.push_back(Completed {
            request: flight.request,
            reply,
            classified,
            attempts: flight.attempts,
            elapsed_ms: now.saturating_sub(flight.started_at),
            timing: Timing { started_at: flight.started_at, ended_at: now, connect_ms: flight.connect_ms },
        });
    }

    /// The next number of a splitmix64 sequence from the seed.
    fn random(&mut self) -> u32 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as u32
    }
}

fn reader(head: bool) -> AnswerReader {
    if head {
        AnswerReader::for_head()
    } else {
        AnswerReader::new()
    }
}
