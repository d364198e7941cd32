//! The OpenAPI 3.1 document of edgepurge's HTTP API.
//!
//! The schemas come from the core's API types (`edgepurge_core::api`, with the `schema`
//! feature), so the document cannot drift from what the worker sends and reads; the problem
//! responses come from `ErrorKind::ALL`. What is written here by hand is the route table's
//! view: paths, methods, parameters, who may call, and which statuses each route can answer.
//! `cargo run -p edgepurge-openapi > docs/openapi.json` writes it; a test checks the committed
//! file is current, and the worker serves that file at `/api/openapi.json`.

use edgepurge_core::api::compat::{CloudflarePurge, CloudflareReply, FastlyReply};
use edgepurge_core::api::{
    CheckReport, DeliveriesReply, Health, HistoryPage, InstancesReply, IssuedToken, Me, NewPerson, NewToken,
    Notification, Person, PersonUpdate, Problem, PurgeEvent, PurgeReport, PurgeRequest, SignIn, TokenInfo,
    VerifyReport, VerifyRequest, PROBLEM_CONTENT_TYPE,
};
use edgepurge_core::auth::{CSRF_HEADER, SESSION_COOKIE};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::notify::SIGNATURE_HEADER;
use edgepurge_core::routes::{Callers, Op as R, Route, ROUTES};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::JsonSchema;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Builds the whole document.
pub fn document() -> Value {
    let mut s = Schemas::new();
    s.reply::<Problem>();
    let mut paths = Map::new();
    for op in operations(&mut s) {
        let entry = paths.entry(op.path).or_insert_with(|| json!({}));
        entry[op.method.as_str()] = op.value;
    }
    let webhooks = webhooks(&mut s);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "edgepurge",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "Purge every instance of a self-run Varnish CDN at once, and see what each one did.",
            "description": DESCRIPTION,
            "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" },
        },
        "servers": [{ "url": "/", "description": "The edgepurge worker; the console is served from the same origin." }],
        "tags": [
            { "name": "purge", "description": "Purging and its live report." },
            { "name": "inspect", "description": "What the instances hold and who they are." },
            { "name": "console", "description": "Sign-in sessions, the history and the redelivery queue." },
            { "name": "people", "description": "People and their tokens (admins only)." },
            { "name": "compatible", "description": "Fastly- and Cloudflare-compatible purge endpoints." },
            { "name": "meta", "description": "Health and this document." },
        ],
        "paths": paths,
        "webhooks": webhooks,
        "components": {
            "schemas": s.finish(),
            "responses": problem_responses(),
            "headers": {
                "Retry-After": {
                    "description": "Seconds until the caller may try again.",
                    "schema": { "type": "integer", "minimum": 0 },
                },
                "WWW-Authenticate": {
                    "description": "RFC 6750: `Bearer realm=\"edgepurge\"`.",
                    "schema": { "type": "string" },
                },
                "Set-Cookie": {
                    "description": format!(
                        "The session cookie `{SESSION_COOKIE}` (HttpOnly, Secure, SameSite=Strict, Path=/)."
                    ),
                    "schema": { "type": "string" },
                },
            },
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal token (`ep_...`, issued in the console) or a bootstrap token from \
                                    the `API_TOKENS` secret.",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": SESSION_COOKIE,
                    "description": format!(
                        "A console session from `POST /api/session`. Every state-changing call made with it \
                         also needs the session's CSRF token in `{CSRF_HEADER}` and, when sent, a same-origin \
                         `Origin`; otherwise it is refused with 403 before anything happens."
                    ),
                },
                "access": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Cf-Access-Jwt-Assertion",
                    "description": "A Cloudflare Access JWT, when `ACCESS_TEAM_DOMAIN` and `ACCESS_AUD` are set; \
                                    its e-mail must belong to a person.",
                },
                "fastlyKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Fastly-Key",
                    "description": "A personal or bootstrap token, sent as Fastly clients send their key.",
                },
            },
        },
    })
}

/// What edgepurge POSTs to each `NOTIFY_WEBHOOKS` URL.
fn webhooks(s: &mut Schemas) -> Value {
    json!({
        "notification": {
            "post": {
                "operationId": "notification",
                "summary": "A purge that ended partial or failed, deliveries abandoned, or (optionally) any purge",
                "description": "Sent after the purge's reply (or at the end of the redelivery run that abandoned \
                                the deliveries) to every `NOTIFY_WEBHOOKS` URL, for the kinds `NOTIFY_ON` names, \
                                at most `NOTIFY_PER_MINUTE` of a kind a minute: the next one sent counts those \
                                held back (`held_back`). `text` is Slack `mrkdwn`, so a Slack incoming webhook \
                                takes the body as it is. Never sent again, and never part of the purge: a \
                                receiver that fails or is down changes nothing but the `notifications` figures \
                                of `GET /api/health`.",
                "parameters": [{
                    "name": SIGNATURE_HEADER,
                    "in": "header",
                    "required": true,
                    "description": "`sha256=` and the HMAC-SHA256 of the body's bytes with `NOTIFY_SECRET`, in \
                                    lower-case hex. A receiver checks it over the bytes as received (before \
                                    parsing), in constant time, and refuses a body whose `sent_at` is far from \
                                    its own clock.",
                    "schema": { "type": "string", "pattern": "^sha256=[0-9a-f]{64}$" },
                }],
                "requestBody": {
                    "required": true,
                    "content": { "application/json": { "schema": s.reply::<Notification>() } },
                },
                "responses": {
                    "2XX": {
                        "description": "Received. Any other answer, or none within `NOTIFY_TIMEOUT_MS`, counts as \
                                        a failure.",
                    },
                },
            },
        },
    })
}

const DESCRIPTION: &str = "\
edgepurge takes authenticated purge requests, finds every cache instance (DNS over HTTPS or a \
static list), sends a `PURGE` to all of them at once and reports, per (item, instance), what \
happened.\n\n\
Every failure before a report exists is an RFC 9457 problem (`application/problem+json`) whose \
`type` names the kind (`urn:edgepurge:problem:...`). A request refused for any reason \
(authentication, role, CSRF, validation, rate limit, discovery) sends nothing to any instance. \
A purge that ran is a report, never a problem: 200 when every pair succeeded, 207 when some did, \
502 when none did.";

/// The schema generators: request bodies are described as the worker reads them, replies as it
/// writes them (a field with a default is optional in a request and always present in a reply).
struct Schemas {
    requests: SchemaGenerator,
    replies: SchemaGenerator,
}

impl Schemas {
    fn new() -> Schemas {
        let settings = SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        });
        Schemas {
            requests: settings.clone().for_deserialize().into_generator(),
            replies: settings.for_serialize().into_generator(),
        }
    }

    fn request<T: JsonSchema>(&mut self) -> Value {
        self.requests.subschema_for::<T>().to_value()
    }

    fn reply<T: JsonSchema>(&mut self) -> Value {
        self.replies.subschema_for::<T>().to_value()
    }

    /// The components: every schema either generator named. A type both read and written must
    /// read as it is written: two shapes under one name would make one of them wrong.
    fn finish(mut self) -> Map<String, Value> {
        let mut all: BTreeMap<String, Value> = self.replies.take_definitions(true).into_iter().collect();
        for (name, schema) in self.requests.take_definitions(true) {
            if let Some(written) = all.get(&name) {
                assert_eq!(*written, schema, "{name} is read in another shape than it is written");
            }
            all.insert(name, schema);
        }
        all.into_iter().collect()
    }
}

/// The security requirement of who may call.
fn security(callers: Callers) -> Value {
    match callers {
        Callers::Anyone => json!([]),
        Callers::Api => json!([{ "bearerToken": [] }, { "session": [] }, { "access": [] }]),
        Callers::Fastly => json!([{ "fastlyKey": [] }]),
        Callers::OptionalSession => json!([{}, { "session": [] }]),
    }
}

/// The local CDN's demo site (`scripts/run`), the host of the examples.
const SITE: &str = "www.edgepurge.test";

struct Operation {
    path: String,
    method: String,
    value: Value,
}

/// One operation. `replies` are the successful (and report) replies by status; `problems`
/// the problem statuses it can answer.
struct Op<'a> {
    op: R,
    tag: &'static str,
    summary: &'static str,
    description: &'a str,
    params: Vec<Value>,
    body: Option<Value>,
    /// An example body: the local CDN's demo site, so a contract run also purges for real.
    example: Option<Value>,
    replies: Vec<(u16, Value)>,
}

impl Op<'_> {
    /// The operation of `route`: its path, method, id, callers and problems from the table,
    /// the rest from here.
    fn build(self, route: &Route) -> Operation {
        let mut responses: BTreeMap<String, Value> = BTreeMap::new();
        for (status, reply) in self.replies {
            responses.insert(status.to_string(), reply);
        }
        for &status in route.problems {
            let reference = json!({ "$ref": format!("#/components/responses/Problem{status}") });
            match responses.get_mut(&status.to_string()) {
                // A status that is also a report (502): both media types under one response.
                Some(existing) => {
                    let problem = problem_response(status);
                    existing["content"][PROBLEM_CONTENT_TYPE] = problem["content"][PROBLEM_CONTENT_TYPE].clone();
                    let description = format!(
                        "{}; or, as a problem: {}",
                        existing["description"].as_str().unwrap_or_default(),
                        problem["description"].as_str().unwrap_or_default()
                    );
                    existing["description"] = json!(description);
                }
                None => {
                    responses.insert(status.to_string(), reference);
                }
            }
        }
        let mut value = json!({
            "operationId": route.id,
            "tags": [self.tag],
            "summary": self.summary,
            "description": self.description,
            "security": security(route.callers),
            "responses": responses,
        });
        if !self.params.is_empty() {
            value["parameters"] = json!(self.params);
        }
        if let Some(schema) = self.body {
            let mut media = json!({ "schema": schema });
            if let Some(example) = self.example {
                media["example"] = example;
            }
            value["requestBody"] = json!({ "required": true, "content": { "application/json": media } });
        }
        Operation { path: route.pattern.to_owned(), method: route.method.to_ascii_lowercase(), value }
    }
}

fn reply(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

fn empty(description: &str) -> Value {
    json!({ "description": description })
}

fn path_param(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": schema })
}

fn with_example(mut param: Value, example: &str) -> Value {
    param["example"] = json!(example);
    param
}

fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

fn header_param(name: &str, required: bool, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "header", "required": required, "description": description, "schema": schema })
}

fn id_param(description: &str) -> Value {
    path_param("id", description, json!({ "type": "integer", "format": "int64", "minimum": 1 }))
}

fn text(min: u64) -> Value {
    json!({ "type": "string", "minLength": min })
}

fn operations(s: &mut Schemas) -> Vec<Operation> {
    let report = s.reply::<PurgeReport>();
    let partial = || reply("The purge ran: some (item, instance) pairs did not succeed", report.clone());
    let failed = || reply("The purge ran: no (item, instance) pair succeeded", report.clone());
    let fastly = s.reply::<FastlyReply>();
    let cloudflare = s.reply::<CloudflareReply>();
    let event = s.reply::<PurgeEvent>();
    let purge_request = s.request::<PurgeRequest>();
    let cloudflare_purge = s.request::<CloudflarePurge>();
    let soft = header_param(
        "Fastly-Soft-Purge",
        false,
        "`1` marks the objects stale instead of removing them.",
        json!({ "type": "string", "enum": ["0", "1"] }),
    );
    let service = path_param("service_id", "Fastly's service id; ignored (one edgepurge is one service).", text(1));
    let zone = path_param("zone_id", "Cloudflare's zone id; ignored (the allowed hosts are the zone).", text(1));
    let fastly_replies = |ok: &str| {
        vec![
            (200, reply(ok, fastly.clone())),
            (
                502,
                reply(
                    "Not every (item, instance) pair succeeded: `status` is `error`, with the report",
                    fastly.clone(),
                ),
            ),
        ]
    };
    let cloudflare_replies = || {
        vec![
            (200, reply("Every (item, instance) pair succeeded", cloudflare.clone())),
            (502, reply("Not every pair succeeded: `success` is false, with the report", cloudflare.clone())),
        ]
    };
    let cloudflare_op = |op: R, summary: &'static str, description: &'static str| Op {
        op,
        tag: "compatible",
        summary,
        description,
        params: vec![zone.clone()],
        body: Some(cloudflare_purge.clone()),
        example: Some(json!({ "files": [format!("https://{SITE}/episodes/2")], "tags": ["episode-2"] })),
        replies: cloudflare_replies(),
    };
    let fastly_op = |op: R, summary: &'static str, description: &'static str, params: Vec<Value>| Op {
        op,
        tag: "compatible",
        summary,
        description,
        params,
        body: None,
        example: None,
        replies: fastly_replies("Every (item, instance) pair succeeded"),
    };
    let host = with_example(path_param("host", "The host of the URL to purge (an allowed host).", text(1)), SITE);

    let ops = vec![
        Op {
            op: R::Health,
            tag: "meta",
            summary: "Whether the worker can purge, and its version",
            description: "Needs no credentials. Loads and checks the configuration as a purge would: a broken \
                          one is a 503 problem naming the setting (never a secret's value), so a deploy can be \
                          gated on it. With webhooks set, `notifications` sums the last hour's sends across \
                          isolates. Why the last trace export, or the last notification, failed is shown to \
                          authenticated callers only.",
            params: vec![],
            body: None,
            example: None,
            replies: vec![(200, reply("The worker can purge", s.reply::<Health>()))],
        },
        Op {
            op: R::HealthHead,
            tag: "meta",
            summary: "Whether the worker can purge, with no body",
            description: "As `GET /api/health`, answered with its status and headers only: a load balancer's or \
                          uptime monitor's probe.",
            params: vec![],
            body: None,
            example: None,
            replies: vec![(200, empty("The worker can purge"))],
        },
        Op {
            op: R::OpenApi,
            tag: "meta",
            summary: "This document",
            description: "The OpenAPI 3.1 document of the whole HTTP API.",
            params: vec![],
            body: None,
            example: None,
            replies: vec![(200, reply("The document", json!({ "type": "object" })))],
        },
        Op {
            op: R::Purge,
            tag: "purge",
            summary: "Purge URLs, surrogate keys, prefixes or whole hosts on every instance",
            description: "Editors purge URLs and keys; prefixes and hosts need an admin. Every item and host is \
                          checked, discovery must succeed for every host, and the history entry is written, \
                          before the first `PURGE` leaves. With `Accept: application/x-ndjson` the reply is live: \
                          one JSON event per line (`started`, then `result` per pair as it finishes, then `done` \
                          with the report) and its status is 200 once the purge has started.",
            params: vec![header_param(
                "Idempotency-Key",
                false,
                "Makes a retry safe: within IDEMPOTENCY_WINDOW_MS (a day by default), the same key from the same \
                 person with the same request answers with the first purge's report and sends nothing again (409 \
                 while that purge still runs); with another request, 422. 1 to 257 printable ASCII characters \
                 without spaces, e.g. a UUID; a quoted value (the draft standard's form) is read without its quotes.",
                json!({ "type": "string", "pattern": "^[!-~]{1,257}$" }),
            )],
            body: Some(purge_request),
            example: Some(json!({ "urls": [format!("https://{SITE}/episodes/1")] })),
            replies: vec![
                (
                    200,
                    json!({
                        "description": "Every (item, instance) pair succeeded; or, with `Accept: application/x-ndjson`, \
                                        the live purge, one `PurgeEvent` per line",
                        "content": {
                            "application/json": { "schema": report.clone() },
                            "application/x-ndjson": { "schema": event },
                        },
                    }),
                ),
                (207, partial()),
                (502, failed()),
            ],
        },
        Op {
            op: R::Verify,
            tag: "inspect",
            summary: "Fetch a URL from every instance and read its Cache-Status",
            description: "A `HEAD` of the URL on each instance serving its host (past `CONCURRENCY` instances in \
                          shards, as a purge), read for its cache-status: RFC 9211 `Cache-Status`, Pipely's \
                          format, or `X-Cache` with `Age`; whether it was a hit, why it went forward, its remaining \
                          freshness. A value no reader reads confidently says so rather than guess. More \
                          instances than `SUBREQUEST_BUDGET` allows is a 422 before anything is sent.",
            params: vec![],
            body: Some(s.request::<VerifyRequest>()),
            example: Some(json!({ "url": format!("https://{SITE}/episodes/1") })),
            replies: vec![(200, reply("One row per instance", s.reply::<VerifyReport>()))],
        },
        Op {
            op: R::Instances,
            tag: "inspect",
            summary: "The instances each allowed host resolves to now, and each one's last purge",
            description: "Runs discovery for every allowed host; a host whose discovery fails says why in its \
                          entry rather than failing the whole reply.",
            params: vec![],
            body: None,
            example: None,
            replies: vec![(200, reply("One entry per allowed host", s.reply::<InstancesReply>()))],
        },
        Op {
            op: R::CheckInstances,
            tag: "inspect",
            summary: "Check what every instance of every group really speaks",
            description: "Admins only. Each instance of each group (each distinct `DISCOVERY` rule, under its first \
                          allowed host) is sent, over its rule's transport, a `PURGE` of \
                          `/.well-known/edgepurge-check` (a path no site caches) in its rule's contract and a \
                          `HEAD` of `/`. Each row says whether it was reachable (TLS verified where the rule says \
                          TLS), took the purge token, which contract its answer shows (`Purge-Count`: edgepurge; \
                          a 2xx without it: plain), whether its cache status is readable, and a warning where the \
                          rule and the instance disagree. Recorded in the history as a check. Takes no body.",
            params: vec![],
            body: None,
            example: None,
            replies: vec![(200, reply("One row per instance", s.reply::<CheckReport>()))],
        },
        Op {
            op: R::SignIn,
            tag: "console",
            summary: "Sign in with a token: a session cookie and its CSRF token",
            description: "Limited per client address (`SIGN_IN_RATE_LIMIT_PER_MINUTE`). A cross-origin `Origin` \
                          is refused (403). The session ends when it expires, when its person is removed or \
                          changes role, or when its token is revoked (or leaves `API_TOKENS`).",
            params: vec![],
            body: Some(s.request::<SignIn>()),
            example: None,
            replies: vec![(
                200,
                json!({
                    "description": "Signed in",
                    "headers": { "Set-Cookie": { "$ref": "#/components/headers/Set-Cookie" } },
                    "content": { "application/json": { "schema": s.reply::<Me>() } },
                }),
            )],
        },
        Op {
            op: R::SignOut,
            tag: "console",
            summary: "Sign out",
            description: "Ends the session, if there is a valid one, and clears the cookie either way.",
            params: vec![],
            body: None,
            example: None,
            replies: vec![(
                204,
                json!({
                    "description": "Signed out",
                    "headers": { "Set-Cookie": { "$ref": "#/components/headers/Set-Cookie" } },
                }),
            )],
        },
        Op {
            op: R::Me,
            tag: "console",
            summary: "Who is calling",
            description: "The caller's name, role and how they authenticated; for a session, its CSRF token.",
            params: vec![],
            body: None,
            example: None,
            replies: vec![(200, reply("The caller", s.reply::<Me>()))],
        },
        Op {
            op: R::History,
            tag: "console",
            summary: "Purge attempts, newest first, refused ones included",
            description: "Pages of entries; pass `next_before` as `before` for the next page. Empty parameters \
                          are ignored, as a form sends them.",
            params: vec![
                query_param("url", "Only entries whose items contain this text.", json!({ "type": "string" })),
                query_param("actor", "Only entries by this actor.", json!({ "type": "string" })),
                query_param(
                    "before",
                    "Only entries older than this id.",
                    json!({ "type": "integer", "format": "int64", "minimum": 1 }),
                ),
                query_param(
                    "limit",
                    "Entries per page (default 20).",
                    json!({ "type": "integer", "minimum": 1, "maximum": 100 }),
                ),
            ],
            body: None,
            example: None,
            replies: vec![(200, reply("One page", s.reply::<HistoryPage>()))],
        },
        Op {
            op: R::Deliveries,
            tag: "console",
            summary: "The background redelivery queue",
            description: "(item, instance) purges that failed inline and are retried by the cron trigger, with \
                          counts by status.",
            params: vec![
                query_param(
                    "status",
                    "Only deliveries in this state; all when absent.",
                    json!({ "type": "string", "enum": ["pending", "delivered", "abandoned"] }),
                ),
                query_param(
                    "limit",
                    "Deliveries listed (default 100).",
                    json!({ "type": "integer", "minimum": 1, "maximum": 1000 }),
                ),
            ],
            body: None,
            example: None,
            replies: vec![(200, reply("The queue", s.reply::<DeliveriesReply>()))],
        },
        Op {
            op: R::People,
            tag: "people",
            summary: "Everyone who may use edgepurge",
            description: "Admins only.",
            params: vec![],
            body: None,
            example: None,
            replies: vec![(200, reply("The people", json!({ "type": "array", "items": s.reply::<Person>() })))],
        },
        Op {
            op: R::CreatePerson,
            tag: "people",
            summary: "Add a person",
            description: "Admins only. Names and e-mails are unique (409).",
            params: vec![],
            body: Some(s.request::<NewPerson>()),
            example: Some(json!({ "name": "Jerod", "email": "jerod@example.com", "role": "editor" })),
            replies: vec![(201, reply("Added", s.reply::<Person>()))],
        },
        Op {
            op: R::UpdatePerson,
            tag: "people",
            summary: "Change a person's role",
            description: "Admins only. The person's sessions end; their tokens carry the new role. Nobody \
                          changes their own role, and the bootstrap admin stays an admin (409).",
            params: vec![id_param("The person.")],
            body: Some(s.request::<PersonUpdate>()),
            example: None,
            replies: vec![(200, reply("Changed", s.reply::<Person>()))],
        },
        Op {
            op: R::RemovePerson,
            tag: "people",
            summary: "Remove a person",
            description: "Admins only. Ends their sessions and revokes their tokens; their history stays. \
                          Nobody removes themselves, and the bootstrap admin stays (409).",
            params: vec![id_param("The person.")],
            body: None,
            example: None,
            replies: vec![(204, empty("Removed"))],
        },
        Op {
            op: R::Tokens,
            tag: "people",
            summary: "A person's tokens (never the secrets)",
            description: "Admins only.",
            params: vec![id_param("The person.")],
            body: None,
            example: None,
            replies: vec![(200, reply("The tokens", json!({ "type": "array", "items": s.reply::<TokenInfo>() })))],
        },
        Op {
            op: R::IssueToken,
            tag: "people",
            summary: "Issue a token for a person",
            description: "Admins only. The token is in this reply and nowhere else: only its hash is kept. \
                          The bootstrap admin gets none (409): it signs in only with `API_TOKENS`. \
                          `scopes` narrow it within the person's role: `kinds` `select` (URLs and keys only, \
                          like Fastly's `purge_select`), `hosts` (each in `ALLOWED_HOSTS`; keys then reach only \
                          their instance groups), `read_only` (verify, history, instances). A scoped token, and \
                          a session signed in with one, is refused anything else with a 403 `out-of-scope` that \
                          sends nothing, on every route, the Fastly and Cloudflare ones included; it may not \
                          manage people and tokens or check every instance.",
            params: vec![id_param("The person.")],
            body: Some(s.request::<NewToken>()),
            example: Some(json!({ "label": "CMS publish hook", "scopes": { "kinds": "select", "hosts": [SITE] } })),
            replies: vec![(201, reply("Issued", s.reply::<IssuedToken>()))],
        },
        Op {
            op: R::RevokeToken,
            tag: "people",
            summary: "Revoke a token",
            description: "Admins only. Sessions signed in with it end too.",
            params: vec![id_param("The token.")],
            body: None,
            example: None,
            replies: vec![(204, empty("Revoked"))],
        },
        fastly_op(
            R::FastlyPurgeHost,
            "Fastly: purge the URL `https://{host}/`",
            "As Fastly's single-URL purge; the query string, if any, is part of the URL.",
            vec![host.clone(), soft.clone()],
        ),
        fastly_op(
            R::FastlyPurgeUrl,
            "Fastly: purge the URL `https://{host}/{path}`",
            "As Fastly's single-URL purge; the query string, if any, is part of the URL.",
            vec![
                host,
                with_example(path_param("path", "The URL's path, without its leading slash.", text(1)), "episodes/3"),
                soft.clone(),
            ],
        ),
        fastly_op(
            R::FastlyPurgeKey,
            "Fastly: purge a surrogate key",
            "As Fastly's purge by key.",
            vec![
                service.clone(),
                with_example(path_param("key", "The surrogate key.", text(1)), "episode-3"),
                soft.clone(),
            ],
        ),
        fastly_op(
            R::FastlyPurgeKeys,
            "Fastly: purge several surrogate keys",
            "As Fastly's batch purge: the keys, separated by blanks, in `Surrogate-Key`; the reply maps each \
             key to the purge's id.",
            vec![service.clone(), header_param("Surrogate-Key", true, "The keys, separated by blanks.", text(1)), soft],
        ),
        fastly_op(
            R::FastlyPurgeAll,
            "Fastly: purge everything (admins only)",
            "Empties every allowed host on every instance.",
            vec![service],
        ),
        cloudflare_op(
            R::CloudflarePurgeCache,
            "Cloudflare: purge files, tags, prefixes, hosts or everything",
            "As Cloudflare's `purge_cache`: `files` are URL purges, `tags` keys, `prefixes` (host/path) and \
             `hosts` (admins only) as in `/api/purge`, `purge_everything` (admins only) every allowed host.",
        ),
        cloudflare_op(
            R::CloudflareInvalidateCache,
            "Cloudflare: mark files, tags, prefixes, hosts or everything stale",
            "As Cloudflare's `invalidate_cache` (revalidate rather than delete): the same body and roles as \
             `purge_cache`, carried out as edgepurge's soft purge.",
        ),
    ];
    // Every route of the table, each described once: a route with no description, or a
    // description of no route, stops the document here.
    let mut described: BTreeMap<R, Op<'_>> = BTreeMap::new();
    for op in ops {
        let key = op.op;
        assert!(described.insert(key, op).is_none(), "{key:?} is described twice");
    }
    let built: Vec<Operation> = ROUTES
        .iter()
        .map(|route| {
            described.remove(&route.op).unwrap_or_else(|| panic!("{:?} has no description", route.op)).build(route)
        })
        .collect();
    assert!(described.is_empty(), "described but not routed: {:?}", described.keys().collect::<Vec<_>>());
    built
}

/// The problem kinds answered with `status`.
fn kinds(status: u16) -> Vec<ErrorKind> {
    ErrorKind::ALL.into_iter().filter(|k| k.status() == status).collect()
}

/// One reusable response per problem status: the problem schema narrowed to that status and
/// the kinds that have it.
fn problem_responses() -> Map<String, Value> {
    let mut statuses: Vec<u16> = ErrorKind::ALL.iter().map(|k| k.status()).collect();
    statuses.sort_unstable();
    statuses.dedup();
    statuses.into_iter().map(|status| (format!("Problem{status}"), problem_response(status))).collect()
}

fn problem_response(status: u16) -> Value {
    let kinds = kinds(status);
    let titles: Vec<&str> = kinds.iter().map(|k| k.title()).collect();
    let types: Vec<String> = kinds.iter().map(|k| k.problem_type()).collect();
    let mut response = json!({
        "description": titles.join("; "),
        "content": {
            PROBLEM_CONTENT_TYPE: {
                "schema": {
                    "allOf": [{ "$ref": "#/components/schemas/Problem" }],
                    "properties": {
                        "status": { "const": status },
                        "type": { "enum": types },
                    },
                },
            },
        },
    });
    match status {
        401 => response["headers"] = json!({ "WWW-Authenticate": { "$ref": "#/components/headers/WWW-Authenticate" } }),
        429 => response["headers"] = json!({ "Retry-After": { "$ref": "#/components/headers/Retry-After" } }),
        _ => {}
    }
    response
}
