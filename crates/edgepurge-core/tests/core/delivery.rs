//! The per-instance delivery state machine, driven step by step through every path with a
//! scripted network: what it asks for, in order, and what it reports.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{addr, edgepurge_request};
use edgepurge_core::api::Outcome;
use edgepurge_core::delivery::{Completed, Event, InstanceDelivery, Limits, Step};
use edgepurge_core::http1::AnswerError;
use edgepurge_core::outcome::DeliveryError;
use edgepurge_core::plan::{Job, PlannedRequest};
use edgepurge_core::purge::Purge;
use edgepurge_core::retry::RetryPolicy;
use edgepurge_core::target::Target;

/// What the scripted network answers to the next connect, send or receive.
#[derive(Debug, Clone, Copy)]
enum Net {
    Ok,
    Fail,
    Timeout,
    Data(&'static [u8]),
    Eof,
}
use Net::*;

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nPurge-Count: 1\r\nContent-Length: 0\r\n\r\n";
const OK_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nPurge-Count: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const NOT_CACHED: &[u8] = b"HTTP/1.1 200 OK\r\nPurge-Count: 0\r\nContent-Length: 0\r\n\r\n";
const UNAVAILABLE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
const UNAUTHORIZED: &[u8] = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";

const TIMEOUT: u32 = 1000;

fn limits(attempts: u32) -> Limits {
    Limits {
        timeout_ms: TIMEOUT,
        retry: RetryPolicy { attempts, base_ms: 100, cap_ms: 2000 },
        connections: 100,
        window: 1,
        deadline_at: None,
    }
}

/// [`limits`] with `window` requests pipelined.
fn pipelined(attempts: u32, window: u32) -> Limits {
    Limits { window, ..limits(attempts) }
}

/// A job of `n` URL purges, or `HEAD`s when `head`, all keep-alive as the plan writes them.
fn job(n: usize, head: bool) -> Job {
    let requests = (0..n)
        .map(|i| {
            let target = Target::parse(&format!("https://www.example.com/{i}")).unwrap();
            let bytes = if head {
                edgepurge_core::http1::head_request(&target)
            } else {
                edgepurge_request(&Purge::Url { target, soft: false }, true)
            };
            PlannedRequest { target: i, bytes, head, keep_alive: true, confirms: None }
        })
        .collect();
    Job { instance: addr("10.0.0.1:80"), requests }
}

/// Runs the machine against `script`, each I/O step taking 10 ms (a timeout takes what was
/// left). Returns the trace of steps and the completed requests, in order.
fn drive(job: Job, limits: Limits, script: &[Net]) -> (Vec<String>, Vec<Completed>) {
    let requests = job.requests.clone();
    let mut m = InstanceDelivery::new(job, limits, 7);
    let (mut now, mut trace, mut done, mut script) = (0u64, Vec::new(), Vec::new(), script.iter());
    for _ in 0..1000 {
        while let Some(c) = m.poll_completed() {
            trace.push(format!("done {}", c.request));
            done.push(c);
        }
        let (name, left) = match m.poll(now) {
            Step::Done => {
                assert!(script.next().is_none(), "script not used up: {trace:?}");
                while let Some(c) = m.poll_completed() {
                    trace.push(format!("done {}", c.request));
                    done.push(c);
                }
                return (trace, done);
            }
            Step::Close => {
                trace.push("close".into());
                continue;
            }
            Step::Wait { ms } => {
                assert!(ms <= 2000, "backoff under the cap");
                trace.push("wait".into());
                now += u64::from(ms);
                m.handle(Event::Waited, now);
                continue;
            }
            Step::Connect { timeout_ms } => ("connect".to_owned(), timeout_ms),
            Step::Send { bytes, timeout_ms } => {
                // One write may carry several requests back to back: name each.
                let (mut rest, mut sent) = (bytes, Vec::new());
                while !rest.is_empty() {
                    let i = requests.iter().position(|r| rest.starts_with(&r.bytes)).expect("sends planned requests");
                    sent.push(i.to_string());
                    rest = &rest[requests[i].bytes.len()..];
                }
                (format!("send {}", sent.join(",")), timeout_ms)
            }
            Step::Receive { timeout_ms } => ("recv".to_owned(), timeout_ms),
        };
        let net = *script.next().unwrap_or_else(|| panic!("script ran out at {name}: {trace:?}"));
        trace.push(name.clone());
        let event = match (name.as_str(), net) {
            (_, Timeout) => {
                now += u64::from(left);
                Event::TimedOut
            }
            (_, Fail) => Event::Failed("connection reset"),
            ("connect", Ok) => Event::Connected,
            (n, Ok) if n.starts_with("send") => Event::Sent,
            ("recv", Data(bytes)) => Event::Received(bytes),
            ("recv", Eof) => Event::Closed,
            other => panic!("script answers {other:?}"),
        };
        if !matches!(net, Timeout) {
            now += 10;
        }
        m.handle(event, now);
    }
    panic!("no end: {trace:?}")
}

fn outcomes(done: &[Completed]) -> Vec<(usize, Outcome, u32)> {
    done.iter().map(|c| (c.request, c.classified.outcome, c.attempts)).collect()
}

#[test]
fn one_connection_carries_the_queue_and_closes_at_the_end() {
    let (trace, done) = drive(job(3, false), limits(3), &[Ok, Ok, Data(OK), Ok, Data(NOT_CACHED), Ok, Data(OK_CLOSE)]);
    assert_eq!(
        trace,
        ["connect", "send 0", "recv", "done 0", "send 1", "recv", "done 1", "send 2", "recv", "done 2", "close"]
    );
    assert_eq!(outcomes(&done), [(0, Outcome::Purged, 1), (1, Outcome::NotCached, 1), (2, Outcome::Purged, 1)]);
    // Elapsed runs from the first send's connect to the answer: 3 steps of 10 ms.
    assert_eq!(done[0].elapsed_ms, 30);
    assert_eq!(done[0].reply.as_ref().unwrap().status, 200);
}

#[test]
fn an_answer_in_pieces_is_one_answer() {
    let (trace, done) = drive(
        job(1, false),
        limits(1),
        &[Ok, Ok, Data(b"HTTP/1.1 200 OK\r\nPurge-"), Data(b"Count: 2\r\nContent-Length: 0\r\n\r\n")],
    );
    assert_eq!(trace, ["connect", "send 0", "recv", "recv", "done 0", "close"]);
    assert_eq!(outcomes(&done), [(0, Outcome::Purged, 1)]);
}

#[test]
fn the_connection_is_closed_even_when_the_last_answer_keeps_it_alive() {
    let (trace, _) = drive(job(1, false), limits(1), &[Ok, Ok, Data(OK)]);
    assert_eq!(trace, ["connect", "send 0", "recv", "done 0", "close"]);
}

#[test]
fn a_close_delimited_answer_ends_at_end_of_file() {
    let (trace, done) = drive(job(1, false), limits(1), &[Ok, Ok, Data(b"HTTP/1.1 200 OK\r\n\r\npurged"), Eof]);
    assert_eq!(trace, ["connect", "send 0", "recv", "recv", "done 0", "close"]);
    assert_eq!(done[0].reply.as_ref().unwrap().body, b"purged");
}

#[test]
fn head_answers_have_no_body_whatever_their_length_says() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nCache-Status: edge-1; hit\r\nConnection: close\r\n\r\n";
    let (trace, done) = drive(job(1, true), limits(1), &[Ok, Ok, Data(head)]);
    assert_eq!(trace, ["connect", "send 0", "recv", "done 0", "close"]);
    assert_eq!(done[0].reply.as_ref().unwrap().header("cache-status"), Some("edge-1; hit"));
}

#[test]
fn a_refused_connection_is_retried_then_the_rest_of_the_queue_is_skipped() {
    let (trace, done) = drive(job(3, false), limits(3), &[Fail, Fail, Fail]);
    assert_eq!(trace, ["connect", "wait", "connect", "wait", "connect", "done 0", "done 1", "done 2"]);
    assert_eq!(outcomes(&done), [(0, Outcome::Failed, 3), (1, Outcome::Failed, 0), (2, Outcome::Failed, 0)]);
    assert!(matches!(done[0].reply, Err(DeliveryError::Connect(_))));
    assert!(matches!(&done[1].reply, Err(DeliveryError::Skipped(e)) if matches!(**e, DeliveryError::Connect(_))));
    assert!(done.iter().all(|c| c.classified.retryable), "all of them may be redelivered");
    assert_eq!((done[1].elapsed_ms, done[2].elapsed_ms), (0, 0));
}

#[test]
fn a_timeout_fails_the_attempt_and_marks_the_instance_unreachable() {
    let (trace, done) = drive(job(2, false), limits(1), &[Ok, Ok, Timeout]);
    assert_eq!(trace, ["connect", "send 0", "recv", "done 0", "close", "done 1"]);
    assert_eq!(done[0].reply, Err(DeliveryError::Timeout(TIMEOUT)));
    assert_eq!(done[0].elapsed_ms, u64::from(TIMEOUT), "the whole attempt had one timeout");
    assert!(matches!(done[1].reply, Err(DeliveryError::Skipped(_))));
}

#[test]
fn every_io_step_gets_what_is_left_of_the_attempts_timeout() {
    let requests = job(1, false).requests;
    let mut m = InstanceDelivery::new(job(1, false), limits(1), 1);
    assert_eq!(m.poll(0), Step::Connect { timeout_ms: 1000 });
    m.handle(Event::Connected, 300);
    assert_eq!(m.poll(300), Step::Send { bytes: &requests[0].bytes, timeout_ms: 700 });
    m.handle(Event::Sent, 400);
    assert_eq!(m.poll(950), Step::Receive { timeout_ms: 50 });
    // Polled after the deadline: the attempt has timed out without another step.
    assert_eq!(m.poll(1000), Step::Close);
    assert_eq!(m.poll_completed().unwrap().reply, Err(DeliveryError::Timeout(1000)));
    assert_eq!(m.poll(1000), Step::Done);
}

#[test]
fn server_errors_are_retried_and_can_succeed() {
    let (trace, done) = drive(job(1, false), limits(3), &[Ok, Ok, Data(UNAVAILABLE), Ok, Data(OK)]);
    // A 503 with keep-alive keeps the connection: the retry reuses it.
    assert_eq!(trace, ["connect", "send 0", "recv", "wait", "send 0", "recv", "done 0", "close"]);
    assert_eq!(outcomes(&done), [(0, Outcome::Purged, 2)]);
    // Five steps of 10 ms, plus a backoff of at most the base (100 ms) for the first retry.
    let elapsed = done[0].elapsed_ms;
    assert!((50..=150).contains(&elapsed), "backoff counts in the elapsed time: {elapsed}");
}

#[test]
fn refusals_are_not_retried_and_the_queue_goes_on() {
    let (trace, done) = drive(job(2, false), limits(3), &[Ok, Ok, Data(UNAUTHORIZED), Ok, Data(OK)]);
    assert_eq!(trace, ["connect", "send 0", "recv", "done 0", "send 1", "recv", "done 1", "close"]);
    assert_eq!(outcomes(&done), [(0, Outcome::Rejected, 1), (1, Outcome::Purged, 1)]);
    assert!(!done[0].classified.retryable);
}

#[test]
fn a_connection_the_instance_closed_while_idle_is_reopened_once() {
    // Request 1 finds the kept connection closed (end of file before any answer byte): close,
    // reconnect and send again within the same attempt.
    let (trace, done) = drive(job(2, false), limits(1), &[Ok, Ok, Data(OK), Ok, Eof, Ok, Ok, Data(OK)]);
    assert_eq!(
        trace,
        [
            "connect", "send 0", "recv", "done 0", "send 1", "recv", "close", "connect", "send 1", "recv", "done 1",
            "close"
        ]
    );
    assert_eq!(outcomes(&done), [(0, Outcome::Purged, 1), (1, Outcome::Purged, 1)]);

    // The same when the write itself fails on the kept connection.
    let (trace, done) = drive(job(2, false), limits(1), &[Ok, Ok, Data(OK), Fail, Ok, Ok, Data(OK)]);
    assert_eq!(
        trace,
        ["connect", "send 0", "recv", "done 0", "send 1", "close", "connect", "send 1", "recv", "done 1", "close"]
    );
    assert_eq!(outcomes(&done)[1], (1, Outcome::Purged, 1));

    // Only once: the fresh connection failing the same way is the attempt's failure.
    let (trace, done) = drive(job(2, false), limits(1), &[Ok, Ok, Data(OK), Ok, Fail, Ok, Ok, Eof]);
    assert_eq!(
        trace,
        [
            "connect", "send 0", "recv", "done 0", "send 1", "recv", "close", "connect", "send 1", "recv", "done 1",
            "close"
        ]
    );
    assert_eq!(done[1].reply, Err(DeliveryError::Answer(AnswerError::Incomplete)));
}

#[test]
fn a_fresh_connection_that_fails_is_not_reopened_but_retried_by_policy() {
    let (trace, done) = drive(job(1, false), limits(2), &[Ok, Ok, Eof, Ok, Ok, Data(OK)]);
    assert_eq!(trace, ["connect", "send 0", "recv", "close", "wait", "connect", "send 0", "recv", "done 0", "close"]);
    assert_eq!(outcomes(&done), [(0, Outcome::Purged, 2)]);
}

#[test]
fn a_connection_that_dies_mid_answer_fails_the_attempt() {
    // Part of the answer, then end of file: incomplete, retryable, retried on a new connection.
    let (trace, done) = drive(
        job(1, false),
        limits(2),
        &[Ok, Ok, Data(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"), Eof, Ok, Ok, Data(OK)],
    );
    assert_eq!(
        trace,
        ["connect", "send 0", "recv", "recv", "close", "wait", "connect", "send 0", "recv", "done 0", "close"]
    );
    assert_eq!(outcomes(&done), [(0, Outcome::Purged, 2)]);

    // Part of the answer on a kept connection, then a reset: no silent reopen (bytes came).
    let (trace, done) = drive(job(2, false), limits(1), &[Ok, Ok, Data(OK), Ok, Data(b"HTTP/1.1 2"), Fail]);
    assert_eq!(trace, ["connect", "send 0", "recv", "done 0", "send 1", "recv", "recv", "done 1", "close"]);
    assert!(matches!(done[1].reply, Err(DeliveryError::Io(_))));
    assert!(done[1].classified.retryable);
}

#[test]
fn a_malformed_answer_is_final_but_does_not_skip_the_rest() {
    let (trace, done) = drive(job(2, false), limits(3), &[Ok, Ok, Data(b"SMTP ready\r\n\r\n"), Ok, Ok, Data(OK)]);
    assert_eq!(trace, ["connect", "send 0", "recv", "done 0", "close", "connect", "send 1", "recv", "done 1", "close"]);
    assert_eq!(outcomes(&done), [(0, Outcome::Failed, 1), (1, Outcome::Purged, 1)]);
    assert!(!done[0].classified.retryable);
}

#[test]
fn backoff_comes_from_the_seed_alone() {
    let waits = |seed: u64| {
        let mut m = InstanceDelivery::new(job(1, false), limits(4), seed);
        let mut waits = Vec::new();
        let mut now = 0;
        loop {
            match m.poll(now) {
                Step::Connect { .. } => m.handle(Event::Failed("refused"), now),
                Step::Wait { ms } => {
                    waits.push(ms);
                    now += u64::from(ms);
                    m.handle(Event::Waited, now);
                }
                Step::Done => return waits,
                other => panic!("{other:?}"),
            }
        }
    };
    assert_eq!(waits(42), waits(42));
    assert_ne!(waits(42), waits(43));
    let w = waits(42);
    assert_eq!(w.len(), 3);
    // Full jitter under base * 2^n: 100, 200, 400.
    assert!(w[0] <= 100 && w[1] <= 200 && w[2] <= 400, "{w:?}");
}

#[test]
fn events_that_do_not_answer_the_step_change_nothing() {
    let mut m = InstanceDelivery::new(job(1, false), limits(1), 1);
    assert!(matches!(m.poll(0), Step::Connect { .. }));
    m.handle(Event::Sent, 1);
    m.handle(Event::Received(OK), 1);
    m.handle(Event::Waited, 1);
    assert!(matches!(m.poll(1), Step::Connect { .. }), "still connecting");
    assert!(m.poll_completed().is_none());
    assert_eq!(m.instance(), &addr("10.0.0.1:80"));
}

#[test]
fn verification_sends_once() {
    let l = limits(3).single_attempt();
    assert_eq!((l.retry.attempts, l.timeout_ms), (1, TIMEOUT));
    let (trace, done) = drive(job(1, true), l, &[Fail]);
    assert_eq!(trace, ["connect", "done 0"]);
    assert_eq!(done[0].attempts, 1);
}

#[test]
fn an_empty_job_is_done_at_once() {
    let mut m = InstanceDelivery::new(Job { instance: addr("10.0.0.1:80"), requests: vec![] }, limits(1), 1);
    assert_eq!(m.poll(0), Step::Done);
}

#[test]
fn a_job_never_opens_more_connections_than_its_share_of_the_budget() {
    // Issue 9, finding 7: retries and reconnects could open more connections than
    // SUBREQUEST_BUDGET. Two connections for this job: the third attempt fails without one.
    let l = Limits { connections: 2, ..limits(5) };
    let (trace, done) = drive(job(2, false), l, &[Fail, Fail]);
    assert_eq!(trace, ["connect", "wait", "connect", "wait", "done 0", "done 1"]);
    assert_eq!(done[0].reply, Err(DeliveryError::Budget(2)));
    assert!(done[0].classified.retryable, "redelivery has a budget of its own");
    assert_eq!(done[1].reply, Err(DeliveryError::Budget(2)));

    // A reconnect after an idle close counts too.
    let (trace, done) = drive(job(2, false), Limits { connections: 1, ..limits(1) }, &[Ok, Ok, Data(OK), Ok, Eof]);
    assert_eq!(trace, ["connect", "send 0", "recv", "done 0", "send 1", "recv", "close", "done 1"]);
    assert_eq!(done[1].reply, Err(DeliveryError::Budget(1)));
}

#[test]
fn the_budget_is_shared_evenly_among_a_plans_instances() {
    use edgepurge_core::plan::Plan;
    let c = super::config(&[("SUBREQUEST_BUDGET", "10")]);
    let plan = super::two_host_plan();
    assert_eq!(Limits::for_plan(&c, &plan, c.instance_budget(0)).connections, 5);
    // Discovery's lookups come out of the budget first: 10 - 2 leaves 4 a job.
    assert_eq!(Limits::for_plan(&c, &plan, c.instance_budget(2)).connections, 4);
    let one = super::config(&[("SUBREQUEST_BUDGET", "1")]);
    let empty = Plan { purges: vec![], jobs: vec![], concurrency: 1, start: vec![], upstream: vec![] };
    assert_eq!(Limits::for_plan(&one, &empty, one.instance_budget(0)).connections, 1);
    // With Cloudflare Access on, one subrequest stays kept for the JWKS fetch.
    let access = super::config(&[
        ("SUBREQUEST_BUDGET", "10"),
        ("ACCESS_TEAM_DOMAIN", "team.cloudflareaccess.com"),
        ("ACCESS_AUD", "aud"),
    ]);
    assert_eq!(access.instance_budget(2), 7);
    assert_eq!(access.instance_budget(20), 0);
    // And one for the trace export when traces go somewhere.
    let traced =
        super::config(&[("SUBREQUEST_BUDGET", "10"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://api.honeycomb.io")]);
    assert_eq!(traced.instance_budget(2), 7);
}

// HTTP/1.1 pipelining (issue 12): a window of requests in one write, answers read in order.

/// `n` answers back to back, the last asking to close.
fn answers(n: usize) -> &'static [u8] {
    let mut out = OK.repeat(n - 1);
    out.extend_from_slice(OK_CLOSE);
    Vec::leak(out)
}

#[test]
fn a_window_of_requests_goes_in_one_write_and_one_read_can_answer_them_all() {
    let (trace, done) = drive(job(5, false), pipelined(1, 32), &[Ok, Ok, Data(answers(5))]);
    assert_eq!(trace, ["connect", "send 0,1,2,3,4", "recv", "done 0", "done 1", "done 2", "done 3", "done 4", "close"]);
    assert!(outcomes(&done).iter().all(|&(_, o, a)| o == Outcome::Purged && a == 1), "{done:?}");
}

#[test]
fn the_window_slides_as_answers_come_back() {
    let both = Vec::leak([OK, OK].concat());
    let (trace, _) = drive(job(5, false), pipelined(1, 2), &[Ok, Ok, Data(both), Ok, Data(both), Ok, Data(OK_CLOSE)]);
    assert_eq!(
        trace,
        [
            "connect", "send 0,1", "recv", "done 0", "done 1", "send 2,3", "recv", "done 2", "done 3", "send 4",
            "recv", "done 4", "close"
        ]
    );
}

#[test]
fn answers_split_anywhere_across_reads_are_each_read_whole() {
    let all = answers(3);
    let (trace, done) =
        drive(job(3, false), pipelined(1, 8), &[Ok, Ok, Data(&all[..OK.len() + 7]), Data(&all[OK.len() + 7..])]);
    assert_eq!(trace, ["connect", "send 0,1,2", "recv", "done 0", "recv", "done 1", "done 2", "close"]);
    assert_eq!(done.len(), 3);
}

#[test]
fn connection_close_ends_the_window_and_the_rest_is_sent_again_on_a_new_connection() {
    let two = Vec::leak([OK, OK_CLOSE].concat());
    let (trace, done) = drive(job(5, false), pipelined(1, 32), &[Ok, Ok, Data(two), Ok, Ok, Data(answers(3))]);
    assert_eq!(
        trace,
        [
            "connect",
            "send 0,1,2,3,4",
            "recv",
            "done 0",
            "done 1",
            "close",
            "connect",
            "send 2,3,4",
            "recv",
            "done 2",
            "done 3",
            "done 4",
            "close"
        ]
    );
    // Sending again what a closed connection left unanswered is not a failed attempt.
    assert!(outcomes(&done).iter().all(|&(_, o, a)| o == Outcome::Purged && a == 1), "{done:?}");
}

#[test]
fn a_connection_cut_after_some_answers_resends_exactly_the_unanswered() {
    let two = Vec::leak([OK, OK].concat());
    let (trace, done) = drive(job(5, false), pipelined(1, 32), &[Ok, Ok, Data(two), Eof, Ok, Ok, Data(answers(3))]);
    assert_eq!(
        trace,
        [
            "connect",
            "send 0,1,2,3,4",
            "recv",
            "done 0",
            "done 1",
            "recv",
            "close",
            "connect",
            "send 2,3,4",
            "recv",
            "done 2",
            "done 3",
            "done 4",
            "close"
        ]
    );
    assert!(outcomes(&done).iter().all(|&(_, o, a)| o == Outcome::Purged && a == 1), "{done:?}");

    // A reset while the front answer was half read fails that one (its attempt); the rest
    // behind it are sent again, uncounted.
    let half = Vec::leak([OK, &OK[..10]].concat());
    let (trace, done) = drive(job(3, false), pipelined(1, 32), &[Ok, Ok, Data(half), Fail, Ok, Ok, Data(OK_CLOSE)]);
    assert_eq!(
        trace,
        [
            "connect",
            "send 0,1,2",
            "recv",
            "done 0",
            "recv",
            "done 1",
            "close",
            "connect",
            "send 2",
            "recv",
            "done 2",
            "close"
        ]
    );
    assert!(matches!(done[1].reply, Err(DeliveryError::Io(_))));
    assert_eq!(outcomes(&done)[2], (2, Outcome::Purged, 1));
}

#[test]
fn a_server_error_in_the_window_is_retried_after_the_others() {
    let three = Vec::leak([OK, UNAVAILABLE, OK_CLOSE].concat());
    let (trace, done) = drive(job(3, false), pipelined(3, 8), &[Ok, Ok, Data(three), Ok, Ok, Data(OK)]);
    assert_eq!(
        trace,
        [
            "connect",
            "send 0,1,2",
            "recv",
            "done 0",
            "done 2",
            "close",
            "wait",
            "connect",
            "send 1",
            "recv",
            "done 1",
            "close"
        ]
    );
    assert_eq!(outcomes(&done), [(0, Outcome::Purged, 1), (2, Outcome::Purged, 1), (1, Outcome::Purged, 2)]);
}

#[test]
fn a_timeout_in_the_window_skips_the_rest_of_an_unreachable_instance() {
    let (trace, done) = drive(job(3, false), pipelined(1, 8), &[Ok, Ok, Timeout]);
    assert_eq!(trace, ["connect", "send 0,1,2", "recv", "done 0", "close", "done 1", "done 2"]);
    assert_eq!(done[0].reply, Err(DeliveryError::Timeout(TIMEOUT)));
    // Requests 1 and 2 were written behind 0: sent, unanswered, one send each; never "not sent".
    assert!(done[1..].iter().all(|c| matches!(&c.reply, Err(DeliveryError::Unanswered(e))
        if matches!(**e, DeliveryError::Timeout(_)))
        && c.attempts == 1));
    assert!(done[1].classified.retryable && done[1].classified.error.as_deref().unwrap().starts_with("sent, but no"));
}

#[test]
fn only_what_was_written_behind_a_timeout_is_unanswered_the_rest_is_not_sent() {
    // A window of 2: requests 0 and 1 go out, 0 times out; 1 was written, 2 and 3 never were.
    let (trace, done) = drive(job(4, false), pipelined(1, 2), &[Ok, Ok, Timeout]);
    assert_eq!(trace, ["connect", "send 0,1", "recv", "done 0", "close", "done 1", "done 2", "done 3"]);
    assert!(matches!(done[1].reply, Err(DeliveryError::Unanswered(_))) && done[1].attempts == 1);
    assert!(done[2..].iter().all(|c| matches!(c.reply, Err(DeliveryError::Skipped(_))) && c.attempts == 0));
}

#[test]
fn bytes_after_the_last_answer_end_the_connection() {
    let extra = Vec::leak([OK, b"HTTP/1.1 200 OK\r\n".as_slice()].concat());
    let (trace, done) = drive(job(1, false), pipelined(1, 8), &[Ok, Ok, Data(extra)]);
    assert_eq!(trace, ["connect", "send 0", "recv", "done 0", "close"]);
    assert_eq!(outcomes(&done), [(0, Outcome::Purged, 1)]);
}

#[test]
fn a_hundred_requests_cost_one_connection_and_one_write() {
    let (trace, done) = drive(job(100, false), pipelined(1, 128), &[Ok, Ok, Data(answers(100))]);
    assert_eq!(trace.iter().filter(|t| t.starts_with("send")).count(), 1, "{trace:?}");
    assert_eq!(trace.iter().filter(|t| *t == "connect").count(), 1);
    assert_eq!(done.len(), 100);
    assert!(done.iter().enumerate().all(|(i, c)| c.request == i && c.classified.outcome == Outcome::Purged));
}

#[test]
fn nothing_is_sent_behind_a_request_that_asks_the_instance_to_close() {
    // Request 1 of 3 says `Connection: close`: request 2 waits for a new connection.
    let mut j = job(3, false);
    let target = edgepurge_core::target::Target::parse("https://www.example.com/1").unwrap();
    j.requests[1].bytes = edgepurge_request(&Purge::Url { target, soft: false }, false);
    j.requests[1].keep_alive = false;
    let two = Vec::leak([OK, OK_CLOSE].concat());
    let (trace, done) = drive(j, pipelined(1, 32), &[Ok, Ok, Data(two), Ok, Ok, Data(OK)]);
    assert_eq!(
        trace,
        ["connect", "send 0,1", "recv", "done 0", "done 1", "close", "connect", "send 2", "recv", "done 2", "close"]
    );
    assert!(outcomes(&done).iter().all(|&(_, o, a)| o == Outcome::Purged && a == 1), "{done:?}");
}

#[test]
fn a_slow_answer_does_not_time_out_the_ones_behind_it() {
    // Each answer comes 600 ms after the one before (limit 1000 ms per answer): the third is
    // 1800 ms after they were all sent, yet in time, counted from the answer before it.
    let mut m = InstanceDelivery::new(job(3, false), pipelined(1, 8), 1);
    assert!(matches!(m.poll(0), Step::Connect { .. }));
    m.handle(Event::Connected, 0);
    assert!(matches!(m.poll(0), Step::Send { .. }));
    m.handle(Event::Sent, 0);
    for (i, at) in [600u64, 1200, 1800].into_iter().enumerate() {
        assert!(matches!(m.poll(at - 1), Step::Receive { .. }), "answer {i} still awaited");
        m.handle(Event::Received(OK), at);
        assert_eq!(m.poll_completed().map(|c| (c.request, c.classified.outcome)), Some((i, Outcome::Purged)));
    }
    assert_eq!(m.poll(1800), Step::Close);
    assert_eq!(m.poll(1800), Step::Done);
}

#[test]
fn at_the_fan_outs_deadline_what_is_left_is_given_up_failed_and_retryable() {
    use edgepurge_core::outcome::DeliveryError;
    // The deadline comes while the second request is on the wire: it is unanswered, the third
    // never sent; both failed and retryable (queued for redelivery), the connection closed.
    let limits = limits(3).until(35);
    let (trace, done) = drive(job(3, false), limits, &[Ok, Ok, Data(OK), Ok]);
    assert_eq!(trace, ["connect", "send 0", "recv", "done 0", "send 1", "close", "done 1", "done 2"]);
    assert_eq!(outcomes(&done), [(0, Outcome::Purged, 1), (1, Outcome::Failed, 1), (2, Outcome::Failed, 0)]);
    assert!(done[1..].iter().all(|c| c.classified.retryable));
    assert_eq!(done[1].reply, Err(DeliveryError::Deadline { sent: true }));
    assert_eq!(done[2].reply, Err(DeliveryError::Deadline { sent: false }));
    assert!(done[2].classified.error.as_deref().unwrap().contains("FAN_OUT_DEADLINE_MS"));

    // A step never outlasts it: the answer awaited gets only until the deadline, and running out
    // then is the deadline, not the request's own timeout (no retry, no "no answer within").
    let mut m = InstanceDelivery::new(job(2, false), limits, 7);
    assert_eq!(m.poll(0), Step::Connect { timeout_ms: 35 });
    m.handle(Event::Connected, 10);
    assert!(matches!(m.poll(10), Step::Send { timeout_ms: 25, .. }));
    m.handle(Event::Sent, 20);
    assert_eq!(m.poll(20), Step::Receive { timeout_ms: 15 });
    m.handle(Event::TimedOut, 35);
    let given_up: Vec<_> = std::iter::from_fn(|| m.poll_completed()).map(|c| (c.request, c.reply)).collect();
    assert_eq!(
        given_up,
        [(0, Err(DeliveryError::Deadline { sent: true })), (1, Err(DeliveryError::Deadline { sent: false }))]
    );
    assert_eq!(m.poll(35), Step::Close);
    assert_eq!(m.poll(35), Step::Done);
}
