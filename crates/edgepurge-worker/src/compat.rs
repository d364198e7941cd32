//! Fastly- and Cloudflare-compatible purge endpoints: a client of either switches by changing its
//! base URL and key. Both translate into a [`PurgeRequest`] and run the API's own path.
//!
//! | Fastly request | here |
//! |---|---|
//! | `POST /purge/{host}/{path}` | purge that URL (`https://{host}/{path}`) |
//! | `POST /service/{id}/purge/{key}` | purge a surrogate key |
//! | `POST /service/{id}/purge` with `Surrogate-Key: k1 k2` | purge several keys; reply `{"k1": id, "k2": id}` |
//! | `POST /service/{id}/purge_all` | purge every allowed host (admins only) |
//!
//! The key goes in `Fastly-Key` (a personal or bootstrap token); `Fastly-Soft-Purge: 1` asks for a
//! soft purge. The service id is ignored: one edgepurge deployment is one service. Replies have
//! Fastly's shape (`{"status": "ok", "id": ...}`) when every instance purged; otherwise 502 with
//! `{"status": "error", "msg": ..., "id": ..., "report": ...}`, so a partial purge is never
//! reported as ok.

use crate::auth::{self, Identity, Via};
use crate::console::{finish_purge, record_anonymous, record_attempt};
use crate::fanout::{self, random_u32};
use crate::handlers::{load_config, now_ms, prepare, HandlerResult};
use crate::problem::{internal, json};
use crate::store::Store;
use edgepurge_core::api::{PurgeReport, PurgeRequest, PurgeStatus};
use edgepurge_core::auth::Action;
use edgepurge_core::config::Config;
use edgepurge_core::error::ErrorKind;
use edgepurge_core::ApiError;
use serde_json::{json as j, Map, Value};
use worker::{Env, Method, Request};

/// Routes `/purge/...` and `/service/...`.
pub async fn fastly(req: Request, env: &Env) -> HandlerResult {
    if req.method() != Method::Post {
        return Err(ApiError::new(ErrorKind::MethodNotAllowed, "Fastly purge endpoints take POST"));
    }
    let config = load_config(env)?;
    let store = Store::open(env)?;
    let now = now_ms();
    let header = |name: &str| req.headers().get(name).map_err(internal);
    let identity = match header("fastly-key")? {
        Some(token) => auth::token_owner(token.trim(), &config, &store, now).await.map(|(person, _)| Identity {
            person,
            via: Via::Token,
            csrf: None,
            expires_at: None,
        }),
        None => Err(ApiError::new(ErrorKind::Unauthorized, "send Fastly-Key: <token>")),
    };
    let identity = match identity {
        Ok(i) => i,
        Err(e) => {
            record_anonymous(&store, &req, config.rate_limit_per_minute, now, &e).await;
            return Err(e);
        }
    };
    let soft = header("fastly-soft-purge")?.is_some_and(|v| v.trim() == "1");
    let path = req.path();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut batch: Option<Vec<String>> = None;
    let request = match segments.as_slice() {
        ["purge", rest @ ..] if !rest.is_empty() && !rest[0].is_empty() => {
            let mut url = format!("https://{}", rest.join("/"));
            if let Some(q) = req.url().map_err(internal)?.query() {
                url.push('?');
                url.push_str(q);
            }
            PurgeRequest { urls: vec![url], soft, ..Default::default() }
        }
        ["service", _, "purge", key] => PurgeRequest { keys: vec![(*key).to_owned()], soft, ..Default::default() },
        ["service", _, "purge"] => {
            let keys: Vec<String> =
                header("surrogate-key")?.unwrap_or_default().split_whitespace().map(str::to_owned).collect();
            batch = Some(keys.clone());
            PurgeRequest { keys, soft, ..Default::default() }
        }
        ["service", _, "purge_all"] => PurgeRequest { hosts: config.allowed_hosts.clone(), ..Default::default() },
        _ => return Err(ApiError::new(ErrorKind::NotFound, format!("no Fastly-compatible route for {path}"))),
    };
    let report = run(&config, &store, &identity, now, async { Ok(request) }).await?;
    let id = format!("{:x}-{:08x}", now, random_u32());
    if report.status != PurgeStatus::Purged {
        let msg = format!(
            "purge reached {} of {} (item, instance) pairs; failed ones are redelivered in the background",
            report.summary.purged + report.summary.not_cached,
            report.summary.total
        );
        return json(&j!({"status": "error", "msg": msg, "id": id, "report": report}), 502);
    }
    match batch {
        Some(keys) => {
            let map: Map<String, Value> = keys.into_iter().map(|k| (k, Value::String(id.clone()))).collect();
            json(&Value::Object(map), 200)
        }
        None => json(&j!({"status": "ok", "id": id}), 200),
    }
}

/// Cloudflare's `POST /client/v4/zones/{zone}/purge_cache`, in its envelope.
///
/// `files` (strings or `{"url": ...}` objects), `tags`, `prefixes` (`host/path`, no scheme, as
/// Cloudflare takes them), `hosts` and `purge_everything` map to URLs, surrogate keys, prefixes
/// and hosts; the zone id is ignored. Cloudflare's per-request limit of 30 items per list holds.
/// A purge that did not reach every instance answers 502 with `success: false`, never "success".
pub async fn cloudflare(mut req: Request, env: &Env) -> HandlerResult {
    let path = req.path();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if !matches!(segments.as_slice(), ["client", "v4", "zones", _, "purge_cache"]) {
        return Err(ApiError::new(ErrorKind::NotFound, format!("no Cloudflare-compatible route for {path}")));
    }
    if req.method() != Method::Post {
        return Err(ApiError::new(ErrorKind::MethodNotAllowed, "purge_cache takes POST"));
    }
    let config = load_config(env)?;
    let store = Store::open(env)?;
    let now = now_ms();
    let identity = match auth::identify(&req, &config, &store, now).await {
        Ok(i) => i,
        Err(e) => {
            record_anonymous(&store, &req, config.rate_limit_per_minute, now, &e).await;
            return Err(e);
        }
    };
    let allowed = config.allowed_hosts.clone();
    let request = async move {
        let body: Value = crate::handlers::json_body(&mut req).await?;
        cloudflare_request(&body, &allowed)
    };
    let report = run(&config, &store, &identity, now, request).await?;
    let id = format!("{:x}{:08x}", now, random_u32());
    if report.status == PurgeStatus::Purged {
        json(&j!({"success": true, "errors": [], "messages": [], "result": {"id": id}}), 200)
    } else {
        let message = format!(
            "purge reached {} of {} (item, instance) pairs; failed ones are redelivered in the background",
            report.summary.purged + report.summary.not_cached,
            report.summary.total
        );
        json(
            &j!({"success": false, "errors": [{"code": 1000, "message": message}], "messages": [], "result": {"id": id, "report": report}}),
            502,
        )
    }
}

/// Cloudflare's purge body as a [`PurgeRequest`]; 400 for what Cloudflare would refuse too.
fn cloudflare_request(body: &Value, allowed_hosts: &[String]) -> Result<PurgeRequest, ApiError> {
    const LIMIT: usize = 30;
    let bad = |m: String| ApiError::new(ErrorKind::BadRequest, m);
    let obj = body.as_object().ok_or_else(|| bad("body must be a JSON object".into()))?;
    let strings = |name: &str| -> Result<Vec<String>, ApiError> {
        let Some(list) = obj.get(name) else { return Ok(Vec::new()) };
        let list = list.as_array().ok_or_else(|| bad(format!("{name} must be an array")))?;
        if list.len() > LIMIT {
            return Err(ApiError::new(ErrorKind::TooManyUrls, format!("{name}: at most {LIMIT} per request")));
        }
        list.iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Object(o) if name == "files" => o
                    .get("url")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| bad("files[]: an object needs a url".into())),
                _ => Err(bad(format!("{name}: items must be strings"))),
            })
            .collect()
    };
    let known = ["files", "tags", "prefixes", "hosts", "purge_everything"];
    if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(bad(format!("unknown field {k:?}")));
    }
    let mut request = PurgeRequest {
        urls: strings("files")?,
        keys: strings("tags")?,
        prefixes: strings("prefixes")?.into_iter().map(|p| format!("https://{p}")).collect(),
        hosts: strings("hosts")?,
        soft: false,
    };
    if obj.get("purge_everything").and_then(Value::as_bool) == Some(true) {
        if !request.urls.is_empty()
            || !request.keys.is_empty()
            || !request.prefixes.is_empty()
            || !request.hosts.is_empty()
        {
            return Err(bad("purge_everything cannot be combined with other lists".into()));
        }
        request.hosts = allowed_hosts.to_vec();
    }
    Ok(request)
}

/// The purge path both compatible APIs share: role, the request (read after the role check, so a
/// caller without the role is refused before its body is read), preparation, fan-out, history.
/// Any refusal is recorded in the history before it is returned.
async fn run(
    config: &Config,
    store: &Store,
    identity: &Identity,
    now: i64,
    request: impl std::future::Future<Output = Result<PurgeRequest, ApiError>>,
) -> Result<PurgeReport, ApiError> {
    let mut urls = Vec::new();
    let result = async {
        identity.require(Action::Purge)?;
        let request = request.await?;
        let plan = prepare(config, store, identity, &request, now, &mut urls).await?;
        let builder = fanout::execute(plan.clone(), fanout::Limits::from_config(config)).await;
        let actor = (identity.person.name.clone(), identity.person.id);
        Ok(finish_purge(store, now, actor, &plan, builder, config.redelivery).await)
    }
    .await;
    if let Err(e) = &result {
        record_attempt(store, now, Some(identity), &urls, e).await;
    }
    result
}
