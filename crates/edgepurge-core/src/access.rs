//! Cloudflare Access: verifying the `Cf-Access-Jwt-Assertion` JWT.
//!
//! Access signs an RS256 JWT per request; its team's keys are published as a JWKS at
//! `https://<team>.cloudflareaccess.com/cdn-cgi/access/certs`. Per Cloudflare's guidance we check
//! the signature against the key named by `kid`, the `aud` (the application's audience tag), the
//! `iss` (the team domain) and the expiry. The worker fetches and caches the JWKS; this module
//! only computes (the current time is passed in).
//!
//! The RSA arithmetic itself is the platform's, as a socket or a clock is:
//! [`signed`](crate::access::signed) decides which key, which bytes and which signature (RS256:
//! RSASSA-PKCS1-v1_5 with SHA-256), the worker has WebCrypto check them, and
//! [`Signed::claims`](crate::access::Signed::claims) reads the claims only of a token whose
//! signature held. The worker carries no bignum code (RSA was 12 KB of its gzip size).

use crate::error::{ApiError, ErrorKind};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use std::fmt;

/// Allowed clock skew, in seconds, for `exp` and `nbf`.
pub const LEEWAY_SECS: i64 = 60;

/// Why a JWT was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url parts of JSON.
    Malformed(String),
    /// Not RS256.
    Algorithm(String),
    /// No key with this id in the JWKS (the worker refetches the JWKS once on this).
    UnknownKey(String),
    /// The signature does not verify.
    BadSignature,
    /// Past `exp`.
    Expired,
    /// Before `nbf`.
    NotYetValid,
    /// `aud` does not contain the application's audience.
    Audience,
    /// `iss` is not the team domain.
    Issuer,
    /// No `email` claim.
    NoEmail,
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwtError::Malformed(e) => write!(f, "malformed Access JWT: {e}"),
            JwtError::Algorithm(_) => write!(f, "the Access JWT is not signed with RS256"),
            JwtError::UnknownKey(k) => write!(f, "Access JWT signed by unknown key {k:?}"),
            JwtError::BadSignature => f.write_str("Access JWT signature does not verify"),
            JwtError::Expired => f.write_str("Access JWT has expired"),
            JwtError::NotYetValid => f.write_str("Access JWT is not valid yet"),
            JwtError::Audience => f.write_str("Access JWT is for another application (aud)"),
            JwtError::Issuer => f.write_str("Access JWT is from another team (iss)"),
            JwtError::NoEmail => f.write_str("Access JWT has no email claim"),
        }
    }
}

/// A JSON Web Key Set, reduced to its RSA keys.
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: Vec<RsaKey>,
}

/// An RSA public key of the set, as WebCrypto imports a JWK: modulus and exponent in unpadded
/// base64url, big-endian without leading zeros. Checked on parsing: a modulus of 2,048 to 8,192
/// bits, an odd exponent from 3 to 2^32 - 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaKey {
    /// The key id (`kid`).
    pub kid: String,
    /// The modulus (`n`).
    pub n: String,
    /// The public exponent (`e`).
    pub e: String,
}

#[derive(Deserialize)]
struct JwksDoc {
    keys: Vec<JwkDoc>,
}

#[derive(Deserialize)]
struct JwkDoc {
    kty: String,
    #[serde(default)]
    kid: String,
    #[serde(default)]
    n: String,
    #[serde(default)]
    e: String,
}

/// An unsigned big-endian integer's bytes without leading zeros.
fn magnitude(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    &bytes[zeros..]
}

impl RsaKey {
    fn parse(k: JwkDoc) -> Result<RsaKey, JwtError> {
        let bad = |why: &str| JwtError::Malformed(format!("JWKS key {:?}: {why}", k.kid));
        let n = b64(&k.n)?;
        let e = b64(&k.e)?;
        let (n, e) = (magnitude(&n), magnitude(&e));
        let bits = n.first().map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
        if !(2048..=8192).contains(&bits) {
            return Err(bad(&format!("a modulus of {bits} bits")));
        }
        let exponent = if e.len() <= 4 { e.iter().fold(0u64, |v, &b| v << 8 | u64::from(b)) } else { 0 };
        if exponent < 3 || exponent % 2 == 0 {
            return Err(bad("an exponent that is not an odd number from 3 to 2^32 - 1"));
        }
        Ok(RsaKey { n: URL_SAFE_NO_PAD.encode(n), e: URL_SAFE_NO_PAD.encode(e), kid: k.kid })
    }

    /// The modulus' length in bytes, an RS256 signature's length: read off its unpadded
    /// base64url form (four characters for every three bytes, the rest in the last 2 or 3).
    fn modulus_len(&self) -> usize {
        self.n.len() * 3 / 4
    }
}

impl Jwks {
    /// Parses a JWKS document; non-RSA keys are skipped, an unusable RSA key refuses the set.
    pub fn parse(json: &[u8]) -> Result<Jwks, JwtError> {
        let doc: JwksDoc = serde_json::from_slice(json).map_err(|e| JwtError::Malformed(format!("JWKS: {e}")))?;
        let keys = doc.keys.into_iter().filter(|k| k.kty == "RSA").map(RsaKey::parse).collect::<Result<_, _>>()?;
        Ok(Jwks { keys })
    }

    /// Whether a key with this id is present.
    pub fn has(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid == kid)
    }
}

/// The claims edgepurge uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessIdentity {
    /// The signed-in person's e-mail, lower-cased.
    pub email: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    aud: Audience,
    iss: String,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    email: Option<String>,
}

fn b64(s: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).map_err(|e| JwtError::Malformed(e.to_string()))
}

/// The key id a JWT names, so the worker can refetch the JWKS when it is unknown.
pub fn key_id(jwt: &str) -> Result<String, JwtError> {
    let header = jwt.split('.').next().unwrap_or_default();
    let h: Header = serde_json::from_slice(&b64(header)?).map_err(|e| JwtError::Malformed(e.to_string()))?;
    Ok(h.kid)
}

pub use crate::config::access_issuer as issuer_for;

/// A JWT whose signature is still to be checked: `message` (its signed bytes) against
/// `signature` with `key`, RSASSA-PKCS1-v1_5 with SHA-256.
#[derive(Debug)]
pub struct Signed<'a> {
    /// The key the header names.
    pub key: &'a RsaKey,
    /// The signed bytes: header and claims as sent, with the dot between them.
    pub message: &'a [u8],
    /// The signature, as long as the key's modulus.
    pub signature: Vec<u8>,
    claims: &'a str,
}

/// Reads what `jwt` asks to be checked against `jwks`: it must be three base64url parts,
/// RS256, signed by a key of the set, with a signature of the key's length.
pub fn signed<'a>(jwt: &'a str, jwks: &'a Jwks) -> Result<Signed<'a>, JwtError> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed("expected three parts".into()));
    };
    let header: Header = serde_json::from_slice(&b64(h)?).map_err(|e| JwtError::Malformed(e.to_string()))?;
    if header.alg != "RS256" {
        return Err(JwtError::Algorithm(header.alg));
    }
    let key = jwks.keys.iter().find(|k| k.kid == header.kid).ok_or(JwtError::UnknownKey(header.kid))?;
    let signature = b64(s)?;
    if signature.len() != key.modulus_len() {
        return Err(JwtError::BadSignature);
    }
    Ok(Signed { key, message: &jwt.as_bytes()[..h.len() + 1 + c.len()], signature, claims: c })
}

impl Signed<'_> {
    /// The identity, once the platform said whether the signature verifies (`verified`):
    /// refused if it did not; otherwise only then are the claims read and checked against
    /// `audience`, `issuer` and the time `now` (seconds).
    pub fn claims(self, verified: bool, audience: &str, issuer: &str, now: i64) -> Result<AccessIdentity, JwtError> {
        if !verified {
            return Err(JwtError::BadSignature);
        }
        let claims: Claims =
            serde_json::from_slice(&b64(self.claims)?).map_err(|e| JwtError::Malformed(e.to_string()))?;
        if now > claims.exp + LEEWAY_SECS {
            return Err(JwtError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| now + LEEWAY_SECS < nbf) {
            return Err(JwtError::NotYetValid);
        }
        let aud_ok = match &claims.aud {
            Audience::One(a) => a == audience,
            Audience::Many(list) => list.iter().any(|a| a == audience),
        };
        if !aud_ok {
            return Err(JwtError::Audience);
        }
        if claims.iss.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(JwtError::Issuer);
        }
        let email = claims.email.filter(|e| e.contains('@')).ok_or(JwtError::NoEmail)?;
        Ok(AccessIdentity { email: email.to_ascii_lowercase(), exp: claims.exp })
    }
}

/// Verifies `jwt` against `jwks`, `audience`, `issuer` and the time `now` (seconds), with a
/// synchronous RS256 check (`rs256(key, message, signature)`); the worker's is asynchronous
/// (WebCrypto) and goes through [`signed`] and [`Signed::claims`] itself.
pub fn verify(
    jwt: &str,
    jwks: &Jwks,
    audience: &str,
    issuer: &str,
    now: i64,
    rs256: impl FnOnce(&RsaKey, &[u8], &[u8]) -> bool,
) -> Result<AccessIdentity, JwtError> {
    let s = signed(jwt, jwks)?;
    let verified = rs256(s.key, s.message, &s.signature);
    s.claims(verified, audience, issuer, now)
}

/// The shortest time between two fetches of the JWKS, in milliseconds: a JWT naming a key the
/// cached set lacks triggers at most one fetch a minute, so anonymous callers cannot make the
/// worker fetch on every request.
pub const JWKS_REFETCH_MS: i64 = 60_000;

/// Whether the JWKS may be fetched now, given when it was last fetched (`None`: never).
pub fn jwks_fetch_due(last_fetched_ms: Option<i64>, now_ms: i64) -> bool {
    last_fetched_ms.is_none_or(|last| now_ms.saturating_sub(last) >= JWKS_REFETCH_MS)
}

/// Why an Access JWT was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessFailure {
    /// The JWT is not one this team's Access signed for this application (401: the caller's).
    Refused(String),
    /// The team's key set could not be fetched, so no JWT can be checked (503: the upstream's,
    /// never blamed on the caller).
    KeysUnavailable {
        /// The key set's URL (`ACCESS_CERTS_URL` or the team's).
        url: String,
        /// What went wrong fetching it.
        why: String,
    },
}

impl From<AccessFailure> for ApiError {
    fn from(f: AccessFailure) -> ApiError {
        match f {
            AccessFailure::Refused(why) => ApiError::new(ErrorKind::Unauthorized, why),
            AccessFailure::KeysUnavailable { url, why } => ApiError::new(
                ErrorKind::AccessUnavailable,
                format!("the Cloudflare Access key set could not be fetched, so no Access JWT can be checked: {why}"),
            )
            .with_subject(url),
        }
    }
}

impl From<JwtError> for AccessFailure {
    fn from(e: JwtError) -> AccessFailure {
        AccessFailure::Refused(e.to_string())
    }
}

/// The Access key set an isolate keeps: the keys of the last fetch that worked, when a fetch
/// was last tried (worked or not), and why the last one failed, if it did.
#[derive(Debug, Clone, Default)]
pub struct KeyCache {
    /// The key set's URL these are from.
    pub url: String,
    /// The keys of the last fetch that worked (kept through failed fetches).
    pub keys: Option<Jwks>,
    /// When a fetch was last tried, in ms.
    pub tried_at: Option<i64>,
    /// Why the last fetch failed; `None` when it worked (or none was tried).
    pub failed: Option<String>,
}

/// What to do for a JWT, given the cached keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStep {
    /// The cached keys have the JWT's key: check it with them.
    Check,
    /// Fetch the key set now (then [`KeyCache::fetched`]).
    Fetch,
    /// Neither: the JWT is refused, or no key set is at hand (see [`AccessFailure`]).
    Refuse(AccessFailure),
}

impl KeyCache {
    /// What to do for a JWT naming key `kid` of the set at `url` at `now_ms`: check it when the
    /// cached keys have `kid`; else fetch, at most once a minute ([`jwks_fetch_due`]) so
    /// anonymous callers cannot make the worker fetch on every request. Within that minute an
    /// unknown key is the caller's fault (401) unless the last fetch failed (503).
    pub fn step(&self, url: &str, kid: &str, now_ms: i64) -> KeyStep {
        let mine = self.url == url;
        if mine && self.keys.as_ref().is_some_and(|k| k.has(kid)) {
            return KeyStep::Check;
        }
        if !mine || jwks_fetch_due(self.tried_at, now_ms) {
            return KeyStep::Fetch;
        }
        KeyStep::Refuse(match &self.failed {
            Some(why) => AccessFailure::KeysUnavailable { url: url.to_owned(), why: why.clone() },
            None => AccessFailure::Refused(format!(
                "unknown key id {kid:?} (the team's keys were fetched less than a minute ago)"
            )),
        })
    }

    /// Notes a fetch of the set at `url` tried at `now_ms`: its keys when it worked, else why
    /// not (the keys that worked before are kept). Then the step for key `kid`: check, or
    /// refuse (a failed fetch is the upstream's fault, a key the new set lacks the caller's).
    pub fn fetched(&mut self, url: &str, fetched: Result<Jwks, String>, kid: &str, now_ms: i64) -> KeyStep {
        if self.url != url {
            *self = KeyCache { url: url.to_owned(), ..KeyCache::default() };
        }
        self.tried_at = Some(now_ms);
        match fetched {
            Ok(keys) => {
                let has = keys.has(kid);
                (self.keys, self.failed) = (Some(keys), None);
                if has {
                    KeyStep::Check
                } else {
                    KeyStep::Refuse(AccessFailure::Refused(format!("unknown key id {kid:?}")))
                }
            }
            Err(why) => {
                self.failed = Some(why.clone());
                KeyStep::Refuse(AccessFailure::KeysUnavailable { url: url.to_owned(), why })
            }
        }
    }
}
