//! HTTP/1.1 on the wire to cache instances: writing `PURGE` requests and reading answers.
//!
//! Workers' `fetch()` can neither reach a raw IP nor set `Host`, and has no `PURGE` method, so
//! the worker speaks HTTP/1.1 over a TCP socket and this module writes and reads the bytes.
//!
//! Nothing a caller sends is glued into the request as a raw string: the request line and
//! headers are written only from a validated [`Target`] (printable ASCII, no spaces) and
//! [`FieldValue`]s (printable ASCII, no spaces), so CR, LF or NUL can never reach the wire.
//!
//! Answers are parsed with `httparse` and framed per RFC 9112 section 6.3: no body for 1xx,
//! 204 and 304; `Transfer-Encoding: chunked`; `Content-Length`; otherwise until the connection
//! closes. Interim 1xx answers are skipped. Sizes are capped so a hostile instance cannot make
//! the worker buffer without end.

use crate::target::Target;
use std::fmt;

/// The largest answer head accepted.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// The largest answer body accepted (purge answers are tiny).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;

/// A header field value proven to be printable ASCII without spaces.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldValue(String);

impl FieldValue {
    /// Accepts `value` if it is non-empty printable ASCII (`!`..`~`), else `None`.
    pub fn new(value: &str) -> Option<FieldValue> {
        (!value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic())).then(|| FieldValue(value.to_owned()))
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for FieldValue {
    // Field values hold secrets (the purge token): never print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FieldValue(..)")
    }
}

/// The request header carrying the instance's purge secret.
pub const PURGE_TOKEN_HEADER: &str = "Purge-Token";

/// Writes `PURGE <path> HTTP/1.1` with `Host: <authority>`, the purge token in its header (if
/// the instance takes one) and extra header fields (the kind of purge, keys, prefix);
/// [`crate::dialect::Dialect::request`] is its one caller.
///
/// `path` and `authority` come only from a validated [`Target`], a normalised host name or a
/// constant; the fields are [`FieldValue`]s. All are printable ASCII without spaces.
/// `keep_alive` false asks the instance to close after answering (the last request on a
/// connection).
pub(crate) fn write_purge(
    path: &str,
    authority: &str,
    token: Option<(&str, &FieldValue)>,
    extra: &[(&str, FieldValue)],
    keep_alive: bool,
) -> Vec<u8> {
    debug_assert!(path.bytes().chain(authority.bytes()).all(|b| b.is_ascii_graphic()));
    let mut out = Vec::with_capacity(160 + path.len());
    let mut line = |parts: &[&str]| {
        for p in parts {
            out.extend_from_slice(p.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    };
    line(&["PURGE ", path, " HTTP/1.1"]);
    line(&["Host: ", authority]);
    if let Some((name, value)) = token {
        line(&[name, ": ", value.as_str()]);
    }
    for (name, value) in extra {
        line(&[name, ": ", value.as_str()]);
    }
    line(&["User-Agent: edgepurge/", env!("CARGO_PKG_VERSION")]);
    line(&["Connection: ", if keep_alive { "keep-alive" } else { "close" }]);
    line(&[]);
    out
}

/// `request` (a complete request this module wrote) with one more header field right after
/// its request line; `name` is a token and `value` a [`FieldValue`], so no line can break.
pub(crate) fn add_field(request: &[u8], name: &'static str, value: &FieldValue) -> Vec<u8> {
    debug_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    let line_end = request.windows(2).position(|w| w == b"\r\n").map_or(request.len(), |i| i + 2);
    let mut out = Vec::with_capacity(request.len() + name.len() + value.as_str().len() + 4);
    out.extend_from_slice(&request[..line_end]);
    for part in [name, ": ", value.as_str(), "\r\n"] {
        out.extend_from_slice(part.as_bytes());
    }
    out.extend_from_slice(&request[line_end..]);
    out
}

/// Writes `HEAD <path?query> HTTP/1.1` for `target`, asking the instance to close afterwards.
pub fn head_request(target: &Target) -> Vec<u8> {
    head_request_via(target, None, false)
}

/// [`head_request`] for an instance behind a shared edge, with its routing header;
/// `keep_alive` false asks the instance to close after answering.
pub fn head_request_via(target: &Target, routing: Option<(&str, FieldValue)>, keep_alive: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + target.path_and_query().len());
    for part in ["HEAD ", target.path_and_query(), " HTTP/1.1\r\nHost: ", target.authority(), "\r\n"] {
        out.extend_from_slice(part.as_bytes());
    }
    if let Some((name, value)) = routing {
        for part in [name, ": ", value.as_str(), "\r\n"] {
            out.extend_from_slice(part.as_bytes());
        }
    }
    let connection = if keep_alive { "keep-alive" } else { "close" };
    for part in ["User-Agent: edgepurge/", env!("CARGO_PKG_VERSION"), "\r\nConnection: ", connection, "\r\n\r\n"] {
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// A complete answer from an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Header fields, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Whether the connection may carry another request.
    pub keep_alive: bool,
}

impl Answer {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why an instance's answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    /// Not HTTP/1.x, or framing that cannot be trusted.
    Malformed(String),
    /// Head or body over the caps.
    TooLarge,
    /// The connection ended before the answer was complete.
    Incomplete,
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerError::Malformed(e) => write!(f, "malformed HTTP answer: {e}"),
            AnswerError::TooLarge => f.write_str("HTTP answer too large"),
            AnswerError::Incomplete => f.write_str("connection closed before the answer was complete"),
        }
    }
}

/// Accumulates the bytes of one answer until it is complete.
///
/// On a pipelined connection one read can carry the end of this answer and the start of the
/// next: what lies past the end of the answer is kept for [`AnswerReader::take_rest`].
#[derive(Debug, Default)]
pub struct AnswerReader {
    buf: Vec<u8>,
    head: bool,
    rest: Vec<u8>,
}

impl AnswerReader {
    /// A reader for the answer to a request with a body in its answer (`PURGE`, `GET`).
    pub fn new() -> Self {
        AnswerReader::default()
    }

    /// A reader for the answer to a `HEAD` request, which never has a body (RFC 9110 9.3.2).
    pub fn for_head() -> Self {
        AnswerReader { head: true, ..AnswerReader::default() }
    }

    /// Feeds bytes read from the connection; `Some` once the answer is complete.
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<Answer>, AnswerError> {
        self.buf.extend_from_slice(data);
        match parse(&self.buf, false, self.head)? {
            Some((answer, used)) => {
                self.rest = self.buf.split_off(used);
                Ok(Some(answer))
            }
            None if self.buf.len() > MAX_HEAD_BYTES + MAX_BODY_BYTES + 1024 => Err(AnswerError::TooLarge),
            None => Ok(None),
        }
    }

    /// The connection reached end of file: completes a close-delimited answer, or fails.
    pub fn finish(&mut self) -> Result<Answer, AnswerError> {
        let (answer, used) = parse(&self.buf, true, self.head)?.ok_or(AnswerError::Incomplete)?;
        self.rest = self.buf.split_off(used);
        Ok(answer)
    }

    /// The bytes that came after the complete answer: the start of the next answer on a
    /// pipelined connection.
    pub fn take_rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.rest)
    }
}

enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

/// The answer at the start of `buf`, and how many bytes of `buf` it took.
fn parse(all: &[u8], eof: bool, head: bool) -> Result<Option<(Answer, usize)>, AnswerError> {
    let mut buf = all;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        let head_len = match resp.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                if buf.len() > MAX_HEAD_BYTES {
                    return Err(AnswerError::TooLarge);
                }
                return if eof { Err(AnswerError::Incomplete) } else { Ok(None) };
            }
            Err(e) => return Err(AnswerError::Malformed(e.to_string())),
        };
        if head_len > MAX_HEAD_BYTES {
            return Err(AnswerError::TooLarge);
        }
        let status = resp.code.unwrap_or(0);
        if status == 101 {
            return Err(AnswerError::Malformed("unexpected 101 Switching Protocols".into()));
        }
        if (100..200).contains(&status) {
            buf = &buf[head_len..];
            continue;
        }
        let version = resp.version.unwrap_or(1);
        let mut fields = Vec::with_capacity(resp.headers.len());
        for h in resp.headers.iter() {
            let value = std::str::from_utf8(h.value)
                .map_err(|_| AnswerError::Malformed(format!("header {} is not UTF-8", h.name)))?;
            fields.push((h.name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        let framing = if head { Framing::None } else { framing(status, &fields)? };
        let connection_tokens: Vec<String> = fields
            .iter()
            .filter(|(n, _)| n == "connection")
            .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
            .collect();
        let mut keep_alive = if version == 0 {
            connection_tokens.iter().any(|t| t == "keep-alive")
        } else {
            !connection_tokens.iter().any(|t| t == "close")
        };
        let rest = &buf[head_len..];
        let (body, body_len) = match framing {
            Framing::None => (Vec::new(), 0),
            Framing::Length(n) => {
                if n > MAX_BODY_BYTES {
                    return Err(AnswerError::TooLarge);
                }
                if rest.len() < n {
                    return if eof { Err(AnswerError::Incomplete) } else { Ok(None) };
                }
                (rest[..n].to_vec(), n)
            }
            Framing::Chunked => match dechunk(rest)? {
                Some(body) => body,
                None if eof => return Err(AnswerError::Incomplete),
                None => return Ok(None),
            },
            Framing::UntilClose => {
                keep_alive = false;
                if rest.len() > MAX_BODY_BYTES {
                    return Err(AnswerError::TooLarge);
                }
                if !eof {
                    return Ok(None);
                }
                (rest.to_vec(), rest.len())
            }
        };
        let used = all.len() - rest.len() + body_len;
        return Ok(Some((Answer { status, headers: fields, body, keep_alive }, used)));
    }
}

fn framing(status: u16, fields: &[(String, String)]) -> Result<Framing, AnswerError> {
    if status == 204 || status == 304 {
        return Ok(Framing::None);
    }
    let te: Vec<&str> = fields.iter().filter(|(n, _)| n == "transfer-encoding").map(|(_, v)| v.as_str()).collect();
    if !te.is_empty() {
        let last = te.join(",");
        let chunked_last = last.rsplit(',').next().map(|c| c.trim().eq_ignore_ascii_case("chunked"));
        // RFC 9112 6.3: with Transfer-Encoding, Content-Length is ignored; if chunked is not the
        // final coding the body runs until close.
        return Ok(if chunked_last == Some(true) { Framing::Chunked } else { Framing::UntilClose });
    }
    let mut length: Option<usize> = None;
    for (_, v) in fields.iter().filter(|(n, _)| n == "content-length") {
        for part in v.split(',') {
            let n: usize =
                part.trim().parse().map_err(|_| AnswerError::Malformed(format!("bad Content-Length {v:?}")))?;
            if length.is_some_and(|l| l != n) {
                return Err(AnswerError::Malformed("conflicting Content-Length".into()));
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(n) => Framing::Length(n),
        None => Framing::UntilClose,
    })
}

/// Decodes a chunked body, and says how many bytes it took; `None` while incomplete.
fn dechunk(all: &[u8]) -> Result<Option<(Vec<u8>, usize)>, AnswerError> {
    let mut rest = all;
    let mut body = Vec::new();
    loop {
        let (used, size) = match httparse::parse_chunk_size(rest) {
            Ok(httparse::Status::Complete(x)) => x,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(AnswerError::Malformed("bad chunk size".into())),
        };
        let size = usize::try_from(size).map_err(|_| AnswerError::TooLarge)?;
        if body.len().saturating_add(size) > MAX_BODY_BYTES {
            return Err(AnswerError::TooLarge);
        }
        rest = &rest[used..];
        if size == 0 {
            // Trailer section: lines until an empty one.
            loop {
                match rest.windows(2).position(|w| w == b"\r\n") {
                    None => return Ok(None),
                    Some(0) => return Ok(Some((body, all.len() - rest.len() + 2))),
                    Some(i) => rest = &rest[i + 2..],
                }
            }
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        if &rest[size..size + 2] != b"\r\n" {
            return Err(AnswerError::Malformed("chunk not followed by CRLF".into()));
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}
