//! The console's endpoints: sign-in sessions, people and tokens, history.

use crate::auth::{self, check_csrf, Identity, Via};
use crate::handlers::{bad, ctx, json_body, load_config, now_ms, Ctx, HandlerResult};
use crate::problem::{internal, json};
use crate::store::Store;
use edgepurge_core::api::{IssuedToken, NewPerson, NewToken, PurgeReport, PurgeStatus, SignIn};
use edgepurge_core::auth::{
    clear_session_cookie, new_secret, secret_hash, session_cookie, token_hint, Action, TOKEN_PREFIX,
};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::plan::Plan;
use edgepurge_core::report::ReportBuilder;
use edgepurge_core::retry::RedeliveryPolicy;
use edgepurge_core::ApiError;
use worker::{Env, Headers, Request, Response, Url};

/// 32 bytes from the platform's CSPRNG (`crypto.getRandomValues`).
fn random32() -> Result<[u8; 32], ApiError> {
    let mut buf = [0u8; 32];
    getrandom::getrandom(&mut buf).map_err(internal)?;
    Ok(buf)
}

fn id_param(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::new(ErrorKind::NotFound, format!("{raw:?} is not an id")))
}

fn with_cookie(resp: Response, cookie: &str) -> HandlerResult {
    let headers: Headers = resp.headers().clone();
    headers.set("set-cookie", cookie).map_err(internal)?;
    Ok(resp.with_headers(headers))
}

/// `POST /api/session`: exchange a personal token for a session cookie.
pub async fn sign_in(req: &mut Request, env: &Env) -> HandlerResult {
    let config = load_config(env)?;
    let store = Store::open(env)?;
    let now = now_ms();
    // No session yet, so no CSRF token: refuse cross-origin sign-ins (login CSRF) by Origin.
    let url: Url = req.url().map_err(internal)?;
    if let Some(origin) = req.headers().get("origin").map_err(internal)? {
        if !origin.eq_ignore_ascii_case(&url.origin().ascii_serialization()) {
            return Err(ApiError::new(ErrorKind::Forbidden, "cross-site sign-in refused"));
        }
    }
    let body: SignIn = json_body(req).await?;
    let (person, token_id) = auth::token_owner(body.token.trim(), &config, &store, now).await?;
    let session = new_secret("", &random32()?);
    let csrf = new_secret("", &random32()?);
    let ttl = u64::from(config.session_ttl_secs);
    let expires_at = now + (ttl as i64) * 1000;
    store.create_session(&secret_hash(&session), person.id, token_id, &csrf, now, expires_at).await?;
    let identity = Identity { person, via: Via::Session, csrf: Some(csrf), expires_at: Some(expires_at) };
    with_cookie(json(&identity.me(), 200)?, &session_cookie(&session, ttl))
}

/// `DELETE /api/session`: sign out.
pub async fn sign_out(req: &Request, env: &Env) -> HandlerResult {
    let config = load_config(env)?;
    let store = Store::open(env)?;
    if let Ok(identity) = auth::identify(req, &config, &store, now_ms()).await {
        check_csrf(req, &identity)?;
        if let Some(cookies) = req.headers().get("cookie").map_err(internal)? {
            if let Some(session) = edgepurge_core::auth::cookie_value(&cookies, edgepurge_core::auth::SESSION_COOKIE) {
                store.delete_session(&secret_hash(session)).await?;
            }
        }
    }
    with_cookie(Response::empty().map_err(internal)?.with_status(204), &clear_session_cookie())
}

/// `GET /api/me`.
pub async fn me(req: &Request, env: &Env) -> HandlerResult {
    let Ctx { identity, .. } = ctx(req, env, Action::Read).await?;
    json(&identity.me(), 200)
}

/// `GET /api/history?url=&actor=&before=&limit=`.
pub async fn history(req: &Request, env: &Env) -> HandlerResult {
    let Ctx { store, .. } = ctx(req, env, Action::Read).await?;
    let url: Url = req.url().map_err(internal)?;
    let mut filter_url = None;
    let mut actor = None;
    let mut before = None;
    let mut limit = 20u32;
    for (k, v) in url.query_pairs() {
        let v = v.trim().to_owned();
        match (k.as_ref(), v.is_empty()) {
            (_, true) => {}
            ("url", _) => filter_url = Some(v),
            ("actor", _) => actor = Some(v),
            ("before", _) => before = Some(v.parse::<i64>().map_err(|_| bad("before must be an id"))?),
            ("limit", _) => {
                limit = v
                    .parse::<u32>()
                    .ok()
                    .filter(|l| (1..=100).contains(l))
                    .ok_or_else(|| bad("limit must be 1 to 100"))?
            }
            _ => {}
        }
    }
    json(&store.history(filter_url.as_deref(), actor.as_deref(), before, limit).await?, 200)
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
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err(bad("name must be 1 to 100 printable characters"));
    }
    let email = body.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    if email.is_some_and(|e| !e.contains('@') || e.len() > 254) {
        return Err(bad("email is not an e-mail address"));
    }
    json(&store.create_person(name, email, body.role, now).await?, 201)
}

/// `GET /api/people/{id}/tokens` (admin).
pub async fn tokens(req: &Request, env: &Env, id: &str) -> HandlerResult {
    let Ctx { store, .. } = ctx(req, env, Action::ManagePeople).await?;
    json(&store.tokens(id_param(id)?).await?, 200)
}

/// `POST /api/people/{id}/tokens` (admin): the token is in this reply and nowhere else, ever.
pub async fn issue_token(req: &mut Request, env: &Env, id: &str) -> HandlerResult {
    let Ctx { store, now, .. } = ctx(req, env, Action::ManagePeople).await?;
    let person_id = id_param(id)?;
    let body: NewToken = json_body(req).await?;
    let label = body.label.trim();
    if label.is_empty() || label.len() > 100 || label.chars().any(char::is_control) {
        return Err(bad("label must be 1 to 100 printable characters"));
    }
    if store.person(person_id).await?.is_none() {
        return Err(ApiError::new(ErrorKind::NotFound, format!("no person {person_id}")));
    }
    let token = new_secret(TOKEN_PREFIX, &random32()?);
    let info = store.create_token(person_id, label, &token_hint(&token), &secret_hash(&token), now).await?;
    json(&IssuedToken { info, token }, 201)
}

/// `DELETE /api/tokens/{id}` (admin).
pub async fn revoke_token(req: &Request, env: &Env, id: &str) -> HandlerResult {
    let Ctx { store, now, .. } = ctx(req, env, Action::ManagePeople).await?;
    if store.revoke_token(id_param(id)?, now).await? {
        Ok(Response::empty().map_err(internal)?.with_status(204))
    } else {
        Err(ApiError::new(ErrorKind::NotFound, format!("no token {id}")))
    }
}

/// Writes a purge attempt refused before the caller was known: at most RATE_LIMIT_PER_MINUTE
/// times a minute per client address, so anonymous callers cannot flood the history.
pub async fn record_anonymous(store: &Store, req: &Request, limit_per_minute: u32, now: i64, err: &ApiError) {
    let ip = req.headers().get("cf-connecting-ip").ok().flatten().unwrap_or_else(|| "unknown".into());
    match store.rate_limit(&format!("anonymous:{ip}"), now, limit_per_minute).await {
        Ok(None) => record_attempt(store, now, None, &[], err).await,
        Ok(Some(_)) => {}
        Err(e) => worker::console_error!("history rate limit failed: {e}"),
    }
}

/// Writes a refused or failed purge attempt to the history. A history write that fails is
/// logged, never allowed to change the caller's answer.
pub async fn record_attempt(store: &Store, now: i64, identity: Option<&Identity>, urls: &[String], err: &ApiError) {
    let actor = identity.map_or_else(|| "(not signed in)".to_owned(), |i| i.person.name.clone());
    let status = if err.status() < 500 { "denied" } else { "failed" };
    let detail = format!("{}: {}", err.problem().title, err.detail);
    let urls: Vec<String> = urls.iter().take(100).map(|u| edgepurge_core::target::printable(u)).collect();
    if let Err(e) = store
        .record_purge(
            now,
            &actor,
            identity.map(|i| i.person.id),
            &urls,
            status,
            err.status(),
            Some(&detail),
            &[],
            &[],
            now,
        )
        .await
    {
        worker::console_error!("history write failed: {e}");
    }
}

/// `GET /api/deliveries?status=pending|delivered|abandoned&limit=`.
pub async fn deliveries(req: &Request, env: &Env) -> HandlerResult {
    let Ctx { store, .. } = ctx(req, env, Action::Read).await?;
    let url: Url = req.url().map_err(internal)?;
    let mut status = None;
    let mut limit = 100u32;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "status" if matches!(v.as_ref(), "pending" | "delivered" | "abandoned") => status = Some(v.into_owned()),
            "status" => return Err(bad("status must be pending, delivered or abandoned")),
            "limit" => {
                limit =
                    v.parse().ok().filter(|l| (1..=1000).contains(l)).ok_or_else(|| bad("limit must be 1 to 1000"))?
            }
            _ => {}
        }
    }
    json(&store.deliveries(status.as_deref(), limit).await?, 200)
}

/// Finishes a purge's report: queues what failed retryably for background redelivery (marking
/// those rows pending), writes the purge and its per-instance results to the history, and
/// returns the report the caller gets.
pub async fn finish_purge(
    store: &Store,
    now: i64,
    actor: (String, i64),
    plan: &Plan,
    mut builder: ReportBuilder,
    redelivery: RedeliveryPolicy,
) -> PurgeReport {
    let queued = builder.queue_retryable();
    let mut report = builder.finish();
    let urls: Vec<String> = plan.purges.iter().map(edgepurge_core::purge::Purge::label).collect();
    let status = match report.status {
        PurgeStatus::Purged => "purged",
        PurgeStatus::Partial => "partial",
        PurgeStatus::Failed => "failed",
    };
    let http_status = report.status.http_status();
    let next_at = redelivery.next_at(now, 1, crate::fanout::random_u32());
    let recorded = store.record_purge(
        now,
        &actor.0,
        Some(actor.1),
        &urls,
        status,
        http_status,
        None,
        &report.results,
        &queued,
        next_at,
    );
    if let Err(e) = recorded.await {
        // Nothing was stored: the report must not claim a redelivery that will not happen.
        worker::console_error!("history write failed, {} deliveries not queued: {e}", queued.len());
        for row in &mut report.results {
            row.pending = false;
        }
    }
    worker::console_log!(
        "purge by {}: {status} urls={} instances={} purged={} not_cached={} rejected={} failed={}",
        actor.0,
        urls.len(),
        report.plan.instances,
        report.summary.purged,
        report.summary.not_cached,
        report.summary.rejected,
        report.summary.failed
    );
    report
}
