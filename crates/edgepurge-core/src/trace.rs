//! Traces as data: W3C trace context in and out, spans recorded with the times and ids the
//! driver passes in (the core has no clock and no randomness), and a finished trace written as
//! an OTLP/JSON `ExportTraceServiceRequest` for any OTLP/HTTP collector (Honeycomb included).
//!
//! Ids: the trace id comes from the caller's `traceparent` or from the driver's randomness; every
//! span id is derived from one random seed and the span's place (`SpanIds`), so the id written
//! into a `PURGE`'s `traceparent` before it leaves is the id of the span recorded after it is
//! answered, with nothing to remember in between.

use sha2::{Digest, Sha256};
use std::fmt;

/// A W3C trace id: 16 bytes, never all zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId(pub [u8; 16]);

/// A W3C span (parent) id: 8 bytes, never all zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId(pub [u8; 8]);

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

fn hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    (out != [0u8; N]).then_some(out)
}

/// Where a request's trace comes from: the caller's `traceparent` (continued), or a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace.
    pub trace_id: TraceId,
    /// The caller's span, parent of ours; `None` for a trace that starts here.
    pub parent: Option<SpanId>,
    /// Whether the caller sampled it (`trace-flags` bit 0).
    pub sampled: bool,
    /// The caller's `tracestate`, passed on unchanged (at most 512 characters, printable).
    pub tracestate: Option<String>,
}

impl TraceContext {
    /// Continues the caller's trace when `traceparent` is valid (W3C Trace Context, version
    /// 00, or a later version read as 00), else starts `fresh`: an invalid header is ignored,
    /// as the specification says, never refused.
    pub fn from_headers(traceparent: Option<&str>, tracestate: Option<&str>, fresh: TraceId) -> TraceContext {
        TraceContext::caller(traceparent, tracestate).unwrap_or_else(|| TraceContext::fresh(fresh))
    }

    /// A trace that starts here.
    pub fn fresh(trace_id: TraceId) -> TraceContext {
        TraceContext { trace_id, parent: None, sampled: true, tracestate: None }
    }

    /// The caller's trace, when `traceparent` is valid. The worker continues it only once the
    /// caller is authenticated: until then (and for good when it is refused) the request has a
    /// trace of its own, which links to the caller's.
    pub fn caller(traceparent: Option<&str>, tracestate: Option<&str>) -> Option<TraceContext> {
        let parsed = traceparent.and_then(|v| {
            let mut parts = v.trim().split('-');
            let (version, trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
            let version = hex::<1>(version).map(|v| v[0]).or((version == "00").then_some(0))?;
            if version == 0xff || (version == 0 && parts.next().is_some()) {
                return None;
            }
            let flags = u8::from_str_radix(flags, 16).ok().filter(|_| flags.len() == 2)?;
            Some((TraceId(hex::<16>(trace)?), SpanId(hex::<8>(parent)?), flags & 1 == 1))
        });
        parsed.map(|(trace_id, parent, sampled)| TraceContext {
            trace_id,
            parent: Some(parent),
            sampled,
            tracestate: tracestate
                .map(str::trim)
                .filter(|s| !s.is_empty() && s.len() <= 512 && s.bytes().all(|b| (b' '..=b'~').contains(&b)))
                .map(str::to_owned),
        })
    }

    /// The `traceparent` naming `span` of this trace.
    pub fn traceparent(&self, span: SpanId) -> String {
        format!("00-{}-{span}-{}", self.trace_id, if self.sampled { "01" } else { "00" })
    }
}

/// Span ids derived from one random seed and each span's place in the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanIds {
    seed: [u8; 16],
}

impl SpanIds {
    /// Ids from `seed` (random, from the driver).
    pub fn new(seed: [u8; 16]) -> SpanIds {
        SpanIds { seed }
    }

    /// The id of the span `kind` number `a`.`b` (e.g. `request` of job 2, request 5).
    pub fn id(&self, kind: &str, a: usize, b: usize) -> SpanId {
        let digest = Sha256::new()
            .chain_update(self.seed)
            .chain_update(kind.as_bytes())
            .chain_update((a as u64).to_be_bytes())
            .chain_update((b as u64).to_be_bytes())
            .finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        if id == [0u8; 8] {
            id[7] = 1;
        }
        SpanId(id)
    }

    /// The request's own span: the root of everything edgepurge records for it.
    pub fn root(&self) -> SpanId {
        self.id("request", usize::MAX, 0)
    }
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text.
    Str(String),
    /// A whole number.
    Int(i64),
    /// A flag.
    Bool(bool),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

/// What a span stands for, as OTLP's `SpanKind` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Work inside edgepurge.
    Internal,
    /// The API request edgepurge served.
    Server,
    /// A request edgepurge made (to an instance, DoH, the Machines API).
    Client,
}

/// One span, with its times in milliseconds since the epoch (the driver's clock).
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Its id.
    pub id: SpanId,
    /// Its parent (the caller's span for the root).
    pub parent: Option<SpanId>,
    /// What it is: `POST /api/purge`, `authenticate`, `discover`, `plan`, `connection`, `PURGE`.
    pub name: String,
    /// Server, client or internal.
    pub kind: Kind,
    /// Start, ms since the epoch.
    pub start_ms: u64,
    /// End, ms since the epoch.
    pub end_ms: u64,
    /// Its attributes: semantic-convention names where one exists, `edgepurge.*` for the rest.
    pub attributes: Vec<(&'static str, Value)>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// Spans of other traces it is linked to (a refused request's root: the caller's span).
    pub links: Vec<(TraceId, SpanId)>,
}

impl Span {
    /// A span from `start_ms` to `end_ms`.
    pub fn new(
        id: SpanId,
        parent: Option<SpanId>,
        name: impl Into<String>,
        kind: Kind,
        start_ms: u64,
        end_ms: u64,
    ) -> Span {
        Span {
            id,
            parent,
            name: name.into(),
            kind,
            start_ms,
            end_ms: end_ms.max(start_ms),
            attributes: Vec::new(),
            error: None,
            links: Vec::new(),
        }
    }

    /// Adds an attribute.
    pub fn with(mut self, key: &'static str, value: impl Into<Value>) -> Span {
        self.attributes.push((key, value.into()));
        self
    }

    /// Marks it failed.
    pub fn failed(mut self, why: impl Into<String>) -> Span {
        self.error = Some(why.into());
        self
    }
}

/// A finished trace of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Where it belongs.
    pub context: TraceContext,
    /// Its spans, the root first.
    pub spans: Vec<Span>,
}

impl Trace {
    /// Whether to export it: always when something failed, else by `ratio` (0.0 to 1.0) against
    /// the trace id, so every part of a trace decides alike. edgepurge's own sampler decides: a
    /// caller's "not sampled" flag never keeps a purge's trace out of the collector.
    pub fn keep(&self, ratio: f64) -> bool {
        if self.spans.iter().any(|s| s.error.is_some()) {
            return true;
        }
        let mut low = [0u8; 8];
        low.copy_from_slice(&self.context.trace_id.0[8..]);
        let x = u64::from_be_bytes(low) >> 11;
        (x as f64) < ratio.clamp(0.0, 1.0) * (1u64 << 53) as f64
    }

    /// The trace without its request spans (`PURGE`, `HEAD`): its root, discovery, plan and
    /// connection spans, the root counting what was left out (`edgepurge.trace.summarised`).
    /// What is exported when the whole trace would pass the export cap, instead of nothing.
    pub fn summarised(&self) -> Trace {
        let kept: Vec<Span> =
            self.spans.iter().filter(|s| !matches!(s.name.as_str(), "PURGE" | "HEAD")).cloned().collect();
        let left_out = self.spans.len() - kept.len();
        let mut spans = kept;
        if let Some(root) = spans.first_mut() {
            root.attributes
                .push(("edgepurge.trace.summarised", Value::Int(i64::try_from(left_out).unwrap_or(i64::MAX))));
        }
        Trace { context: self.context.clone(), spans }
    }

    /// The trace as an OTLP/JSON `ExportTraceServiceRequest` (OTLP 1.x: ids in hex, 64-bit
    /// integers as decimal strings, enums as numbers).
    pub fn otlp_json(&self, service_name: &str, version: &str) -> Vec<u8> {
        let spans = self.spans.iter().map(|s| otlp::Span::from(s, &self.context)).collect();
        let request = otlp::Export {
            resource_spans: vec![otlp::ResourceSpans {
                resource: otlp::Resource {
                    attributes: vec![
                        otlp::KeyValue::new("service.name", &Value::from(service_name)),
                        otlp::KeyValue::new("service.version", &Value::from(version)),
                        otlp::KeyValue::new("cloud.provider", &Value::from("cloudflare")),
                        otlp::KeyValue::new("cloud.platform", &Value::from("cloudflare.workers")),
                    ],
                },
                scope_spans: vec![otlp::ScopeSpans {
                    scope: otlp::Scope { name: "edgepurge".into(), version: version.into() },
                    spans,
                }],
            }],
        };
        serde_json::to_vec(&request).unwrap_or_default()
    }
}

/// The OTLP/JSON subset written (opentelemetry-proto `trace/v1` and `common/v1`, JSON mapping).
mod otlp {
    use super::{Kind, TraceContext, Value};
    use serde::Serialize;

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Export {
        pub resource_spans: Vec<ResourceSpans>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ResourceSpans {
        pub resource: Resource,
        pub scope_spans: Vec<ScopeSpans>,
    }

    #[derive(Serialize)]
    pub struct Resource {
        pub attributes: Vec<KeyValue>,
    }

    #[derive(Serialize)]
    pub struct ScopeSpans {
        pub scope: Scope,
        pub spans: Vec<Span>,
    }

    #[derive(Serialize)]
    pub struct Scope {
        pub name: String,
        pub version: String,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Span {
        trace_id: String,
        span_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        trace_state: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        parent_span_id: Option<String>,
        name: String,
        kind: u8,
        start_time_unix_nano: String,
        end_time_unix_nano: String,
        attributes: Vec<KeyValue>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        links: Vec<Link>,
        status: Status,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Link {
        trace_id: String,
        span_id: String,
    }

    #[derive(Serialize)]
    pub struct Status {
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        code: u8,
    }

    #[derive(Serialize)]
    pub struct KeyValue {
        key: String,
        value: AnyValue,
    }

    #[derive(Serialize)]
    enum AnyValue {
        #[serde(rename = "stringValue")]
        Str(String),
        /// int64, as OTLP/JSON writes 64-bit integers: a decimal string.
        #[serde(rename = "intValue")]
        Int(String),
        #[serde(rename = "boolValue")]
        Bool(bool),
    }

    impl KeyValue {
        pub fn new(key: &str, value: &Value) -> KeyValue {
            let value = match value {
                Value::Str(s) => AnyValue::Str(s.clone()),
                Value::Int(i) => AnyValue::Int(i.to_string()),
                Value::Bool(b) => AnyValue::Bool(*b),
            };
            KeyValue { key: key.to_owned(), value }
        }
    }

    impl Span {
        pub fn from(s: &super::Span, context: &TraceContext) -> Span {
            let nanos = |ms: u64| (u128::from(ms) * 1_000_000).to_string();
            Span {
                trace_id: context.trace_id.to_string(),
                span_id: s.id.to_string(),
                trace_state: context.tracestate.clone(),
                parent_span_id: s.parent.map(|p| p.to_string()),
                name: s.name.clone(),
                // SPAN_KIND_INTERNAL = 1, SERVER = 2, CLIENT = 3.
                kind: match s.kind {
                    Kind::Internal => 1,
                    Kind::Server => 2,
                    Kind::Client => 3,
                },
                start_time_unix_nano: nanos(s.start_ms),
                end_time_unix_nano: nanos(s.end_ms),
                attributes: s.attributes.iter().map(|(k, v)| KeyValue::new(k, v)).collect(),
                links: s
                    .links
                    .iter()
                    .map(|(trace, span)| Link { trace_id: trace.to_string(), span_id: span.to_string() })
                    .collect(),
                // STATUS_CODE_OK = 1, STATUS_CODE_ERROR = 2.
                status: match &s.error {
                    Some(why) => Status { message: Some(why.clone()), code: 2 },
                    None => Status { message: None, code: 1 },
                },
            }
        }
    }
}
