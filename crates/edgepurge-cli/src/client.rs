//! The HTTP side: one blocking client (ureq over rustls) for the API, the live purge stream read
//! as it arrives, and every refusal read as its RFC 9457 problem.

use edgepurge_core::api::{Problem, PurgeEvent, PurgeReport, PurgeRequest, PROBLEM_CONTENT_TYPE};
use edgepurge_core::idempotency;
use edgepurge_core::ndjson::LineBuffer;
use std::io::Read;
use std::time::{Duration, Instant};

/// The media type of the live purge stream.
pub const NDJSON: &str = "application/x-ndjson";
/// The problem type of a purge under an `Idempotency-Key` that is still running (409).
pub const KEY_IN_USE: &str = "urn:edgepurge:problem:idempotency-key-in-use";
/// The longest wait between two tries of a purge whose key is still in use.
const MAX_WAIT: Duration = Duration::from_secs(10);

/// What a live purge tells its caller while it runs.
#[derive(Debug)]
pub enum Progress<'a> {
    /// One event of the stream.
    Event(&'a PurgeEvent),
    /// The purge's `Idempotency-Key` is still running: asking again after this wait.
    Waiting(Duration),
}

/// Why a call did not give its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The API answered with a refusal: the message to print (the problem's title and detail).
    Refused {
        /// What to print.
        message: String,
        /// The problem, when the body was one.
        problem: Option<Box<Problem>>,
    },
    /// The API could not be reached, or its answer could not be read.
    Network(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused { message, .. } => write!(f, "refused: {message}"),
            Failure::Network(message) => f.write_str(message),
        }
    }
}

/// The API at one base URL, with one token.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    authorization: String,
    timeout: Duration,
}

impl Client {
    /// A client for `base` (checked by [`crate::args::api_base`]) sending `token`.
    pub fn new(base: String, token: &str, timeout: Duration) -> Client {
        let agent = ureq::Agent::config_builder()
            // Refusals are answers to read (their problem), not errors.
            .http_status_as_error(false)
            // A redirect would be followed without the token: report it instead.
            .max_redirects(0)
            .timeout_connect(Some(timeout.min(Duration::from_secs(30))))
            .timeout_recv_response(Some(timeout))
            .timeout_recv_body(Some(timeout))
            .user_agent(concat!("edgepurge-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Client { agent, base, authorization: format!("Bearer {token}"), timeout }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn unreachable(&self, error: &ureq::Error) -> Failure {
        Failure::Network(format!("cannot reach the API at {}: {error}", self.base))
    }

    /// `GET path`: the body of a 2xx reply, as text.
    pub fn get(&self, path: &str) -> Result<String, Failure> {
        let response = self
            .agent
            .get(self.url(path))
            .header("Authorization", &self.authorization)
            .header("Accept", "application/json")
            .call()
            .map_err(|e| self.unreachable(&e))?;
        self.text_of(response)
    }

    /// `POST path` with a JSON body: the body of a 2xx reply, as text.
    pub fn post_json(&self, path: &str, body: &impl serde::Serialize) -> Result<String, Failure> {
        let json = serde_json::to_vec(body).map_err(|e| Failure::Network(format!("cannot write the request: {e}")))?;
        let response = self
            .agent
            .post(self.url(path))
            .header("Authorization", &self.authorization)
            .header("Accept", "application/json")
            .content_type("application/json")
            .send(&json[..])
            .map_err(|e| self.unreachable(&e))?;
        self.text_of(response)
    }

    fn text_of(&self, response: ureq::http::Response<ureq::Body>) -> Result<String, Failure> {
        let status = response.status().as_u16();
        let content_type = header(&response, "content-type");
        let text = response
            .into_body()
            .read_to_string()
            .map_err(|e| Failure::Network(format!("the API's reply could not be read: {e}")))?;
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            Err(refusal(status, content_type.as_deref(), &text))
        }
    }

    /// `POST /api/purge`, live: each event goes to `on` as it arrives; the result is the
    /// final report. Under an `Idempotency-Key` whose purge is still running (409), it waits as
    /// `Retry-After` says (at most 10 s a time) and asks again, within the timeout.
    pub fn purge(
        &self,
        request: &PurgeRequest,
        idempotency_key: Option<&str>,
        on: &mut dyn FnMut(Progress<'_>),
    ) -> Result<PurgeReport, Failure> {
        let body =
            serde_json::to_vec(request).map_err(|e| Failure::Network(format!("cannot write the request: {e}")))?;
        let started = Instant::now();
        loop {
            let mut call = self
                .agent
                .post(self.url("/api/purge"))
                .header("Authorization", &self.authorization)
                .header("Accept", NDJSON)
                .content_type("application/json");
            if let Some(key) = idempotency_key {
                call = call.header(idempotency::HEADER, key);
            }
            let response = call.send(&body[..]).map_err(|e| self.unreachable(&e))?;
            let status = response.status().as_u16();
            let content_type = header(&response, "content-type");
            let retry_after = header(&response, "retry-after");
            let media = media_type(content_type.as_deref());
            if status == 200 && media == NDJSON {
                return read_stream(response.into_body().into_reader(), &mut |e| on(Progress::Event(e)));
            }
            let text = response
                .into_body()
                .read_to_string()
                .map_err(|e| Failure::Network(format!("the API's reply could not be read: {e}")))?;
            // A reply that is a whole report (an API that does not stream) counts as its `done`.
            if media == "application/json" {
                if let Ok(report) = serde_json::from_str::<PurgeReport>(&text) {
                    let done = PurgeEvent::Done(report.clone());
                    on(Progress::Event(&done));
                    return Ok(report);
                }
            }
            let failure = refusal(status, content_type.as_deref(), &text);
            match wait_for_key(&failure, retry_after.as_deref()) {
                Some(wait) if started.elapsed() + wait < self.timeout => {
                    on(Progress::Waiting(wait));
                    std::thread::sleep(wait);
                }
                _ => return Err(failure),
            }
        }
    }
}

fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The media type of a `Content-Type` value, lower-cased, without parameters.
pub fn media_type(content_type: Option<&str>) -> String {
    content_type.unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// A refusal from its status, content type and body: the problem when the body is one.
pub fn refusal(status: u16, content_type: Option<&str>, body: &str) -> Failure {
    let media = media_type(content_type);
    if media == PROBLEM_CONTENT_TYPE || media == "application/json" {
        if let Ok(problem) = serde_json::from_str::<Problem>(body) {
            return Failure::Refused {
                message: crate::output::problem_message(&problem),
                problem: Some(Box::new(problem)),
            };
        }
    }
    Failure::Refused { message: crate::output::bare_refusal(status, body), problem: None }
}

/// How long to wait before asking again: only for a purge whose `Idempotency-Key` is still
/// running, as its `Retry-After` says (1 s when it says nothing usable), at most 10 s.
pub fn wait_for_key(failure: &Failure, retry_after: Option<&str>) -> Option<Duration> {
    let Failure::Refused { problem: Some(problem), .. } = failure else { return None };
    if problem.type_ != KEY_IN_USE {
        return None;
    }
    let secs = retry_after.and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(1).max(1);
    Some(Duration::from_secs(secs).min(MAX_WAIT))
}

/// One line of the live stream: the event, or `None` for an event this version does not know
/// (a newer API's), which is passed over.
pub fn parse_event(line: &str) -> Result<Option<PurgeEvent>, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("the API sent a line that is not JSON ({e})"))?;
    match value.get("event").and_then(|e| e.as_str()) {
        Some("started" | "result" | "done") => serde_json::from_value(value)
            .map(Some)
            .map_err(|e| format!("the API sent an event this tool cannot read ({e})")),
        Some(_) => Ok(None),
        None => Err("the API sent a line without an event".to_owned()),
    }
}

/// Reads the live stream to its `done` event; each event goes to `on_event`.
pub fn read_stream(mut reader: impl Read, on_event: &mut dyn FnMut(&PurgeEvent)) -> Result<PurgeReport, Failure> {
    let mut lines = LineBuffer::default();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = reader.read(&mut buf).map_err(|e| {
            Failure::Network(format!(
                "the purge's stream broke off ({e}); the purge runs on in the worker: see `edgepurge history`"
            ))
        })?;
        // At the end, a last line without its newline still counts.
        let chunk: &[u8] = if n == 0 { b"\n" } else { &buf[..n] };
        for line in lines.push(chunk) {
            match parse_event(&line).map_err(Failure::Network)? {
                Some(PurgeEvent::Done(report)) => {
                    on_event(&PurgeEvent::Done(report.clone()));
                    return Ok(report);
                }
                Some(event) => on_event(&event),
                None => {}
            }
        }
        if n == 0 {
            return Err(Failure::Network(
                "the purge's stream ended before its report; the purge runs on in the worker: see `edgepurge history`"
                    .to_owned(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgepurge_core::api::{ErrorSource, Outcome, PurgeStatus};

    const STREAM: &str = concat!(
        r#"{"event":"started","pairs":[{"url":"https://www.example.com/a","instance":"10.0.0.1:6081"},"#,
        r#"{"url":"https://www.example.com/a","instance":"10.0.0.2:6081"}]}"#,
        "\n",
        r#"{"event":"result","url":"https://www.example.com/a","instance":"10.0.0.2:6081","outcome":"purged","http_status":200,"retryable":false,"attempts":1}"#,
        "\n",
        r#"{"event":"heartbeat"}"#,
        "\n",
        r#"{"event":"result","url":"https://www.example.com/a","instance":"10.0.0.1:6081","outcome":"failed","error":"connection refused","retryable":true,"attempts":3,"pending":true}"#,
        "\n",
        r#"{"event":"done","status":"partial","summary":{"total":2,"purged":1,"not_cached":0,"rejected":0,"failed":1},"plan":{"instances":2,"requests":2,"concurrency":2},"results":[]}"#,
    );

    /// Hands out its bytes a few at a time, as a network would.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(7).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn the_stream_is_read_event_by_event_across_chunks_to_its_report() {
        let mut seen = Vec::new();
        let report = read_stream(Trickle(STREAM.as_bytes()), &mut |e| {
            seen.push(match e {
                PurgeEvent::Started { pairs } => format!("started {}", pairs.len()),
                PurgeEvent::Result(r) => format!("{} {}", r.instance, r.outcome),
                PurgeEvent::Done(r) => format!("done {}", r.status),
            })
        })
        .expect("a report");
        assert_eq!(seen, ["started 2", "10.0.0.2:6081 purged", "10.0.0.1:6081 failed", "done partial"]);
        assert_eq!(report.status, PurgeStatus::Partial);
        assert_eq!(report.summary.failed, 1);
    }

    #[test]
    fn a_stream_cut_before_its_report_is_a_failure_naming_the_history() {
        let cut = STREAM.rsplit_once('\n').map(|(head, _)| head).expect("lines");
        let mut results = 0;
        let err = read_stream(cut.as_bytes(), &mut |e| results += usize::from(matches!(e, PurgeEvent::Result(_))))
            .expect_err("no report");
        assert_eq!(results, 2);
        assert!(matches!(&err, Failure::Network(m) if m.contains("edgepurge history")), "{err:?}");
    }

    #[test]
    fn events_are_parsed_and_unknown_ones_passed_over() {
        let line = r#"{"event":"result","url":"u","instance":"i","outcome":"not_cached","retryable":false}"#;
        match parse_event(line) {
            Ok(Some(PurgeEvent::Result(r))) => assert_eq!(r.outcome, Outcome::NotCached),
            other => panic!("{other:?}"),
        }
        assert_eq!(parse_event(r#"{"event":"progress","n":1}"#), Ok(None));
        assert!(parse_event("not json").is_err());
        assert!(parse_event(r#"{"outcome":"purged"}"#).is_err());
        assert!(parse_event(r#"{"event":"result","outcome":"exploded"}"#).is_err());
    }

    fn problem(type_: &str, status: u16) -> Problem {
        Problem {
            type_: type_.to_owned(),
            title: "Unauthorized".to_owned(),
            status,
            detail: "missing or wrong bearer token".to_owned(),
            source: ErrorSource::Caller,
            retryable: false,
            setting: None,
            subject: None,
        }
    }

    #[test]
    fn a_problem_reply_is_read_as_its_title_and_detail() {
        let body = serde_json::to_string(&problem("urn:edgepurge:problem:unauthorized", 401)).expect("json");
        match refusal(401, Some("application/problem+json; charset=utf-8"), &body) {
            Failure::Refused { message, problem: Some(p) } => {
                assert_eq!(message, "Unauthorized (HTTP 401): missing or wrong bearer token");
                assert_eq!(p.status, 401);
            }
            other => panic!("{other:?}"),
        }
        // A reply from something else in front of the API (a proxy's HTML page) is shown as it is.
        assert_eq!(
            refusal(502, Some("text/html"), "<h1>Bad gateway</h1>"),
            Failure::Refused { message: "HTTP 502: <h1>Bad gateway</h1>".to_owned(), problem: None }
        );
    }

    #[test]
    fn only_a_running_idempotent_purge_is_waited_for_as_retry_after_says() {
        let busy = Failure::Refused { message: String::new(), problem: Some(Box::new(problem(KEY_IN_USE, 409))) };
        assert_eq!(wait_for_key(&busy, Some("2")), Some(Duration::from_secs(2)));
        assert_eq!(wait_for_key(&busy, None), Some(Duration::from_secs(1)));
        assert_eq!(wait_for_key(&busy, Some("0")), Some(Duration::from_secs(1)));
        assert_eq!(wait_for_key(&busy, Some("3600")), Some(Duration::from_secs(10)));
        let reused = Failure::Refused {
            message: String::new(),
            problem: Some(Box::new(problem("urn:edgepurge:problem:idempotency-key-reused", 422))),
        };
        assert_eq!(wait_for_key(&reused, Some("2")), None);
        assert_eq!(wait_for_key(&Failure::Network("down".to_owned()), Some("2")), None);
    }

    #[test]
    fn media_types_are_read_without_parameters() {
        assert_eq!(media_type(Some("Application/X-NDJSON; charset=utf-8")), NDJSON);
        assert_eq!(media_type(None), "");
    }
}
