//! The request context: settings, storage, the clock, randomness, the caller, and the body.
//!
//! Everything a handler needs from the platform before the core can decide, read once per
//! request and passed down.

use crate::auth::{self, Identity};
use crate::body::{read_capped, Unread};
use crate::problem::internal;
use crate::shard::Shards;
use crate::store::Store;
use edgepurge_core::auth::Action;
use edgepurge_core::config::{Config, MAX_BODY_BYTES};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::limits::{self, Bucket};
use edgepurge_core::ApiError;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::rc::Rc;
use worker::{Date, Env, Request};

/// Milliseconds since the epoch: the one clock reading per request, passed down.
pub fn now_ms() -> i64 {
    Date::now().as_millis() as i64
}

thread_local! {
    /// The settings as this isolate first read them: an isolate's bindings never change (a
    /// new deployment or setting is a new isolate), so they are read and checked once.
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

/// The settings, validated by the core (once per isolate; a refusal is not kept, so it is
/// reported again on every request).
pub fn load_config(env: &Env) -> Result<Rc<Config>, ApiError> {
    if let Some(config) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(config);
    }
    let config = Rc::new(
        Config::from_lookup(|name| {
            env.secret(name).map(|s| s.to_string()).or_else(|_| env.var(name).map(|v| v.to_string())).ok()
        })
        .map_err(ApiError::from)?,
    );
    CONFIG.with(|c| *c.borrow_mut() = Some(config.clone()));
    Ok(config)
}

/// The configuration, the store, the fan-out's shards and the clock reading, before the caller
/// is known.
pub struct Base {
    pub config: Rc<Config>,
    pub store: Store,
    pub shards: Option<Shards>,
    pub now: i64,
}

impl Base {
    pub fn open(env: &Env) -> Result<Base, ApiError> {
        let config = load_config(env)?;
        let store = Store::open(env, config.d1_statement_budget)?;
        Ok(Base { config, store, shards: Shards::from_env(env), now: now_ms() })
    }
}

/// The configuration, the store and the authenticated caller, for handlers that need all three.
pub struct Ctx {
    pub config: Rc<Config>,
    pub store: Store,
    pub identity: Identity,
    pub now: i64,
}

/// Authenticates (CSRF included, see [`auth::authenticate`]), counts the request against the
/// caller's `READ_RATE_LIMIT_PER_MINUTE`, and checks the role for `action`.
pub async fn ctx(req: &Request, env: &Env, action: Action) -> Result<Ctx, ApiError> {
    let Base { config, store, now, .. } = Base::open(env)?;
    let identity = auth::authenticate(req, &config, &store, now).await?;
    let bucket = Bucket::Reads(identity.person.id);
    store.within(&bucket.key(), now, bucket.limit(&config), bucket.what()).await?;
    identity.require(action)?;
    Ok(Ctx { config, store, identity, now })
}

/// Reads a JSON body of at most [`MAX_BODY_BYTES`] bytes: a declared larger length is refused
/// before reading, and any body is refused (413) as soon as more than that has arrived.
pub async fn json_body<T: DeserializeOwned>(req: &mut Request) -> Result<T, ApiError> {
    let content_type = header(req, "content-type")?.unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            format!("send Content-Type: application/json, not {content_type:?}"),
        ));
    }
    let too_large =
        || ApiError::new(ErrorKind::PayloadTooLarge, format!("the body is larger than {MAX_BODY_BYTES} bytes"));
    let declared: Option<usize> = header(req, "content-length")?.and_then(|v| v.parse().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let body = match read_capped(req.stream().ok(), MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(Unread::TooLarge) => return Err(too_large()),
        Err(Unread::Broken(e)) => return Err(ApiError::bad_request(format!("could not read the body: {e}"))),
    };
    serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("body is not the expected JSON: {e}")))
}

/// A request header's value.
pub fn header(req: &Request, name: &str) -> Result<Option<String>, ApiError> {
    req.headers().get(name).map_err(internal)
}

/// The query string of the request URL, if any.
pub fn query(req: &Request) -> Result<Option<String>, ApiError> {
    Ok(req.url().map_err(internal)?.query().map(str::to_owned))
}

/// The client's address bucket for per-client limits (`cf-connecting-ip`; IPv6 by /64).
pub fn client(req: &Request) -> String {
    limits::client_bucket(req.headers().get("cf-connecting-ip").ok().flatten().as_deref())
}
