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
//!   each waiting for its own timeout.
//! - **Connection budget.** A job opens at most `Limits::connections` connections, retries and
//!   reconnects included; past that a request fails (retryable: redelivery has a budget of its
//!   own) without connecting.
//! - **Keep-alive.** The connection is kept while answers allow it and closed when one says
//!   `Connection: close`, after a failure, and at the end.
//!
//! Requests in flight are kept in a queue in send order, so several can be outstanding on one
//! connection (HTTP/1.1 pipelining, RFC 9112 section 9.3.2) by raising the window; today the
//! window is one request, which is the behaviour the plan's `Connection` headers assume.

use crate::api::Outcome;
use crate::config::Config;
use crate::discovery::Instance;
use crate::http1::{Answer, AnswerReader};
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
}

impl Limits {
    /// The configured limits for the jobs of `plan`: `budget` connections (what
    /// `Config::instance_budget` leaves) shared evenly among its instances, so retries and
    /// reconnects can never open more connections than the budget (`Plan::check_budget` has
    /// made sure each gets at least one).
    pub fn for_plan(config: &Config, plan: &Plan, budget: usize) -> Limits {
        let per_job = budget / plan.jobs.len().max(1);
        Limits {
            timeout_ms: config.instance_timeout_ms,
            retry: config.retry,
            connections: u32::try_from(per_job.max(1)).unwrap_or(u32::MAX),
        }
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

/// Requests in flight on one connection at most.
const WINDOW: usize = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between requests: start the next, or finish.
    Idle,
    Connecting,
    Sending,
    Receiving,
    Backoff(u32),
    Waiting,
    Done,
}

/// A request being attempted.
#[derive(Debug)]
struct Flight {
    request: usize,
    attempts: u32,
    started_at: u64,
    deadline: u64,
    /// Whether the attempt began on a connection an earlier request left open.
    reused: bool,
    /// Whether this attempt already reconnected once.
    reconnected: bool,
    received: usize,
    reader: AnswerReader,
    /// When the connection being opened for it started, and how long the last one took.
    connecting_since: Option<u64>,
    connect_ms: Option<u64>,
}

/// The deliveries of one instance's job.
#[derive(Debug)]
pub struct InstanceDelivery {
    job: Job,
    limits: Limits,
    rng: u64,
    state: State,
    next: usize,
    in_flight: VecDeque<Flight>,
    connected: bool,
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
            state: State::Idle,
            next: 0,
            in_flight: VecDeque::with_capacity(WINDOW),
            connected: false,
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
        loop {
            if self.close_pending {
                self.close_pending = false;
                return Step::Close;
            }
            match self.state {
                State::Idle => {
                    if !self.start_next(now) {
                        if self.connected {
                            self.connected = false;
                            return Step::Close;
                        }
                        self.state = State::Done;
                        return Step::Done;
                    }
                }
                State::Backoff(ms) => {
                    self.state = State::Waiting;
                    return Step::Wait { ms };
                }
                // Polled again without `Event::Waited`: keep waiting.
                State::Waiting => return Step::Wait { ms: 0 },
                State::Connecting | State::Sending | State::Receiving => {
                    let Some((request, deadline)) = self.in_flight.front().map(|f| (f.request, f.deadline)) else {
                        self.state = State::Idle;
                        continue;
                    };
                    let left = deadline.saturating_sub(now);
                    if left == 0 {
                        self.handle(Event::TimedOut, now);
                        continue;
                    }
                    let timeout_ms = u32::try_from(left).unwrap_or(u32::MAX);
                    if self.state == State::Connecting {
                        if self.connects >= self.limits.connections {
                            self.fail(DeliveryError::Budget(self.limits.connections), now);
                            continue;
                        }
                        self.connects += 1;
                        if let Some(flight) = self.in_flight.front_mut() {
                            flight.connecting_since = Some(now);
                        }
                    }
                    return match self.state {
                        State::Connecting => Step::Connect { timeout_ms },
                        State::Sending => Step::Send { bytes: &self.job.requests[request].bytes, timeout_ms },
                        _ => Step::Receive { timeout_ms },
                    };
                }
                State::Done => return Step::Done,
            }
        }
    }

    /// Starts the next request (or skips it); false when none is left.
    fn start_next(&mut self, now: u64) -> bool {
        while self.next < self.job.requests.len() {
            let request = self.next;
            self.next += 1;
            if let Some(e) = &self.unreachable {
                let reply = Err(DeliveryError::Skipped(Box::new(e.clone())));
                let classified = classify(&reply);
                let timing = Timing { started_at: now, ended_at: now, connect_ms: None };
                self.completed.push_back(Completed { request, reply, classified, attempts: 0, elapsed_ms: 0, timing });
                continue;
            }
            let head = self.job.requests[request].head;
            self.in_flight.push_back(Flight {
                request,
                attempts: 0,
                started_at: now,
                deadline: now,
                reused: false,
                reconnected: false,
                received: 0,
                reader: reader(head),
                connecting_since: None,
                connect_ms: None,
            });
            self.begin_attempt(now);
            return true;
        }
        false
    }

    fn begin_attempt(&mut self, now: u64) {
        let connected = self.connected;
        let timeout = u64::from(self.limits.timeout_ms);
        let Some(flight) = self.in_flight.front_mut() else { return };
        let head = self.job.requests[flight.request].head;
        flight.attempts += 1;
        flight.deadline = now + timeout;
        flight.reused = connected;
        flight.reconnected = false;
        flight.received = 0;
        flight.reader = reader(head);
        self.state = if connected { State::Sending } else { State::Connecting };
    }

    /// Takes what happened to the last step, at time `now`.
    pub fn handle(&mut self, event: Event<'_>, now: u64) {
        match (self.state, event) {
            (State::Waiting, Event::Waited) => self.begin_attempt(now),
            (State::Connecting, Event::Connected) => {
                self.connected = true;
                self.state = State::Sending;
                if let Some(flight) = self.in_flight.front_mut() {
                    flight.connect_ms = flight.connecting_since.take().map(|since| now.saturating_sub(since));
                }
            }
            (State::Connecting, Event::Failed(e)) => self.fail(DeliveryError::Connect(e.to_owned()), now),
            (State::Sending, Event::Sent) => self.state = State::Receiving,
            (State::Sending, Event::Failed(e)) => self.broken(DeliveryError::Io(e.to_owned()), now),
            (State::Receiving, Event::Received(bytes)) => {
                let Some(flight) = self.in_flight.front_mut() else { return };
                flight.received += bytes.len();
                match flight.reader.feed(bytes) {
                    Ok(Some(answer)) => self.answered(answer, now),
                    Ok(None) => {}
                    Err(e) => self.fail(DeliveryError::Answer(e), now),
                }
            }
            (State::Receiving, Event::Closed) => {
                let Some(flight) = self.in_flight.front_mut() else { return };
                match flight.reader.finish() {
                    Ok(answer) => self.answered(answer, now),
                    Err(e) => self.broken(DeliveryError::Answer(e), now),
                }
            }
            (State::Receiving, Event::Failed(e)) => self.broken(DeliveryError::Io(e.to_owned()), now),
            (State::Connecting | State::Sending | State::Receiving, Event::TimedOut) => {
                let ms = self.limits.timeout_ms;
                self.fail(DeliveryError::Timeout(ms), now)
            }
            // An event that does not answer the step asked for changes nothing.
            _ => {}
        }
    }

    /// The connection broke while sending or before the answer was complete: a reused
    /// connection that broke before any answer byte is reconnected once (an idle close).
    fn broken(&mut self, error: DeliveryError, now: u64) {
        let Some(flight) = self.in_flight.front_mut() else { return };
        if flight.reused && !flight.reconnected && flight.received == 0 {
            flight.reconnected = true;
            flight.reader = reader(self.job.requests[flight.request].head);
            self.drop_connection();
            self.state = State::Connecting;
            return;
        }
        self.fail(error, now);
    }

    fn drop_connection(&mut self) {
        if self.connected {
            self.connected = false;
            self.close_pending = true;
        }
    }

    fn answered(&mut self, answer: Answer, now: u64) {
        if !answer.keep_alive {
            self.drop_connection();
        }
        self.conclude(Ok(answer), now);
    }

    fn fail(&mut self, error: DeliveryError, now: u64) {
        self.drop_connection();
        self.conclude(Err(error), now);
    }

    /// The attempt is over: retry after a backoff, or complete the request.
    fn conclude(&mut self, reply: Result<Answer, DeliveryError>, now: u64) {
        let classified = classify(&reply);
        // Out of connections, sending again inline cannot help; redelivery can (its own budget).
        let out_of_budget = matches!(reply, Err(DeliveryError::Budget(_)));
        let retryable = classified.outcome == Outcome::Failed && classified.retryable && !out_of_budget;
        let random = self.random();
        let Some(attempts) = self.in_flight.front().map(|f| f.attempts) else { return };
        if let Some(wait) = self.limits.retry.retry_after(attempts, retryable, random) {
            self.state = State::Backoff(wait);
            return;
        }
        let Some(flight) = self.in_flight.pop_front() else { return };
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
        self.state = State::Idle;
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
