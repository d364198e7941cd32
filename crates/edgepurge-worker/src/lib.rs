//! The edgepurge Cloudflare Worker: an entry point and a router.
//!
//! Only this crate knows Cloudflare. `/api/*` goes to [`handlers`] (purge, verify, instances)
//! and [`console`] (sessions, people, tokens, history); `/purge/*`, `/service/*` and
//! `/client/v4/*` to [`compat`] (Fastly- and Cloudflare-compatible purging); everything else is
//! the console's static files from the `ASSETS` binding. Outgoing I/O lives in [`doh`]
//! (discovery) and [`fanout`] (sockets to instances), storage in [`store`] (D1), caller identity
//! in [`auth`], and the
//! problem-details mapping in [`problem`]. Everything they decide is decided by `edgepurge-core`.

mod auth;
mod compat;
mod console;
mod doh;
mod fanout;
mod handlers;
mod problem;
mod redeliver;
mod store;

use worker::{event, Context, Env, Headers, Request, Response, Result, ScheduleContext, ScheduledEvent};

/// Sent on every response: only the app's own scripts and wasm run, nothing frames it, and
/// nothing leaks through referrers or MIME sniffing.
const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
];

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    let response = if ["/api/", "/purge/", "/service/", "/client/v4/"].iter().any(|p| path.starts_with(p)) {
        // Every failure becomes a problem response; only failing to build that one is an Err.
        let result = if path.starts_with("/api/") {
            handlers::route(req, &env).await
        } else if path.starts_with("/client/v4/") {
            compat::cloudflare(req, &env).await
        } else {
            compat::fastly(req, &env).await
        };
        match result {
            Ok(resp) => resp,
            Err(err) => problem::response(&err)?,
        }
    } else {
        env.assets("ASSETS")?.fetch_request(req).await?
    };
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        headers.append(&name, &value)?;
    }
    for (name, value) in SECURITY_HEADERS {
        headers.set(name, value)?;
    }
    Ok(response.with_headers(headers))
}

/// The cron trigger: redeliver what failed inline (see [`redeliver`]).
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    match redeliver::run(&env).await {
        Ok((attempted, delivered, abandoned)) => {
            worker::console_log!("redelivery: attempted={attempted} delivered={delivered} abandoned={abandoned}")
        }
        Err(e) => worker::console_error!("redelivery failed: {e}"),
    }
}
