//! Fastly- and Cloudflare-compatible purge endpoints: a client of either switches by changing
//! its base URL and key. The core translates each request ([`edgepurge_core::compat`]) and
//! each report back; this module reads the request and runs the [`purge`] pipeline.
//!
//! The Fastly key goes in `Fastly-Key` (a personal or bootstrap token); Cloudflare clients
//! authenticate like API callers.

use crate::auth::{self, Identity, Refused};
use crate::ctx::{header, json_body, query, Base};
use crate::problem::json;
use crate::purge;
use crate::random::random_u32;
use crate::trace::{clock, Tracer};
use edgepurge_core::api::compat::CloudflarePurge;
use edgepurge_core::compat::{
    cloudflare_reply, cloudflare_request, fastly_reply, fastly_request, CloudflareAction, FastlyRequest, PurgeId,
};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::ApiError;
use std::rc::Rc;
use worker::{Context, Env, Request, Response};

/// `POST /purge/...` and `POST /service/...`.
pub async fn fastly(req: Request, env: &Env, ctx: &Context, tracer: &Rc<Tracer>) -> Result<Response, ApiError> {
    let base = Base::open(env)?;
    let who = match header(&req, "fastly-key")? {
        Some(token) => {
            auth::token_owner(token.trim(), &base.config, &base.store, base.now).await.map(Identity::by_token)
        }
        None => Err(ApiError::new(ErrorKind::Unauthorized, "send Fastly-Key: <token>")),
    };
    let start = clock();
    let caller = purge::caller(&base, &req, who.map_err(|error| Refused { who: None, error }), tracer).await;
    purge::authenticated(tracer, start, &caller);
    let caller = caller?;
    let path = req.path();
    let (query, soft, keys) = (query(&req)?, header(&req, "fastly-soft-purge")?, header(&req, "surrogate-key")?);
    let allowed = &base.config.allowed_hosts;
    // A path or header Fastly would refuse is refused inside `prepare`, so it is in the history.
    let translated = fastly_request(&path, query.as_deref(), soft.as_deref(), keys.as_deref(), allowed);
    let batch = translated.as_ref().ok().and_then(|t: &FastlyRequest| t.batch.clone());
    let prepared = purge::prepare(&base, &caller, async { translated.map(|t| t.request) }, tracer).await?;
    let now_ms = base.now;
    let report = purge::run(ctx, base, prepared).await?;
    let (status, reply) = fastly_reply(report, PurgeId { now_ms, random: random_u32() }, batch);
    json(&reply, status)
}

/// Cloudflare's `POST /client/v4/zones/{zone}/purge_cache` and `.../invalidate_cache`, in its
/// envelope.
pub async fn cloudflare(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    tracer: &Rc<Tracer>,
    action: CloudflareAction,
) -> Result<Response, ApiError> {
    let base = Base::open(env)?;
    let caller = purge::identify(&base, &req, tracer).await?;
    let allowed = &base.config.allowed_hosts;
    let request = async {
        let body: CloudflarePurge = json_body(&mut req).await?;
        cloudflare_request(&body, allowed, action)
    };
    let prepared = purge::prepare(&base, &caller, request, tracer).await?;
    let now_ms = base.now;
    let report = purge::run(ctx, base, prepared).await?;
    let (status, reply) = cloudflare_reply(report, PurgeId { now_ms, random: random_u32() });
    json(&reply, status)
}
