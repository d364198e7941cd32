//! Purge targets: caller URLs, validated and normalised into what goes on the wire.
//!
//! A cache instance keys its objects on the `Host` header and the request target, so a purge
//! must reproduce exactly what a browser would have sent. Normalisation follows the WHATWG URL
//! parser (the `url` crate): scheme and host lower-cased, the host IDNA-normalised to its ASCII
//! form, the default port elided, the fragment dropped (RFC 9110 section 4.2.4: a fragment is
//! never sent). Path and query are kept byte-exact as percent-encoded: `%7E` stays `%7E`.
//!
//! Input is rejected rather than repaired where repair would change meaning. In particular the
//! WHATWG parser silently strips tabs and newlines; we refuse any control character before
//! parsing, so no CR or LF can ever reach a request line.
//!
//! International domain names are the platform's: the build carries no Unicode tables (the
//! `url` crate's IDNA back end is the stub `idna_adapter` 1.0, which takes ASCII and `xn--`
//! labels only; the tables were a tenth of the worker). A host with other characters is given to
//! the platform's own WHATWG parser (`new URL(...)` in a worker or a browser, installed with
//! [`use_platform_idna`]) and its ASCII result parsed again here. Without one, such a host is
//! refused with an error that says to send its `xn--` form: never guessed.

use crate::error::{ApiError, ErrorKind};
use std::fmt;
use std::sync::OnceLock;
use url::{Host, Url};

/// The platform's WHATWG URL parser: an absolute URL in, its serialisation (ASCII, the host in
/// IDNA `xn--` form) out, `None` if it refuses the URL.
pub type PlatformUrl = fn(&str) -> Option<String>;

static PLATFORM_URL: OnceLock<PlatformUrl> = OnceLock::new();

/// Installs the platform's URL parser for international domain names (once per process; later
/// calls change nothing).
pub fn use_platform_idna(parser: PlatformUrl) {
    let _ = PLATFORM_URL.set(parser);
}

/// `Url::parse`, with a host outside ASCII put in its `xn--` form by `platform` first (the stub
/// back end is never given one).
fn parse_url(input: &str, platform: Option<PlatformUrl>) -> Result<Url, TargetError> {
    let unparsable = |e: url::ParseError| TargetError::Unparsable(e.to_string());
    if authority_is_plain(input) {
        return Url::parse(input).map_err(unparsable);
    }
    let platform = platform.ok_or_else(|| {
        TargetError::Unparsable(
            "a host with non-ASCII or percent-encoded characters: this build has no IDNA of its own; send \
             the host in its xn-- (Punycode) form"
                .into(),
        )
    })?;
    let ascii = platform(input)
        .filter(|a| a.is_ascii())
        .ok_or_else(|| TargetError::Unparsable("invalid international domain name".into()))?;
    Url::parse(&ascii).map_err(unparsable)
}

/// Whether the authority (user information, host and port) of `input` is ASCII without
/// percent-encoding (the WHATWG parser decodes a host's `%xx` before IDNA, so `b%C3%BCcher` is
/// `bücher`): what follows the scheme's `:` and any slashes (it takes `\` for `/` in http and
/// https), up to the path, query or fragment.
fn authority_is_plain(input: &str) -> bool {
    let Some((_, rest)) = input.split_once(':') else { return true };
    let authority = rest.trim_start_matches(['/', '\\']).split(['/', '\\', '?', '#']).next().unwrap_or("");
    authority.is_ascii() && !authority.contains('%')
}

/// The longest URL accepted, in bytes. Varnish's default `http_req_size` is 32 KiB for the
/// whole request head; 8 KiB keeps well inside it.
pub const MAX_URL_LEN: usize = 8192;

/// A validated purge target.
///
/// Every field is free of control characters, spaces and non-ASCII bytes, which is what
/// [`crate::http1`] relies on to write a request without escaping.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    url: String,
    host: String,
    authority: String,
    path_and_query: String,
}

/// Why a URL cannot be purged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// Longer than [`MAX_URL_LEN`].
    TooLong,
    /// Contains a control character, space or DEL (CR/LF/NUL/tab included).
    ControlCharacter,
    /// Not an absolute URL.
    Unparsable(String),
    /// Not `http` or `https`.
    Scheme(String),
    /// Contains a user name or password.
    Userinfo,
    /// The host is an IP address; instances are addressed by name.
    IpHost,
    /// No host at all.
    NoHost,
    /// A `%` not followed by two hex digits.
    BadPercentEncoding,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::TooLong => write!(f, "URL is longer than {MAX_URL_LEN} bytes"),
            TargetError::ControlCharacter => f.write_str("URL contains a control character or whitespace"),
            TargetError::Unparsable(e) => write!(f, "not an absolute URL: {e}"),
            TargetError::Scheme(s) => write!(f, "scheme {s:?} is not http or https"),
            TargetError::Userinfo => f.write_str("URL must not contain a user name or password"),
            TargetError::IpHost => f.write_str("URL host must be a name, not an IP address"),
            TargetError::NoHost => f.write_str("URL has no host"),
            TargetError::BadPercentEncoding => f.write_str("URL has a '%' not followed by two hex digits"),
        }
    }
}

impl Target {
    /// Validates and normalises one caller URL.
    pub fn parse(input: &str) -> Result<Target, TargetError> {
        Target::parse_with(input, PLATFORM_URL.get().copied())
    }

    /// [`Target::parse`] with `platform` as the parser of international domain names.
    pub fn parse_with(input: &str, platform: Option<PlatformUrl>) -> Result<Target, TargetError> {
        if input.len() > MAX_URL_LEN {
            return Err(TargetError::TooLong);
        }
        // Before parsing: the WHATWG parser would silently drop tab/CR/LF and trim controls.
        if input.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(TargetError::ControlCharacter);
        }
        let url = parse_url(input, platform)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TargetError::Scheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::Userinfo);
        }
        let host = match url.host() {
            // `example.com.` and `example.com` are one site (and one cache object, see the VCL).
            Some(Host::Domain(d)) => match d.strip_suffix('.').unwrap_or(d) {
                d if d.is_empty() || d.ends_with('.') => return Err(TargetError::NoHost),
                d => d.to_owned(),
            },
            Some(Host::Ipv4(_) | Host::Ipv6(_)) => return Err(TargetError::IpHost),
            None => return Err(TargetError::NoHost),
        };
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let mut path_and_query = url.path().to_owned();
        if let Some(q) = url.query() {
            path_and_query.push('?');
            path_and_query.push_str(q);
        }
        if !percent_encoding_is_valid(&path_and_query) {
            return Err(TargetError::BadPercentEncoding);
        }
        let mut normalised = url;
        normalised.set_fragment(None);
        normalised.set_host(Some(&host)).map_err(|e| TargetError::Unparsable(e.to_string()))?;
        let url = normalised.to_string();
        // The parser output is ASCII by construction; check it anyway, since http1 relies on it.
        let clean = |s: &str| s.bytes().all(|b| b.is_ascii_graphic());
        if !clean(&url) || !clean(&authority) || !clean(&path_and_query) {
            return Err(TargetError::ControlCharacter);
        }
        Ok(Target { url, host, authority, path_and_query })
    }

    /// The normalised URL, without fragment.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The host name, lower-case ASCII (IDNA `xn--` form for international names).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The `Host` header value: the host plus the port when it is not the scheme's default.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The request target: path and query, exactly as percent-encoded.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }
}

fn percent_encoding_is_valid(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let ok = b.len() > i + 2 && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit();
            if !ok {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// Parses every URL of a request, deduplicating equal targets (first occurrence wins).
///
/// Fails on the first bad URL with a 400 problem naming it: a request is valid as a whole or
/// not at all, so nothing is purged for a request with one bad URL.
pub fn parse_all(urls: &[String]) -> Result<Vec<Target>, ApiError> {
    let mut out: Vec<Target> = Vec::with_capacity(urls.len());
    for (i, raw) in urls.iter().enumerate() {
        let target = Target::parse(raw).map_err(|e| {
            ApiError::new(ErrorKind::BadRequest, format!("urls[{i}]: {e}")).with_subject(printable(raw))
        })?;
        if !out.contains(&target) {
            out.push(target);
        }
    }
    Ok(out)
}

/// A form of caller input safe to echo back in a problem: control characters escaped, cut short.
pub fn printable(raw: &str) -> String {
    let mut s: String = raw.chars().take(200).flat_map(char::escape_debug).collect();
    if raw.chars().count() > 200 {
        s.push('…');
    }
    s
}

/// Normalises a configured host name the way [`Target::parse`] normalises URL hosts:
/// lower-cased, IDNA to ASCII, one trailing dot dropped; `None` for anything but a domain name.
pub fn normalise_host(raw: &str) -> Option<String> {
    normalise_host_with(raw, PLATFORM_URL.get().copied())
}

/// [`normalise_host`] with `platform` as the parser of international domain names.
pub fn normalise_host_with(raw: &str, platform: Option<PlatformUrl>) -> Option<String> {
    if raw.bytes().any(|b| !b.is_ascii_graphic() && b.is_ascii()) || raw.contains(['/', '@', ':', '?', '#']) {
        return None;
    }
    match parse_url(&format!("http://{raw}/"), platform).ok()?.host()? {
        Host::Domain(d) => {
            Some(d.strip_suffix('.').unwrap_or(d)).filter(|d| !d.is_empty() && !d.ends_with('.')).map(str::to_owned)
        }
        _ => None,
    }
}
