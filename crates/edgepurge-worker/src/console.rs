//! The console's endpoints: sign-in sessions, people and tokens, and reading the history and
//! the redelivery queue. Purging itself is [`crate::purge`]'s.

use crate::auth::{self, Identity, Refused};
use crate::ctx::{client, ctx, header, json_body, query, Base, Ctx};
use crate::problem::{internal, json};
use crate::random::random_bytes32;
use crate::store::Store;
use edgepurge_core::api::{
    DeliveriesQuery, Health, HistoryQuery, IssuedToken, NewPerson, NewToken, PersonUpdate, SignIn, Via,
};
use edgepurge_core::auth::{
    clear_session_cookie, cookie_value, new_secret, secret_hash, session_cookie, sign_in_origin, token_hint, Action,
    SESSION_COOKIE, TOKEN_PREFIX,
};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::limits::Bucket;
use edgepurge_core::people::{self, Change};
use edgepurge_core::request::{self, deliveries_filter, history_filter};
use edgepurge_core::scopes;
use edgepurge_core::ApiError;
use worker::{Env, Headers, Request, Response};

type HandlerResult = Result<Response, ApiError>;

/// The person `raw` names, once the core's guards allow `change` to them by the caller
/// (`people::may_change`: not themselves, not the bootstrap admin, a 404 if there is none).
async fn guarded(store: &Store, caller: &Identity, raw: &str, change: Change) -> Result<i64, ApiError> {
    let id = people::id(raw)?;
    let target = match (change, id == caller.person.id) {
        // The self rule needs no read.
        (Change::Role | Change::Remove, true) => None,
        _ => store.person(id).await?,
    };
    people::may_change(caller.person.id, id, target.as_ref(), change)?;
    Ok(id)
}

fn with_cookie(resp: Response, cookie: &str) -> HandlerResult {
    let headers: Headers = resp.headers().clone();
    headers.set("set-cookie", cookie).map_err(internal)?;
    Ok(resp.with_headers(headers))
}

/// `GET /api/health` (and `HEAD`): 200 when the worker can purge (the configuration loads and
/// checks as a purge's does, the store is bound), else a 503 problem naming the setting, so a
/// deploy can be gated on it. The trace export's figures are public; why the last export failed
/// is shown to authenticated callers only.
pub async fn health(req: &Request, env: &Env) -> HandlerResult {
    let Base { config, store, now, .. } = Base::open(env).map_err(|e| ApiError { kind: ErrorKind::NotReady, ..e })?;
    let mut traces = config.otel.as_ref().map(|_| crate::trace::export_status());
    if let Some(t) = traces.as_mut().filter(|t| t.last_error.is_some()) {
        if auth::authenticate(req, &config, &store, now).await.is_err() {
            t.last_error = None;
        }
    }
    let notifications = match &config.notify {
        None => None,
        Some(_) => notify_status(req, &config, &store, now).await,
    };
    json(&Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into(), traces, notifications }, 200)
}

/// The notifications' figures of the last hour, across isolates (why the last failed for
/// authenticated callers only); none, logged, if the store cannot read them: health answers
/// whether the worker can purge, which a failed read of these figures does not change.
async fn notify_status(
    req: &Request,
    config: &edgepurge_core::config::Config,
    store: &Store,
    now: i64,
) -> Option<edgepurge_core::api::NotifyStatus> {
    let since = edgepurge_core::limits::window(now) - edgepurge_core::notify::HEALTH_MINUTES;
    let minutes = match store.notify_minutes(since).await {
        Ok(minutes) => minutes,
        Err(e) => {
            worker::console_error!("reading the notifications' figures failed: {}", e.detail);
            return None;
        }
    };
    let failed = minutes.iter().any(|m| m.last_error.is_some());
    let authenticated = failed && auth::authenticate(req, config, store, now).await.is_ok();
    Some(edgepurge_core::notify::status(&minutes, authenticated))
}

/// `POST /api/session`: exchange a personal token for a session cookie.
pub async fn sign_in(req: &mut Request, env: &Env) -> HandlerResult {
    let Base { config, store, now, .. } = Base::open(env)?;
    let client = client(req);
    let bucket = Bucket::SignIns(&client);
    store.within(&bucket.key(), now, bucket.limit(&config), bucket.what()).await?;
    let own = req.url().map_err(internal)?.origin().ascii_serialization();
    sign_in_origin(header(req, "origin")?.as_deref(), &own)?;
    let body: SignIn = json_body(req).await?;
    let token = body.token.trim();
    let owner = auth::token_owner(token, &config, &store, now).await?;
    // Bound to its token: a personal token's id, or a bootstrap token's hash. The session
    // carries the token's scopes: it may do no more than the token.
    let token_id = owner.token_id;
    let bootstrap_hash = token_id.is_none().then(|| secret_hash(token));
    let session = new_secret("", &random_bytes32()?);
    let csrf = new_secret("", &random_bytes32()?);
    let ttl = u64::from(config.session_ttl_secs);
    let expires_at = now + (ttl as i64) * 1000;
    let person_id = owner.person.id;
    store
        .create_session(&secret_hash(&session), person_id, token_id, bootstrap_hash.as_deref(), &csrf, now, expires_at)
        .await?;
    let identity =
        Identity { via: Via::Session, csrf: Some(csrf), expires_at: Some(expires_at), ..Identity::by_token(owner) };
    with_cookie(json(&identity.me(&config), 200)?, &session_cookie(&session, ttl))
}

/// `DELETE /api/session`: sign out.
pub async fn sign_out(req: &Request, env: &Env) -> HandlerResult {
    let Base { config, store, now, .. } = Base::open(env)?;
    // Signing out without a valid session just clears the cookie; with one, CSRF applies.
    let signed_in = match auth::authenticate(req, &config, &store, now).await {
        Ok(_) => true,
        Err(Refused { who: Some(_), error }) => return Err(error),
        Err(Refused { who: None, .. }) => false,
    };
    if signed_in {
        if let Some(cookies) = req.headers().get("cookie").map_err(internal)? {
            if let Some(session) = cookie_value(&cookies, SESSION_COOKIE) {
                store.delete_session(&secret_hash(session)).await?;
            }
        }
    }
    with_cookie(Response::empty().map_err(internal)?.with_status(204), &clear_session_cookie())
}

/// `GET /api/me`.
pub async fn me(req: &Request, env: &Env) -> HandlerResult {
    let Ctx { identity, config, .. } = ctx(req, env, Action::Read).await?;
    json(&identity.me(&config), 200)
}

/// `GET /api/history?url=&actor=&before=&limit=`.
pub async fn history(req: &Request, env: &Env) -> HandlerResult {
    let Ctx { store, .. } = ctx(req, env, Action::Read).await?;
    let filter = history_filter(&request::query::<HistoryQuery>(query(req)?.as_deref())?)?;
    json(&store.history(&filter).await?, 200)
}

/// `GET /api/people` (admin).
pub async fn people(req: &Request, env: &Env) -> HandlerResult {
    let Ctx { store, .. } = ctx(req, env, Action::ManagePeople).await?;
    json(&store.people().await?, 200)
}

/// `POST /api/people` (admin).
pub async fn create_person(req: &mut Request, env: &Env) -> HandlerResult {
    let Ctx { store, now, .. } = ctx(req, env, Action::ManagePeople).await?;
    let body: NewPerson = json_body(req).await?;
    let (name, email) = (people::name(&body.name)?, people::email(body.email.as_deref())?);
    json(&store.create_person(name, email, body.role, now).await?, 201)
}

/// `PATCH /api/people/{id}` (admin): a new role; the person's sessions end (their tokens keep
/// working, with the new role).
pub async fn update_person(req: &mut Request, env: &Env, id: &str) -> HandlerResult {
    let Ctx { store, identity, .. } = ctx(req, env, Action::ManagePeople).await?;
    let id = guarded(&store, &identity, id, Change::Role).await?;
    let body: PersonUpdate = json_body(req).await?;
    match store.set_role(id, body.role).await? {
        Some(person) => json(&person, 200),
        None => Err(ApiError::new(ErrorKind::NotFound, format!("no person {id}"))),
    }
}

/// `DELETE /api/people/{id}` (admin): removes a person; their tokens are revoked and their
/// sessions end. Nobody removes themselves, and the bootstrap admin stays (rotate
/// `API_TOKENS` instead).
pub async fn remove_person(req: &Request, env: &Env, id: &str) -> HandlerResult {
    let Ctx { store, identity, now, .. } = ctx(req, env, Action::ManagePeople).await?;
    let id = guarded(&store, &identity, id, Change::Remove).await?;
    if store.remove_person(id, now).await? {
        Ok(Response::empty().map_err(internal)?.with_status(204))
    } else {
        Err(ApiError::new(ErrorKind::NotFound, format!("no person {id}")))
    }
}

/// `GET /api/people/{id}/tokens` (admin).
pub async fn tokens(req: &Request, env: &Env, id: &str) -> HandlerResult {
    let Ctx { store, .. } = ctx(req, env, Action::ManagePeople).await?;
    let person_id = people::id(id)?;
    if store.person(person_id).await?.is_none() {
        return Err(ApiError::new(ErrorKind::NotFound, format!("no person {person_id}")));
    }
    json(&store.tokens(person_id).await?, 200)
}

/// `POST /api/people/{id}/tokens` (admin): the token is in this reply and nowhere else, ever.
pub async fn issue_token(req: &mut Request, env: &Env, id: &str) -> HandlerResult {
    let Ctx { store, identity, now, config } = ctx(req, env, Action::ManagePeople).await?;
    let person_id = people::id(id)?;
    let body: NewToken = json_body(req).await?;
    let label = people::label(&body.label)?;
    let scopes = scopes::issued_scopes(&config, body.scopes)?;
    guarded(&store, &identity, id, Change::IssueToken).await?;
    let token = new_secret(TOKEN_PREFIX, &random_bytes32()?);
    let info = store.create_token(person_id, label, &token_hint(&token), &secret_hash(&token), &scopes, now).await?;
    json(&IssuedToken { info, token }, 201)
}

/// `DELETE /api/tokens/{id}` (admin).
pub async fn revoke_token(req: &Request, env: &Env, id: &str) -> HandlerResult {
    let Ctx { store, now, .. } = ctx(req, env, Action::ManagePeople).await?;
    if store.revoke_token(people::id(id)?, now).await? {
        Ok(Response::empty().map_err(internal)?.with_status(204))
    } else {
        Err(ApiError::new(ErrorKind::NotFound, format!("no token {id}")))
    }
}

/// `GET /api/deliveries?status=pending|delivered|abandoned&limit=`.
pub async fn deliveries(req: &Request, env: &Env) -> HandlerResult {
    let Ctx { store, .. } = ctx(req, env, Action::Read).await?;
    let (status, limit) = deliveries_filter(&request::query::<DeliveriesQuery>(query(req)?.as_deref())?)?;
    json(&store.deliveries(status, limit).await?, 200)
}
