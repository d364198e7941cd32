//! Who may do what: personal tokens, sessions, roles, and the browser-facing guards.
//!
//! Secrets are made from random bytes the caller passes in (the core reads no randomness) and
//! stored only as SHA-256 hashes: a token is 32 random bytes, so a fast hash is enough (nothing
//! to brute-force), and a database leak reveals no usable token.

use crate::api::Role;
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
