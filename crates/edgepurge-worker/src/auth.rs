//! Who is calling: a bearer token, a Cloudflare Access JWT, or a console session cookie.
//!
//! The decisions (hashing, constant-time comparison, JWT checks, roles, CSRF) are the core's;
//! this module gathers the inputs from the request, D1 and the Access JWKS, and has the
//! runtime's WebCrypto check the RS256 signature the core names.

use crate::body::{fetch_within, read_capped, Unread, Unsent};
use crate::js::{object, text};
use crate::problem::internal;
use crate::store::{Store, BOOTSTRAP_ADMIN};
use edgepurge_core::access::{self, Jwks, RsaKey};
use edgepurge_core::api::{Me, Person, Via};
use edgepurge_core::auth::{cookie_value, csrf_ok, secret_hash, Action, CSRF_HEADER, SESSION_COOKIE};
use edgepurge_core::config::{AccessSettings, Config};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::ApiError;
use js_sys::{Array, Promise, Uint8Array};
use std::cell::RefCell;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Method, Request, Url};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Identity {
    pub person: Person,
    pub via: Via,
    /// For sessions: the CSRF token and expiry.
    pub csrf: Option<String>,
    pub expires_at: Option<i64>,
}

impl Identity {
    pub fn me(&self, config: &Config) -> Me {
        Me {
            name: self.person.name.clone(),
            email: self.person.email.clone(),
            role: self.person.role,
            via: self.via,
            csrf_token: self.csrf.clone(),
            expires_at: self.expires_at,
            trace_url: config.trace_url.clone(),
        }
    }

    /// 403 unless the person's role permits `action`.
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        edgepurge_core::request::require(self.person.role, action)
    }
}

fn header(req: &Request, name: &str) -> Result<Option<String>, ApiError> {
    req.headers().get(name).map_err(internal)
}

fn unauthorized(detail: &str) -> ApiError {
    ApiError::new(ErrorKind::Unauthorized, detail)
}

/// The person a personal or bootstrap token belongs to, and the token's id (None: bootstrap).
pub async fn token_owner(
    token: &str,
    config: &Config,
    store: &Store,
    now: i64,
) -> Result<(Person, Option<i64>), ApiError> {
    if config.is_bootstrap_token(token) {
        return Ok((store.bootstrap_admin(now).await?, None));
    }
    match store.person_by_token_hash(&secret_hash(token)).await? {
        // The bootstrap admin signs in only with API_TOKENS, so rotating them locks a leaked
        // one out (migration 0011 revoked the personal tokens it had).
        Some((person, _)) if person.name == BOOTSTRAP_ADMIN => {
            Err(unauthorized("the bootstrap admin signs in only with a token of API_TOKENS"))
        }
        Some((person, id)) => Ok((person, Some(id))),
        None => Err(unauthorized("the token is not valid (unknown or revoked)")),
    }
}

/// A caller refused by [`authenticate`]: who they are, when that is known, and why.
pub struct Refused {
    pub who: Option<Identity>,
    pub error: ApiError,
}

impl From<Refused> for ApiError {
    fn from(r: Refused) -> Self {
        r.error
    }
}

/// Who is calling, checked the one way every route checks it: the credentials (401, or 403 for
/// an Access identity with no person), then, for a console session on a state-changing method,
/// the CSRF rule (403). Routes differ only in the role they then require.
pub async fn authenticate(req: &Request, config: &Config, store: &Store, now: i64) -> Result<Identity, Refused> {
    let identity = identify(req, config, store, now).await.map_err(|error| Refused { who: None, error })?;
    match check_csrf(req, &identity) {
        Ok(()) => Ok(identity),
        Err(error) => Err(Refused { who: Some(identity), error }),
    }
}

/// Authenticates the request, or fails with 401 (or 403 for an Access identity with no person).
async fn identify(req: &Request, config: &Config, store: &Store, now: i64) -> Result<Identity, ApiError> {
    if let Some(value) = header(req, "authorization")? {
        let token = Config::bearer(&value).ok_or_else(|| unauthorized("send Authorization: Bearer <token>"))?;
        let (person, _) = token_owner(token, config, store, now).await?;
        return Ok(Identity { person, via: Via::Token, csrf: None, expires_at: None });
    }
    if let (Some(settings), Some(jwt)) = (&config.access, header(req, "cf-access-jwt-assertion")?) {
        let id = verify_access(settings, &jwt, now).await.map_err(|e| unauthorized(&e))?;
        let person = store.person_by_email(&id.email).await?.ok_or_else(|| {
            ApiError::new(ErrorKind::Forbidden, format!("{} has no edgepurge role: ask an admin to add them", id.email))
        })?;
        return Ok(Identity { person, via: Via::Access, csrf: None, expires_at: None });
    }
    if let Some(cookies) = header(req, "cookie")? {
        if let Some(session) = cookie_value(&cookies, SESSION_COOKIE) {
            return match store.session(&secret_hash(session), now).await? {
                // A bootstrap session lives only as long as its token is in API_TOKENS.
                Some(row)
                    if !row.personal && !row.bootstrap_hash.as_deref().is_some_and(|h| config.is_bootstrap_hash(h))
                        || row.personal && row.person.name == BOOTSTRAP_ADMIN =>
                {
                    Err(unauthorized("the token this session was signed in with is no longer valid: sign in again"))
                }
                Some(row) => Ok(Identity {
                    person: row.person,
                    via: Via::Session,
                    csrf: Some(row.csrf),
                    expires_at: Some(row.expires_at),
                }),
                None => Err(unauthorized("the session has expired: sign in again")),
            };
        }
    }
    Err(unauthorized("sign in, or send Authorization: Bearer <token>"))
}

/// Cookie sessions must prove same-origin intent on anything that changes state.
fn check_csrf(req: &Request, identity: &Identity) -> Result<(), ApiError> {
    let Some(expected) = &identity.csrf else { return Ok(()) };
    if matches!(req.method(), Method::Get | Method::Head | Method::Options) {
        return Ok(());
    }
    let url: Url = req.url().map_err(internal)?;
    let own = url.origin().ascii_serialization();
    let origin = header(req, "origin")?;
    let sent = header(req, CSRF_HEADER)?;
    if csrf_ok(origin.as_deref(), &own, sent.as_deref(), expected) {
        Ok(())
    } else {
        Err(ApiError::new(ErrorKind::Forbidden, "cross-site request refused: missing or wrong X-CSRF-Token or Origin"))
    }
}

/// The largest Access JWKS read (a team's key set is a few KB).
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// How long one JWKS fetch may take.
const JWKS_TIMEOUT_MS: u64 = 5000;

thread_local! {
    /// The Access JWKS, cached per isolate: (certs URL, keys if a fetch succeeded, when the last
    /// fetch was tried in ms, whether it worked or not).
    static JWKS: RefCell<Option<(String, Option<Jwks>, i64)>> = const { RefCell::new(None) };
}

async fn fetch_jwks(url: &str) -> Result<Jwks, String> {
    let request = Request::new(url, Method::Get).map_err(|e| format!("fetching {url}: {e}"))?;
    let mut resp = match fetch_within(request, JWKS_TIMEOUT_MS).await {
        Ok(resp) => resp,
        Err(Unsent::Failed(e)) => return Err(format!("fetching {url}: {e}")),
        Err(Unsent::TimedOut) => return Err(format!("fetching {url}: no answer within {JWKS_TIMEOUT_MS} ms")),
    };
    if resp.status_code() != 200 {
        return Err(format!("fetching {url}: HTTP {}", resp.status_code()));
    }
    let body = match read_capped(resp.stream().ok(), MAX_JWKS_BYTES).await {
        Ok(body) => body,
        Err(Unread::TooLarge) => return Err(format!("fetching {url}: more than {MAX_JWKS_BYTES} bytes")),
        Err(Unread::Broken(e)) => return Err(format!("fetching {url}: {e}")),
    };
    Jwks::parse(&body).map_err(|e| e.to_string())
}

/// Verifies an Access JWT, fetching the JWKS when the cached keys lack the JWT's key and the
/// last fetch (successful or not) was tried more than a minute ago (`access::jwks_fetch_due`).
async fn verify_access(settings: &AccessSettings, jwt: &str, now_ms: i64) -> Result<access::AccessIdentity, String> {
    let kid = access::key_id(jwt).map_err(|e| e.to_string())?;
    let cached = JWKS
        .with(|c| c.borrow().as_ref().filter(|(u, _, _)| *u == settings.certs_url).map(|(_, k, at)| (k.clone(), *at)));
    let (keys, tried_at) = cached.map_or((None, None), |(k, at)| (k, Some(at)));
    let jwks = match keys {
        Some(keys) if keys.has(&kid) => keys,
        _ if !access::jwks_fetch_due(tried_at, now_ms) => {
            return Err(format!("unknown key id {kid:?} (the team's keys were fetched less than a minute ago)"))
        }
        stale => {
            // The time is kept whether the fetch works or not: a failing JWKS host is not asked
            // again on every request either.
            let fetched = fetch_jwks(&settings.certs_url).await;
            let keep = fetched.as_ref().ok().cloned().or(stale);
            JWKS.with(|c| *c.borrow_mut() = Some((settings.certs_url.clone(), keep, now_ms)));
            fetched?
        }
    };
    let signed = access::signed(jwt, &jwks).map_err(|e| e.to_string())?;
    let verified = rs256(signed.key, signed.message, &signed.signature).await;
    signed.claims(verified, &settings.audience, &settings.issuer, now_ms / 1000).map_err(|e| e.to_string())
}

#[wasm_bindgen]
extern "C" {
    /// `crypto.subtle.importKey(format, keyData, algorithm, extractable, usages)`.
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = importKey, catch)]
    fn import_key(
        format: &str,
        key: &JsValue,
        algorithm: &JsValue,
        extractable: bool,
        usages: &Array,
    ) -> Result<Promise, JsValue>;

    /// `crypto.subtle.verify(algorithm, key, signature, data)`.
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = verify, catch)]
    fn subtle_verify(
        algorithm: &str,
        key: &JsValue,
        signature: &Uint8Array,
        data: &Uint8Array,
    ) -> Result<Promise, JsValue>;
}

/// Whether `signature` is `key`'s RS256 (RSASSA-PKCS1-v1_5, SHA-256) signature of `message`,
/// by the runtime's WebCrypto. A key it refuses to import verifies nothing.
async fn rs256(key: &RsaKey, message: &[u8], signature: &[u8]) -> bool {
    let checked = async {
        let jwk = object(&[
            ("kty", "RSA".into()),
            ("n", key.n.as_str().into()),
            ("e", key.e.as_str().into()),
            ("alg", "RS256".into()),
        ])?;
        let algorithm = object(&[("name", "RSASSA-PKCS1-v1_5".into()), ("hash", "SHA-256".into())])?;
        let usages = Array::of1(&"verify".into());
        let importing = import_key("jwk", &jwk, &algorithm, false, &usages).map_err(text)?;
        let imported = JsFuture::from(importing).await.map_err(text)?;
        let verified =
            subtle_verify("RSASSA-PKCS1-v1_5", &imported, &Uint8Array::from(signature), &Uint8Array::from(message))
                .map_err(text)?;
        Ok::<_, String>(JsFuture::from(verified).await.map_err(text)?.as_bool() == Some(true))
    };
    checked.await.unwrap_or_else(|e| {
        worker::console_error!("WebCrypto refused Access key {:?}: {e}", key.kid);
        false
    })
}
