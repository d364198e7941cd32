//! The edgepurge Cloudflare Worker: the entry points.
//!
//! Only this crate knows Cloudflare, and it decides nothing: `edgepurge-core` does. Files
//! depend downward only: [`routes`] (dispatch from the core's route table) -> the endpoints ([`purge`], the one purge
//! pipeline; [`compat`], Fastly and Cloudflare forms of it; [`inspect`], verify and instances;
//! [`console`], sessions, people, tokens, history) -> [`ctx`] (settings, clock, caller,
//! body) and [`auth`] -> the I/O: [`store`] (D1), [`doh`] (discovery), [`shard`]
//! (fan-out past six connections, in Durable Objects) -> [`fanout`] (sockets to instances) -> [`body`] (capped reads, requests under a timeout) and [`problem`] (errors as RFC 9457
//! responses) and [`random`] (the CSPRNG) and [`js`] (JavaScript options and errors). Everything else is the console's static files from the `ASSETS` binding;
//! [`redeliver`] is the cron trigger; [`notify`] sends webhook notifications after a purge's reply
//! and a redelivery run.

mod auth;
mod body;
mod compat;
mod console;
mod ctx;
mod doh;
mod fanout;
mod fly;
mod inspect;
mod js;
mod notify;
mod problem;
mod purge;
mod random;
mod redeliver;
mod routes;
mod shard;
mod socket;
mod store;
mod trace;
mod upstream;

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

/// Once per isolate: international domain names go through the runtime's own WHATWG URL
/// parser (the core carries no Unicode tables of its own, see `edgepurge_core::target`).
#[event(start)]
fn start() {
    edgepurge_core::target::use_platform_idna(platform_url);
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The runtime's `URL`.
    type URL;
    #[wasm_bindgen(constructor, catch)]
    fn new(input: &str) -> std::result::Result<URL, wasm_bindgen::JsValue>;
    #[wasm_bindgen(method, getter)]
    fn href(this: &URL) -> String;
}

/// `new URL(input).href`: the URL as the runtime serialises it, its host in `xn--` form.
fn platform_url(input: &str) -> Option<String> {
    URL::new(input).ok().map(|u| u.href())
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let path = req.path();
    let mut traced = None;
    let response = if edgepurge_core::routes::is_api(&path) {
        let tracer = trace::Tracer::start(&req);
        let (method, route) = (req.inner().method(), edgepurge_core::routes::template(&path).to_owned());
        // Every failure becomes a problem response; only failing to build that one is an Err.
        let response = match routes::route(req, &env, &ctx, &tracer).await {
            Ok(resp) => resp,
            Err(err) => {
                tracer.attr("edgepurge.problem", err.problem().type_);
                problem::response(&err)?
            }
        };
        traced = Some(tracer.traceparent());
        ctx.wait_until(trace::finish_request(tracer, env.clone(), method, route, response.status_code()));
        response
    } else {
        env.assets("ASSETS")?.fetch_request(req).await?
    };
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        headers.append(&name, &value)?;
    }
    if let Some(traceparent) = traced {
        headers.set("traceparent", &traceparent)?;
    }
    for (name, value) in SECURITY_HEADERS {
        headers.set(name, value)?;
    }
    Ok(response.with_headers(headers))
}

/// The cron trigger: redeliver what failed inline (see [`redeliver`]).
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    // Traced like an API request; its JSON log line is written when the trace is finished.
    let tracer = trace::Tracer::background();
    match redeliver::run(&env, &tracer).await {
        Ok(p) => {
            tracer.attr("edgepurge.recovered", p.recovered as i64);
            tracer.attr("edgepurge.attempted", p.attempted as i64);
            tracer.attr("edgepurge.delivered", p.delivered as i64);
            tracer.attr("edgepurge.abandoned", p.abandoned as i64);
        }
        Err(e) => tracer.fail(format!("redelivery failed: {e}")),
    }
    trace::finish(tracer, env, "redelivery".into()).await;
}
