//! Cloudflare Access: verifying the `Cf-Access-Jwt-Assertion` JWT.
//!
//! Access signs an RS256 JWT per request; its team's keys are published as a JWKS at
//! `https://<team>.cloudflareaccess.com/cdn-cgi/access/certs`. Per Cloudflare's guidance we check
//! the signature against the key named by `kid`, the `aud` (the application's audience tag), the
//! `iss` (the team domain) and the expiry. The worker fetches and caches the JWKS; this module
//! only computes (the current time is passed in).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use rsa::{BigUint, RsaPublicKey};
use serde::Deserialize;
use sha2::Sha256;
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
            JwtError::Algorithm(a) => write!(f, "Access JWT algorithm {a:?} is not RS256"),
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
    keys: Vec<(String, RsaPublicKey)>,
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

impl Jwks {
    /// Parses a JWKS document; non-RSA keys are skipped.
    pub fn parse(json: &[u8]) -> Result<Jwks, JwtError> {
        let doc: JwksDoc = serde_json::from_slice(json).map_err(|e| JwtError::Malformed(format!("JWKS: {e}")))?;
        let mut keys = Vec::new();
        for k in doc.keys.into_iter().filter(|k| k.kty == "RSA") {
            let n = b64(&k.n)?;
            let e = b64(&k.e)?;
            let key = RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e))
                .map_err(|e| JwtError::Malformed(format!("JWKS key {}: {e}", k.kid)))?;
            keys.push((k.kid, key));
        }
        Ok(Jwks { keys })
    }

    /// Whether a key with this id is present.
    pub fn has(&self, kid: &str) -> bool {
        self.keys.iter().any(|(k, _)| k == kid)
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

/// Verifies `jwt` against `jwks`, `audience`, `issuer` and the time `now` (seconds).
pub fn verify(jwt: &str, jwks: &Jwks, audience: &str, issuer: &str, now: i64) -> Result<AccessIdentity, JwtError> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed("expected three parts".into()));
    };
    let header: Header = serde_json::from_slice(&b64(h)?).map_err(|e| JwtError::Malformed(e.to_string()))?;
    if header.alg != "RS256" {
        return Err(JwtError::Algorithm(header.alg));
    }
    let key = jwks
        .keys
        .iter()
        .find(|(kid, _)| *kid == header.kid)
        .map(|(_, k)| k.clone())
        .ok_or(JwtError::UnknownKey(header.kid))?;
    let signature = Signature::try_from(b64(s)?.as_slice()).map_err(|_| JwtError::BadSignature)?;
    let signed = &jwt[..h.len() + 1 + c.len()];
    VerifyingKey::<Sha256>::new(key).verify(signed.as_bytes(), &signature).map_err(|_| JwtError::BadSignature)?;
    // Only a verified token's claims are read.
    let claims: Claims = serde_json::from_slice(&b64(c)?).map_err(|e| JwtError::Malformed(e.to_string()))?;
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

/// The shortest time between two fetches of the JWKS, in milliseconds: a JWT naming a key the
/// cached set lacks triggers at most one fetch a minute, so anonymous callers cannot make the
/// worker fetch on every request.
pub const JWKS_REFETCH_MS: i64 = 60_000;

/// Whether the JWKS may be fetched now, given when it was last fetched (`None`: never).
pub fn jwks_fetch_due(last_fetched_ms: Option<i64>, now_ms: i64) -> bool {
    last_fetched_ms.is_none_or(|last| now_ms.saturating_sub(last) >= JWKS_REFETCH_MS)
}
