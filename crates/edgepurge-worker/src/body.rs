//! Bodies read with a running cap: reading stops, and fails, as soon as the cap is passed,
//! whatever the framing (`Content-Length`, chunked, or until close), so no caller, DoH server
//! or JWKS host can make the isolate (128 MB) buffer without end.

use futures_util::StreamExt;
use worker::ByteStream;

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
