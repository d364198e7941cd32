//! Errors as data: a kind, where the fault lies, and whether a retry may help.
//!
//! Every way a request can fail before a report exists is an [`ApiError`]; one function,
//! [`ApiError::problem`], turns it into the RFC 9457 problem the caller sees. A purge that
//! reached some instances is not an error: it is a report (see [`crate::report`]).

use crate::api::Problem;
use std::fmt;

pub use crate::api::ErrorSource;

/// The kinds of failure a request can end in before any report exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: the body is not the expected JSON, or a URL is malformed.
    BadRequest,
    /// 401: the bearer token is missing or wrong.
    Unauthorized,
    /// 403: a URL's host is not on the allowlist.
    HostNotAllowed,
    /// 403: signed in, but the role does not allow this (or the CSRF check failed).
    Forbidden,
    /// 403: the role allows it, the token's scopes do not (its kinds, hosts or read-only).
    OutOfScope,
    /// 404: no such route or resource.
    NotFound,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 413: the body is larger than allowed.
    PayloadTooLarge,
    /// 413: the purge's report would pass `MAX_REPORT_BYTES`; split the request.
    ReportTooLarge,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 409: conflicts with what exists (a person's name or e-mail taken).
    Conflict,
    /// 409: a purge with the request's `Idempotency-Key` is still running.
    IdempotencyKeyInUse,
    /// 422: more URLs than allowed in one request.
    TooManyUrls,
    /// 422: the `Idempotency-Key` was used for another request.
    IdempotencyKeyReused,
    /// 422: the plan needs more instance connections than SUBREQUEST_BUDGET.
    OverBudget,
    /// 429: over the caller's rate limit; see [`ApiError::retry_after_secs`].
    TooManyRequests,
    /// 500: the configuration is broken.
    Config,
    /// 500: the worker failed in a way no request should cause.
    Internal,
    /// 502: the discovery service answered, but not with usable instances.
    DiscoveryFailed,
    /// 503: the discovery service could not be reached in time.
    DiscoveryUnavailable,
    /// 503: the history could not record the purge before it starts, so nothing was sent.
    AuditUnavailable,
    /// 503: this invocation has run as many store statements as `D1_STATEMENT_BUDGET` allows.
    StoreBudget,
    /// 503: `GET /api/health` found the worker unable to purge (its configuration does not load).
    NotReady,
    /// 503: the Cloudflare Access key set could not be fetched, so no Access JWT can be checked.
    AccessUnavailable,
}

/// What a kind of failure is, once: its status, the last part of its problem `type`, its
/// title, where the fault lies, and whether trying again may help.
struct Parts {
    status: u16,
    slug: &'static str,
    title: &'static str,
    source: ErrorSource,
    retryable: bool,
}

const fn parts(status: u16, slug: &'static str, title: &'static str, source: ErrorSource, retryable: bool) -> Parts {
    Parts { status, slug, title, source, retryable }
}

impl ErrorKind {
    fn parts(self) -> Parts {
        use ErrorKind::*;
        use ErrorSource::*;
        match self {
            BadRequest => parts(400, "bad-request", "Malformed request", Caller, false),
            Unauthorized => parts(401, "unauthorized", "Missing or invalid credentials", Caller, false),
            HostNotAllowed => parts(403, "host-not-allowed", "Host not allowed", Caller, false),
            Forbidden => parts(403, "forbidden", "Not allowed for this role", Caller, false),
            OutOfScope => parts(403, "out-of-scope", "Not allowed for this token", Caller, false),
            NotFound => parts(404, "not-found", "No such resource", Caller, false),
            Conflict => parts(409, "conflict", "Already exists", Caller, false),
            MethodNotAllowed => parts(405, "method-not-allowed", "Method not allowed", Caller, false),
            PayloadTooLarge => parts(413, "payload-too-large", "Request body too large", Caller, false),
            ReportTooLarge => {
                parts(413, "report-too-large", "Purge report too large: split the request", Caller, false)
            }
            UnsupportedMediaType => parts(415, "unsupported-media-type", "Unsupported media type", Caller, false),
            IdempotencyKeyInUse => {
                parts(409, "idempotency-key-in-use", "Purge with this key still running", Caller, true)
            }
            TooManyUrls => parts(422, "too-many-urls", "Too many URLs", Caller, false),
            IdempotencyKeyReused => {
                parts(422, "idempotency-key-reused", "Idempotency-Key used for another request", Caller, false)
            }
            OverBudget => parts(422, "over-budget", "Purge over the subrequest budget", Caller, false),
            TooManyRequests => parts(429, "rate-limited", "Too many requests", Caller, true),
            ErrorKind::Config => parts(500, "config", "Broken configuration", ErrorSource::Config, false),
            Internal => parts(500, "internal", "Internal error", Worker, true),
            DiscoveryFailed => parts(502, "discovery-failed", "Instance discovery failed", Discovery, true),
            DiscoveryUnavailable => {
                parts(503, "discovery-unavailable", "Instance discovery unavailable", Discovery, true)
            }
            AuditUnavailable => parts(503, "audit-unavailable", "History unavailable: nothing was purged", Store, true),
            StoreBudget => parts(503, "store-budget", "Store statement budget spent", Store, true),
            NotReady => parts(503, "not-ready", "Not ready to purge: broken configuration", ErrorSource::Config, false),
            AccessUnavailable => parts(503, "access-unavailable", "Cloudflare Access keys unavailable", Access, true),
        }
    }

    /// Every kind, in the order of their status codes' first appearance above.
    pub const ALL: [ErrorKind; 24] = [
        ErrorKind::BadRequest,
        ErrorKind::Unauthorized,
        ErrorKind::HostNotAllowed,
        ErrorKind::Forbidden,
        ErrorKind::OutOfScope,
        ErrorKind::NotFound,
        ErrorKind::MethodNotAllowed,
        ErrorKind::PayloadTooLarge,
        ErrorKind::ReportTooLarge,
        ErrorKind::UnsupportedMediaType,
        ErrorKind::Conflict,
        ErrorKind::IdempotencyKeyInUse,
        ErrorKind::TooManyUrls,
        ErrorKind::IdempotencyKeyReused,
        ErrorKind::OverBudget,
        ErrorKind::TooManyRequests,
        ErrorKind::Config,
        ErrorKind::Internal,
        ErrorKind::DiscoveryFailed,
        ErrorKind::DiscoveryUnavailable,
        ErrorKind::AuditUnavailable,
        ErrorKind::StoreBudget,
        ErrorKind::NotReady,
        ErrorKind::AccessUnavailable,
    ];

    /// The HTTP status code of this kind.
    pub fn status(self) -> u16 {
        self.parts().status
    }

    /// The problem `type` URI of this kind, e.g. `urn:edgepurge:problem:unauthorized`.
    pub fn problem_type(self) -> String {
        format!("urn:edgepurge:problem:{}", self.parts().slug)
    }

    /// The problem `title` of this kind.
    pub fn title(self) -> &'static str {
        self.parts().title
    }
}

/// A request that failed before a report could be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What went wrong this time, for a human.
    pub detail: String,
    /// The configuration setting at fault, for [`ErrorKind::Config`].
    pub setting: Option<String>,
    /// The URL, host or DNS name at fault, if any.
    pub subject: Option<String>,
    /// For 429: seconds until the caller may try again (the `Retry-After` header).
    pub retry_after_secs: Option<u32>,
    /// For 405: the methods the resource takes (the `Allow` header, RFC 9110 section 15.5.6).
    pub allow: Option<String>,
}

impl ApiError {
    /// An error of `kind` with a human-readable `detail`.
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        ApiError { kind, detail: detail.into(), setting: None, subject: None, retry_after_secs: None, allow: None }
    }

    /// A 400 problem: the request is malformed.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::new(ErrorKind::BadRequest, detail)
    }

    /// Names the URL, host or DNS name at fault.
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Names the methods the resource takes, for a 405.
    pub fn with_allow(mut self, methods: impl Into<String>) -> Self {
        self.allow = Some(methods.into());
        self
    }

    /// Names the configuration setting at fault.
    pub fn with_setting(mut self, setting: impl Into<String>) -> Self {
        self.setting = Some(setting.into());
        self
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// Where the fault lies.
    pub fn source(&self) -> ErrorSource {
        self.kind.parts().source
    }

    /// The RFC 9457 problem details for this error.
    ///
    /// An internal error's detail (a platform or database message) is for the logs, never for
    /// the caller: its problem says only that something failed inside.
    pub fn problem(&self) -> Problem {
        let Parts { status, title, source, retryable, .. } = self.kind.parts();
        let detail = match self.kind {
            ErrorKind::Internal => "the worker failed inside; the details are in its logs".to_owned(),
            _ => self.detail.clone(),
        };
        Problem {
            type_: self.kind.problem_type(),
            title: title.to_owned(),
            status,
            detail,
            source,
            retryable,
            setting: self.setting.clone(),
            subject: self.subject.clone(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.parts().title, self.detail)
    }
}

impl std::error::Error for ApiError {}
