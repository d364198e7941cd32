//! Bodies read with a running cap: reading stops, and fails, as soon as the cap is passed,
//! whatever the framing (`Content-Length`, chunked, or until close), so no caller, DoH server
//! or JWKS host can make the isolate (128 MB) buffer without end. And requests sent under a
//! timeout ([`fetch_within`]), for the hosts the worker asks (JWKS, Machines API, collector).

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use std::future::Future;
use std::time::Duration;
use worker::{AbortController, AbortSignal, ByteStream, Delay, Fetch, Request, Response};

/// Why [`fetch_within`] got no response.
pub enum Unsent {
    /// None came within the timeout (the request was aborted).
    TimedOut,
    /// The request failed (unreachable, refused, malformed).
    Failed(String),
}

/// Sends `request` and waits at most `timeout_ms` for the response head, aborting it after.
pub async fn fetch_within(request: Request, timeout_ms: u64) -> Result<Response, Unsent> {
    let fetch = Fetch::Request(request);
    match within(timeout_ms, |signal| async move { fetch.send_with_signal(&signal).await }).await {
        Some(response) => response.map_err(|e| Unsent::Failed(e.to_string())),
        None => Err(Unsent::TimedOut),
    }
}

/// Runs `work` for at most `timeout_ms`, handing it the signal that aborts its fetches: its
/// output, or `None` once the time is up (and then its requests are aborted).
pub async fn within<T, F: Future<Output = T>>(timeout_ms: u64, work: impl FnOnce(AbortSignal) -> F) -> Option<T> {
    let controller = AbortController::default();
    let work = Box::pin(work(controller.signal()));
    match select(work, Delay::from(Duration::from_millis(timeout_ms))).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(_) => {
            controller.abort();
            None
        }
    }
}

/// Why a capped read gave no body.
pub enum Unread {
    /// More than the cap arrived.
    TooLarge,
    /// The stream failed.
    Broken(String),
}

/// Reads `stream` (none: an empty body) to its end, or fails once more than `cap` bytes came.
pub async fn read_capped(stream: Option<ByteStream>, cap: usize) -> Result<Vec<u8>, Unread> {
    let Some(mut stream) = stream else { return Ok(Vec::new()) };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Unread::Broken(e.to_string()))?;
        if body.len() + chunk.len() > cap {
            return Err(Unread::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
