//! Request handlers: authenticate, validate, discover, plan, fan out, report.
//!
//! The order is the security contract: nothing leaves for any instance until the caller, the
//! body, every URL and every host have been checked, and discovery has succeeded for all.
//! Every purge attempt after configuration loads, refused ones included, goes to the history.

use crate::auth::{self, check_csrf, Identity};
use crate::console::{record_anonymous, record_attempt};
use crate::problem::{internal, json};
use crate::store::Store;
use crate::{console, doh, fanout};
use edgepurge_core::api::{
    Health, HostInstances, InstancesReply, PurgeEvent, PurgeRequest, VerifyReport, VerifyRequest,
};
use edgepurge_core::auth::Action;
use edgepurge_core::config::normalise_host;
use edgepurge_core::config::{Config, MAX_BODY_BYTES};
use edgepurge_core::discovery::DiscoverySpec;
use edgepurge_core::error::ErrorKind;
use edgepurge_core::plan::Plan;
use edgepurge_core::purge::{parse_key, parse_prefix, Purge};
use edgepurge_core::report::ReportBuilder;
use edgepurge_core::retry::RetryPolicy;
use edgepurge_core::target::{parse_all, printable, Target};
use edgepurge_core::verify::verify_result;
use edgepurge_core::ApiError;
use futures_util::stream::{self, StreamExt};
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use worker::{Date, Env, Headers, Method, Request, Response};

pub type HandlerResult = Result<Response, ApiError>;

/// Milliseconds since the epoch: the one clock reading per request, passed down.
pub fn now_ms() -> i64 {
    Date::now().as_millis() as i64
}

/// Dispatches `/api/*` on method and path.
pub async fn route(mut req: Request, env: &Env) -> HandlerResult {
    let path = req.path();
    let method = req.method();
    let segments: Vec<&str> = path.trim_start_matches("/api/").split('/').collect();
    match (method.clone(), segments.as_slice()) {
        (Method::Get | Method::Head, ["health"]) => {
            json(&Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into() }, 200)
        }
        (Method::Post, ["purge"]) => purge(&mut req, env).await,
        (Method::Post, ["verify"]) => verify(&mut req, env).await,
        (Method::Get, ["instances"]) => instances(&req, env).await,
        (Method::Post, ["session"]) => console::sign_in(&mut req, env).await,
        (Method::Delete, ["session"]) => console::sign_out(&req, env).await,
        (Method::Get, ["me"]) => console::me(&req, env).await,
        (Method::Get, ["history"]) => console::history(&req, env).await,
        (Method::Get, ["deliveries"]) => console::deliveries(&req, env).await,
        (Method::Get, ["people"]) => console::people(&req, env).await,
        (Method::Post, ["people"]) => console::create_person(&mut req, env).await,
        (Method::Get, ["people", id, "tokens"]) => console::tokens(&req, env, id).await,
        (Method::Post, ["people", id, "tokens"]) => console::issue_token(&mut req, env, id).await,
        (Method::Delete, ["tokens", id]) => console::revoke_token(&req, env, id).await,
        (
            _,
            ["health" | "purge" | "verify" | "instances" | "session" | "me" | "history" | "deliveries" | "people"]
            | ["people", _, "tokens"]
            | ["tokens", _],
        ) => Err(ApiError::new(ErrorKind::MethodNotAllowed, format!("{method} is not allowed on {path}"))),
        _ => Err(ApiError::new(ErrorKind::NotFound, format!("no route for {path}"))),
    }
}

pub fn load_config(env: &Env) -> Result<Config, ApiError> {
    Config::from_lookup(|name| {
        env.secret(name).map(|s| s.to_string()).or_else(|_| env.var(name).map(|v| v.to_string())).ok()
    })
    .map_err(ApiError::from)
}

/// The configuration, the store and the authenticated caller, for handlers that need all three.
pub struct Ctx {
    pub config: Config,
    pub store: Store,
    pub identity: Identity,
    pub now: i64,
}

/// Authenticates, checks the role for `action` and, for cookie sessions, CSRF.
pub async fn ctx(req: &Request, env: &Env, action: Action) -> Result<Ctx, ApiError> {
    let config = load_config(env)?;
    let store = Store::open(env)?;
    let now = now_ms();
    let identity = auth::identify(req, &config, &store, now).await?;
    identity.require(action)?;
    check_csrf(req, &identity)?;
    Ok(Ctx { config, store, identity, now })
}

/// Reads a JSON body of at most [`MAX_BODY_BYTES`] bytes.
pub async fn json_body<T: DeserializeOwned>(req: &mut Request) -> Result<T, ApiError> {
    let content_type = req.headers().get("content-type").map_err(internal)?.unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            format!("send Content-Type: application/json, not {content_type:?}"),
        ));
    }
    let too_large =
        || ApiError::new(ErrorKind::PayloadTooLarge, format!("the body is larger than {MAX_BODY_BYTES} bytes"));
    let declared: Option<usize> = req.headers().get("content-length").map_err(internal)?.and_then(|v| v.parse().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let body =
        req.bytes().await.map_err(|e| ApiError::new(ErrorKind::BadRequest, format!("could not read the body: {e}")))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(ErrorKind::BadRequest, format!("body is not the expected JSON: {e}")))
}

/// The instances serving each of `hosts`, each discovery spec resolved once.
async fn resolve_hosts<'h>(
    config: &Config,
    hosts: impl IntoIterator<Item = &'h str>,
) -> Result<BTreeMap<String, Vec<SocketAddr>>, ApiError> {
    let mut resolver = doh::Resolver::new(config);
    let mut instances: BTreeMap<String, Vec<SocketAddr>> = BTreeMap::new();
    for host in hosts {
        if !instances.contains_key(host) {
            let addrs = resolver.resolve(discovery_spec(config, host)?).await?;
            instances.insert(host.to_owned(), addrs);
        }
    }
    Ok(instances)
}

/// A 400 problem.
pub fn bad(detail: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::BadRequest, detail)
}

/// Validates a purge request into purges, checking every host against the allowlist and the
/// caller's role for the wide kinds (prefix, host). All or nothing: one bad item refuses all.
fn purges_for(config: &Config, identity: &Identity, request: &PurgeRequest) -> Result<Vec<Purge>, ApiError> {
    let PurgeRequest { urls, keys, prefixes, hosts, soft } = request;
    let total = urls.len() + keys.len() + prefixes.len() + hosts.len();
    if total == 0 {
        return Err(bad("nothing to purge: give urls, keys, prefixes or hosts"));
    }
    if total > config.max_urls {
        return Err(ApiError::new(
            ErrorKind::TooManyUrls,
            format!("{total} items in one request; at most {} (MAX_URLS)", config.max_urls),
        ));
    }
    if !prefixes.is_empty() || !hosts.is_empty() {
        if *soft {
            return Err(bad("soft applies to urls and keys; prefixes and hosts are always hard"));
        }
        identity.require(Action::PurgeWide)?;
    }
    let targets = parse_all(urls)?;
    for t in &targets {
        config.check_host(t)?;
    }
    let mut purges = Purge::urls(targets, *soft);
    // Keys are instance-wide (xkey): one purge per instance group, addressed as its first host.
    let mut groups: Vec<(&DiscoverySpec, &str)> = Vec::new();
    for host in &config.allowed_hosts {
        let spec = discovery_spec(config, host)?;
        if !groups.iter().any(|(s, _)| *s == spec) {
            groups.push((spec, host));
        }
    }
    for (i, raw) in keys.iter().enumerate() {
        let key = parse_key(raw).map_err(|e| bad(format!("keys[{i}]: {e}")).with_subject(printable(raw)))?;
        for (_, host) in &groups {
            purges.push(Purge::Key { key: key.clone(), host: (*host).to_owned(), soft: *soft });
        }
    }
    for (i, raw) in prefixes.iter().enumerate() {
        let target = parse_prefix(raw).map_err(|e| bad(format!("prefixes[{i}]: {e}")).with_subject(printable(raw)))?;
        config.check_host(&target)?;
        purges.push(Purge::Prefix { target });
    }
    for (i, raw) in hosts.iter().enumerate() {
        let host = normalise_host(raw)
            .ok_or_else(|| bad(format!("hosts[{i}]: not a host name")).with_subject(printable(raw)))?;
        if !config.allowed_hosts.contains(&host) {
            return Err(ApiError::new(ErrorKind::HostNotAllowed, format!("host {host:?} is not in ALLOWED_HOSTS"))
                .with_subject(host));
        }
        purges.push(Purge::Host { host });
    }
    let mut unique: Vec<Purge> = Vec::with_capacity(purges.len());
    for p in purges {
        if !unique.contains(&p) {
            unique.push(p);
        }
    }
    Ok(unique)
}

async fn purge(req: &mut Request, env: &Env) -> HandlerResult {
    let config = load_config(env)?;
    let store = Store::open(env)?;
    let now = now_ms();
    let identity = match auth::identify(req, &config, &store, now).await {
        Ok(identity) => identity,
        Err(e) => {
            record_anonymous(&store, req, config.rate_limit_per_minute, now, &e).await;
            return Err(e);
        }
    };
    let mut urls = Vec::new();
    let result = purge_as(req, env, &config, &store, &identity, now, &mut urls).await;
    if let Err(e) = &result {
        record_attempt(&store, now, Some(&identity), &urls, e).await;
    }
    result
}

/// Everything between a parsed purge request and the fan-out: the caller's rate limit, the
/// request's validation into purges (`urls` gets its items, for the history), discovery, the plan.
pub async fn prepare(
    config: &Config,
    store: &Store,
    identity: &Identity,
    request: &PurgeRequest,
    now: i64,
    urls: &mut Vec<String>,
) -> Result<Rc<Plan>, ApiError> {
    let key = format!("person:{}", identity.person.id);
    if let Some(wait) = store.rate_limit(&key, now, config.rate_limit_per_minute).await? {
        let mut e = ApiError::new(
            ErrorKind::TooManyRequests,
            format!("more than {} purge requests this minute (RATE_LIMIT_PER_MINUTE)", config.rate_limit_per_minute),
        );
        e.retry_after_secs = Some(wait);
        return Err(e);
    }
    *urls = request.urls.clone();
    urls.extend(request.keys.iter().map(|k| format!("key:{k}")));
    urls.extend(request.prefixes.iter().map(|p| format!("prefix:{p}")));
    urls.extend(request.hosts.iter().map(|h| format!("host:{h}")));
    let purges = purges_for(config, identity, request)?;
    let instances = resolve_hosts(config, purges.iter().map(Purge::host)).await?;
    let plan = Plan::build(purges, &instances, &config.purge_token, config.concurrency)?;
    plan.check_budget(config.subrequest_budget)?;
    Ok(Rc::new(plan))
}

async fn purge_as(
    req: &mut Request,
    env: &Env,
    config: &Config,
    store: &Store,
    identity: &Identity,
    now: i64,
    urls: &mut Vec<String>,
) -> HandlerResult {
    identity.require(Action::Purge)?;
    check_csrf(req, identity)?;
    let wants_stream =
        req.headers().get("accept").map_err(internal)?.is_some_and(|a| a.contains("application/x-ndjson"));
    let request: PurgeRequest = json_body(req).await?;
    let plan = prepare(config, store, identity, &request, now, urls).await?;
    let actor = (identity.person.name.clone(), identity.person.id);
    let limits = fanout::Limits::from_config(config);
    let redelivery = config.redelivery;
    if !wants_stream {
        let builder = fanout::execute(plan.clone(), limits).await;
        let report = console::finish_purge(store, now, actor, &plan, builder, redelivery).await;
        return json(&report, report.status.http_status());
    }

    // Live: one JSON line when the plan is made, one per finished (URL, instance), one at the end.
    let builder = Rc::new(RefCell::new(ReportBuilder::new(&plan)));
    let started = PurgeEvent::Started { pairs: builder.borrow().pairs() };
    let rows = {
        let (builder, plan) = (builder.clone(), plan.clone());
        fanout::deliveries(plan.clone(), limits).filter_map(move |(j, r, reply, elapsed, attempts)| {
            let row = builder.borrow_mut().record(&plan, j, r, &reply, Some(elapsed), attempts);
            futures_util::future::ready(row.map(|row| ndjson(&PurgeEvent::Result(row))))
        })
    };
    let env = env.clone();
    let done = stream::once(async move {
        let finished = builder.borrow().clone();
        let report = match Store::open(&env) {
            Ok(store) => console::finish_purge(&store, now, actor, &plan, finished, redelivery).await,
            Err(_) => finished.finish(),
        };
        ndjson(&PurgeEvent::Done(report))
    });
    let body = stream::once(futures_util::future::ready(ndjson(&started))).chain(rows).chain(done);
    let headers = Headers::new();
    headers.set("content-type", "application/x-ndjson").map_err(internal)?;
    headers.set("cache-control", "no-store").map_err(internal)?;
    Ok(Response::from_stream(body.map(Ok::<Vec<u8>, worker::Error>)).map_err(internal)?.with_headers(headers))
}

fn ndjson<T: serde::Serialize>(event: &T) -> Vec<u8> {
    let mut line = serde_json::to_vec(event)
        .unwrap_or_else(|e| format!("{{\"event\":\"error\",\"detail\":\"{e}\"}}").into_bytes());
    line.push(b'\n');
    line
}

async fn verify(req: &mut Request, env: &Env) -> HandlerResult {
    let Ctx { config, .. } = ctx(req, env, Action::Verify).await?;
    let request: VerifyRequest = json_body(req).await?;
    let target =
        Target::parse(&request.url).map_err(|e| bad(format!("url: {e}")).with_subject(printable(&request.url)))?;
    config.check_host(&target)?;
    let url = target.url().to_owned();
    let instances = resolve_hosts(&config, [target.host()]).await?;
    let plan = Rc::new(Plan::verify(vec![target], &instances, config.concurrency)?);
    let limits =
        fanout::Limits { timeout_ms: config.instance_timeout_ms, retry: RetryPolicy { attempts: 1, ..config.retry } };
    let mut results: Vec<_> = fanout::deliveries(plan.clone(), limits)
        .map(|(j, _, reply, _, _)| verify_result(plan.jobs[j].instance.to_string(), &reply))
        .collect()
        .await;
    results.sort_by(|a, b| a.instance.cmp(&b.instance));
    json(&VerifyReport { url, results }, 200)
}

/// The discovery rule for `host`; a 500 problem naming `DISCOVERY` if none covers it.
pub fn discovery_spec<'c>(config: &'c Config, host: &str) -> Result<&'c DiscoverySpec, ApiError> {
    config.discovery_for(host).ok_or_else(|| {
        ApiError::new(ErrorKind::Config, format!("no DISCOVERY rule covers {host}")).with_setting("DISCOVERY")
    })
}

async fn instances(req: &Request, env: &Env) -> HandlerResult {
    let Ctx { config, store, .. } = ctx(req, env, Action::Read).await?;
    let mut resolver = doh::Resolver::new(&config);
    let mut hosts = Vec::new();
    for host in &config.allowed_hosts {
        let spec = discovery_spec(&config, host)?;
        let (instances, error) = match resolver.resolve(spec).await {
            Ok(addrs) => (addrs.iter().map(SocketAddr::to_string).collect::<Vec<_>>(), None),
            Err(e) => (Vec::new(), Some(e.problem())),
        };
        let last = store.last_purges(&instances).await?;
        hosts.push(HostInstances { host: host.clone(), discovery: spec.to_string(), instances, error, last });
    }
    json(&InstancesReply { hosts }, 200)
}
