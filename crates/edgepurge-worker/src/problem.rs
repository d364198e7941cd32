//! The one place where errors become HTTP responses: RFC 9457 problem details.

use edgepurge_core::api::PROBLEM_CONTENT_TYPE;
use edgepurge_core::error::ErrorKind;
use edgepurge_core::ApiError;
use worker::{Headers, Response, Result};

/// A worker-side failure (JS exception, serialisation) as an internal error.
pub fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorKind::Internal, e.to_string())
}

/// The problem response for `err`.
pub fn response(err: &ApiError) -> Result<Response> {
    if err.kind == ErrorKind::Internal {
        // The caller's problem says only that something failed inside; the detail is logged.
        worker::console_error!("internal error: {}", err.detail);
    }
    let body = serde_json::to_vec(&err.problem()).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let headers = Headers::new();
    headers.set("content-type", PROBLEM_CONTENT_TYPE)?;
    headers.set("cache-control", "no-store")?;
    if let Some(secs) = err.retry_after_secs {
        headers.set("retry-after", &secs.to_string())?;
    }
    if let Some(methods) = &err.allow {
        headers.set("allow", methods)?;
    }
    if err.kind == ErrorKind::Unauthorized {
        // RFC 6750 section 3.
        headers.set("www-authenticate", "Bearer realm=\"edgepurge\"")?;
    }
    Ok(Response::from_bytes(body)?.with_status(err.status()).with_headers(headers))
}

/// A JSON response with `status`.
pub fn json<T: serde::Serialize>(value: &T, status: u16) -> std::result::Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(internal)?;
    let headers = Headers::new();
    headers.set("content-type", "application/json").map_err(internal)?;
    headers.set("cache-control", "no-store").map_err(internal)?;
    Ok(Response::from_bytes(body).map_err(internal)?.with_status(status).with_headers(headers))
}
