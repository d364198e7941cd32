//! Bodies read with a running cap: reading stops, and fails, as soon as the cap is passed,
//! whatever the framing (`Content-Length`, chunked, or until close), so no caller, DoH server
//! or JWKS host can make the isolate (128 MB) buffer without end. And requests sent under a
//! timeout ([`fetch_within`]), for the hosts the worker asks (JWKS, Machines API, collector).

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use std::time::Duration;
use worker::{AbortController, ByteStream, Delay, Fetch, Request, Response};

/// Why [`fetch_within`] got no response.
pub enum Unsent {
    /// None came within the timeout (the request was aborted).
    TimedOut,
    /// The request failed (unreachable, refused, malformed).
    Failed(String),
}

/// Sends `request` and waits at most `timeout_ms` for the response head, aborting it after.
pub async fn fetch_within(request: Request, timeout_ms: u64) -> Result<Response, Unsent> {
    let controller = AbortController::default();
    let (signal, fetch) = (controller.signal(), Fetch::Request(request));
    let send = Box::pin(fetch.send_with_signal(&signal));
    let outcome = select(send, Delay::from(Duration::from_millis(timeout_ms))).await;
    match outcome {
        Either::Left((response, _)) => response.map_err(|e| Unsent::Failed(e.to_string())),
        Either::Right(_) => {
            controller.abort();
            Err(Unsent::TimedOut)
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
