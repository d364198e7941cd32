//! Who may do what: personal tokens, sessions, roles, and the browser-facing guards.
//!
//! Secrets are made from random bytes the caller passes in (the core reads no randomness) and
//! stored only as SHA-256 hashes: a token is 32 random bytes, so a fast hash is enough (nothing
//! to brute-force), and a database leak reveals no usable token.

use crate::api::Role;
use crate::error::{ApiError, ErrorKind};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Prefix of personal API tokens, so a leaked one is recognisable (secret scanners).
pub const TOKEN_PREFIX: &str = "ep_";
/// Name of the session cookie. The `__Host-` prefix makes browsers accept it only when set
/// `Secure`, with `Path=/` and no `Domain`, from the site itself: a sibling subdomain cannot
/// plant one (RFC 6265bis section 4.1.3.2).
pub const SESSION_COOKIE: &str = "__Host-ep_session";
/// Header carrying the per-session CSRF token on state-changing calls.
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// A fresh secret (token, session id or CSRF token) from 32 random bytes.
pub fn new_secret(prefix: &str, random: &[u8; 32]) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random))
}

/// The stored form of a secret: lower-case hex SHA-256.
pub fn secret_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The first characters of a token, safe to show in lists ("ep_AbCd…").
pub fn token_hint(token: &str) -> String {
    let shown: String = token.chars().take(TOKEN_PREFIX.len() + 4).collect();
    format!("{shown}…")
}

/// Things a signed-in person may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Purge URLs and surrogate keys of the allowed hosts.
    Purge,
    /// Purge by path prefix or a whole host: can empty much of the cache.
    PurgeWide,
    /// Fetch a URL from every instance to see its Cache-Status.
    Verify,
    /// Read instances, history and their own identity.
    Read,
    /// Create people, issue and revoke tokens.
    ManagePeople,
    /// Check every instance of every group (`POST /api/instances/check`).
    CheckInstances,
}

/// Whether `role` may perform `action`.
pub fn permits(role: Role, action: Action) -> bool {
    match action {
        Action::Purge | Action::Verify | Action::Read => true,
        Action::PurgeWide | Action::ManagePeople | Action::CheckInstances => role == Role::Admin,
    }
}

/// The value of cookie `name` in a `Cookie` header; `None` when it is absent, or present more
/// than once (which one the browser meant is unknowable, so neither is believed).
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    let mut found = header.split(';').map(str::trim).filter_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == name).then(|| v.trim())
    });
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// `Set-Cookie` for a session: not readable from scripts, HTTPS only, never sent cross-site.
pub fn session_cookie(session_id: &str, max_age_secs: u64) -> String {
    format!("{SESSION_COOKIE}={session_id}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={max_age_secs}")
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
}

/// CSRF guard for cookie-authenticated, state-changing requests: the `Origin` header, when the
/// browser sends one, must be the worker's own origin, and the CSRF token must match the
/// session's (compared in constant time).
pub fn csrf_ok(origin: Option<&str>, own_origin: &str, sent_token: Option<&str>, session_token: &str) -> bool {
    let origin_ok = origin.is_none_or(|o| o.eq_ignore_ascii_case(own_origin));
    let token_ok = sent_token.is_some_and(|t| constant_time_eq(t.as_bytes(), session_token.as_bytes()));
    origin_ok & token_ok
}

/// Compares two byte strings in time independent of their contents (only of their lengths),
/// with `subtle`'s constant-time equality.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(a, b))
}

/// The credential a request is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// `Authorization: Bearer <token>`: a personal or bootstrap token.
    Token(&'a str),
    /// `Cf-Access-Jwt-Assertion`, when Access is configured.
    Access(&'a str),
    /// The session cookie's value.
    Session(&'a str),
}

/// The credentials a request presents: its `Authorization`, `Cf-Access-Jwt-Assertion` and
/// `Cookie` headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Presented<'a> {
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The `Cf-Access-Jwt-Assertion` header.
    pub access_jwt: Option<&'a str>,
    /// The `Cookie` header.
    pub cookie: Option<&'a str>,
}

/// Which credential a request is judged by, the first of: an `Authorization` header (a
/// malformed one is a 401, never passed over for a weaker credential), an Access JWT when
/// Access is configured, the session cookie. None of them is a 401 that says how to sign in.
pub fn credential<'a>(presented: &Presented<'a>, access_configured: bool) -> Result<Credential<'a>, ApiError> {
    if let Some(value) = presented.authorization {
        return bearer(value)
            .map(Credential::Token)
            .ok_or_else(|| ApiError::new(ErrorKind::Unauthorized, "send Authorization: Bearer <token>"));
    }
    if let Some(jwt) = presented.access_jwt.filter(|_| access_configured) {
        return Ok(Credential::Access(jwt));
    }
    if let Some(session) = presented.cookie.and_then(|c| cookie_value(c, SESSION_COOKIE)) {
        return Ok(Credential::Session(session));
    }
    Err(ApiError::new(
        ErrorKind::Unauthorized,
        "sign in, send Authorization: Bearer <token>, or come through Cloudflare Access",
    ))
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// What the store holds of a live session (an expired one is not read at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionFacts {
    /// Signed in with a personal token (else with a bootstrap token of `API_TOKENS`).
    pub personal: bool,
    /// Its person is the bootstrap admin.
    pub bootstrap_admin: bool,
    /// For a bootstrap session: the token it was signed in with is still in `API_TOKENS`.
    pub bootstrap_token_current: bool,
}

/// Whether a live session still stands: a bootstrap session only as long as its token is in
/// `API_TOKENS`, and never a personal-token session of the bootstrap admin. A session the store
/// did not find (unknown or expired) is `None`.
pub fn session_stands(session: Option<SessionFacts>) -> Result<(), ApiError> {
    let Some(s) = session else {
        return Err(ApiError::new(ErrorKind::Unauthorized, "the session has expired: sign in again"));
    };
    let revoked = if s.personal { s.bootstrap_admin } else { !s.bootstrap_token_current };
    if revoked {
        return Err(ApiError::new(
            ErrorKind::Unauthorized,
            "the token this session was signed in with is no longer valid: sign in again",
        ));
    }
    Ok(())
}

/// Whether the CSRF rule applies to a session's request: to every method that may change
/// state, that is all but `GET`, `HEAD` and `OPTIONS`.
pub fn csrf_applies(method: &str) -> bool {
    !["GET", "HEAD", "OPTIONS"].iter().any(|safe| method.eq_ignore_ascii_case(safe))
}

/// The CSRF rule for a session's request (see [`csrf_ok`]): a 403 when it applies and fails.
pub fn check_csrf(
    method: &str,
    origin: Option<&str>,
    own_origin: &str,
    sent_token: Option<&str>,
    session_token: &str,
) -> Result<(), ApiError> {
    if !csrf_applies(method) || csrf_ok(origin, own_origin, sent_token, session_token) {
        return Ok(());
    }
    Err(ApiError::new(ErrorKind::Forbidden, "cross-site request refused: missing or wrong X-CSRF-Token or Origin"))
}

/// Sign-in has no session yet, so no CSRF token: a sign-in from another origin (login CSRF) is
/// refused by its `Origin` alone, when the browser sends one.
pub fn sign_in_origin(origin: Option<&str>, own_origin: &str) -> Result<(), ApiError> {
    if origin.is_none_or(|o| o.eq_ignore_ascii_case(own_origin)) {
        return Ok(());
    }
    Err(ApiError::new(ErrorKind::Forbidden, "cross-site sign-in refused"))
}
