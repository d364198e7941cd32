//! The route table: method and path to handler, and nothing else.

use crate::problem::internal;
use crate::trace::Tracer;
use crate::{compat, console, inspect, purge};
use edgepurge_core::compat::CloudflareAction;
use edgepurge_core::error::ErrorKind;
use edgepurge_core::ApiError;
use std::rc::Rc;
use worker::{Context, Env, Method, Request, Response};

/// Dispatches `/api/*`, `/purge/*`, `/service/*` and `/client/v4/*`.
pub async fn route(mut req: Request, env: &Env, ctx: &Context, tracer: &Rc<Tracer>) -> Result<Response, ApiError> {
    let path = req.path();
    let method = req.method();
    // worker::Method reads a method it does not know (QUERY, PURGE, ...) as GET: such a request
    // is refused here, never served as a GET.
    let sent = req.inner().method();
    if !sent.eq_ignore_ascii_case(method.as_ref()) {
        return Err(match methods_of(&path) {
            Some(allow) => not_allowed(allow, &format!("{sent} is not allowed on {path}")),
            None => not_found(&format!("no route for {path}")),
        });
    }
    if path.starts_with("/client/v4/") {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        return match (method, segments.as_slice()) {
            (Method::Post, ["client", "v4", "zones", _, "purge_cache"]) => {
                compat::cloudflare(req, env, ctx, tracer, CloudflareAction::Purge).await
            }
            (Method::Post, ["client", "v4", "zones", _, "invalidate_cache"]) => {
                compat::cloudflare(req, env, ctx, tracer, CloudflareAction::Invalidate).await
            }
            (_, ["client", "v4", "zones", _, "purge_cache" | "invalidate_cache"]) => {
                Err(not_allowed("POST", "purge_cache and invalidate_cache take POST"))
            }
            _ => Err(not_found(&format!("no Cloudflare-compatible route for {path}"))),
        };
    }
    if !path.starts_with("/api/") {
        return match method {
            Method::Post => compat::fastly(req, env, ctx, tracer).await,
            _ => Err(not_allowed("POST", "Fastly purge endpoints take POST")),
        };
    }
    let segments: Vec<&str> = path.trim_start_matches("/api/").split('/').collect();
    match (method.clone(), segments.as_slice()) {
        (Method::Get | Method::Head, ["health"]) => console::health(&req, env).await,
        (Method::Post, ["purge"]) => purge::endpoint(req, env, ctx, tracer).await,
        (Method::Post, ["verify"]) => inspect::verify(&mut req, env, tracer).await,
        (Method::Get, ["instances"]) => inspect::instances(&req, env).await,
        (Method::Post, ["instances", "check"]) => inspect::check(&req, env, tracer).await,
        (Method::Post, ["session"]) => console::sign_in(&mut req, env).await,
        (Method::Delete, ["session"]) => console::sign_out(&req, env).await,
        (Method::Get, ["me"]) => console::me(&req, env).await,
        (Method::Get, ["history"]) => console::history(&req, env).await,
        (Method::Get, ["deliveries"]) => console::deliveries(&req, env).await,
        (Method::Get, ["people"]) => console::people(&req, env).await,
        (Method::Post, ["people"]) => console::create_person(&mut req, env).await,
        (Method::Patch, ["people", id]) => console::update_person(&mut req, env, id).await,
        (Method::Delete, ["people", id]) => console::remove_person(&req, env, id).await,
        (Method::Get, ["people", id, "tokens"]) => console::tokens(&req, env, id).await,
        (Method::Post, ["people", id, "tokens"]) => console::issue_token(&mut req, env, id).await,
        (Method::Delete, ["tokens", id]) => console::revoke_token(&req, env, id).await,
        (Method::Get, ["openapi.json"]) => openapi(env).await.map_err(internal),
        (_, segments) => match allowed(segments) {
            Some(allow) => Err(not_allowed(allow, &format!("{method} is not allowed on {path}"))),
            None => Err(not_found(&format!("no route for {path}"))),
        },
    }
}

/// The route template of `path`, for traces and logs: few distinct values, no caller data.
pub fn route_name(path: &str) -> String {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let name = match segments.as_slice() {
        ["api", "people", _] => "/api/people/{id}",
        ["api", "people", _, "tokens"] => "/api/people/{id}/tokens",
        ["api", "tokens", _] => "/api/tokens/{id}",
        ["api", "instances", "check"] => "/api/instances/check",
        ["api", one] if allowed(&[one]).is_some() => return path.to_owned(),
        ["client", "v4", "zones", _, "purge_cache"] => "/client/v4/zones/{zone_id}/purge_cache",
        ["client", "v4", "zones", _, "invalidate_cache"] => "/client/v4/zones/{zone_id}/invalidate_cache",
        ["purge", ..] => "/purge/{host}/{path}",
        ["service", _, "purge", _] => "/service/{service_id}/purge/{key}",
        ["service", _, "purge"] => "/service/{service_id}/purge",
        ["service", _, "purge_all"] => "/service/{service_id}/purge_all",
        _ => "(no route)",
    };
    name.to_owned()
}

/// The methods the resource at `path` takes, or `None` when there is none.
fn methods_of(path: &str) -> Option<&'static str> {
    if let Some(rest) = path.strip_prefix("/api/") {
        return allowed(&rest.split('/').collect::<Vec<_>>());
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["client", "v4", "zones", _, "purge_cache" | "invalidate_cache"] => Some("POST"),
        ["client", ..] => None,
        // Fastly's purge paths, all POST.
        _ => Some("POST"),
    }
}

/// The methods an `/api/` resource takes (the `Allow` header of its 405), or `None` when there
/// is no such resource.
fn allowed(segments: &[&str]) -> Option<&'static str> {
    Some(match segments {
        ["health"] => "GET, HEAD",
        ["openapi.json" | "instances" | "me" | "history" | "deliveries"] => "GET",
        ["purge" | "verify"] | ["instances", "check"] => "POST",
        ["session"] => "POST, DELETE",
        ["people"] | ["people", _, "tokens"] => "GET, POST",
        ["people", _] => "PATCH, DELETE",
        ["tokens", _] => "DELETE",
        _ => return None,
    })
}

/// The OpenAPI document of this API: `docs/openapi.json` (generated by `edgepurge-openapi`),
/// copied among the console's static files so it costs the worker's wasm nothing.
async fn openapi(env: &Env) -> worker::Result<Response> {
    env.assets("ASSETS")?.fetch("https://assets.invalid/openapi.json", None).await
}

fn not_allowed(allow: &'static str, detail: &str) -> ApiError {
    ApiError::new(ErrorKind::MethodNotAllowed, detail).with_allow(allow)
}

fn not_found(detail: &str) -> ApiError {
    ApiError::new(ErrorKind::NotFound, detail)
}
