//! Every route of the worker, written once: method, path pattern, operation, who may call and
//! the problems it can answer. The worker dispatches from [`find`] (a handler, or a 404, or a
//! 405 with `Allow`); the OpenAPI document is written from [`ROUTES`], adding only prose,
//! schemas and examples per [`Op`]; a test checks the two agree both ways.
//!
//! A pattern is `/`-separated literal segments and `{name}` parameters, each matching one
//! non-empty segment; a final `{path}` matches the rest of the path, slashes included (Fastly's
//! `/purge/{host}/{path}`). An empty segment anywhere else (`/api//api/health`) matches nothing.

/// An operation: what a route does. Its [`Op::id`] is the OpenAPI `operationId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// `GET /api/health`.
    Health,
    /// `HEAD /api/health`.
    HealthHead,
    /// `GET /api/openapi.json`.
    OpenApi,
    /// `POST /api/purge`.
    Purge,
    /// `POST /api/verify`.
    Verify,
    /// `GET /api/instances`.
    Instances,
    /// `POST /api/instances/check`.
    CheckInstances,
    /// `POST /api/session`.
    SignIn,
    /// `DELETE /api/session`.
    SignOut,
    /// `GET /api/me`.
    Me,
    /// `GET /api/history`.
    History,
    /// `GET /api/deliveries`.
    Deliveries,
    /// `GET /api/people`.
    People,
    /// `POST /api/people`.
    CreatePerson,
    /// `PATCH /api/people/{id}`.
    UpdatePerson,
    /// `DELETE /api/people/{id}`.
    RemovePerson,
    /// `GET /api/people/{id}/tokens`.
    Tokens,
    /// `POST /api/people/{id}/tokens`.
    IssueToken,
    /// `DELETE /api/tokens/{id}`.
    RevokeToken,
    /// Fastly's `POST /purge/{host}`.
    FastlyPurgeHost,
    /// Fastly's `POST /purge/{host}/{path}`.
    FastlyPurgeUrl,
    /// Fastly's `POST /service/{service_id}/purge/{key}`.
    FastlyPurgeKey,
    /// Fastly's `POST /service/{service_id}/purge`.
    FastlyPurgeKeys,
    /// Fastly's `POST /service/{service_id}/purge_all`.
    FastlyPurgeAll,
    /// Cloudflare's `POST /client/v4/zones/{zone_id}/purge_cache`.
    CloudflarePurgeCache,
    /// Cloudflare's `POST /client/v4/zones/{zone_id}/invalidate_cache`.
    CloudflareInvalidateCache,
}

impl Op {
    /// The OpenAPI `operationId`.
    pub fn id(self) -> &'static str {
        route_of(self).id
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callers {
    /// No credentials: the body authenticates, or nothing needs to.
    Anyone,
    /// A token, an Access JWT or a console session (with the CSRF rule).
    Api,
    /// Fastly's `Fastly-Key`.
    Fastly,
    /// A console session if there is one (sign-out).
    OptionalSession,
}

/// One route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The method, upper case.
    pub method: &'static str,
    /// The path pattern, as OpenAPI writes it.
    pub pattern: &'static str,
    /// What it does.
    pub op: Op,
    /// The OpenAPI `operationId`.
    pub id: &'static str,
    /// Who may call.
    pub callers: Callers,
    /// The problem statuses it can answer (besides 404 and 405, which any path can).
    pub problems: &'static [u16],
}

/// Problems any authenticated route can answer: credentials (401), role, CSRF or an Access
/// identity with no person (403), the caller's rate limit (429), the worker itself (500), and
/// the store or the Access key set unavailable (503).
const AUTH: &[u16] = &[401, 403, 429, 500, 503];
/// ... and reading a JSON body: malformed (400), too large (413), not JSON (415).
const AUTH_BODY: &[u16] = &[400, 401, 403, 413, 415, 429, 500, 503];
/// ... and planning a purge: too many items or over the subrequest budget (422), discovery
/// (502, 503) and the write-ahead history entry (503); a report too large is a 413.
const PURGE: &[u16] = &[400, 401, 403, 413, 415, 422, 429, 500, 502, 503];
/// A Fastly purge: no JSON body, so no 415; a path parameter that makes no route (an empty or
/// dot segment) is a 404.
const FASTLY: &[u16] = &[400, 401, 403, 404, 413, 422, 429, 500, 502, 503];
/// A Cloudflare purge: a JSON body, and a zone id that makes no route is a 404.
const CLOUDFLARE: &[u16] = &[400, 401, 403, 404, 413, 415, 422, 429, 500, 502, 503];

const fn route(method: &'static str, pattern: &'static str, op: Op, id: &'static str, callers: Callers) -> Route {
    Route { method, pattern, op, id, callers, problems: AUTH }
}

const fn with(mut r: Route, problems: &'static [u16]) -> Route {
    r.problems = problems;
    r
}

use Callers::{Anyone, Api, Fastly, OptionalSession};

/// Every route, in the order the document lists them.
pub const ROUTES: &[Route] = &[
    with(route("GET", "/api/health", Op::Health, "health", Anyone), &[503]),
    with(route("HEAD", "/api/health", Op::HealthHead, "healthHead", Anyone), &[503]),
    with(route("GET", "/api/openapi.json", Op::OpenApi, "openapi", Anyone), &[500]),
    with(
        route("POST", "/api/purge", Op::Purge, "purge", Api),
        &[400, 401, 403, 409, 413, 415, 422, 429, 500, 502, 503],
    ),
    with(route("POST", "/api/verify", Op::Verify, "verify", Api), PURGE),
    route("GET", "/api/instances", Op::Instances, "instances", Api),
    with(
        route("POST", "/api/instances/check", Op::CheckInstances, "checkInstances", Api),
        &[401, 403, 422, 429, 500, 503],
    ),
    with(route("POST", "/api/session", Op::SignIn, "signIn", Anyone), AUTH_BODY),
    with(route("DELETE", "/api/session", Op::SignOut, "signOut", OptionalSession), &[403, 500, 503]),
    route("GET", "/api/me", Op::Me, "me", Api),
    with(route("GET", "/api/history", Op::History, "history", Api), &[400, 401, 403, 429, 500, 503]),
    with(route("GET", "/api/deliveries", Op::Deliveries, "deliveries", Api), &[400, 401, 403, 429, 500, 503]),
    route("GET", "/api/people", Op::People, "people", Api),
    with(
        route("POST", "/api/people", Op::CreatePerson, "createPerson", Api),
        &[400, 401, 403, 409, 413, 415, 429, 500, 503],
    ),
    with(
        route("PATCH", "/api/people/{id}", Op::UpdatePerson, "updatePerson", Api),
        &[400, 401, 403, 404, 409, 413, 415, 429, 500, 503],
    ),
    with(
        route("DELETE", "/api/people/{id}", Op::RemovePerson, "removePerson", Api),
        &[401, 403, 404, 409, 429, 500, 503],
    ),
    with(route("GET", "/api/people/{id}/tokens", Op::Tokens, "tokens", Api), &[401, 403, 404, 429, 500, 503]),
    with(
        route("POST", "/api/people/{id}/tokens", Op::IssueToken, "issueToken", Api),
        &[400, 401, 403, 404, 409, 413, 415, 429, 500, 503],
    ),
    with(route("DELETE", "/api/tokens/{id}", Op::RevokeToken, "revokeToken", Api), &[401, 403, 404, 429, 500, 503]),
    with(route("POST", "/purge/{host}", Op::FastlyPurgeHost, "fastlyPurgeHost", Fastly), FASTLY),
    with(route("POST", "/purge/{host}/{path}", Op::FastlyPurgeUrl, "fastlyPurgeUrl", Fastly), FASTLY),
    with(route("POST", "/service/{service_id}/purge/{key}", Op::FastlyPurgeKey, "fastlyPurgeKey", Fastly), FASTLY),
    with(route("POST", "/service/{service_id}/purge", Op::FastlyPurgeKeys, "fastlyPurgeKeys", Fastly), FASTLY),
    with(route("POST", "/service/{service_id}/purge_all", Op::FastlyPurgeAll, "fastlyPurgeAll", Fastly), FASTLY),
    with(
        route("POST", "/client/v4/zones/{zone_id}/purge_cache", Op::CloudflarePurgeCache, "cloudflarePurgeCache", Api),
        CLOUDFLARE,
    ),
    with(
        route(
            "POST",
            "/client/v4/zones/{zone_id}/invalidate_cache",
            Op::CloudflareInvalidateCache,
            "cloudflareInvalidateCache",
            Api,
        ),
        CLOUDFLARE,
    ),
];

/// The path prefixes the worker serves from [`ROUTES`]; every other path is the console's.
pub const PREFIXES: &[&str] = &["/api/", "/purge/", "/service/", "/client/v4/"];

/// Whether `path` is the API's (one of [`PREFIXES`]), not a console file.
pub fn is_api(path: &str) -> bool {
    PREFIXES.iter().any(|p| path.starts_with(p))
}

fn route_of(op: Op) -> &'static Route {
    ROUTES.iter().find(|r| r.op == op).expect("every operation has a route")
}

/// The parameters of `path` if it matches `pattern`, in the pattern's order.
pub fn matches<'a>(pattern: &str, path: &'a str) -> Option<Vec<&'a str>> {
    let mut rest = path.strip_prefix('/')?;
    let mut params = Vec::new();
    let mut segments = pattern.strip_prefix('/')?.split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        if last && segment == "{path}" {
            // The rest, slashes included; empty for `/purge/{host}/` (the host's `/`).
            params.push(rest);
            return Some(params);
        }
        let (here, after) = rest.split_once('/').map_or((rest, None), |(here, after)| (here, Some(after)));
        let parameter = segment.starts_with('{');
        if here.is_empty() || !parameter && segment != here {
            return None;
        }
        if parameter {
            params.push(here);
        }
        match after {
            Some(after) if !last => rest = after,
            None if last => return Some(params),
            _ => return None,
        }
    }
    None
}

/// What a request's method and path find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found<'a> {
    /// The route, and the path's parameters in its pattern's order.
    Route(&'static Route, Vec<&'a str>),
    /// The path is a resource, but not for this method: a 405 with these methods in `Allow`.
    NotAllowed(String),
    /// No route has this path: a 404.
    NotFound,
}

/// The route for `method` (as sent: compared exactly, case-sensitively, as RFC 9110 says) and
/// `path`.
pub fn find<'a>(method: &str, path: &'a str) -> Found<'a> {
    let mut allow: Vec<&str> = Vec::new();
    for route in ROUTES {
        if let Some(params) = matches(route.pattern, path) {
            if route.method == method {
                return Found::Route(route, params);
            }
            if !allow.contains(&route.method) {
                allow.push(route.method);
            }
        }
    }
    if allow.is_empty() {
        Found::NotFound
    } else {
        Found::NotAllowed(allow.join(", "))
    }
}

/// The route template of `path`, for traces and logs: few distinct values, no caller data.
pub fn template(path: &str) -> &'static str {
    ROUTES.iter().find(|r| matches(r.pattern, path).is_some()).map_or("(no route)", |r| r.pattern)
}
