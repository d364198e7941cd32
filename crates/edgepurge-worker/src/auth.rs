//! Who is calling: a bearer token, a Cloudflare Access JWT, or a console session cookie.
//!
//! The decisions (which credential counts, when a session stands, hashing, JWT checks and when
//! to fetch the key set, roles, CSRF) are the core's;
//! this module gathers the inputs from the request, D1 and the Access JWKS, and has the
//! runtime's WebCrypto check the RS256 signature the core names.

use crate::body::{fetch_within, read_capped, Unread, Unsent};
use crate::js::{object, text};
use crate::problem::internal;
use crate::store::Store;
use edgepurge_core::access::{self, AccessFailure, Jwks, KeyCache, KeyStep, RsaKey};
use edgepurge_core::api::{Me, Person, TokenScopes, Via};
use edgepurge_core::auth::{
    check_csrf, credential, secret_hash, session_stands, Action, Credential, Presented, SessionFacts, CSRF_HEADER,
};
use edgepurge_core::config::{AccessSettings, Config};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::people;
use edgepurge_core::scopes::Grant;
use edgepurge_core::ApiError;
use js_sys::{Array, Promise, Uint8Array};
use std::cell::RefCell;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Method, Request};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Identity {
    pub person: Person,
    pub via: Via,
    /// For sessions: the CSRF token and expiry.
    pub csrf: Option<String>,
    pub expires_at: Option<i64>,
    /// The label of the token the caller came with (for a session, the one it was signed in
    /// with), for the history.
    pub token: Option<String>,
    /// That token's scopes: what the caller may do within the role.
    pub scopes: TokenScopes,
}

impl Identity {
    /// A caller who came with a token (a bearer token or Fastly's `Fastly-Key`).
    pub fn by_token(owner: TokenOwner) -> Identity {
        let TokenOwner { person, label, scopes, .. } = owner;
        Identity { person, via: Via::Token, csrf: None, expires_at: None, token: Some(label), scopes }
    }

    /// What the caller may do: the person's role, narrowed by the token's scopes.
    pub fn grant(&self) -> Grant {
        Grant { role: self.person.role, scopes: self.scopes.clone() }
    }

    pub fn me(&self, config: &Config) -> Me {
        Me {
            name: self.person.name.clone(),
            email: self.person.email.clone(),
            role: self.person.role,
            via: self.via,
            csrf_token: self.csrf.clone(),
            expires_at: self.expires_at,
            trace_url: config.trace_url.clone(),
            token: self.token.clone(),
            scopes: self.scopes.clone(),
        }
    }

    /// 403 unless the person's role and the token's scopes permit `action`.
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        self.grant().require(action)
    }
}

/// The label the history and `/api/me` give a bootstrap token (one of `API_TOKENS`).
pub const BOOTSTRAP_TOKEN_LABEL: &str = "API_TOKENS";

/// Whom a token belongs to, and the token: its id (`None` for a bootstrap token), label and
/// scopes.
pub struct TokenOwner {
    pub person: Person,
    pub token_id: Option<i64>,
    pub label: String,
    pub scopes: TokenScopes,
}

fn header(req: &Request, name: &str) -> Result<Option<String>, ApiError> {
    req.headers().get(name).map_err(internal)
}

/// The person a personal or bootstrap token belongs to, and the token.
pub async fn token_owner(token: &str, config: &Config, store: &Store, now: i64) -> Result<TokenOwner, ApiError> {
    if config.is_bootstrap_token(token) {
        let person = store.bootstrap_admin(now).await?;
        let (label, scopes) = (BOOTSTRAP_TOKEN_LABEL.to_owned(), TokenScopes::default());
        return Ok(TokenOwner { person, token_id: None, label, scopes });
    }
    match store.person_by_token_hash(&secret_hash(token)).await? {
        Some((person, found)) => people::personal_token_signs_in(&person).map(|()| TokenOwner {
            person,
            token_id: Some(found.id),
            label: found.label,
            scopes: found.scopes,
        }),
        None => Err(ApiError::new(ErrorKind::Unauthorized, "the token is not valid (unknown or revoked)")),
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

/// Who is calling, checked the one way every API route checks it: the credentials (401, or 403
/// for an Access identity with no person, or 503 when the Access key set cannot be fetched),
/// then, for a console session, the CSRF rule (403). Routes differ only in the role they then
/// require. (Fastly's `Fastly-Key` and sign-in read a token with [`token_owner`] instead.)
pub async fn authenticate(req: &Request, config: &Config, store: &Store, now: i64) -> Result<Identity, Refused> {
    let identity = by_credential(req, config, store, now).await.map_err(|error| Refused { who: None, error })?;
    let Some(expected) = &identity.csrf else { return Ok(identity) };
    let checked = async {
        let own = req.url().map_err(internal)?.origin().ascii_serialization();
        let (origin, sent) = (header(req, "origin")?, header(req, CSRF_HEADER)?);
        check_csrf(req.inner().method().as_str(), origin.as_deref(), &own, sent.as_deref(), expected)
    };
    match checked.await {
        Ok(()) => Ok(identity),
        Err(error) => Err(Refused { who: Some(identity), error }),
    }
}

/// Authenticates the request by the credential the core says it is judged by.
async fn by_credential(req: &Request, config: &Config, store: &Store, now: i64) -> Result<Identity, ApiError> {
    let (authorization, access_jwt, cookie) =
        (header(req, "authorization")?, header(req, "cf-access-jwt-assertion")?, header(req, "cookie")?);
    let presented = Presented {
        authorization: authorization.as_deref(),
        access_jwt: access_jwt.as_deref(),
        cookie: cookie.as_deref(),
    };
    match credential(&presented, config.access.is_some())? {
        Credential::Token(token) => Ok(Identity::by_token(token_owner(token, config, store, now).await?)),
        Credential::Access(jwt) => {
            let settings = config.access.as_ref().ok_or_else(|| internal("Access is not configured"))?;
            let id = verify_access(settings, jwt, now).await?;
            let person = store.person_by_email(&id.email).await?.ok_or_else(|| {
                ApiError::new(
                    ErrorKind::Forbidden,
                    format!("{} has no edgepurge role: ask an admin to add them", id.email),
                )
            })?;
            let scopes = TokenScopes::default();
            Ok(Identity { person, via: Via::Access, csrf: None, expires_at: None, token: None, scopes })
        }
        Credential::Session(session) => {
            let row = store.session(&secret_hash(session), now).await?;
            session_stands(row.as_ref().map(|row| SessionFacts {
                personal: row.personal,
                bootstrap_admin: people::is_bootstrap_admin(&row.person),
                // A bootstrap session lives only as long as its token is in API_TOKENS.
                bootstrap_token_current: row.bootstrap_hash.as_deref().is_some_and(|h| config.is_bootstrap_hash(h)),
            }))?;
            let row = row.ok_or_else(|| internal("a session stood without a row"))?;
            // A session does no more than the token it was signed in with.
            let (token, scopes) = match row.token {
                Some((label, scopes)) => (Some(label), scopes),
                None => (Some(BOOTSTRAP_TOKEN_LABEL.to_owned()), TokenScopes::default()),
            };
            Ok(Identity {
                person: row.person,
                via: Via::Session,
                csrf: Some(row.csrf),
                expires_at: Some(row.expires_at),
                token,
                scopes,
            })
        }
    }
}

/// The largest Access JWKS read (a team's key set is a few KB).
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// How long one JWKS fetch may take.
const JWKS_TIMEOUT_MS: u64 = 5000;

thread_local! {
    /// The Access key set, kept per isolate (`access::KeyCache` decides when to fetch it).
    static JWKS: RefCell<KeyCache> = RefCell::new(KeyCache::default());
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

/// Verifies an Access JWT with the team's keys, fetched when the cached ones lack the JWT's key
/// and the core's [`KeyCache`] says a fetch is due: a key set that cannot be fetched is a 503
/// naming it, never the caller's 401.
async fn verify_access(settings: &AccessSettings, jwt: &str, now_ms: i64) -> Result<access::AccessIdentity, ApiError> {
    let kid = access::key_id(jwt).map_err(AccessFailure::from)?;
    let url = &settings.certs_url;
    let mut step = JWKS.with(|c| c.borrow().step(url, &kid, now_ms));
    if step == KeyStep::Fetch {
        let fetched = fetch_jwks(url).await;
        step = JWKS.with(|c| c.borrow_mut().fetched(url, fetched, &kid, now_ms));
    }
    if let KeyStep::Refuse(failure) = step {
        return Err(failure.into());
    }
    let jwks = JWKS.with(|c| c.borrow().keys.clone()).unwrap_or_default();
    let signed = access::signed(jwt, &jwks).map_err(AccessFailure::from)?;
    let verified = rs256(signed.key, signed.message, &signed.signature).await;
    Ok(signed.claims(verified, &settings.audience, &settings.issuer, now_ms / 1000).map_err(AccessFailure::from)?)
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
