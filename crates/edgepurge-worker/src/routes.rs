//! The route table: method and path to handler, and nothing else.

use crate::problem::json;
use crate::{compat, console, inspect, purge};
use edgepurge_core::api::Health;
use edgepurge_core::compat::CloudflareAction;
use edgepurge_core::error::ErrorKind;
use edgepurge_core::ApiError;
use worker::{Env, Method, Request, Response};

/// Dispatches `/api/*`, `/purge/*`, `/service/*` and `/client/v4/*`.
pub async fn route(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let path = req.path();
    let method = req.method();
    if path.starts_with("/client/v4/") {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        return match (method, segments.as_slice()) {
            (Method::Post, ["client", "v4", "zones", _, "purge_cache"]) => {
                compat::cloudflare(req, env, CloudflareAction::Purge).await
            }
            (Method::Post, ["client", "v4", "zones", _, "invalidate_cache"]) => {
                compat::cloudflare(req, env, CloudflareAction::Invalidate).await
            }
            (_, ["client", "v4", "zones", _, "purge_cache" | "invalidate_cache"]) => {
                Err(not_allowed("purge_cache and invalidate_cache take POST"))
            }
            _ => Err(not_found(&format!("no Cloudflare-compatible route for {path}"))),
        };
    }
    if !path.starts_with("/api/") {
        return match method {
            Method::Post => compat::fastly(req, env).await,
            _ => Err(not_allowed("Fastly purge endpoints take POST")),
        };
    }
    let segments: Vec<&str> = path.trim_start_matches("/api/").split('/').collect();
    match (method.clone(), segments.as_slice()) {
        (Method::Get | Method::Head, ["health"]) => {
            json(&Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into() }, 200)
        }
        (Method::Post, ["purge"]) => purge::endpoint(req, env).await,
        (Method::Post, ["verify"]) => inspect::verify(&mut req, env).await,
        (Method::Get, ["instances"]) => inspect::instances(&req, env).await,
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
        (
            _,
            ["health" | "purge" | "verify" | "instances" | "session" | "me" | "history" | "deliveries" | "people"]
            | ["people", _]
            | ["people", _, "tokens"]
            | ["tokens", _],
        ) => Err(not_allowed(&format!("{method} is not allowed on {path}"))),
        _ => Err(not_found(&format!("no route for {path}"))),
    }
}

fn not_allowed(detail: &str) -> ApiError {
    ApiError::new(ErrorKind::MethodNotAllowed, detail)
}

fn not_found(detail: &str) -> ApiError {
    ApiError::new(ErrorKind::NotFound, detail)
}
