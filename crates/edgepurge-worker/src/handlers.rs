//! Request handlers: authenticate, validate, discover, plan, fan out, report.
//!
//! The order is the security contract: nothing leaves for any instance until the token, the
//! body, every URL and every host have been checked, and discovery has succeeded for all.

use crate::problem::{internal, json};
use crate::{doh, fanout};
use edgepurge_core::api::{Health, HostInstances, InstancesReply, PurgeRequest};
use edgepurge_core::config::{Config, MAX_BODY_BYTES};
use edgepurge_core::discovery::DiscoverySpec;
use edgepurge_core::error::ErrorKind;
use edgepurge_core::plan::Plan;
use edgepurge_core::target::parse_all;
use edgepurge_core::ApiError;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use worker::{Env, Method, Request, Response};

type HandlerResult = Result<Response, ApiError>;

/// Dispatches on method and path.
pub async fn route(mut req: Request, env: &Env) -> HandlerResult {
    let path = req.path();
    match (req.method(), path.as_str()) {
        (Method::Get | Method::Head, "/api/health") => json(
            &Health {
                status: "ok".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            200,
        ),
        (Method::Post, "/api/purge") => purge(&mut req, env).await,
        (Method::Get, "/api/instances") => instances(&req, env).await,
        (_, "/api/health" | "/api/purge" | "/api/instances") => Err(ApiError::new(
            ErrorKind::MethodNotAllowed,
            format!("{} is not allowed on {path}", req.method()),
        )),
        _ => Err(ApiError::new(
            ErrorKind::NotFound,
            format!("no route for {path}"),
        )),
    }
}

fn load_config(env: &Env) -> Result<Config, ApiError> {
    Config::from_lookup(|name| {
        env.secret(name)
            .map(|s| s.to_string())
            .or_else(|_| env.var(name).map(|v| v.to_string()))
            .ok()
    })
    .map_err(ApiError::from)
}

fn authenticate(req: &Request, config: &Config) -> Result<(), ApiError> {
    let header = req.headers().get("authorization").map_err(internal)?;
    if config.authorize(header.as_deref()) {
        Ok(())
    } else {
        let detail = if header.is_none() {
            "send Authorization: Bearer <token>"
        } else {
            "the bearer token is not valid"
        };
        Err(ApiError::new(ErrorKind::Unauthorized, detail))
    }
}

async fn purge(req: &mut Request, env: &Env) -> HandlerResult {
    let config = load_config(env)?;
    authenticate(req, &config)?;

    let content_type = req
        .headers()
        .get("content-type")
        .map_err(internal)?
        .unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            format!("send Content-Type: application/json, not {content_type:?}"),
        ));
    }
    let declared: Option<usize> = req
        .headers()
        .get("content-length")
        .map_err(internal)?
        .and_then(|v| v.parse().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let body = req.bytes().await.map_err(|e| {
        ApiError::new(
            ErrorKind::BadRequest,
            format!("could not read the body: {e}"),
        )
    })?;
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    let request: PurgeRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            ErrorKind::BadRequest,
            format!("body is not {{\"urls\": [..]}}: {e}"),
        )
    })?;
    if request.urls.is_empty() {
        return Err(ApiError::new(
            ErrorKind::BadRequest,
            "urls is empty: nothing to purge",
        ));
    }
    if request.urls.len() > config.max_urls {
        return Err(ApiError::new(
            ErrorKind::TooManyUrls,
            format!(
                "{} URLs in one request; at most {} (MAX_URLS)",
                request.urls.len(),
                config.max_urls
            ),
        ));
    }
    let targets = parse_all(&request.urls)?;
    for t in &targets {
        config.check_host(t)?;
    }

    let mut resolver = doh::Resolver::new(&config);
    let mut instances: BTreeMap<String, Vec<SocketAddr>> = BTreeMap::new();
    for t in &targets {
        if !instances.contains_key(t.host()) {
            let addrs = resolver.resolve(discovery_spec(&config, t.host())?).await?;
            instances.insert(t.host().to_owned(), addrs);
        }
    }

    let plan = Plan::build(targets, &instances, &config.purge_token, config.concurrency)?;
    let report = fanout::execute(&plan, config.instance_timeout_ms).await;
    worker::console_log!(
        "purge: {:?} urls={} instances={} purged={} not_cached={} rejected={} failed={}",
        report.status,
        plan.targets.len(),
        report.plan.instances,
        report.summary.purged,
        report.summary.not_cached,
        report.summary.rejected,
        report.summary.failed
    );
    json(&report, report.status.http_status())
}

fn discovery_spec<'c>(config: &'c Config, host: &str) -> Result<&'c DiscoverySpec, ApiError> {
    config.discovery_for(host).ok_or_else(|| {
        ApiError::new(
            ErrorKind::Config,
            format!("no DISCOVERY rule covers {host}"),
        )
        .with_setting("DISCOVERY")
    })
}

fn too_large() -> ApiError {
    ApiError::new(
        ErrorKind::PayloadTooLarge,
        format!("the body is larger than {MAX_BODY_BYTES} bytes"),
    )
}

async fn instances(req: &Request, env: &Env) -> HandlerResult {
    let config = load_config(env)?;
    authenticate(req, &config)?;
    let mut resolver = doh::Resolver::new(&config);
    let mut hosts = Vec::new();
    for host in &config.allowed_hosts {
        let spec = discovery_spec(&config, host)?;
        let (instances, error) = match resolver.resolve(spec).await {
            Ok(addrs) => (addrs.iter().map(SocketAddr::to_string).collect(), None),
            Err(e) => (Vec::new(), Some(e.problem())),
        };
        hosts.push(HostInstances {
            host: host.clone(),
            discovery: spec.to_string(),
            instances,
            error,
        });
    }
    json(&InstancesReply { hosts }, 200)
}
