//! The edgepurge Cloudflare Worker: an entry point and a router.
//!
//! Only this crate knows Cloudflare. Handlers live in [`handlers`], outgoing I/O in [`doh`]
//! (discovery) and [`fanout`] (sockets to instances), the problem-details mapping in
//! [`problem`]. Everything they decide is decided by `edgepurge-core`.

mod doh;
mod fanout;
mod handlers;
mod problem;

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    // Every failure becomes a problem response; only failing to build that one is an Err.
    match handlers::route(req, &env).await {
        Ok(resp) => Ok(resp),
        Err(err) => problem::response(&err),
    }
}
